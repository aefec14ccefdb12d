/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * RTSP/1.0 messages: request heads, Transport: headers and responses.
 */
#include "rtsp-message.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Requests */

void
ex_request_clear (ExRequest *req)
{
  g_free (req->method);
  g_free (req->uri);
  g_free (req->version);
  for (guint i = 0; i < req->n_headers; i++)
    {
      g_free (req->headers[i].name);
      g_free (req->headers[i].value);
    }
  memset (req, 0, sizeof *req);
}

static gboolean
has_control_chars (const gchar *s)
{
  for (; *s; s++)
    if ((guchar) *s < 0x20 && *s != '\t')
      return TRUE;
    else if (*s == 0x7f)
      return TRUE;
  return FALSE;
}

/* Parses the head of a message (up to, not including, its blank line).
 * FALSE when it is not a well-formed RTSP request or response head. */
gboolean
ex_request_parse_head (const gchar *head, ExRequest *req)
{
  g_auto (GStrv) lines = g_strsplit (head, "\n", EX_MAX_HEADERS + 2);
  guint n_lines = g_strv_length (lines);
  if (n_lines == 0 || n_lines > EX_MAX_HEADERS + 1)
    return FALSE;
  for (guint i = 0; i < n_lines; i++)
    {
      gsize len = strlen (lines[i]);
      if (len && lines[i][len - 1] == '\r')
        lines[i][len - 1] = '\0';
      if (has_control_chars (lines[i]))
        return FALSE;
    }

  g_auto (GStrv) start = g_strsplit (lines[0], " ", 4);
  if (g_strv_length (start) != 3 || *start[0] == '\0' || *start[1] == '\0' || *start[2] == '\0')
    return FALSE;
  req->method = g_strdup (start[0]);
  req->uri = g_strdup (start[1]);
  req->version = g_strdup (start[2]);

  for (guint i = 1; i < n_lines; i++)
    {
      gchar *line = lines[i];
      if (*line == ' ' || *line == '\t')
        {
          /* A folded continuation of the previous header. */
          if (req->n_headers == 0)
            return FALSE;
          ExHeader *prev = &req->headers[req->n_headers - 1];
          gchar *joined = g_strconcat (prev->value, " ", g_strstrip (line), NULL);
          g_free (prev->value);
          prev->value = joined;
          continue;
        }
      gchar *colon = strchr (line, ':');
      if (colon == NULL || colon == line)
        return FALSE;
      *colon = '\0';
      if (!ex_is_token (line) || req->n_headers >= EX_MAX_HEADERS)
        return FALSE;
      req->headers[req->n_headers].name = g_strdup (line);
      req->headers[req->n_headers].value = g_strstrip (g_strdup (colon + 1));
      req->n_headers++;
    }
  return TRUE;
}

/* Finds the blank line that ends a message head, scanning from *@scanned
 * on, so that a head arriving byte by byte is not scanned again and again.
 * Returns its offset and sets *@body_start after it; -1 when it has not
 * arrived yet, -2 for a NUL byte (binary garbage). */
gssize
ex_find_head_end (const guint8 *data, gsize size, gsize *scanned, gsize *body_start)
{
  for (gsize i = *scanned; i < size; i++)
    {
      if (data[i] == '\0')
        return -2;
      if (data[i] != '\n' || i + 1 >= size)
        continue;
      if (data[i + 1] == '\n')
        {
          *body_start = i + 2;
          return (gssize) i;
        }
      if (data[i + 1] == '\r' && i + 2 < size && data[i + 2] == '\n')
        {
          *body_start = i + 3;
          return (gssize) i;
        }
    }
  *scanned = size >= 2 ? size - 2 : 0;
  return -1;
}

