/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * rs-example-server: a small RTSP/1.0 server on the GLib main loop that
 * serves a generated tone as RTP PCMU, with librtspsession doing all of the
 * session work: ids, the Session: header, owner binding, keep-alive and
 * expiry.
 *
 *   rs-example-server [--port 8554] [--timeout 60] [--max-sessions 1000] ...
 *   ffplay rtsp://127.0.0.1:8554/tone
 *
 * This file is the session logic, in the order of a session's life, then
 * the RTSP methods that drive it, then main(). The rest is plumbing:
 *   rtsp-message.c  parsing requests, building responses
 *   rtsp-conn.c     sockets: accepting, reading, writing, and the limits
 *                   that keep one client from taking the server
 *   tone-stream.c   the media: RTP over UDP or interleaved TCP, one
 *                   scheduler for all streams
 * Each session event is one line on stdout.
 */
#include <rtspsession/rtspsession.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "rtsp-conn.h"
#include "rtsp-message.h"
#include "tone-stream.h"

#define SERVER_NAME "rs-example-server"
#define RTCP_LOG_INTERVAL_USEC (10 * G_USEC_PER_SEC)
#define RETRY_AFTER_SECONDS 5
#define FD_RESERVE 32 /* descriptors for everything but connections and streams */
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

typedef struct
{
  GMainLoop *loop;
  RsRTSPSessionPool *pool;
  GSource *watch;
  ExListener *listener;
  gboolean expiring; /* inside rs_rtsp_session_pool_cleanup() from the watch */
  guint timeout;
  guint extra_timeout;
  guint max_sessions_per_conn;
  guint max_sessions_per_peer;
  gboolean bind_to_address; /* sessions belong to the client's address, not its connection */
  GHashTable *peer_sessions; /* remote address -> its sessions (GUINT_TO_POINTER) */
  ExLimitLog pool_full_log;
  ExLimitLog conn_full_log;
  ExLimitLog peer_full_log;
  ExLimitLog fds_log;
} Server;

static const gchar *
session_id (RsRTSPSession *session)
{
  const gchar *id = rs_rtsp_session_get_sessionid (session);
  return id ? id : "(none)";
}

/* ======================================================================== */
/* The session logic, in lifecycle order */

/* Who may use the sessions made on @conn: the connection itself, or with
 * --session-binding address any connection from the same address (clients
 * that send keep-alives and TEARDOWN on new connections, as behind the
 * router). */
static gchar *
owner_of (Server *server, ExConn *conn)
{
  return server->bind_to_address ? g_strconcat ("addr-", conn->peer, NULL) : g_strdup (conn->name);
}

/* 1. SETUP without a Session: header creates one, owned by the connection.
 * NULL after answering when a limit says no: the connection's own share or
 * its address's (453), or the whole pool (503), all with Retry-After. */
static RsRTSPSession *
session_create (Server *server, ExConn *conn, const ExRequest *req)
{
  guint held = g_hash_table_size (conn->sessions);
  if (server->max_sessions_per_conn > 0 && held >= server->max_sessions_per_conn)
    {
      ex_log_limit (&server->conn_full_log, "max-sessions-per-connection %u reached: %s SETUP refused with 453",
                    server->max_sessions_per_conn, conn->name);
      ex_conn_reply_busy (conn, req->cseq, 453);
      return NULL;
    }
  guint by_peer = GPOINTER_TO_UINT (g_hash_table_lookup (server->peer_sessions, conn->peer));
  if (server->max_sessions_per_peer > 0 && by_peer >= server->max_sessions_per_peer)
    {
      ex_log_limit (&server->peer_full_log, "max-sessions-per-peer %u reached: %s (%s) SETUP refused with 453",
                    server->max_sessions_per_peer, conn->name, conn->peer);
      ex_conn_reply_busy (conn, req->cseq, 453);
      return NULL;
    }
  RsRTSPSession *session = rs_rtsp_session_pool_create (server->pool);
  if (session == NULL)
    {
      ex_log_limit (&server->pool_full_log, "max-sessions %u reached: %s SETUP refused with 503",
                    rs_rtsp_session_pool_get_max_sessions (server->pool), conn->name);
      ex_conn_reply_busy (conn, req->cseq, 503);
      return NULL;
    }
  g_autofree gchar *owner = owner_of (server, conn);
  g_object_set (session, "owner", owner, "extra-timeout", server->extra_timeout, NULL);
  rs_rtsp_session_set_timeout (session, server->timeout);
  g_object_set_data (G_OBJECT (session), "ex-conn", conn);
  g_object_set_data_full (G_OBJECT (session), "ex-peer", g_strdup (conn->peer), g_free);
  g_hash_table_insert (server->peer_sessions, g_strdup (conn->peer), GUINT_TO_POINTER (by_peer + 1));
  g_hash_table_insert (conn->sessions, g_strdup (session_id (session)), g_object_ref (session));
  ex_log_event ("session %s created (owner %s, timeout %u)", session_id (session), owner, server->timeout);
  return session;
}

