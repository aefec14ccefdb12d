/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * rs-example-server: a small RTSP/1.0 server on the GLib main loop that
 * serves a generated tone as RTP PCMU, with librtspsession doing all of the
 * session work: ids, the Session: header, owner binding, keep-alive and
 * expiry.
 *
 *   rs-example-server [--port 8554] [--timeout 60] [--extra-timeout 5] [--max-sessions 0]
 *   ffplay rtsp://127.0.0.1:8554/tone
 *
 * Presentations: /tone (440 Hz) and /tone880 (880 Hz), each with one stream,
 * /PRESENTATION/streamid=0. Each session event is one line on stdout.
 */
#include <rtspsession/rtspsession.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tone-stream.h"

#define SERVER_NAME "rs-example-server"
#define MAX_HEADER_BYTES (16 * 1024)
#define MAX_HEADERS 64
#define MAX_BODY_BYTES (64 * 1024)
#define READ_CHUNK 16384
#define MAX_READS_PER_DISPATCH 8
#define RESPONSE_QUEUE_LIMIT (1024 * 1024) /* a client that does not read its responses */
#define CLOSE_LINGER_MS 5000
#define IDLE_CONN_TIMEOUT_USEC (60 * G_USEC_PER_SEC) /* a connection with no session and no requests */
#define RTCP_LOG_INTERVAL_USEC (10 * G_USEC_PER_SEC)
#define DROP_LOG_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#define PUBLIC_METHODS "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

typedef struct
{
  const gchar *path;
  guint frequency;
} Presentation;

static const Presentation presentations[] = {
  { "/tone", 440 },
  { "/tone880", 880 },
};

#define STREAM_CONTROL "streamid=0"

typedef struct _Server Server;
typedef struct _Conn Conn;

struct _Server
{
  GMainLoop *loop;
  RsRTSPSessionPool *pool;
  GSource *watch;
  GSocketService *service;
  GHashTable *conns; /* Conn* -> Conn* (a reference) */
  guint next_conn_id;
  gboolean expiring;  /* inside rs_rtsp_session_pool_cleanup() from the watch */
  guint timeout;
  guint extra_timeout;
  gsize tcp_queue_limit;
  guint16 port;
};

struct _Conn
{
  Server *server;
  guint id;
  gchar *owner; /* "conn-N": the owner of the sessions this connection made */
  GSocketConnection *connection;
  GSocket *socket;
  GInetAddress *remote;
  GInetAddress *local;
  gchar *remote_str;
  GSource *in_source;
  GSource *out_source;
  GSource *linger_source;
  GSource *close_source;
  GByteArray *inbuf;
  gsize head_scanned;   /* how much of the current message head was searched */
  gint64 last_request;  /* monotonic time of the last complete request */
  GQueue outq; /* GBytes */
  gsize out_offset;
  gsize outq_bytes;
  GHashTable *sessions; /* session id -> RsRTSPSession* (a reference) */
  gboolean closing;     /* flush, then close */
  gboolean closed;
  guint64 dropped;
  guint64 dropped_logged;
  gint64 last_drop_log;
};

typedef struct
{
  gchar *name;
  gchar *value;
} Header;

typedef struct
{
  gchar *method;
  gchar *uri;
  gchar *version;
  Header headers[MAX_HEADERS];
  guint n_headers;
  const gchar *cseq;
  const guint8 *body;
  gsize body_size;
} Request;

typedef struct
{
  guint code;
  GString *headers;
  GString *body;
  const gchar *content_type;
} Response;

/* ------------------------------------------------------------------------ */
/* Logging */

static void G_GNUC_PRINTF (1, 2)
log_event (const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
}

/* ------------------------------------------------------------------------ */
/* Connections: output */

static void conn_close (Conn *conn);
static void conn_schedule_close (Conn *conn);
static gboolean on_writable (GSocket *socket, GIOCondition condition, gpointer user_data);

static Conn *
conn_ref (Conn *conn)
{
  return g_rc_box_acquire (conn);
}

static void
conn_free_contents (Conn *conn)
{
  g_free (conn->owner);
  g_clear_object (&conn->connection);
  g_clear_object (&conn->remote);
  g_clear_object (&conn->local);
  g_free (conn->remote_str);
  g_byte_array_unref (conn->inbuf);
  g_queue_clear_full (&conn->outq, (GDestroyNotify) g_bytes_unref);
  g_hash_table_unref (conn->sessions);
}

static void
conn_unref (Conn *conn)
{
  g_rc_box_release_full (conn, (GDestroyNotify) conn_free_contents);
}

static void
destroy_source (GSource **source)
{
  if (*source)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Writes what the socket takes now; waits for it to be writable for the rest. */
static void
conn_flush (Conn *conn)
{
  while (!conn->closed && !g_queue_is_empty (&conn->outq))
    {
      GBytes *head = g_queue_peek_head (&conn->outq);
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);
      GError *error = NULL;
      gssize n = g_socket_send (conn->socket, (const gchar *) data + conn->out_offset, size - conn->out_offset,
                                NULL, &error);
      if (n < 0)
        {
          gboolean would_block = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_error_free (error);
          if (!would_block)
            {
              conn_schedule_close (conn);
              return;
            }
          if (conn->out_source == NULL)
            {
              conn->out_source = g_socket_create_source (conn->socket, G_IO_OUT, NULL);
              g_source_set_callback (conn->out_source, G_SOURCE_FUNC (on_writable), conn, NULL);
              g_source_attach (conn->out_source, NULL);
            }
          return;
        }
      conn->out_offset += (gsize) n;
      conn->outq_bytes -= (gsize) n;
      if (conn->out_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&conn->outq));
          conn->out_offset = 0;
        }
    }
  destroy_source (&conn->out_source);
  if (conn->closing && !conn->closed)
    conn_schedule_close (conn);
}