const gchar *
ex_request_header (const ExRequest *req, const gchar *name)
{
  for (guint i = 0; i < req->n_headers; i++)
    if (g_ascii_strcasecmp (req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

gboolean
ex_parse_uint (const gchar *s, gsize max_digits, guint64 max, guint64 *out)
{
  gsize n = 0;
  guint64 v = 0;
  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s; s++, n++)
    {
      if (!g_ascii_isdigit (*s) || n >= max_digits)
        return FALSE;
      v = v * 10 + (guint64) (*s - '0');
    }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
ex_is_token (const gchar *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && !strchr ("!#$%&'*+-.^_`|~", *s))
      return FALSE;
  return TRUE;
}

/* Splits a request URI into the server base ("rtsp://host:port") and the
 * path, without query or trailing slash; a bare path gets @local_base.
 * FALSE for what is not a URI. */
gboolean
ex_split_request_uri (const gchar *uri, const gchar *local_base, gchar **base, gchar **path)
{
  const gchar *p;
  if (strcmp (uri, "*") == 0)
    {
      *base = NULL;
      *path = g_strdup ("*");
      return TRUE;
    }
  if (g_ascii_strncasecmp (uri, "rtsp://", 7) == 0)
    {
      const gchar *host = uri + 7;
      p = strchr (host, '/');
      if (p == host)
        return FALSE; /* no host */
      if (p == NULL)
        p = host + strlen (host);
      *base = g_strndup (uri, (gsize) (p - uri));
    }
  else if (uri[0] == '/')
    {
      *base = g_strdup (local_base);
      p = uri;
    }
  else
    return FALSE;

  gsize len = strcspn (p, "?#");
  while (len > 1 && p[len - 1] == '/')
    len--;
  *path = len ? g_strndup (p, len) : g_strdup ("/");
  return TRUE;
}

/* "a" or "a-b" with a ≤ b ≤ @max; b defaults to a + 1. */
static gboolean
parse_pair (const gchar *value, guint max, guint *first, guint *second)
{
  g_auto (GStrv) parts = g_strsplit (value, "-", 3);
  guint64 a, b;
  if (parts[0] == NULL || !ex_parse_uint (parts[0], 5, max, &a))
    return FALSE;
  if (parts[1] == NULL)
    b = a + 1;
  else if (parts[2] != NULL || !ex_parse_uint (parts[1], 5, max, &b))
    return FALSE;
  if (b > max || b < a)
    return FALSE;
  *first = (guint) a;
  *second = (guint) b;
  return TRUE;
}

/* The first unicast RTP/AVP transport of the Transport: header we can do. */
gboolean
ex_choose_transport (const gchar *header, ExTransport *choice)
{
  g_auto (GStrv) specs = g_strsplit (header, ",", 16);
  for (gchar **spec = specs; *spec; spec++)
    {
      g_auto (GStrv) params = g_strsplit (*spec, ";", 32);
      if (params[0] == NULL)
        continue;
      gchar *profile = g_strstrip (params[0]);
      ExTransport c = { 0 };
      gboolean ok = TRUE, has_ports = FALSE;
      if (g_ascii_strcasecmp (profile, "RTP/AVP") == 0 || g_ascii_strcasecmp (profile, "RTP/AVP/UDP") == 0)
        c.tcp = FALSE;
      else if (g_ascii_strcasecmp (profile, "RTP/AVP/TCP") == 0)
        c.tcp = TRUE;
      else
        continue;
      for (gchar **param = params + 1; *param && ok; param++)
        {
          gchar *p = g_strstrip (*param);
          if (g_ascii_strcasecmp (p, "multicast") == 0)
            ok = FALSE;
          else if (g_ascii_strncasecmp (p, "client_port=", 12) == 0)
            {
              ok = parse_pair (p + 12, 65535, &c.rtp, &c.rtcp) && c.rtp > 0;
              has_ports = TRUE;
            }
          else if (g_ascii_strncasecmp (p, "interleaved=", 12) == 0)
            {
              ok = parse_pair (p + 12, 255, &c.rtp, &c.rtcp);
              c.has_channels = TRUE;
            }
          else if (g_ascii_strncasecmp (p, "mode=", 5) == 0)
            {
              const gchar *mode = p + 5;
              ok = g_ascii_strcasecmp (mode, "PLAY") == 0 || g_ascii_strcasecmp (mode, "\"PLAY\"") == 0;
            }
        }
      if (!ok || (c.tcp ? has_ports : c.has_channels) || (!c.tcp && !has_ports))
        continue;
      *choice = c;
      return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Responses */

const gchar *
ex_reason_phrase (guint code)
{
  switch (code)
    {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 413: return "Request Entity Too Large";
    case 451: return "Parameter Not Understood";
    case 453: return "Not Enough Bandwidth";
    case 454: return "Session Not Found";
    case 455: return "Method Not Valid in This State";
    case 459: return "Aggregate Operation Not Allowed";
    case 461: return "Unsupported Transport";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "RTSP Version Not Supported";
    default: return "Unknown";
    }
}

void
ex_response_init (ExResponse *resp, guint code)
{
  resp->code = code;
  resp->headers = g_string_new (NULL);
  resp->body = NULL;
  resp->content_type = NULL;
}

void
ex_response_add_header (ExResponse *resp, const gchar *name, const gchar *format, ...)
{
  va_list args;
  g_string_append_printf (resp->headers, "%s: ", name);
  va_start (args, format);
  g_string_append_vprintf (resp->headers, format, args);
  va_end (args);
  g_string_append (resp->headers, "\r\n");
}

/* The whole response, status line to body, and clears @resp. */
GString *
ex_response_finish (ExResponse *resp, const gchar *cseq, const gchar *server_name)
{
  GString *out = g_string_sized_new (256);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *date = g_date_time_format (now, "%a, %d %b %Y %H:%M:%S GMT");

  g_string_append_printf (out, "RTSP/1.0 %u %s\r\n", resp->code, ex_reason_phrase (resp->code));
  if (cseq)
    g_string_append_printf (out, "CSeq: %s\r\n", cseq);
  g_string_append_printf (out, "Server: %s\r\nDate: %s\r\n", server_name, date);
  g_string_append (out, resp->headers->str);
  if (resp->body)
    {
      if (resp->content_type)
        g_string_append_printf (out, "Content-Type: %s\r\n", resp->content_type);
      g_string_append_printf (out, "Content-Length: %" G_GSIZE_FORMAT "\r\n", resp->body->len);
    }
  g_string_append (out, "\r\n");
  if (resp->body)
    g_string_append_len (out, resp->body->str, (gssize) resp->body->len);
  ex_response_clear (resp);
  return out;
}

/* Frees what ex_response_init() and the headers and body took. */
void
ex_response_clear (ExResponse *resp)
{
  if (resp->headers)
    g_string_free (resp->headers, TRUE);
  if (resp->body)
    g_string_free (resp->body, TRUE);
  resp->headers = NULL;
  resp->body = NULL;
}