/* 2. Every request with a Session: header must name a live session of this
 * connection; finding it touches it. FALSE after answering 400 or 454. */
static gboolean
session_find (Server *server, ExConn *conn, const ExRequest *req, RsRTSPSession **session)
{
  *session = NULL;
  const gchar *header = ex_request_header (req, "Session");
  if (header == NULL)
    return TRUE;
  g_autofree gchar *id = NULL;
  if (!rs_rtsp_session_header_parse (header, &id, NULL, NULL))
    {
      ex_conn_reply_status (conn, req->cseq, 400, FALSE);
      return FALSE;
    }
  g_autofree gchar *owner = owner_of (server, conn);
  *session = rs_rtsp_session_pool_find_owned (server->pool, id, owner);
  if (*session == NULL)
    {
      ex_conn_reply_status (conn, req->cseq, 454, FALSE);
      return FALSE;
    }
  return TRUE;
}

static void on_rtcp_received (ExToneStream *stream, gpointer user_data);

/* 3. The session's media: one stream per presentation, managed at its path. */
static RsRTSPSessionMedia *
session_add_stream (Server *server, RsRTSPSession *session, const Presentation *pres)
{
  ExToneStream *stream = ex_tone_stream_new (session, pres->frequency);
  g_signal_connect (stream, "rtcp-received", G_CALLBACK (on_rtcp_received), server);
  return rs_rtsp_session_manage_media (session, pres->path, G_OBJECT (stream)); /* takes the stream */
}

/* 4. An RTCP packet from the client keeps its session alive. */
static void
on_rtcp_received (ExToneStream *stream, gpointer user_data)
{
  g_autoptr (RsRTSPSession) session = ex_tone_stream_dup_session (stream);
  if (session == NULL)
    return;
  rs_rtsp_session_touch (session);
  gint64 now = g_get_monotonic_time ();
  gint64 *last = g_object_get_data (G_OBJECT (session), "ex-rtcp-logged");
  if (last == NULL)
    {
      last = g_new (gint64, 1);
      *last = G_MININT64;
      g_object_set_data_full (G_OBJECT (session), "ex-rtcp-logged", last, g_free);
    }
  if (*last == G_MININT64 || now - *last >= RTCP_LOG_INTERVAL_USEC)
    {
      *last = now;
      ex_log_event ("session %s touched by RTCP", session_id (session));
    }
}

/* 5. The pool's watch wakes when the earliest session is due. */
static gboolean
on_pool_watch (RsRTSPSessionPool *pool, gpointer user_data)
{
  Server *server = user_data;
  server->expiring = TRUE;
  rs_rtsp_session_pool_cleanup (pool);
  server->expiring = FALSE;
  return G_SOURCE_CONTINUE;
}

static void
stop_stream (RsRTSPSession *session, RsRTSPSessionMedia *media)
{
  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  if (ex_tone_stream_stop (stream))
    ex_log_event ("session %s stream %s stopped after %" G_GUINT64_FORMAT " packets", session_id (session),
                  rs_rtsp_session_media_get_path (media), ex_tone_stream_get_packets_sent (stream));
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_INIT);
}

static RsRTSPFilterResult
stop_and_remove_stream (RsRTSPSession *session, RsRTSPSessionMedia *media, gpointer user_data)
{
  stop_stream (session, media);
  return RS_RTSP_FILTER_REMOVE;
}