static gboolean
on_writable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = conn_ref (user_data);
  conn_flush (conn);
  conn_unref (conn);
  return G_SOURCE_CONTINUE; /* conn_flush destroys the source when done */
}

/* Queues @size bytes for the client. RTP (@droppable) is dropped when the
 * connection's queue is over its limit, so that a slow reader costs bounded
 * memory; a client that does not even read its responses is disconnected. */
static void
conn_send (Conn *conn, const guint8 *data, gsize size, gboolean droppable)
{
  if (conn->closed || (droppable && conn->closing))
    return;
  if (droppable && conn->outq_bytes + size > conn->server->tcp_queue_limit)
    {
      conn->dropped++;
      gint64 now = g_get_monotonic_time ();
      if (now - conn->last_drop_log >= DROP_LOG_INTERVAL_USEC)
        {
          log_event ("%s slow reader: dropped %" G_GUINT64_FORMAT " RTP packets (queue %" G_GSIZE_FORMAT " bytes)",
                     conn->owner, conn->dropped - conn->dropped_logged, conn->outq_bytes);
          conn->last_drop_log = now;
          conn->dropped_logged = conn->dropped;
        }
      return;
    }
  if (!droppable && conn->outq_bytes > RESPONSE_QUEUE_LIMIT)
    {
      log_event ("%s does not read its responses; closing", conn->owner);
      conn_schedule_close (conn);
      return;
    }
  g_queue_push_tail (&conn->outq, g_bytes_new (data, size));
  conn->outq_bytes += size;
  if (conn->out_source == NULL)
    conn_flush (conn);
}

static void
interleaved_sink (const guint8 *frame, gsize size, gboolean droppable, gpointer user_data)
{
  conn_send (user_data, frame, size, droppable);
}

/* ------------------------------------------------------------------------ */
/* Sessions */

/* "host" for IPv4, "[host]" for IPv6, as in URLs and host:port. */
static gchar *
address_to_host (GInetAddress *address)
{
  g_autofree gchar *text = g_inet_address_to_string (address);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]", text);
  return g_steal_pointer (&text);
}

static const gchar *
session_id (RsRTSPSession *session)
{
  const gchar *id = rs_rtsp_session_get_sessionid (session);
  return id ? id : "(none)";
}

/* Stops the stream of @media, logging how much it sent. */
static void
stop_media (RsRTSPSession *session, RsRTSPSessionMedia *media)
{
  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  if (ex_tone_stream_stop (stream))
    log_event ("session %s stream %s stopped after %" G_GUINT64_FORMAT " packets", session_id (session),
               rs_rtsp_session_media_get_path (media), ex_tone_stream_get_packets_sent (stream));
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_INIT);
}

static RsRTSPFilterResult
stop_and_remove_media (RsRTSPSession *session, RsRTSPSessionMedia *media, gpointer user_data)
{
  stop_media (session, media);
  return RS_RTSP_FILTER_REMOVE;
}

/* The pool's session-removed: by TEARDOWN, expiry, a closed connection or
 * the pool's end. The session's streams stop here. */
static void
on_session_removed (RsRTSPSessionPool *pool, RsRTSPSession *session, gpointer user_data)
{
  Server *server = user_data;
  const gchar *id = session_id (session);

  if (server->expiring)
    log_event ("session %s expired", id);
  g_list_free (rs_rtsp_session_filter (session, stop_and_remove_media, NULL));

  Conn *conn = g_object_get_data (G_OBJECT (session), "ex-conn");
  if (conn != NULL)
    {
      g_object_set_data (G_OBJECT (session), "ex-conn", NULL);
      /* The last reference may be the table's: keep the id alive to log it. */
      g_object_ref (session);
      g_hash_table_remove (conn->sessions, id);
      log_event ("session %s removed (n_sessions=%u)", id, rs_rtsp_session_pool_get_n_sessions (pool));
      g_object_unref (session);
    }
  else
    log_event ("session %s removed (n_sessions=%u)", id, rs_rtsp_session_pool_get_n_sessions (pool));
}

static gboolean
on_pool_watch (RsRTSPSessionPool *pool, gpointer user_data)
{
  Server *server = user_data;
  server->expiring = TRUE;
  rs_rtsp_session_pool_cleanup (pool);
  server->expiring = FALSE;
  return G_SOURCE_CONTINUE;
}

/* An RTCP packet from the client of @stream keeps its session alive. */
static void
on_rtcp_received (ExToneStream *stream, gpointer user_data)
{
  RsRTSPSession *session = ex_tone_stream_dup_session (stream);
  if (session == NULL)
    return;
  rs_rtsp_session_touch (session);
  gint64 now = g_get_monotonic_time ();
  gint64 *last = g_object_get_data (G_OBJECT (session), "ex-rtcp-logged");
  if (last == NULL)
    {
      last = g_new0 (gint64, 1);
      *last = G_MININT64;
      g_object_set_data_full (G_OBJECT (session), "ex-rtcp-logged", last, g_free);
    }
  if (*last == G_MININT64 || now - *last >= RTCP_LOG_INTERVAL_USEC)
    {
      *last = now;
      log_event ("session %s touched by RTCP", session_id (session));
    }
  g_object_unref (session);
}

typedef struct
{
  guint8 channel;
  ExToneStream *found; /* a reference */
} ChannelSearch;

