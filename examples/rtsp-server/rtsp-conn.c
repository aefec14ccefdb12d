/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Connection I/O: the accept loop and each connection's input and output.
 */
#include "rtsp-conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define MAX_READS_PER_DISPATCH 8
#define MAX_ACCEPTS_PER_DISPATCH 16
#define RESPONSE_QUEUE_LIMIT (256 * 1024) /* a client that does not read its responses */
/* What a queued buffer costs besides its bytes (its GBytes, its GList
 * link and their heap headers): a queue of many small responses is
 * counted at what it really takes. */
#define QUEUE_ENTRY_OVERHEAD 96
#define CLOSE_LINGER_MS 5000
#define LIMIT_LOG_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#define ACCEPT_BACKOFF_MIN_MS 10
#define ACCEPT_BACKOFF_MAX_MS 1000

struct _ExListener
{
  ExConnConfig config;
  GSocket *socket;
  guint16 port;
  GSource *accept_source;
  GSource *backoff_source;
  guint backoff_ms;
  GSource *housekeeping;
  gint reserve_fd;      /* closed to answer a client when out of descriptors */
  GHashTable *conns;    /* ExConn* (a reference) */
  GHashTable *peers;    /* remote address -> its open connections (GUINT_TO_POINTER) */
  guint next_id;
  ExLimitLog conn_limit_log;
  ExLimitLog peer_limit_log;
  ExLimitLog emfile_log;
};

static void conn_schedule_close (ExConn *conn);
static gboolean peer_admit (ExListener *listener, const gchar *peer);
static void peer_forget (ExListener *listener, const gchar *peer);
static gchar *address_to_host (GInetAddress *address);
static GInetAddress *plain_address (GSocketAddress *address, guint16 *port);

/* ------------------------------------------------------------------------ */
/* Logging */

void
ex_log_event (const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
ex_log_limit (ExLimitLog *log, const gchar *format, ...)
{
  gint64 now = g_get_monotonic_time ();
  log->count++;
  if (log->count > 1 && now - log->last < LIMIT_LOG_INTERVAL_USEC)
    return;
  va_list args;
  va_start (args, format);
  g_autofree gchar *text = g_strdup_vprintf (format, args);
  va_end (args);
  ex_log_event ("limit: %s (%" G_GUINT64_FORMAT " times)", text, log->count - log->logged);
  log->logged = log->count;
  log->last = now;
}

/* ------------------------------------------------------------------------ */
/* Output */

ExConn *
ex_conn_ref (ExConn *conn)
{
  g_atomic_int_inc (&conn->ref_count);
  return conn;
}

void
ex_conn_unref (ExConn *conn)
{
  if (!g_atomic_int_dec_and_test (&conn->ref_count))
    return;
  g_free (conn->name);
  g_clear_object (&conn->local);
  g_clear_object (&conn->remote);
  g_free (conn->remote_str);
  g_free (conn->peer);
  g_free (conn->local_base);
  g_hash_table_unref (conn->sessions);
  g_clear_object (&conn->socket);
  g_byte_array_unref (conn->inbuf);
  g_queue_clear_full (&conn->outq, (GDestroyNotify) g_bytes_unref);
  g_free (conn);
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

static gboolean on_writable (GSocket *socket, GIOCondition condition, gpointer user_data);

/* Writes what the socket takes now; waits for it to be writable for the rest. */
static void
conn_flush (ExConn *conn)
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
          if (conn->stalled_since == 0)
            conn->stalled_since = g_get_monotonic_time ();
          if (conn->out_source == NULL)
            {
              conn->out_source = g_socket_create_source (conn->socket, G_IO_OUT, NULL);
              g_source_set_callback (conn->out_source, G_SOURCE_FUNC (on_writable), conn, NULL);
              g_source_attach (conn->out_source, NULL);
            }
          return;
        }
      conn->stalled_since = 0;
      conn->out_offset += (gsize) n;
      conn->outq_bytes -= (gsize) n;
      if (conn->out_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&conn->outq));
          conn->outq_bytes -= QUEUE_ENTRY_OVERHEAD;
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
  ExConn *conn = ex_conn_ref (user_data);
  conn_flush (conn);
  ex_conn_unref (conn);
  return G_SOURCE_CONTINUE; /* conn_flush destroys the source when done */
}