/* 6. TEARDOWN of the session's stream: the session goes with its last media. */
static void
session_teardown (Server *server, RsRTSPSession *session, RsRTSPSessionMedia *media)
{
  ex_log_event ("session %s torn down", session_id (session));
  stop_stream (session, media);
  if (!rs_rtsp_session_release_media (session, media))
    rs_rtsp_session_pool_remove (server->pool, session);
}

/* 7. A session leaves the pool (TEARDOWN, expiry, its connection closing,
 * the server's end): its streams stop and its connection forgets it. */
static void
on_session_removed (RsRTSPSessionPool *pool, RsRTSPSession *session, gpointer user_data)
{
  Server *server = user_data;
  const gchar *id = session_id (session);
  if (server->expiring)
    ex_log_event ("session %s expired", id);
  g_list_free (rs_rtsp_session_filter (session, stop_and_remove_stream, NULL));

  g_object_ref (session); /* the last reference may be the connection's */
  const gchar *peer = g_object_get_data (G_OBJECT (session), "ex-peer");
  if (peer != NULL)
    {
      guint held = GPOINTER_TO_UINT (g_hash_table_lookup (server->peer_sessions, peer));
      if (held > 1)
        g_hash_table_insert (server->peer_sessions, g_strdup (peer), GUINT_TO_POINTER (held - 1));
      else
        g_hash_table_remove (server->peer_sessions, peer);
      g_object_set_data (G_OBJECT (session), "ex-peer", NULL);
    }
  ExConn *conn = g_object_get_data (G_OBJECT (session), "ex-conn");
  if (conn != NULL)
    {
      g_object_set_data (G_OBJECT (session), "ex-conn", NULL);
      g_hash_table_remove (conn->sessions, id);
    }
  ex_log_event ("session %s removed (n_sessions=%u)", id, rs_rtsp_session_pool_get_n_sessions (pool));
  g_object_unref (session);
}

/* 8. A closed connection takes its sessions: they are bound to it, so
 * nobody could use them again. */
static RsRTSPFilterResult
find_tcp_stream (RsRTSPSession *session, RsRTSPSessionMedia *media, gpointer user_data)
{
  if (ex_tone_stream_is_tcp (EX_TONE_STREAM (rs_rtsp_session_media_get_media (media))))
    *(gboolean *) user_data = TRUE;
  return RS_RTSP_FILTER_KEEP;
}

static void
on_conn_closed (ExConn *conn, gpointer user_data)
{
  Server *server = user_data;
  GList *sessions = g_hash_table_get_values (conn->sessions);
  g_list_foreach (sessions, (GFunc) (void (*) (void)) g_object_ref, NULL);
  for (GList *l = sessions; l; l = l->next)
    {
      gboolean over_tcp = FALSE;
      if (server->bind_to_address)
        g_list_free (rs_rtsp_session_filter (l->data, find_tcp_stream, &over_tcp));
      if (server->bind_to_address && !over_tcp)
        {
          /* Bound to the address: it lives on, for the client's next connection. */
          g_object_set_data (G_OBJECT (l->data), "ex-conn", NULL);
          continue;
        }
      ex_log_event ("session %s closed with %s", session_id (l->data), conn->name);
      rs_rtsp_session_pool_remove (server->pool, l->data);
    }
  g_list_free_full (sessions, g_object_unref);
  g_hash_table_remove_all (conn->sessions);
}

/* ======================================================================== */
/* Transports: where a stream sends */

/* A stream interleaved on a connection holds its channels there. */
typedef struct
{
  ExConn *conn; /* a reference */
  ExToneStream *stream;
  guint rtp;
  guint rtcp;
} TcpLink;

static void
tcp_link_send (const guint8 *frame, gsize size, gboolean droppable, gpointer user_data)
{
  TcpLink *link = user_data;
  ex_conn_send (link->conn, frame, size, droppable);
}

static void
tcp_link_rtcp (const guint8 *data, gsize size, gpointer user_data)
{
  TcpLink *link = user_data;
  ex_tone_stream_rtcp_received (link->stream, data, size);
}

