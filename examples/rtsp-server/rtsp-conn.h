/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Connection I/O for the example server: the listening socket and its
 * accept loop, each client connection's input framing (requests and
 * interleaved frames) and output queue, and the limits that keep one client
 * from taking the server: a connection cap, back-off when the process runs
 * out of file descriptors, bounded queues, idle and stalled connections
 * closed. Nothing here knows about sessions; the server sees connections
 * through the callbacks of ExConnConfig.
 */
#pragma once

#include <gio/gio.h>

#include "rtsp-message.h"

G_BEGIN_DECLS

typedef struct _ExConn ExConn;
typedef struct _ExListener ExListener;

/* A frame on an interleaved channel the server claimed. */
typedef void (*ExFrameFunc) (const guint8 *data, gsize size, gpointer user_data);

typedef struct
{
  const gchar *server_name;
  guint max_connections;    /* 0: unlimited */
  guint max_connections_per_peer; /* per remote address; 0: unlimited */
  gboolean proxy_protocol;  /* connections from trusted_proxies start with a PROXY v1 line naming the client */
  const gchar *const *trusted_proxies; /* addresses, NULL-terminated */
  guint listen_backlog;
  gsize tcp_queue_limit;    /* bytes of droppable output queued per connection */
  gint64 idle_timeout_usec; /* a connection without sessions or requests */
  gint64 stall_timeout_usec; /* output that does not drain: the client is gone */
  guint retry_after;        /* seconds, in 503 answers */

  /* A new connection (may be NULL); its sessions table is empty. */
  void (*opened) (ExConn *conn, gpointer user_data);
  /* A well-formed request: method token, RTSP/1.0, valid CSeq. */
  void (*request) (ExConn *conn, const ExRequest *req, gpointer user_data);
  /* The connection closed, for whatever reason; its socket is closed. */
  void (*closed) (ExConn *conn, gpointer user_data);
  gpointer user_data;
} ExConnConfig;

struct _ExConn
{
  /* Read-only for the server, except sessions. */
  guint id;
  gchar *name;          /* "conn-N" */
  GInetAddress *local;  /* IPv4 for IPv4-mapped addresses */
  GInetAddress *remote;
  gchar *remote_str;    /* "host:port" */
  gchar *peer;          /* the remote address alone: who per-peer limits count; NULL until the PROXY line */
  gchar *local_base;    /* "rtsp://host:port" for requests with a bare path */
  GHashTable *sessions; /* the server's: session id -> GObject* (a reference) */

  /* Private. */
  gint ref_count;
  ExListener *listener;
  GSocket *socket;
  GSource *in_source;
  GSource *out_source;
  GSource *linger_source;
  GSource *close_source;
  GByteArray *inbuf;
  gboolean awaiting_proxy; /* the PROXY line has not come yet */
  gsize head_scanned;
  gsize body_wait; /* bytes the request at the buffer's start needs in all, once its head is parsed; 0: unknown */
  gint64 last_request;
  GQueue outq; /* GBytes */
  gsize out_offset;
  gsize outq_bytes;
  gint64 stalled_since; /* 0, or when the socket last stopped taking bytes */
  gboolean closing;
  gboolean closed;
  guint64 dropped;
  guint64 dropped_logged;
  gint64 last_drop_log;
  struct
  {
    ExFrameFunc func;
    gpointer data;
    gconstpointer owner;
  } channels[256];
};

/* Logging: one line on stdout per event. */
void ex_log_event (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

/* A limit's log: the first time it bites, then at most every 5 s with the
 * count since. */
typedef struct
{
  guint64 count;
  guint64 logged;
  gint64 last;
} ExLimitLog;
void ex_log_limit (ExLimitLog *log, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

ExListener *ex_listener_new (const ExConnConfig *config, const gchar *address, guint16 port, GError **error);
guint16     ex_listener_get_port (ExListener *listener);
guint       ex_listener_get_n_connections (ExListener *listener);
void        ex_listener_free (ExListener *listener); /* closes every connection */

ExConn  *ex_conn_ref (ExConn *conn);
void     ex_conn_unref (ExConn *conn);
void     ex_conn_send (ExConn *conn, const guint8 *data, gsize size, gboolean droppable);
void     ex_conn_send_response (ExConn *conn, const gchar *cseq, ExResponse *resp);
void     ex_conn_reply_status (ExConn *conn, const gchar *cseq, guint code, gboolean fatal);
void     ex_conn_reply_busy (ExConn *conn, const gchar *cseq, guint code);
void     ex_conn_close (ExConn *conn);

gboolean ex_conn_claim_channels (ExConn *conn, guint rtp, guint rtcp, gconstpointer owner, ExFrameFunc rtcp_func,
                                 gpointer data);
gboolean ex_conn_channels_free (ExConn *conn, guint rtp, guint rtcp, gconstpointer owner);
gboolean ex_conn_find_free_channels (ExConn *conn, gconstpointer owner, guint *rtp, guint *rtcp);
void     ex_conn_release_channels (ExConn *conn, guint rtp, guint rtcp, gpointer data);

G_END_DECLS