/* Queues @size bytes for the client. RTP (@droppable) is dropped when the
 * connection's queue is over its limit, so that a slow reader costs bounded
 * memory; a client that does not even read its responses is disconnected. */
void
ex_conn_send (ExConn *conn, const guint8 *data, gsize size, gboolean droppable)
{
  if (conn->closed || (droppable && conn->closing))
    return;
  if (droppable && conn->outq_bytes + size + QUEUE_ENTRY_OVERHEAD > conn->listener->config.tcp_queue_limit)
    {
      conn->dropped++;
      gint64 now = g_get_monotonic_time ();
      if (now - conn->last_drop_log >= LIMIT_LOG_INTERVAL_USEC)
        {
          ex_log_event ("%s slow reader: dropped %" G_GUINT64_FORMAT " RTP packets (queue %" G_GSIZE_FORMAT " bytes)",
                        conn->name, conn->dropped - conn->dropped_logged, conn->outq_bytes);
          conn->last_drop_log = now;
          conn->dropped_logged = conn->dropped;
        }
      return;
    }
  if (!droppable && conn->outq_bytes > RESPONSE_QUEUE_LIMIT)
    {
      ex_log_event ("%s does not read its responses; closing", conn->name);
      conn_schedule_close (conn);
      return;
    }
  g_queue_push_tail (&conn->outq, g_bytes_new (data, size));
  conn->outq_bytes += size + QUEUE_ENTRY_OVERHEAD;
  if (conn->out_source == NULL)
    conn_flush (conn);
}

void
ex_conn_send_response (ExConn *conn, const gchar *cseq, ExResponse *resp)
{
  GString *out = ex_response_finish (resp, cseq, conn->listener->config.server_name);
  ex_conn_send (conn, (const guint8 *) out->str, out->len, FALSE);
  g_string_free (out, TRUE);
}

/* Answers with just a status, and closes the connection when @fatal (when
 * the request's framing cannot be trusted). */
void
ex_conn_reply_status (ExConn *conn, const gchar *cseq, guint code, gboolean fatal)
{
  ExResponse resp;
  ex_response_init (&resp, code);
  if (fatal)
    ex_response_add_header (&resp, "Connection", "close");
  ex_conn_send_response (conn, cseq, &resp);
  if (fatal)
    {
      conn->closing = TRUE;
      destroy_source (&conn->in_source);
      if (conn->out_source == NULL)
        conn_schedule_close (conn);
    }
}

/* A limit answer: 503 or 453, with when to try again. */
void
ex_conn_reply_busy (ExConn *conn, const gchar *cseq, guint code)
{
  ExResponse resp;
  ex_response_init (&resp, code);
  ex_response_add_header (&resp, "Retry-After", "%u", conn->listener->config.retry_after);
  ex_conn_send_response (conn, cseq, &resp);
}

/* ------------------------------------------------------------------------ */
/* Interleaved channels */

static gboolean
channel_free_for (ExConn *conn, guint channel, gconstpointer owner)
{
  return conn->channels[channel].data == NULL || conn->channels[channel].owner == owner;
}

/* Claims @rtp and @rtcp on the connection for @owner (a stream): frames
 * from the client on @rtcp go to @rtcp_func with @data. FALSE when another
 * owner holds either of them; @owner's own claims are taken over, so that
 * a stream can be set up again on the same channels. */
gboolean
ex_conn_claim_channels (ExConn *conn, guint rtp, guint rtcp, gconstpointer owner, ExFrameFunc rtcp_func,
                        gpointer data)
{
  g_return_val_if_fail (data != NULL, FALSE);
  if (!ex_conn_channels_free (conn, rtp, rtcp, owner))
    return FALSE;
  conn->channels[rtp].func = NULL; /* RTP from the client is ignored */
  conn->channels[rtp].data = data;
  conn->channels[rtp].owner = owner;
  conn->channels[rtcp].func = rtcp_func;
  conn->channels[rtcp].data = data;
  conn->channels[rtcp].owner = owner;
  return TRUE;
}