static void
tcp_link_free (gpointer user_data)
{
  TcpLink *link = user_data;
  ex_conn_release_channels (link->conn, link->rtp, link->rtcp, link);
  ex_conn_unref (link->conn);
  g_free (link);
}

/* Interleaves @stream on the connection, on the client's channels or, when
 * it named none, on the media's next pair (or the connection's first free
 * one). FALSE when the channels are another stream's. */
static gboolean
use_tcp (ExConn *conn, RsRTSPSessionMedia *media, ExToneStream *stream, ExTransport *choice)
{
  if (!choice->has_channels)
    {
      RsRTSPRange range;
      if (rs_rtsp_session_media_alloc_channels (media, &range) && range.max <= 255 &&
          ex_conn_channels_free (conn, (guint) range.min, (guint) range.max, stream))
        {
          choice->rtp = (guint) range.min;
          choice->rtcp = (guint) range.max;
        }
      else if (!ex_conn_find_free_channels (conn, stream, &choice->rtp, &choice->rtcp))
        return FALSE;
    }
  TcpLink *link = g_new0 (TcpLink, 1);
  link->conn = ex_conn_ref (conn);
  link->stream = stream;
  link->rtp = choice->rtp;
  link->rtcp = choice->rtcp;
  if (link->rtp == link->rtcp ||
      !ex_conn_claim_channels (conn, link->rtp, link->rtcp, stream, tcp_link_rtcp, link))
    {
      ex_conn_unref (link->conn);
      g_free (link);
      return FALSE;
    }
  /* Replaces the stream's previous transport, releasing its channels. */
  ex_tone_stream_set_tcp (stream, (guint8) link->rtp, (guint8) link->rtcp, tcp_link_send, link, tcp_link_free);
  return TRUE;
}

/* ======================================================================== */
/* RTSP methods */

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

static void
response_add_session (ExResponse *resp, RsRTSPSession *session)
{
  g_autofree gchar *value = rs_rtsp_session_get_header (session);
  if (value)
    ex_response_add_header (resp, "Session", "%s", value);
}

static void
handle_options (ExConn *conn, const ExRequest *req, RsRTSPSession *session)
{
  ExResponse resp;
  ex_response_init (&resp, 200);
  ex_response_add_header (&resp, "Public", PUBLIC_METHODS);
  if (session)
    response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
}

static void
handle_describe (ExConn *conn, const ExRequest *req, const gchar *base, const gchar *path)
{
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  if (pres == NULL || is_stream)
    {
      ex_conn_reply_status (conn, req->cseq, 404, FALSE);
      return;
    }
  const gchar *accept = ex_request_header (req, "Accept");
  if (accept && !strstr (accept, "application/sdp") && !strstr (accept, "*/*") && !strstr (accept, "application/*"))
    {
      ex_conn_reply_status (conn, req->cseq, 406, FALSE);
      return;
    }

  g_autofree gchar *local = g_inet_address_to_string (conn->local);
  gboolean v6 = g_inet_address_get_family (conn->local) == G_SOCKET_FAMILY_IPV6;
  ExResponse resp;
  ex_response_init (&resp, 200);
  ex_response_add_header (&resp, "Content-Base", "%s%s/", base, pres->path);
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
  ex_conn_send_response (conn, req->cseq, &resp);
}