static RsRTSPFilterResult
find_rtcp_channel (RsRTSPSession *session, RsRTSPSessionMedia *media, gpointer user_data)
{
  ChannelSearch *search = user_data;
  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  if (search->found == NULL && ex_tone_stream_is_tcp (stream) &&
      ex_tone_stream_get_rtcp_channel (stream) == search->channel)
    search->found = g_object_ref (stream);
  return RS_RTSP_FILTER_KEEP;
}

/* An interleaved frame from the client: RTCP on a stream's odd channel. */
static void
handle_interleaved (Conn *conn, guint8 channel, const guint8 *data, gsize size)
{
  ChannelSearch search = { channel, NULL };
  GList *sessions = g_hash_table_get_values (conn->sessions);
  for (GList *l = sessions; l != NULL && search.found == NULL; l = l->next)
    g_list_free (rs_rtsp_session_filter (l->data, find_rtcp_channel, &search));
  g_list_free (sessions);
  if (search.found)
    {
      ex_tone_stream_rtcp_received (search.found, data, size);
      g_object_unref (search.found);
    }
}

/* ------------------------------------------------------------------------ */
/* Responses */

static const gchar *
reason_phrase (guint code)
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

static void
response_init (Response *resp, guint code)
{
  resp->code = code;
  resp->headers = g_string_new (NULL);
  resp->body = NULL;
  resp->content_type = NULL;
}

static void G_GNUC_PRINTF (3, 4)
response_add_header (Response *resp, const gchar *name, const gchar *format, ...)
{
  va_list args;
  g_string_append_printf (resp->headers, "%s: ", name);
  va_start (args, format);
  g_string_append_vprintf (resp->headers, format, args);
  va_end (args);
  g_string_append (resp->headers, "\r\n");
}

static void
response_add_session (Response *resp, RsRTSPSession *session)
{
  g_autofree gchar *value = rs_rtsp_session_get_header (session);
  if (value)
    response_add_header (resp, "Session", "%s", value);
}

static void
conn_send_response (Conn *conn, const gchar *cseq, Response *resp)
{
  GString *out = g_string_sized_new (256);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *date = g_date_time_format (now, "%a, %d %b %Y %H:%M:%S GMT");

  g_string_append_printf (out, "RTSP/1.0 %u %s\r\n", resp->code, reason_phrase (resp->code));
  if (cseq)
    g_string_append_printf (out, "CSeq: %s\r\n", cseq);
  g_string_append_printf (out, "Server: " SERVER_NAME "\r\nDate: %s\r\n", date);
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

  conn_send (conn, (const guint8 *) out->str, out->len, FALSE);
  g_string_free (out, TRUE);
  g_string_free (resp->headers, TRUE);
  if (resp->body)
    g_string_free (resp->body, TRUE);
}

/* Answers with just a status, and closes the connection when @fatal (when
 * the request's framing cannot be trusted). */
static void
conn_reply_status (Conn *conn, const gchar *cseq, guint code, gboolean fatal)
{
  Response resp;
  response_init (&resp, code);
  if (code == 405)
    response_add_header (&resp, "Allow", PUBLIC_METHODS);
  if (fatal)
    response_add_header (&resp, "Connection", "close");
  conn_send_response (conn, cseq, &resp);
  if (fatal)
    {
      conn->closing = TRUE;
      destroy_source (&conn->in_source);
      if (conn->out_source == NULL)
        conn_schedule_close (conn);
    }
}

/* ------------------------------------------------------------------------ */
/* Request helpers */