/* Whether @rtp and @rtcp are free or @owner's. */
gboolean
ex_conn_channels_free (ExConn *conn, guint rtp, guint rtcp, gconstpointer owner)
{
  return rtp < 256 && rtcp < 256 && rtp != rtcp && channel_free_for (conn, rtp, owner) &&
         channel_free_for (conn, rtcp, owner);
}

/* The first pair of channels (even, odd) that is free or @owner's. */
gboolean
ex_conn_find_free_channels (ExConn *conn, gconstpointer owner, guint *rtp, guint *rtcp)
{
  for (guint c = 0; c < 256; c += 2)
    if (channel_free_for (conn, c, owner) && channel_free_for (conn, c + 1, owner))
      {
        *rtp = c;
        *rtcp = c + 1;
        return TRUE;
      }
  return FALSE;
}

/* Releases what @data still holds of @rtp and @rtcp. */
void
ex_conn_release_channels (ExConn *conn, guint rtp, guint rtcp, gpointer data)
{
  guint both[2] = { rtp, rtcp };
  for (gint i = 0; i < 2; i++)
    if (both[i] < 256 && conn->channels[both[i]].data == data)
      {
        conn->channels[both[i]].func = NULL;
        conn->channels[both[i]].data = NULL;
        conn->channels[both[i]].owner = NULL;
      }
}

/* ------------------------------------------------------------------------ */
/* Input */

/* Handles every complete message in the input buffer: interleaved frames,
 * requests (pipelined or not) and stray responses. */
static void
process_input (ExConn *conn)
{
  GByteArray *in = conn->inbuf;
  const ExConnConfig *config = &conn->listener->config;
  gsize pos = 0;

  while (!conn->closed && !conn->closing)
    {
      while (pos < in->len && (in->data[pos] == '\r' || in->data[pos] == '\n'))
        pos++;
      const guint8 *data = in->data + pos;
      gsize avail = in->len - pos;
      if (avail == 0)
        break;
      /* A request whose head was parsed and whose body is still coming:
       * the head is not scanned and parsed again for every read. */
      if (conn->body_wait && avail < conn->body_wait)
        break;

      if (data[0] == '$')
        {
          if (avail < 4)
            break;
          gsize size = ((gsize) data[2] << 8) | data[3];
          if (avail < 4 + size)
            break;
          /* One table lookup per frame, whatever the connection holds. */
          if (conn->channels[data[1]].func)
            conn->channels[data[1]].func (data + 4, size, conn->channels[data[1]].data);
          pos += 4 + size;
          conn->head_scanned = 0;
          continue;
        }

      gsize body_start = 0;
      gssize head_end =
          ex_find_head_end (data, MIN (avail, EX_MAX_HEADER_BYTES + 3), &conn->head_scanned, &body_start);
      if (head_end == -1 && avail <= EX_MAX_HEADER_BYTES)
        break; /* wait for the rest of the head */
      if (head_end < 0)
        {
          ex_conn_reply_status (conn, NULL, 400, TRUE);
          break;
        }

      g_autofree gchar *head = g_strndup ((const gchar *) data, (gsize) head_end);
      ExRequest req = { 0 };
      if (!ex_request_parse_head (head, &req))
        {
          ex_request_clear (&req);
          ex_conn_reply_status (conn, NULL, 400, TRUE);
          break;
        }

      const gchar *cseq = ex_request_header (&req, "CSeq");
      guint64 cseq_value;
      gboolean cseq_ok = cseq && ex_parse_uint (cseq, 10, G_MAXUINT32, &cseq_value);

      guint64 content_length = 0;
      const gchar *cl = ex_request_header (&req, "Content-Length");
      if (cl && !ex_parse_uint (cl, 10, G_MAXUINT32, &content_length))
        {
          ex_conn_reply_status (conn, cseq_ok ? cseq : NULL, 400, TRUE);
          ex_request_clear (&req);
          break;
        }
      if (content_length > EX_MAX_BODY_BYTES)
        {
          ex_conn_reply_status (conn, cseq_ok ? cseq : NULL, 413, TRUE);
          ex_request_clear (&req);
          break;
        }
      if (avail - body_start < content_length)
        {
          ex_request_clear (&req);
          conn->body_wait = body_start + (gsize) content_length;
          break; /* wait for the body */
        }
      conn->body_wait = 0;
      req.body = data + body_start;
      req.body_size = (gsize) content_length;
      pos += body_start + (gsize) content_length;
      conn->head_scanned = 0;
      conn->last_request = g_get_monotonic_time ();

      if (g_str_has_prefix (req.method, "RTSP/"))
        {
          /* A response from the client; this server sends no requests. */
        }
      else if (!ex_is_token (req.method) || !g_str_has_prefix (req.version, "RTSP/"))
        ex_conn_reply_status (conn, NULL, 400, FALSE);
      else if (strcmp (req.version, "RTSP/1.0") != 0)
        ex_conn_reply_status (conn, cseq_ok ? cseq : NULL, 505, FALSE);
      else if (!cseq_ok)
        ex_conn_reply_status (conn, NULL, 400, FALSE);
      else
        {
          req.cseq = cseq;
          config->request (conn, &req, config->user_data);
        }
      ex_request_clear (&req);
    }

  if (!conn->closed && pos > 0)
    g_byte_array_remove_range (in, 0, (guint) pos);
}