static void
handle_setup (Server *server, ExConn *conn, const ExRequest *req, RsRTSPSession *session, const gchar *path)
{
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  if (pres == NULL)
    {
      ex_conn_reply_status (conn, req->cseq, 404, FALSE);
      return;
    }
  const gchar *transport = ex_request_header (req, "Transport");
  ExTransport choice;
  if (transport == NULL || !ex_choose_transport (transport, &choice))
    {
      ex_conn_reply_status (conn, req->cseq, 461, FALSE);
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
          ex_conn_reply_status (conn, req->cseq, 459, FALSE);
          return;
        }
      if (rs_rtsp_session_media_get_rtsp_state (media) == RS_RTSP_STATE_PLAYING)
        {
          ex_conn_reply_status (conn, req->cseq, 455, FALSE);
          return;
        }
    }
  else
    {
      created = session_create (server, conn, req);
      if (created == NULL)
        return;
      session = created;
      media = session_add_stream (server, session, pres);
    }

  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  ExResponse resp;
  ex_response_init (&resp, 200);
  g_autofree gchar *ssrc = g_strdup_printf ("%08X", ex_tone_stream_get_ssrc (stream));
  if (choice.tcp)
    {
      if (!use_tcp (conn, media, stream, &choice))
        {
          ex_response_clear (&resp);
          if (created)
            rs_rtsp_session_pool_remove (server->pool, created);
          ex_conn_reply_status (conn, req->cseq, 461, FALSE);
          return;
        }
      ex_response_add_header (&resp, "Transport", "RTP/AVP/TCP;unicast;interleaved=%u-%u;ssrc=%s;mode=\"PLAY\"",
                              choice.rtp, choice.rtcp, ssrc);
      ex_log_event ("session %s setup %s tcp interleaved %u-%u", session_id (session), pres->path, choice.rtp,
                    choice.rtcp);
    }
  else
    {
      g_autoptr (GError) error = NULL;
      if (!ex_tone_stream_set_udp (stream, conn->local, conn->remote, (guint16) choice.rtp, (guint16) choice.rtcp,
                                   &error))
        {
          ex_response_clear (&resp);
          if (created)
            rs_rtsp_session_pool_remove (server->pool, created);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
            {
              ex_log_limit (&server->fds_log, "out of file descriptors: %s SETUP refused with 503", conn->name);
              ex_conn_reply_busy (conn, req->cseq, 503);
            }
          else
            {
              ex_log_event ("%s UDP setup failed: %s", conn->name, error->message);
              ex_conn_reply_status (conn, req->cseq, 500, FALSE);
            }
          return;
        }
      guint16 sp = ex_tone_stream_get_server_port (stream);
      ex_response_add_header (&resp, "Transport",
                              "RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u;ssrc=%s;mode=\"PLAY\"",
                              choice.rtp, choice.rtcp, sp, sp + 1, ssrc);
      g_autofree gchar *client = g_inet_address_to_string (conn->remote);
      gboolean v6 = g_inet_address_get_family (conn->remote) == G_SOCKET_FAMILY_IPV6;
      ex_log_event ("session %s setup %s udp client %s%s%s:%u-%u server %u-%u", session_id (session), pres->path,
                    v6 ? "[" : "", client, v6 ? "]" : "", choice.rtp, choice.rtcp, sp, sp + 1);
    }
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_READY);
  response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
}

/* The media of @session that a PLAY, PAUSE or TEARDOWN at @path means, or
 * NULL after answering the request. */
static RsRTSPSessionMedia *
media_for_request (ExConn *conn, const ExRequest *req, RsRTSPSession *session, const gchar *path)
{
  if (session == NULL)
    {
      ex_conn_reply_status (conn, req->cseq, 454, FALSE);
      return NULL;
    }
  gboolean is_stream;
  const Presentation *pres = resolve_path (path, &is_stream);
  gint matched = 0;
  RsRTSPSessionMedia *media = pres ? rs_rtsp_session_get_media (session, path, &matched) : NULL;
  if (media == NULL)
    ex_conn_reply_status (conn, req->cseq, 404, FALSE);
  return media;
}

static void
handle_play (ExConn *conn, const ExRequest *req, RsRTSPSession *session, const gchar *base, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  if (rs_rtsp_session_media_get_rtsp_state (media) < RS_RTSP_STATE_READY)
    {
      ex_conn_reply_status (conn, req->cseq, 455, FALSE);
      return;
    }
  /* The stream is live: a requested Range is answered with npt=now-. */
  ExToneStream *stream = EX_TONE_STREAM (rs_rtsp_session_media_get_media (media));
  gboolean was_playing = rs_rtsp_session_media_get_rtsp_state (media) == RS_RTSP_STATE_PLAYING;
  ex_tone_stream_play (stream);
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_PLAYING);

  ExResponse resp;
  ex_response_init (&resp, 200);
  ex_response_add_header (&resp, "Range", "npt=now-");
  ex_response_add_header (&resp, "RTP-Info", "url=%s%s/" STREAM_CONTROL ";seq=%u;rtptime=%u", base,
                          rs_rtsp_session_media_get_path (media), ex_tone_stream_get_next_seq (stream),
                          ex_tone_stream_get_next_rtptime (stream));
  response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
  if (!was_playing)
    ex_log_event ("session %s playing", session_id (session));
}