static const gchar *
request_header (const Request *req, const gchar *name)
{
  for (guint i = 0; i < req->n_headers; i++)
    if (g_ascii_strcasecmp (req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

static gboolean
parse_uint (const gchar *s, gsize max_digits, guint64 max, guint64 *out)
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

/* Splits a request URI into the server base ("rtsp://host:port") and the
 * path, without query or trailing slash. FALSE for what is not a URI. */
static gboolean
parse_request_uri (Conn *conn, const gchar *uri, gchar **base, gchar **path)
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
      g_autofree gchar *local = address_to_host (conn->local);
      *base = g_strdup_printf ("rtsp://%s:%u", local, conn->server->port);
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

/* The presentation at @path, either the aggregate or its one stream. */
static const Presentation *
resolve_path (const gchar *path, gboolean *is_stream)
{
  for (gsize i = 0; i < G_N_ELEMENTS (presentations); i++)
    {
      gsize n = strlen (presentations[i].path);
      if (strncmp (path, presentations[i].path, n) != 0)
        continue;
      const gchar *rest = path + n;
      if (*rest == '\0')
        {
          *is_stream = FALSE;
          return &presentations[i];
        }
      if (rest[0] == '/' && strcmp (rest + 1, STREAM_CONTROL) == 0)
        {
          *is_stream = TRUE;
          return &presentations[i];
        }
    }
  return NULL;
}

typedef struct
{
  gboolean tcp;
  gboolean has_channels;
  guint rtp;  /* client port or channel */
  guint rtcp;
} TransportChoice;

/* "a" or "a-b" with a ≤ b ≤ @max; b defaults to a + 1. */
static gboolean
parse_pair (const gchar *value, guint max, guint *first, guint *second)
{
  g_auto (GStrv) parts = g_strsplit (value, "-", 3);
  guint64 a, b;
  if (parts[0] == NULL || !parse_uint (parts[0], 5, max, &a))
    return FALSE;
  if (parts[1] == NULL)
    b = a + 1;
  else if (parts[2] != NULL || !parse_uint (parts[1], 5, max, &b))
    return FALSE;
  if (b > max || b < a)
    return FALSE;
  *first = (guint) a;
  *second = (guint) b;
  return TRUE;
}

/* The first unicast RTP/AVP transport of the Transport: header we can do. */
static gboolean
choose_transport (const gchar *header, TransportChoice *choice)
{
  g_auto (GStrv) specs = g_strsplit (header, ",", 16);
  for (gchar **spec = specs; *spec; spec++)
    {
      g_auto (GStrv) params = g_strsplit (*spec, ";", 32);
      if (params[0] == NULL)
        continue;
      gchar *profile = g_strstrip (params[0]);
      TransportChoice c = { 0 };
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
/* Methods */

static void
handle_options (Conn *conn, const Request *req, RsRTSPSession *session)
{
  Response resp;
  response_init (&resp, 200);
  response_add_header (&resp, "Public", PUBLIC_METHODS);
  if (session)
    response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
}

static void
handle_describe (Conn *conn, const Request *req, const gchar *base, const gchar *path)
{
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  if (pres == NULL || is_stream)
    {
      conn_reply_status (conn, req->cseq, 404, FALSE);
      return;
    }
  const gchar *accept = request_header (req, "Accept");
  if (accept && !strstr (accept, "application/sdp") && !strstr (accept, "*/*") && !strstr (accept, "application/*"))
    {
      conn_reply_status (conn, req->cseq, 406, FALSE);
      return;
    }

  g_autofree gchar *local = g_inet_address_to_string (conn->local);
  gboolean v6 = g_inet_address_get_family (conn->local) == G_SOCKET_FAMILY_IPV6;
  Response resp;
  response_init (&resp, 200);
  response_add_header (&resp, "Content-Base", "%s%s/", base, pres->path);
  resp.content_type = "application/sdp";
  resp.body = g_string_new (NULL);
  g_string_append_printf (resp.body,
                          "v=0\r\n"
                          "o=- %u 1 IN %s %s\r\n"
                          "s=%u Hz tone\r\n"
                          "i=A sine tone from " SERVER_NAME "\r\n"
                          "c=IN %s %s\r\n"
                          "t=0 0\r\n"
                          "a=tool:" SERVER_NAME "\r\n"
                          "a=type:broadcast\r\n"
                          "a=control:*\r\n"
                          "a=range:npt=now-\r\n"
                          "m=audio 0 RTP/AVP %d\r\n"
                          "a=rtpmap:%d PCMU/%d\r\n"
                          "a=ptime:20\r\n"
                          "a=control:" STREAM_CONTROL "\r\n",
                          g_random_int (), v6 ? "IP6" : "IP4", local, pres->frequency, v6 ? "IP6" : "IP4",
                          v6 ? "::" : "0.0.0.0", EX_TONE_PAYLOAD_TYPE, EX_TONE_PAYLOAD_TYPE, EX_TONE_CLOCK_RATE);
  conn_send_response (conn, req->cseq, &resp);
}

static RsRTSPSession *
create_session (Conn *conn)
{
  Server *server = conn->server;
  RsRTSPSession *session = rs_rtsp_session_pool_create (server->pool);
  if (session == NULL)
    return NULL;
  g_object_set (session, "owner", conn->owner, "extra-timeout", server->extra_timeout, NULL);
  rs_rtsp_session_set_timeout (session, server->timeout);
  g_object_set_data (G_OBJECT (session), "ex-conn", conn);
  g_hash_table_insert (conn->sessions, g_strdup (session_id (session)), g_object_ref (session));
  log_event ("session %s created (owner %s, timeout %u)", session_id (session), conn->owner, server->timeout);
  return session;
}

static void
handle_setup (Conn *conn, const Request *req, RsRTSPSession *session, const gchar *path)
{
  Server *server = conn->server;
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  if (pres == NULL)
    {
      conn_reply_status (conn, req->cseq, 404, FALSE);
      return;
    }
  const gchar *transport = request_header (req, "Transport");
  TransportChoice choice;
  if (transport == NULL || !choose_transport (transport, &choice))
    {
      conn_reply_status (conn, req->cseq, 461, FALSE);
      return;
    }

  g_autoptr (RsRTSPSession) created = NULL;
  RsRTSPSessionMedia *media = NULL;
  if (session)
    {
      gint matched = 0;
      media = rs_rtsp_session_get_media (session, pres->path, &matched);
      if (media == NULL)
        {
          /* The session holds another presentation: one per session. */
          conn_reply_status (conn, req->cseq, 459, FALSE);
          return;
        }
      if (rs_rtsp_session_media_get_rtsp_state (media) == RS_RTSP_STATE_PLAYING)
        {
          conn_reply_status (conn, req->cseq, 455, FALSE);
          return;
        }
    }
  else
    {
      created = create_session (conn);
      if (created == NULL)
        {
          log_event ("%s SETUP refused: pool full (max-sessions %u)", conn->owner,
                     rs_rtsp_session_pool_get_max_sessions (server->pool));
          conn_reply_status (conn, req->cseq, 503, FALSE);
          return;
        }
      session = created;
      ExToneStream *stream = ex_tone_stream_new (session, pres->frequency);
      g_signal_connect (stream, "rtcp-received", G_CALLBACK (on_rtcp_received), server);
      media = rs_rtsp_session_manage_media (session, pres->path, G_OBJECT (stream));
    }

  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  Response resp;
  response_init (&resp, 200);
  g_autofree gchar *ssrc = g_strdup_printf ("%08X", ex_tone_stream_get_ssrc (stream));
  if (choice.tcp)
    {
      if (!choice.has_channels)
        {
          RsRTSPRange range;
          if (!rs_rtsp_session_media_alloc_channels (media, &range) || range.max > 255)
            {
              g_string_free (resp.headers, TRUE);
              if (created)
                rs_rtsp_session_pool_remove (server->pool, created);
              conn_reply_status (conn, req->cseq, 461, FALSE);
              return;
            }
          choice.rtp = (guint) range.min;
          choice.rtcp = (guint) range.max;
        }
      ex_tone_stream_set_tcp (stream, (guint8) choice.rtp, (guint8) choice.rtcp, interleaved_sink, conn_ref (conn),
                              (GDestroyNotify) conn_unref);
      response_add_header (&resp, "Transport", "RTP/AVP/TCP;unicast;interleaved=%u-%u;ssrc=%s;mode=\"PLAY\"",
                           choice.rtp, choice.rtcp, ssrc);
      log_event ("session %s setup %s tcp interleaved %u-%u", session_id (session), pres->path, choice.rtp,
                 choice.rtcp);
    }
  else
    {
      g_autoptr (GError) error = NULL;
      if (!ex_tone_stream_set_udp (stream, conn->local, conn->remote, (guint16) choice.rtp, (guint16) choice.rtcp,
                                   &error))
        {
          g_printerr ("%s: UDP setup failed: %s\n", conn->owner, error->message);
          g_string_free (resp.headers, TRUE);
          if (created)
            rs_rtsp_session_pool_remove (server->pool, created);
          conn_reply_status (conn, req->cseq, 500, FALSE);
          return;
        }
      guint16 sp = ex_tone_stream_get_server_port (stream);
      response_add_header (&resp, "Transport",
                           "RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u;ssrc=%s;mode=\"PLAY\"", choice.rtp,
                           choice.rtcp, sp, sp + 1, ssrc);
      g_autofree gchar *client = address_to_host (conn->remote);
      log_event ("session %s setup %s udp client %s:%u-%u server %u-%u", session_id (session), pres->path, client,
                 choice.rtp, choice.rtcp, sp, sp + 1);
    }
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_READY);
  response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
}

/* The media of @session that a PLAY, PAUSE or TEARDOWN at @path means, or
 * NULL after answering the request. */
static RsRTSPSessionMedia *
media_for_request (Conn *conn, const Request *req, RsRTSPSession *session, const gchar *path)
{
  if (session == NULL)
    {
      conn_reply_status (conn, req->cseq, 454, FALSE);
      return NULL;
    }
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  gint matched = 0;
  RsRTSPSessionMedia *media = pres ? rs_rtsp_session_get_media (session, path, &matched) : NULL;
  if (media == NULL)
    {
      conn_reply_status (conn, req->cseq, 404, FALSE);
      return NULL;
    }
  return media;
}

static void
handle_play (Conn *conn, const Request *req, RsRTSPSession *session, const gchar *base, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  if (rs_rtsp_session_media_get_rtsp_state (media) < RS_RTSP_STATE_READY)
    {
      conn_reply_status (conn, req->cseq, 455, FALSE);
      return;
    }
  /* The stream is live: a requested Range is answered with npt=now-. */
  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  gboolean was_playing = rs_rtsp_session_media_get_rtsp_state (media) == RS_RTSP_STATE_PLAYING;
  ex_tone_stream_play (stream);
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_PLAYING);

  Response resp;
  response_init (&resp, 200);
  response_add_header (&resp, "Range", "npt=now-");
  response_add_header (&resp, "RTP-Info", "url=%s%s/" STREAM_CONTROL ";seq=%u;rtptime=%u", base,
                       rs_rtsp_session_media_get_path (media), ex_tone_stream_get_next_seq (stream),
                       ex_tone_stream_get_next_rtptime (stream));
  response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
  if (!was_playing)
    log_event ("session %s playing", session_id (session));
}

static void
handle_pause (Conn *conn, const Request *req, RsRTSPSession *session, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  RsRTSPState state = rs_rtsp_session_media_get_rtsp_state (media);
  if (state < RS_RTSP_STATE_READY)
    {
      conn_reply_status (conn, req->cseq, 455, FALSE);
      return;
    }
  ex_tone_stream_pause (EX_TONE_STREAM (rs_rtsp_session_media_get_media (media)));
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_READY);
  Response resp;
  response_init (&resp, 200);
  response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
  if (state == RS_RTSP_STATE_PLAYING)
    log_event ("session %s paused", session_id (session));
}

static void
handle_teardown (Conn *conn, const Request *req, RsRTSPSession *session, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  log_event ("session %s torn down", session_id (session));
  stop_media (session, media);
  if (!rs_rtsp_session_release_media (session, media))
    rs_rtsp_session_pool_remove (conn->server->pool, session);

  Response resp;
  response_init (&resp, 200);
  response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
}

static void
handle_parameter (Conn *conn, const Request *req, RsRTSPSession *session)
{
  /* An empty body is a keep-alive (the session was touched by the lookup).
   * This server has no parameters to get or set. */
  gboolean empty = TRUE;
  for (gsize i = 0; i < req->body_size; i++)
    if (!g_ascii_isspace (req->body[i]))
      empty = FALSE;
  Response resp;
  response_init (&resp, empty ? 200 : 451);
  if (session)
    response_add_session (&resp, session);
  conn_send_response (conn, req->cseq, &resp);
}

static gboolean
is_token (const gchar *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && !strchr ("!#$%&'*+-.^_`|~", *s))
      return FALSE;
  return TRUE;
}

static void
handle_request (Conn *conn, const Request *req)
{
  static const gchar *const known_unsupported[] = { "ANNOUNCE", "RECORD", "REDIRECT", "PLAY_NOTIFY" };
  static const gchar *const supported[] = { "OPTIONS", "DESCRIBE", "SETUP", "PLAY",
                                            "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER" };
  const gchar *method = req->method;
  gboolean is_supported = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (supported); i++)
    is_supported |= strcmp (method, supported[i]) == 0;
  if (!is_supported)
    {
      gboolean known = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (known_unsupported); i++)
        known |= strcmp (method, known_unsupported[i]) == 0;
      conn_reply_status (conn, req->cseq, known ? 405 : 501, FALSE);
      return;
    }

  g_autofree gchar *base = NULL, *path = NULL;
  if (!parse_request_uri (conn, req->uri, &base, &path) ||
      (strcmp (path, "*") == 0 && strcmp (method, "OPTIONS") != 0))
    {
      conn_reply_status (conn, req->cseq, 400, FALSE);
      return;
    }

  /* Every request with a Session: header must name a live session of this
   * connection; finding it touches it. */
  g_autoptr (RsRTSPSession) session = NULL;
  const gchar *session_header = request_header (req, "Session");
  if (session_header)
    {
      g_autofree gchar *id = NULL;
      g_autoptr (GError) error = NULL;
      if (!rs_rtsp_session_header_parse (session_header, &id, NULL, &error))
        {
          conn_reply_status (conn, req->cseq, 400, FALSE);
          return;
        }
      session = rs_rtsp_session_pool_find_owned (conn->server->pool, id, conn->owner);
      if (session == NULL)
        {
          conn_reply_status (conn, req->cseq, 454, FALSE);
          return;
        }
    }

  if (strcmp (method, "OPTIONS") == 0)
    handle_options (conn, req, session);
  else if (strcmp (method, "DESCRIBE") == 0)
    handle_describe (conn, req, base, path);
  else if (strcmp (method, "SETUP") == 0)
    handle_setup (conn, req, session, path);
  else if (strcmp (method, "PLAY") == 0)
    handle_play (conn, req, session, base, path);
  else if (strcmp (method, "PAUSE") == 0)
    handle_pause (conn, req, session, path);
  else if (strcmp (method, "TEARDOWN") == 0)
    handle_teardown (conn, req, session, path);
  else
    handle_parameter (conn, req, session);
}