/* A port in a PROXY line: 1 to 5 digits, 0 to 65535. */
static gboolean
parse_port (const gchar *text, guint *port)
{
  gsize len = strlen (text);
  if (len == 0 || len > 5)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
  *port = (guint) g_ascii_strtoull (text, NULL, 10);
  return *port <= 65535;
}

/* An address of @family in a PROXY line, IPv4 for an IPv4-mapped one. */
static GInetAddress *
parse_proxy_address (const gchar *text, GSocketFamily family)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);
  if (address == NULL || g_inet_address_get_family (address) != family)
    return NULL;
  g_autoptr (GInetSocketAddress) wrapped = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, 0));
  return plain_address (G_SOCKET_ADDRESS (wrapped), NULL);
}

/* The PROXY protocol's v1 line ("PROXY TCP4 <client> <server> <client
 * port> <server port>\r\n", 107 bytes at most, or "PROXY UNKNOWN ...")
 * that a trusted proxy in front sends first: from then on the connection
 * counts as the client's. FALSE while the line is incomplete, or when it
 * was refused and the connection is closing. */
static gboolean
take_proxy_line (ExConn *conn)
{
  ExListener *listener = conn->listener;
  const guint8 *data = conn->inbuf->data;
  guint len = conn->inbuf->len;
  guint end = 0; /* where the line's CR is */
  while (end + 1 < len && end + 2 < 107 && !(data[end] == '\r' && data[end + 1] == '\n'))
    end++;
  gboolean complete = end + 1 < len && data[end] == '\r' && data[end + 1] == '\n';
  if (!complete && len < 107)
    return FALSE; /* not all there yet */
  g_autofree gchar *line = complete ? g_strndup ((const gchar *) data, end) : NULL;
  g_auto (GStrv) fields = line && strlen (line) == end ? g_strsplit (line, " ", 0) : NULL;
  guint n = fields ? g_strv_length (fields) : 0;
  GInetAddress *client = NULL;
  guint port = 0, server_port = 0;
  gboolean unknown = n >= 2 && strcmp (fields[0], "PROXY") == 0 && strcmp (fields[1], "UNKNOWN") == 0;
  if (n == 6 && strcmp (fields[0], "PROXY") == 0
      && (strcmp (fields[1], "TCP4") == 0 || strcmp (fields[1], "TCP6") == 0))
    {
      GSocketFamily family = strcmp (fields[1], "TCP4") == 0 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6;
      g_autoptr (GInetAddress) server = parse_proxy_address (fields[3], family);
      client = parse_proxy_address (fields[2], family);
      if (client && (server == NULL || !parse_port (fields[4], &port) || !parse_port (fields[5], &server_port)
                     || port == 0))
        g_clear_object (&client);
    }
  if (client == NULL && !unknown)
    {
      ex_log_event ("%s sent no valid PROXY line; closing", conn->name);
      ex_conn_close (conn);
      return FALSE;
    }
  /* UNKNOWN: the proxy does not know the client; the connection stays the proxy's. */
  gchar *peer = g_inet_address_to_string (unknown ? conn->remote : client);
  if (!peer_admit (listener, peer))
    {
      g_free (peer);
      g_clear_object (&client);
      ex_conn_reply_busy (conn, NULL, 503);
      conn_schedule_close (conn);
      conn->awaiting_proxy = FALSE;
      g_byte_array_set_size (conn->inbuf, 0);
      return FALSE;
    }
  conn->peer = peer;
  if (!unknown)
    {
      g_object_unref (conn->remote);
      conn->remote = client;
      g_autofree gchar *host = address_to_host (client);
      g_free (conn->remote_str);
      conn->remote_str = g_strdup_printf ("%s:%u", host, port);
    }
  conn->awaiting_proxy = FALSE;
  g_byte_array_remove_range (conn->inbuf, 0, end + 2);
  ex_log_event ("%s is %s (PROXY)", conn->name, conn->remote_str);
  return TRUE;
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  ExConn *conn = ex_conn_ref (user_data);
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
      if (conn->awaiting_proxy && !take_proxy_line (conn))
        break;
      process_input (conn);
      if (conn->closing)
        break;
    }
  if (eof && !conn->closed)
    {
      ex_log_event ("%s closed by peer", conn->name);
      ex_conn_close (conn);
    }
  ex_conn_unref (conn);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Closing */