static void
handle_pause (ExConn *conn, const ExRequest *req, RsRTSPSession *session, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  RsRTSPState state = rs_rtsp_session_media_get_rtsp_state (media);
  if (state < RS_RTSP_STATE_READY)
    {
      ex_conn_reply_status (conn, req->cseq, 455, FALSE);
      return;
    }
  ex_tone_stream_pause (EX_TONE_STREAM (rs_rtsp_session_media_get_media (media)));
  rs_rtsp_session_media_set_rtsp_state (media, RS_RTSP_STATE_READY);
  ExResponse resp;
  ex_response_init (&resp, 200);
  response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
  if (state == RS_RTSP_STATE_PLAYING)
    ex_log_event ("session %s paused", session_id (session));
}

static void
handle_teardown (Server *server, ExConn *conn, const ExRequest *req, RsRTSPSession *session, const gchar *path)
{
  RsRTSPSessionMedia *media = media_for_request (conn, req, session, path);
  if (media == NULL)
    return;
  session_teardown (server, session, media);
  ExResponse resp;
  ex_response_init (&resp, 200);
  response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
}

static void
handle_parameter (ExConn *conn, const ExRequest *req, RsRTSPSession *session)
{
  /* An empty body is a keep-alive (the session was touched by the lookup).
   * This server has no parameters to get or set. */
  gboolean empty = TRUE;
  for (gsize i = 0; i < req->body_size; i++)
    if (!g_ascii_isspace (req->body[i]))
      empty = FALSE;
  ExResponse resp;
  ex_response_init (&resp, empty ? 200 : 451);
  if (session)
    response_add_session (&resp, session);
  ex_conn_send_response (conn, req->cseq, &resp);
}

static void
on_request (ExConn *conn, const ExRequest *req, gpointer user_data)
{
  Server *server = user_data;
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
      ExResponse resp;
      ex_response_init (&resp, known ? 405 : 501);
      if (known)
        ex_response_add_header (&resp, "Allow", PUBLIC_METHODS);
      ex_conn_send_response (conn, req->cseq, &resp);
      return;
    }

  g_autofree gchar *base = NULL, *path = NULL;
  if (!ex_split_request_uri (req->uri, conn->local_base, &base, &path) ||
      (strcmp (path, "*") == 0 && strcmp (method, "OPTIONS") != 0))
    {
      ex_conn_reply_status (conn, req->cseq, 400, FALSE);
      return;
    }

  g_autoptr (RsRTSPSession) session = NULL;
  if (!session_find (server, conn, req, &session))
    return;

  if (strcmp (method, "OPTIONS") == 0)
    handle_options (conn, req, session);
  else if (strcmp (method, "DESCRIBE") == 0)
    handle_describe (conn, req, base, path);
  else if (strcmp (method, "SETUP") == 0)
    handle_setup (server, conn, req, session, path);
  else if (strcmp (method, "PLAY") == 0)
    handle_play (conn, req, session, base, path);
  else if (strcmp (method, "PAUSE") == 0)
    handle_pause (conn, req, session, path);
  else if (strcmp (method, "TEARDOWN") == 0)
    handle_teardown (server, conn, req, session, path);
  else
    handle_parameter (conn, req, session);
}

/* ======================================================================== */
/* Main */

static gboolean
on_quit_signal (gpointer user_data)
{
  Server *server = user_data;
  ex_log_event (SERVER_NAME ": shutting down");
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

/* Raises the descriptor limit to what the system allows and says whether
 * the configured limits fit in it (each connection takes one descriptor,
 * each UDP stream two). When they do not, SETUP answers 503 and accepting
 * backs off once descriptors run out. */
static void
check_descriptors (guint max_connections, guint max_sessions)
{
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
      getrlimit (RLIMIT_NOFILE, &limit);
    }
  guint64 need = (guint64) max_connections + 2 * (guint64) max_sessions + FD_RESERVE;
  if (max_connections == 0 || max_sessions == 0 || need > limit.rlim_cur)
    ex_log_event ("file descriptors: %" G_GUINT64_FORMAT " available, the limits need %s%" G_GUINT64_FORMAT
                  ": past it, SETUP answers 503 and accepting backs off",
                  (guint64) limit.rlim_cur, max_connections == 0 || max_sessions == 0 ? "more than " : "", need);
}