/* ------------------------------------------------------------------------ */
/* Connections: input */

static void
request_clear (Request *req)
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
static gboolean
parse_head (const gchar *head, Request *req)
{
  g_auto (GStrv) lines = g_strsplit (head, "\n", MAX_HEADERS + 2);
  guint n_lines = g_strv_length (lines);
  if (n_lines == 0 || n_lines > MAX_HEADERS + 1)
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
          Header *prev = &req->headers[req->n_headers - 1];
          gchar *joined = g_strconcat (prev->value, " ", g_strstrip (line), NULL);
          g_free (prev->value);
          prev->value = joined;
          continue;
        }
      gchar *colon = strchr (line, ':');
      if (colon == NULL || colon == line)
        return FALSE;
      *colon = '\0';
      if (!is_token (line) || req->n_headers >= MAX_HEADERS)
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
static gssize
find_head_end (const guint8 *data, gsize size, gsize *scanned, gsize *body_start)
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

/* Handles every complete message in the input buffer: interleaved frames,
 * requests (pipelined or not) and stray responses. */
static void
process_input (Conn *conn)
{
  GByteArray *in = conn->inbuf;
  gsize pos = 0;

  while (!conn->closed && !conn->closing)
    {
      while (pos < in->len && (in->data[pos] == '\r' || in->data[pos] == '\n'))
        pos++;
      const guint8 *data = in->data + pos;
      gsize avail = in->len - pos;
      if (avail == 0)
        break;

      if (data[0] == '$')
        {
          if (avail < 4)
            break;
          gsize size = ((gsize) data[2] << 8) | data[3];
          if (avail < 4 + size)
            break;
          handle_interleaved (conn, data[1], data + 4, size);
          pos += 4 + size;
          conn->head_scanned = 0;
          continue;
        }

      gsize body_start = 0;
      gssize head_end = find_head_end (data, MIN (avail, MAX_HEADER_BYTES + 3), &conn->head_scanned, &body_start);
      if (head_end == -1 && avail <= MAX_HEADER_BYTES)
        break; /* wait for the rest of the head */
      if (head_end < 0)
        {
          conn_reply_status (conn, NULL, 400, TRUE);
          break;
        }

      g_autofree gchar *head = g_strndup ((const gchar *) data, (gsize) head_end);
      Request req = { 0 };
      if (!parse_head (head, &req))
        {
          request_clear (&req);
          conn_reply_status (conn, NULL, 400, TRUE);
          break;
        }

      const gchar *cseq = request_header (&req, "CSeq");
      guint64 cseq_value;
      gboolean cseq_ok = cseq && parse_uint (cseq, 10, G_MAXUINT32, &cseq_value);

      guint64 content_length = 0;
      const gchar *cl = request_header (&req, "Content-Length");
      if (cl && !parse_uint (cl, 10, G_MAXUINT32, &content_length))
        {
          conn_reply_status (conn, cseq_ok ? cseq : NULL, 400, TRUE);
          request_clear (&req);
          break;
        }
      if (content_length > MAX_BODY_BYTES)
        {
          conn_reply_status (conn, cseq_ok ? cseq : NULL, 413, TRUE);
          request_clear (&req);
          break;
        }
      if (avail - body_start < content_length)
        {
          request_clear (&req);
          break; /* wait for the body */
        }
      req.body = data + body_start;
      req.body_size = (gsize) content_length;
      pos += body_start + (gsize) content_length;
      conn->head_scanned = 0;
      conn->last_request = g_get_monotonic_time ();

      if (g_str_has_prefix (req.method, "RTSP/"))
        {
          /* A response from the client; this server sends no requests. */
        }
      else if (!is_token (req.method) || !g_str_has_prefix (req.version, "RTSP/"))
        conn_reply_status (conn, NULL, 400, FALSE);
      else if (strcmp (req.version, "RTSP/1.0") != 0)
        conn_reply_status (conn, cseq_ok ? cseq : NULL, 505, FALSE);
      else if (!cseq_ok)
        conn_reply_status (conn, NULL, 400, FALSE);
      else
        {
          req.cseq = cseq;
          handle_request (conn, &req);
        }
      request_clear (&req);
    }

  if (!conn->closed && pos > 0)
    g_byte_array_remove_range (in, 0, (guint) pos);
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = conn_ref (user_data);
  guint8 buffer[READ_CHUNK];
  gboolean eof = FALSE;

  for (gint i = 0; i < MAX_READS_PER_DISPATCH && !conn->closed; i++)
    {
      GError *error = NULL;
      gssize n = g_socket_receive (socket, (gchar *) buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        {
          eof = !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_error_free (error);
          break;
        }
      if (n == 0)
        {
          eof = TRUE;
          break;
        }
      g_byte_array_append (conn->inbuf, buffer, (guint) n);
      process_input (conn);
      if (conn->closing)
        break;
    }
  if (eof && !conn->closed)
    {
      log_event ("%s closed by peer", conn->owner);
      conn_close (conn);
    }
  conn_unref (conn);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_close_idle (gpointer user_data)
{
  Conn *conn = user_data;
  g_clear_pointer (&conn->close_source, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

/* Closes the connection from the main loop, not from the middle of whatever
 * noticed that it must close (a write error can happen inside a request
 * handler or a stream's timer, which must not see their session go). */
static void
conn_schedule_close (Conn *conn)
{
  if (conn->closed || conn->close_source != NULL)
    return;
  conn->closing = TRUE;
  destroy_source (&conn->in_source);
  conn->close_source = g_idle_source_new ();
  g_source_set_priority (conn->close_source, G_PRIORITY_HIGH);
  g_source_set_callback (conn->close_source, on_close_idle, conn, NULL);
  g_source_attach (conn->close_source, NULL);
}

static gboolean
on_linger_timeout (gpointer user_data)
{
  Conn *conn = user_data;
  g_clear_pointer (&conn->linger_source, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

/* Closes the connection and removes its sessions: they are bound to it, so
 * nobody could use them again. */
static void
conn_close (Conn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  conn_ref (conn);
  destroy_source (&conn->in_source);
  destroy_source (&conn->out_source);
  destroy_source (&conn->linger_source);
  destroy_source (&conn->close_source);

  GList *sessions = g_hash_table_get_values (conn->sessions);
  g_list_foreach (sessions, (GFunc) (void (*) (void)) g_object_ref, NULL);
  for (GList *l = sessions; l; l = l->next)
    {
      log_event ("session %s closed with %s", session_id (l->data), conn->owner);
      rs_rtsp_session_pool_remove (conn->server->pool, l->data);
    }
  g_list_free_full (sessions, g_object_unref);
  g_hash_table_remove_all (conn->sessions);

  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  log_event ("%s closed", conn->owner);
  g_hash_table_remove (conn->server->conns, conn);
  conn_unref (conn);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object, gpointer user_data)
{
  Server *server = user_data;
  Conn *conn = g_rc_box_new0 (Conn);
  conn->server = server;
  conn->id = ++server->next_conn_id;
  conn->owner = g_strdup_printf ("conn-%u", conn->id);
  conn->connection = g_object_ref (connection);
  conn->socket = g_socket_connection_get_socket (connection);
  conn->inbuf = g_byte_array_new ();
  g_queue_init (&conn->outq);
  conn->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  conn->last_drop_log = G_MININT64 / 2;
  conn->last_request = g_get_monotonic_time ();
  g_socket_set_blocking (conn->socket, FALSE);
  /* Bound the kernel's share of a slow reader's backlog too (the kernel
   * doubles the value and keeps a minimum of its own). */
  if (server->tcp_queue_limit > 0)
    g_socket_set_option (conn->socket, SOL_SOCKET, SO_SNDBUF, (gint) MIN (server->tcp_queue_limit, G_MAXINT / 2),
                         NULL);

  /* Addresses as IPv4 when they are IPv4-mapped IPv6 (a dual-stack socket). */
  GInetAddress *addrs[2] = { NULL, NULL };
  GSocketAddress *sa[2] = { g_socket_get_remote_address (conn->socket, NULL),
                            g_socket_get_local_address (conn->socket, NULL) };
  guint16 remote_port = 0;
  for (gint i = 0; i < 2; i++)
    {
      if (!G_IS_INET_SOCKET_ADDRESS (sa[i]))
        continue;
      GInetAddress *a = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa[i]));
      if (i == 0)
        remote_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa[i]));
      const guint8 *bytes = g_inet_address_to_bytes (a);
      static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
      if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6 && memcmp (bytes, mapped_prefix, 12) == 0)
        addrs[i] = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
      else
        addrs[i] = g_object_ref (a);
    }
  g_clear_object (&sa[0]);
  g_clear_object (&sa[1]);
  if (addrs[0] == NULL || addrs[1] == NULL)
    {
      g_clear_object (&addrs[0]);
      g_clear_object (&addrs[1]);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      conn_unref (conn);
      return TRUE;
    }
  conn->remote = addrs[0];
  conn->local = addrs[1];
  g_autofree gchar *remote = address_to_host (conn->remote);
  conn->remote_str = g_strdup_printf ("%s:%u", remote, remote_port);

  g_hash_table_add (server->conns, conn);
  conn->in_source = g_socket_create_source (conn->socket, G_IO_IN, NULL);
  g_source_set_callback (conn->in_source, G_SOURCE_FUNC (on_readable), conn, NULL);
  g_source_attach (conn->in_source, NULL);
  log_event ("%s opened from %s", conn->owner, conn->remote_str);
  return TRUE;
}

/* A connection that is closing but whose client does not read the last
 * response is closed after a while anyway. */
static void
conn_arm_linger (Conn *conn)
{
  if (conn->closing && !conn->closed && conn->linger_source == NULL)
    {
      conn->linger_source = g_timeout_source_new (CLOSE_LINGER_MS);
      g_source_set_callback (conn->linger_source, on_linger_timeout, conn, NULL);
      g_source_attach (conn->linger_source, NULL);
    }
}

static gboolean
on_housekeeping (gpointer user_data)
{
  Server *server = user_data;
  gint64 now = g_get_monotonic_time ();
  GList *conns = g_hash_table_get_keys (server->conns);
  for (GList *l = conns; l; l = l->next)
    {
      Conn *conn = l->data;
      conn_arm_linger (conn);
      if (!conn->closing && g_hash_table_size (conn->sessions) == 0 &&
          now - conn->last_request > IDLE_CONN_TIMEOUT_USEC)
        {
          log_event ("%s idle without a session; closing", conn->owner);
          conn_schedule_close (conn);
        }
    }
  g_list_free (conns);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Main */

static gboolean
on_quit_signal (gpointer user_data)
{
  Server *server = user_data;
  log_event (SERVER_NAME ": shutting down");
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gint port = 8554, timeout = 60, extra_timeout = 5, max_sessions = 0, queue_limit = 64 * 1024;
  g_autofree gchar *address = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on, 0 for any (default 8554)", "PORT" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "Address to listen on (default: all)", "ADDR" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, "Session timeout in seconds (default 60)", "SECONDS" },
    { "extra-timeout", 0, 0, G_OPTION_ARG_INT, &extra_timeout, "Grace after the timeout (default 5)", "SECONDS" },
    { "max-sessions", 'm', 0, G_OPTION_ARG_INT, &max_sessions, "Most sessions at once, 0 = unlimited", "N" },
    { "tcp-queue-limit", 0, 0, G_OPTION_ARG_INT, &queue_limit,
      "Bytes of RTP queued per TCP connection before dropping, also its socket send buffer (default 65536)",
      "BYTES" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- serve a tone over RTSP with librtspsession");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (port < 0 || port > 65535 || timeout < 0 || extra_timeout < 0 || max_sessions < 0 || queue_limit < 0)
    {
      g_printerr ("options must be non-negative (and the port at most 65535)\n");
      return 2;
    }

  signal (SIGPIPE, SIG_IGN);

  Server server = { 0 };
  server.timeout = (guint) timeout;
  server.extra_timeout = (guint) extra_timeout;
  server.tcp_queue_limit = (gsize) queue_limit;
  server.loop = g_main_loop_new (NULL, FALSE);
  server.conns = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) conn_unref, NULL);

  server.pool = rs_rtsp_session_pool_new ();
  rs_rtsp_session_pool_set_max_sessions (server.pool, (guint) max_sessions);
  g_signal_connect (server.pool, "session-removed", G_CALLBACK (on_session_removed), &server);
  server.watch = rs_rtsp_session_pool_create_watch (server.pool);
  g_source_set_callback (server.watch, G_SOURCE_FUNC (on_pool_watch), &server, NULL);
  g_source_attach (server.watch, NULL);

  server.service = g_socket_service_new ();
  GSocketListener *listener = G_SOCKET_LISTENER (server.service);
  gboolean listening;
  if (address)
    {
      g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
      if (inet == NULL)
        {
          g_printerr ("not an IP address: %s\n", address);
          return 2;
        }
      g_autoptr (GSocketAddress) want = g_inet_socket_address_new (inet, (guint16) port);
      g_autoptr (GSocketAddress) got = NULL;
      listening = g_socket_listener_add_address (listener, want, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                 &got, &error);
      if (listening)
        server.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
    }
  else if (port == 0)
    {
      server.port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
      listening = server.port != 0;
    }
  else
    {
      listening = g_socket_listener_add_inet_port (listener, (guint16) port, NULL, &error);
      server.port = (guint16) port;
    }
  if (!listening)
    {
      g_printerr ("cannot listen on port %d: %s\n", port, error->message);
      return 1;
    }
  g_signal_connect (server.service, "incoming", G_CALLBACK (on_incoming), &server);
  g_socket_service_start (server.service);

  guint sigint = g_unix_signal_add (SIGINT, on_quit_signal, &server);
  guint sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, &server);
  guint housekeeping = g_timeout_add_seconds (1, on_housekeeping, &server);

  log_event (SERVER_NAME ": rtsp://127.0.0.1:%u/tone (ffplay rtsp://127.0.0.1:%u/tone)", server.port, server.port);
  g_main_loop_run (server.loop);

  /* Free everything: connections (and with them their sessions), the watch,
   * then the pool. */
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (housekeeping);
  g_socket_service_stop (server.service);
  g_socket_listener_close (listener);
  GList *conns = g_hash_table_get_keys (server.conns);
  g_list_foreach (conns, (GFunc) (void (*) (void)) conn_ref, NULL);
  for (GList *l = conns; l; l = l->next)
    conn_close (l->data);
  g_list_free_full (conns, (GDestroyNotify) conn_unref);
  g_hash_table_unref (server.conns);
  server.conns = NULL;
  g_source_destroy (server.watch);
  g_source_unref (server.watch);
  g_clear_object (&server.service);
  g_object_unref (server.pool);
  g_main_loop_unref (server.loop);
  return 0;
}