static gboolean
on_close_idle (gpointer user_data)
{
  ExConn *conn = user_data;
  g_clear_pointer (&conn->close_source, g_source_unref);
  ex_conn_close (conn);
  return G_SOURCE_REMOVE;
}

/* Closes the connection from the main loop, not from the middle of whatever
 * noticed that it must close (a write error can happen inside a request
 * handler or a stream's tick, which must not see their session go). */
static void
conn_schedule_close (ExConn *conn)
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
  ExConn *conn = user_data;
  g_clear_pointer (&conn->linger_source, g_source_unref);
  ex_conn_close (conn);
  return G_SOURCE_REMOVE;
}

/* Closes the socket and tells the server, which removes the connection's
 * sessions. */
void
ex_conn_close (ExConn *conn)
{
  if (conn->closed)
    return;
  ExListener *listener = conn->listener;
  conn->closed = TRUE;
  ex_conn_ref (conn);
  destroy_source (&conn->in_source);
  destroy_source (&conn->out_source);
  destroy_source (&conn->linger_source);
  destroy_source (&conn->close_source);
  g_socket_close (conn->socket, NULL);
  listener->config.closed (conn, listener->config.user_data);
  ex_log_event ("%s closed", conn->name);
  peer_forget (listener, conn->peer);
  g_hash_table_remove (listener->conns, conn);
  ex_conn_unref (conn);
}

/* ------------------------------------------------------------------------ */
/* Accepting */

static gboolean
is_trusted_proxy (ExListener *listener, GInetAddress *address)
{
  for (const gchar *const *trusted = listener->config.trusted_proxies; trusted && *trusted; trusted++)
    {
      g_autoptr (GInetAddress) allowed = g_inet_address_new_from_string (*trusted);
      if (allowed && g_inet_address_equal (allowed, address))
        return TRUE;
    }
  return FALSE;
}

/* Counts one more connection from @peer; FALSE (counting nothing) when
 * @peer has its share already. */