int
main (int argc, char **argv)
{
  gint port = 8554, timeout = 60, extra_timeout = 5, queue_limit = 64 * 1024;
  gint max_sessions = 1000, max_per_conn = 16, max_connections = 1000, backlog = 128, idle_timeout = 60;
  gint max_sessions_per_peer = 250, max_connections_per_peer = 250;
  g_autofree gchar *address = NULL;
  g_autofree gchar *redis_uri = NULL;
  g_autofree gchar *binding = NULL;
  gboolean proxy_protocol = FALSE;
  g_auto (GStrv) trusted_proxies = NULL;
  g_autofree gchar *node = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on, 0 for any (default 8554)", "PORT" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "Address to listen on (default: all)", "ADDR" },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &redis_uri,
      "Publish the sessions to the session directory on this Redis (redis://host:port/db or unix:///path)", "URI" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &node, "This node's name in the session directory (default: the port)",
      "NAME" },
    { "session-binding", 0, 0, G_OPTION_ARG_STRING, &binding,
      "Who may use a session: its 'connection' (default) or any connection from its client's 'address'", "WHO" },
    { "proxy-protocol", 0, 0, G_OPTION_ARG_NONE, &proxy_protocol,
      "Connections from a trusted proxy start with a PROXY v1 line naming the client (behind rs-rtsp-router)", NULL },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &trusted_proxies,
      "An address whose PROXY lines are believed (repeat; default 127.0.0.1 and ::1)", "ADDR" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, "Session timeout in seconds (default 60)", "SECONDS" },
    { "extra-timeout", 0, 0, G_OPTION_ARG_INT, &extra_timeout, "Grace after the timeout (default 5)", "SECONDS" },
    { "max-sessions", 'm', 0, G_OPTION_ARG_INT, &max_sessions, "Most sessions at once, 0 = unlimited (default 1000)",
      "N" },
    { "max-sessions-per-connection", 0, 0, G_OPTION_ARG_INT, &max_per_conn,
      "Most sessions one connection may hold, 0 = unlimited (default 16)", "N" },
    { "max-sessions-per-peer", 0, 0, G_OPTION_ARG_INT, &max_sessions_per_peer,
      "Most sessions the connections from one address may hold, 0 = unlimited (default 250)", "N" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
      "Most client connections at once, 0 = unlimited (default 1000)", "N" },
    { "max-connections-per-peer", 0, 0, G_OPTION_ARG_INT, &max_connections_per_peer,
      "Most connections from one address at once, 0 = unlimited (default 250)", "N" },
    { "listen-backlog", 0, 0, G_OPTION_ARG_INT, &backlog, "Connections the kernel queues for accept (default 128)",
      "N" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Seconds a connection without a session may stay silent, 0 = forever (default 60)", "SECONDS" },
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
  if (port < 0 || port > 65535 || timeout < 0 || extra_timeout < 0 || max_sessions < 0 || max_per_conn < 0 ||
      max_connections < 0 || max_sessions_per_peer < 0 || max_connections_per_peer < 0 || backlog < 1 || idle_timeout < 0 || queue_limit < 0)
    {
      g_printerr ("options must be non-negative, the backlog at least 1 and the port at most 65535\n");
      return 2;
    }

  signal (SIGPIPE, SIG_IGN);
  check_descriptors ((guint) max_connections, (guint) max_sessions);

  Server server = { 0 };
  server.timeout = (guint) timeout;
  server.extra_timeout = (guint) extra_timeout;
  server.max_sessions_per_conn = (guint) max_per_conn;
  server.max_sessions_per_peer = (guint) max_sessions_per_peer;
  if (binding != NULL && strcmp (binding, "address") != 0 && strcmp (binding, "connection") != 0)
    {
      g_printerr ("--session-binding: 'connection' or 'address'\n");
      return 2;
    }
  server.bind_to_address = binding != NULL && strcmp (binding, "address") == 0;
  server.peer_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server.loop = g_main_loop_new (NULL, FALSE);

  server.pool = rs_rtsp_session_pool_new ();
  if (redis_uri != NULL)
    {
#if RS_HAVE_SESSION_DIRECTORY
      /* 7. Cluster: every session of the pool is published to the directory
       * (which the pool keeps), with this node's name; the router finds it
       * there. */
      g_autoptr (RsRTSPSessionDirectory) directory = rs_rtsp_session_directory_new (redis_uri, &error);
      g_autofree gchar *name = node ? g_strdup (node) : g_strdup_printf ("node-%d", port);
      if (directory == NULL || !rs_rtsp_session_pool_set_directory (server.pool, directory, name, &error))
        {
          g_printerr ("--redis/--node: %s\n", error->message);
          return 2;
        }
      ex_log_event ("directory: publishing to %s as node %s", redis_uri, name);
#else
      g_printerr ("--redis: librtspsession was built without the session directory (-Dredis)\n");
      return 2;
#endif
    }
  rs_rtsp_session_pool_set_max_sessions (server.pool, (guint) max_sessions);
  g_signal_connect (server.pool, "session-removed", G_CALLBACK (on_session_removed), &server);
  server.watch = rs_rtsp_session_pool_create_watch (server.pool);
  g_source_set_callback (server.watch, G_SOURCE_FUNC (on_pool_watch), &server, NULL);
  g_source_attach (server.watch, NULL);

  static const gchar *const default_proxies[] = { "127.0.0.1", "::1", NULL };
  ExConnConfig config = {
    .server_name = SERVER_NAME,
    .max_connections = (guint) max_connections,
    .max_connections_per_peer = (guint) max_connections_per_peer,
    .proxy_protocol = proxy_protocol,
    .trusted_proxies = trusted_proxies ? (const gchar *const *) trusted_proxies : default_proxies,
    .listen_backlog = (guint) backlog,
    .tcp_queue_limit = (gsize) queue_limit,
    .idle_timeout_usec = (gint64) idle_timeout * G_USEC_PER_SEC,
    /* A TCP client that has not read for longer than a session may live
     * without a keep-alive is gone; its sessions go with its connection. */
    .stall_timeout_usec = (gint64) (timeout + extra_timeout) * G_USEC_PER_SEC,
    .retry_after = RETRY_AFTER_SECONDS,
    .request = on_request,
    .closed = on_conn_closed,
    .user_data = &server,
  };
  server.listener = ex_listener_new (&config, address, (guint16) port, &error);
  if (server.listener == NULL)
    {
      g_printerr ("cannot listen on port %d: %s\n", port, error->message);
      return 1;
    }

  guint sigint = g_unix_signal_add (SIGINT, on_quit_signal, &server);
  guint sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, &server);

  guint16 bound = ex_listener_get_port (server.listener);
  ex_log_event (SERVER_NAME ": rtsp://127.0.0.1:%u/tone (ffplay rtsp://127.0.0.1:%u/tone)", bound, bound);
  ex_log_event ("limits: max-sessions %d, max-sessions-per-connection %d, max-connections %d, listen-backlog %d, "
                "idle-timeout %d s, stalled reader %d s, tcp-queue-limit %d bytes, max-sessions-per-peer %d, "
                "max-connections-per-peer %d",
                max_sessions, max_per_conn, max_connections, backlog, idle_timeout, timeout + extra_timeout,
                queue_limit, max_sessions_per_peer, max_connections_per_peer);
  g_main_loop_run (server.loop);

  /* Free everything: connections (and with them their sessions), the watch,
   * then the pool. */
  g_source_remove (sigint);
  g_source_remove (sigterm);
  ex_listener_free (server.listener);
  g_source_destroy (server.watch);
  g_source_unref (server.watch);
  g_object_unref (server.pool);
  g_hash_table_unref (server.peer_sessions);
  g_main_loop_unref (server.loop);
  return 0;
}