static gboolean
peer_admit (ExListener *listener, const gchar *peer)
{
  guint held = GPOINTER_TO_UINT (g_hash_table_lookup (listener->peers, peer));
  guint max_per_peer = listener->config.max_connections_per_peer;
  if (max_per_peer > 0 && held >= max_per_peer)
    {
      ex_log_limit (&listener->peer_limit_log, "max-connections-per-peer %u reached: connection from %s refused with 503",
                    max_per_peer, peer);
      return FALSE;
    }
  g_hash_table_insert (listener->peers, g_strdup (peer), GUINT_TO_POINTER (held + 1));
  return TRUE;
}

static void
peer_forget (ExListener *listener, const gchar *peer)
{
  if (peer == NULL)
    return;
  guint held = GPOINTER_TO_UINT (g_hash_table_lookup (listener->peers, peer));
  if (held > 1)
    g_hash_table_insert (listener->peers, g_strdup (peer), GUINT_TO_POINTER (held - 1));
  else
    g_hash_table_remove (listener->peers, peer);
}

/* IPv4 for an IPv4-mapped IPv6 address (a dual-stack socket). */
static GInetAddress *
plain_address (GSocketAddress *address, guint16 *port)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  GInetAddress *a = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  if (port)
    *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *bytes = g_inet_address_to_bytes (a);
  if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6 && memcmp (bytes, mapped_prefix, 12) == 0)
    return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  return g_object_ref (a);
}

/* "host" for IPv4, "[host]" for IPv6, as in URLs and host:port. */
static gchar *
address_to_host (GInetAddress *address)
{
  g_autofree gchar *text = g_inet_address_to_string (address);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]", text);
  return g_steal_pointer (&text);
}

/* Answers a connection the server will not serve and closes it. It is a
 * fresh socket, so the short answer fits in its send buffer. */
static void
refuse (ExListener *listener, GSocket *socket)
{
  g_autofree gchar *answer = g_strdup_printf ("RTSP/1.0 503 Service Unavailable\r\nServer: %s\r\n"
                                              "Retry-After: %u\r\nConnection: close\r\n\r\n",
                                              listener->config.server_name, listener->config.retry_after);
  g_socket_set_blocking (socket, FALSE);
  g_socket_send (socket, answer, strlen (answer), NULL, NULL);
  g_socket_close (socket, NULL);
}

static void
conn_open (ExListener *listener, GSocket *socket)
{
  g_autoptr (GSocketAddress) remote_sa = g_socket_get_remote_address (socket, NULL);
  g_autoptr (GSocketAddress) local_sa = g_socket_get_local_address (socket, NULL);
  guint16 remote_port = 0;
  GInetAddress *remote = plain_address (remote_sa, &remote_port);
  GInetAddress *local = plain_address (local_sa, NULL);
  if (remote == NULL || local == NULL)
    {
      g_clear_object (&remote);
      g_clear_object (&local);
      g_socket_close (socket, NULL);
      return;
    }

  /* One address (a client, or everyone behind one NAT) gets a share of
   * the connections, not all of them. Behind a proxy, the address is the
   * one its PROXY line names. */
  gchar *peer = NULL;
  /* Only a trusted proxy may say who the client is; anyone else is taken
   * for who its socket says. */
  gboolean proxied = listener->config.proxy_protocol && is_trusted_proxy (listener, remote);
  if (!proxied)
    {
      peer = g_inet_address_to_string (remote);
      if (!peer_admit (listener, peer))
        {
          g_free (peer);
          g_object_unref (remote);
          g_object_unref (local);
          refuse (listener, socket);
          return;
        }
    }

  ExConn *conn = g_new0 (ExConn, 1);
  conn->ref_count = 1;
  conn->peer = peer;
  conn->listener = listener;
  conn->id = ++listener->next_id;
  conn->name = g_strdup_printf ("conn-%u", conn->id);
  conn->socket = g_object_ref (socket);
  conn->remote = remote;
  conn->local = local;
  g_autofree gchar *remote_host = address_to_host (remote);
  g_autofree gchar *local_host = address_to_host (local);
  conn->remote_str = g_strdup_printf ("%s:%u", remote_host, remote_port);
  conn->local_base = g_strdup_printf ("rtsp://%s:%u", local_host, listener->port);
  conn->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  conn->inbuf = g_byte_array_new ();
  conn->awaiting_proxy = proxied;
  g_queue_init (&conn->outq);
  conn->last_drop_log = G_MININT64 / 2;
  conn->last_request = g_get_monotonic_time ();
  g_socket_set_blocking (socket, FALSE);
  /* Bound the kernel's share of a slow reader's backlog too (the kernel
   * doubles the value and keeps a minimum of its own). */
  if (listener->config.tcp_queue_limit > 0)
    g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, (gint) MIN (listener->config.tcp_queue_limit, G_MAXINT / 2),
                         NULL);

  g_hash_table_add (listener->conns, conn);
  conn->in_source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (conn->in_source, G_SOURCE_FUNC (on_readable), conn, NULL);
  g_source_attach (conn->in_source, NULL);
  ex_log_event ("%s opened from %s", conn->name, conn->remote_str);
  if (listener->config.opened)
    listener->config.opened (conn, listener->config.user_data);
}

static void listener_arm (ExListener *listener);

static gboolean
on_backoff_done (gpointer user_data)
{
  ExListener *listener = user_data;
  g_clear_pointer (&listener->backoff_source, g_source_unref);
  listener_arm (listener);
  return G_SOURCE_REMOVE;
}

/* Out of file descriptors: answer the waiting client with the reserve
 * descriptor, then stop accepting for a while instead of retrying at once
 * (which would spin: the connection stays in the backlog). */
static void
listener_back_off (ExListener *listener)
{
  if (listener->reserve_fd >= 0)
    {
      close (listener->reserve_fd);
      listener->reserve_fd = -1;
      GSocket *socket = g_socket_accept (listener->socket, NULL, NULL);
      if (socket)
        {
          refuse (listener, socket);
          g_object_unref (socket);
        }
      listener->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  listener->backoff_ms = CLAMP (listener->backoff_ms * 2, ACCEPT_BACKOFF_MIN_MS, ACCEPT_BACKOFF_MAX_MS);
  ex_log_limit (&listener->emfile_log, "out of file descriptors (%u connections); not accepting for %u ms",
                g_hash_table_size (listener->conns), listener->backoff_ms);
  destroy_source (&listener->accept_source);
  listener->backoff_source = g_timeout_source_new (listener->backoff_ms);
  g_source_set_callback (listener->backoff_source, on_backoff_done, listener, NULL);
  g_source_attach (listener->backoff_source, NULL);
}

static gboolean
on_acceptable (GSocket *listening, GIOCondition condition, gpointer user_data)
{
  ExListener *listener = user_data;
  for (gint i = 0; i < MAX_ACCEPTS_PER_DISPATCH; i++)
    {
      g_autoptr (GError) error = NULL;
      GSocket *socket = g_socket_accept (listening, NULL, &error);
      if (socket == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
            listener_back_off (listener);
          else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            ex_log_event ("accept failed: %s", error->message); /* e.g. ECONNABORTED: try the next */
          else
            listener->backoff_ms = 0;
          break;
        }
      guint max = listener->config.max_connections;
      if (max > 0 && g_hash_table_size (listener->conns) >= max)
        {
          ex_log_limit (&listener->conn_limit_log, "max-connections %u reached: connection refused with 503", max);
          refuse (listener, socket);
        }
      else
        conn_open (listener, socket);
      g_object_unref (socket);
      if (listener->accept_source == NULL)
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
listener_arm (ExListener *listener)
{
  if (listener->accept_source)
    return;
  listener->accept_source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_callback (listener->accept_source, G_SOURCE_FUNC (on_acceptable), listener, NULL);
  g_source_attach (listener->accept_source, NULL);
}

/* Once a second: linger, idle connections, connections that stopped
 * reading. */
static gboolean
on_housekeeping (gpointer user_data)
{
  ExListener *listener = user_data;
  const ExConnConfig *config = &listener->config;
  gint64 now = g_get_monotonic_time ();
  GList *conns = g_hash_table_get_keys (listener->conns);
  g_list_foreach (conns, (GFunc) (void (*) (void)) ex_conn_ref, NULL);
  for (GList *l = conns; l; l = l->next)
    {
      ExConn *conn = l->data;
      if (conn->closed)
        continue;
      if (conn->stalled_since != 0 && config->stall_timeout_usec > 0 &&
          now - conn->stalled_since > config->stall_timeout_usec)
        {
          ex_log_event ("%s has not read for %" G_GINT64_FORMAT " s: treating the client as gone", conn->name,
                        (now - conn->stalled_since) / G_USEC_PER_SEC);
          ex_conn_close (conn);
          continue;
        }
      if (conn->closing && conn->linger_source == NULL)
        {
          /* Closing, but the client does not read the last response. */
          conn->linger_source = g_timeout_source_new (CLOSE_LINGER_MS);
          g_source_set_callback (conn->linger_source, on_linger_timeout, conn, NULL);
          g_source_attach (conn->linger_source, NULL);
        }
      if (!conn->closing && g_hash_table_size (conn->sessions) == 0 && config->idle_timeout_usec > 0 &&
          now - conn->last_request > config->idle_timeout_usec)
        {
          ex_log_event ("%s idle without a session; closing", conn->name);
          conn_schedule_close (conn);
        }
    }
  g_list_free_full (conns, (GDestroyNotify) ex_conn_unref);
  return G_SOURCE_CONTINUE;
}

/* A listening socket on @address (all addresses, dual-stack, when NULL) and
 * @port (0: any free port), with the configured backlog. */
static GSocket *
listen_on (const gchar *address, guint16 port, guint backlog, GError **error)
{
  g_autoptr (GInetAddress) inet = NULL;
  if (address)
    {
      inet = g_inet_address_new_from_string (address);
      if (inet == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an IP address: %s", address);
          return NULL;
        }
    }
  else
    inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);

  GSocket *socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                  address ? error : NULL);
  if (socket == NULL && address == NULL)
    {
      /* No IPv6 here: all IPv4 addresses. */
      g_clear_object (&inet);
      inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
    }
  if (socket == NULL)
    return NULL;
  if (address == NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, (gint) MIN (backlog, (guint) G_MAXINT));
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (inet, port);
  if (!g_socket_bind (socket, want, TRUE, error) || !g_socket_listen (socket, error))
    {
      g_object_unref (socket);
      return NULL;
    }
  return socket;
}

ExListener *
ex_listener_new (const ExConnConfig *config, const gchar *address, guint16 port, GError **error)
{
  GSocket *socket = listen_on (address, port, config->listen_backlog, error);
  if (socket == NULL)
    return NULL;
  ExListener *listener = g_new0 (ExListener, 1);
  listener->config = *config;
  listener->socket = socket;
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket, NULL);
  listener->port = bound ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : port;
  listener->conns = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) ex_conn_unref, NULL);
  listener->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  listener->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  listener->housekeeping = g_timeout_source_new_seconds (1);
  g_source_set_callback (listener->housekeeping, on_housekeeping, listener, NULL);
  g_source_attach (listener->housekeeping, NULL);
  listener_arm (listener);
  return listener;
}

guint16
ex_listener_get_port (ExListener *listener)
{
  return listener->port;
}

guint
ex_listener_get_n_connections (ExListener *listener)
{
  return g_hash_table_size (listener->conns);
}

void
ex_listener_free (ExListener *listener)
{
  destroy_source (&listener->accept_source);
  destroy_source (&listener->backoff_source);
  destroy_source (&listener->housekeeping);
  g_socket_close (listener->socket, NULL);
  g_clear_object (&listener->socket);
  GList *conns = g_hash_table_get_keys (listener->conns);
  g_list_foreach (conns, (GFunc) (void (*) (void)) ex_conn_ref, NULL);
  for (GList *l = conns; l; l = l->next)
    ex_conn_close (l->data);
  g_list_free_full (conns, (GDestroyNotify) ex_conn_unref);
  g_hash_table_unref (listener->conns);
  g_hash_table_unref (listener->peers);
  if (listener->reserve_fd >= 0)
    close (listener->reserve_fd);
  g_free (listener);
}
