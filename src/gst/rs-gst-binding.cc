// SPDX-License-Identifier: LGPL-2.1-or-later
// The server binding: one call that gives a GstRTSPServer our pool, drives
// its expiry, and binds every session to its owner.
//
// How a session stays with its owner: GstRTSPClient looks up the Session:
// header of every request and response in its own session pool, before any
// signal runs, and that lookup touches the session and makes the client
// watch it (its close then tears the session's medias down). So a foreign
// connection must not find the session at all. Each connection gets a view
// of the pool as its session pool: the view holds only its owner's sessions
// and makes new ones in the pool. A foreign id is simply not found: 454, no
// touch, no watch. GStreamer 1.22 aborts when pre-options-request rejects a
// request; views never need to reject one.
//
// The user policy cannot work that way: the request's user is known only
// after that lookup. It checks in the pre-request signals instead (454),
// answers OPTIONS without the session, and stops the client watching a
// foreign session in send-message and handle-response. GStreamer's lookup
// has touched the session by then; that cannot be undone from outside.
#include <atomic>
#include <mutex>
#include <utility>

#include "rs-gst-private.hh"

namespace {

GQuark
serial_quark () noexcept
{
  static GQuark quark = g_quark_from_static_string ("rs-gst-client-serial");
  return quark;
}

std::atomic<guint64> last_serial{0};

}  // namespace

guint64
rs_gst_client_serial (GstRTSPClient *client) noexcept
{
  // Set once, by the thread that accepts the connection, before any request.
  auto *serial = static_cast<guint64 *> (g_object_get_qdata (G_OBJECT (client), serial_quark ()));
  if (serial == nullptr)
    {
      serial = g_new (guint64, 1);
      *serial = ++last_serial;
      g_object_set_qdata_full (G_OBJECT (client), serial_quark (), serial, g_free);
    }
  return *serial;
}

namespace {

void
on_new_session (GstRTSPClient *, GstRTSPSession *session, gpointer pool) noexcept
{
  // After the application's handlers, which may have lowered the timeout.
  rs_gst_session_pool_reschedule (RS_GST_SESSION_POOL (pool), session);
}

// Stops `client` watching the sessions the request in `ctx` may not use,
// without touching their medias: GStreamer unlinks them on unwatch unless
// drop-backlog is set. All of them, not only ctx->session: GStreamer clears
// ctx->session before some of its error answers, but the lookup before them
// made the client watch it.
void
unwatch_foreign (GstRTSPClient *client, GstRTSPContext *ctx, RsGstSessionPool *pool) noexcept
{
  struct Filter {
    GstRTSPContext *ctx;
    RsGstSessionPool *pool;
    bool any;
  } filter{ctx, pool, false};
  // First look, without changing anything: most answers have nothing to drop.
  GList *none = gst_rtsp_client_session_filter (
    client,
    [] (GstRTSPClient *, GstRTSPSession *watched, gpointer data) noexcept -> GstRTSPFilterResult {
      auto *f = static_cast<Filter *> (data);
      if (!rs_gst_session_pool_may_use (f->pool, watched, f->ctx))
        f->any = true;
      return GST_RTSP_FILTER_KEEP;
    },
    &filter);
  g_list_free (none);
  if (!filter.any)
    return;
  gboolean drop_backlog = TRUE;
  g_object_get (client, "drop-backlog", &drop_backlog, nullptr);
  if (!drop_backlog)
    g_object_set (client, "drop-backlog", TRUE, nullptr);
  none = gst_rtsp_client_session_filter (
    client,
    [] (GstRTSPClient *, GstRTSPSession *watched, gpointer data) noexcept -> GstRTSPFilterResult {
      auto *f = static_cast<Filter *> (data);
      return rs_gst_session_pool_may_use (f->pool, watched, f->ctx) ? GST_RTSP_FILTER_KEEP : GST_RTSP_FILTER_REMOVE;
    },
    &filter);
  g_list_free (none);
  if (!drop_backlog)
    g_object_set (client, "drop-backlog", FALSE, nullptr);
}

// Whether GStreamer looked a session up for `message`: it names one in
// Session:, or in Pipelined-Requests.
bool
names_a_session (GstRTSPMessage *message) noexcept
{
  gchar *value;
  return gst_rtsp_message_get_header (message, GST_RTSP_HDR_SESSION, &value, 0) == GST_RTSP_OK
         || gst_rtsp_message_get_header (message, GST_RTSP_HDR_PIPELINED_REQUESTS, &value, 0) == GST_RTSP_OK;
}

bool
foreign (GstRTSPContext *ctx, gpointer pool) noexcept
{
  return ctx && ctx->session && !rs_gst_session_pool_may_use (RS_GST_SESSION_POOL (pool), ctx->session, ctx);
}

// Logs a refused foreign request at most once every 5 s, with the count
// since the last line: a remote client must not be able to flood the log.
void
log_refusal (GstRTSPMethod method) noexcept
{
  static std::mutex lock;
  static gint64 last_logged = 0;
  static guint64 suppressed = 0;
  const gint64 now = g_get_monotonic_time ();
  guint64 count;
  {
    std::lock_guard guard (lock);
    if (last_logged != 0 && now - last_logged < 5 * G_USEC_PER_SEC)
      {
        suppressed++;
        return;
      }
    last_logged = now;
    count = std::exchange (suppressed, 0) + 1;
  }
  g_message ("rtspsession-gst: %s of a session owned by someone else: 454 (%" G_GUINT64_FORMAT " refused since the last report)",
             gst_rtsp_method_as_text (method), count);
}

GstRTSPStatusCode
on_pre_request (GstRTSPClient *client, GstRTSPContext *ctx, gpointer pool) noexcept
{
  if (!foreign (ctx, pool))
    return GST_RTSP_STS_OK;
  unwatch_foreign (client, ctx, RS_GST_SESSION_POOL (pool));
  // Rejecting OPTIONS here aborts GStreamer 1.22; send-message takes the
  // session out of its answer instead.
  if (ctx->method == GST_RTSP_OPTIONS)
    return GST_RTSP_STS_OK;
  log_refusal (ctx->method);
  return GST_RTSP_STS_SESSION_NOT_FOUND;
}

void
on_send_message (GstRTSPClient *client, GstRTSPContext *ctx, GstRTSPMessage *message, gpointer pool) noexcept
{
  // Every answer to a request passes here, error answers from before the
  // pre-request signals too (some with ctx->session cleared). Messages the
  // application sends on its own have no request: not ours to judge.
  if (ctx == nullptr || ctx->request == nullptr)
    return;
  if (foreign (ctx, pool))
    gst_rtsp_message_remove_header (message, GST_RTSP_HDR_SESSION, -1);
  // Only a message naming a session can have made the client watch one:
  // others cost nothing here.
  if (names_a_session (ctx->request))
    unwatch_foreign (client, ctx, RS_GST_SESSION_POOL (pool));
}

void
on_handle_response (GstRTSPClient *client, GstRTSPContext *ctx, gpointer pool) noexcept
{
  if (ctx && ctx->response && names_a_session (ctx->response))
    unwatch_foreign (client, ctx, RS_GST_SESSION_POOL (pool));
}

const char *const pre_request_signals[] = {
  "pre-options-request", "pre-describe-request", "pre-setup-request", "pre-play-request",
  "pre-pause-request", "pre-teardown-request", "pre-set-parameter-request", "pre-get-parameter-request",
  "pre-announce-request", "pre-record-request",
};

void
on_client_connected (GstRTSPServer *server, GstRTSPClient *client, gpointer data) noexcept
{
  auto *pool = RS_GST_SESSION_POOL (data);
  // The server accepts in its own context: the pool's expiry runs there.
  GSource *current = g_main_current_source ();
  rs_gst_session_pool_attach_once (pool, current ? g_source_get_context (current) : nullptr);

  rs_gst_client_serial (client);
  g_signal_connect_object (client, "new-session", G_CALLBACK (on_new_session), pool, G_CONNECT_AFTER);
  if (rs_gst_session_pool_get_owner_policy (pool) == RS_GST_OWNER_USER)
    {
      for (const char *name : pre_request_signals)
        g_signal_connect_object (client, name, G_CALLBACK (on_pre_request), pool, GConnectFlags (0));
      g_signal_connect_object (client, "send-message", G_CALLBACK (on_send_message), pool, GConnectFlags (0));
      g_signal_connect_object (client, "handle-response", G_CALLBACK (on_handle_response), pool, GConnectFlags (0));
      return;  // works on the pool itself
    }
  GstRTSPSessionPool *view = rs_gst_session_pool_view (pool, rs_gst_session_pool_connection_key (pool, client));
  gst_rtsp_client_set_session_pool (client, view);
  g_object_unref (view);
}

GQuark
bound_quark () noexcept
{
  static GQuark quark = g_quark_from_static_string ("rs-gst-bound-pool");
  return quark;
}

}  // namespace

/**
 * rs_gst_server_bind_sessions:
 * @server: a #GstRTSPServer, before it accepts connections
 *
 * Gives @server a #RsGstSessionPool (keeping the `max-sessions` of the pool
 * it had) and binds every session to its owner, as the pool's
 * #RsGstSessionPool:owner-policy says (by default, the connection that made
 * it): a request of another connection that names the session gets
 * `454 Session Not Found` and has no effect on it, whatever its method, and
 * so does a response message that names it.
 *
 * It also drives expiry: the pool's watch is attached to the context the
 * server accepts connections in, so the application's timer that called
 * gst_rtsp_session_pool_cleanup() can go.
 *
 * Calling it again returns the same pool.
 *
 * Returns: (transfer none): the pool, which @server holds
 *
 * Since: 1.0
 */
RsGstSessionPool *
rs_gst_server_bind_sessions (GstRTSPServer *server)
{
  g_return_val_if_fail (GST_IS_RTSP_SERVER (server), nullptr);
  GstRTSPSessionPool *old = gst_rtsp_server_get_session_pool (server);
  RsGstSessionPool *pool;
  if (old && RS_GST_IS_SESSION_POOL (old))
    pool = RS_GST_SESSION_POOL (old);
  else
    {
      pool = rs_gst_session_pool_new ();
      if (old)
        gst_rtsp_session_pool_set_max_sessions (GST_RTSP_SESSION_POOL (pool),
                                                gst_rtsp_session_pool_get_max_sessions (old));
      gst_rtsp_server_set_session_pool (server, GST_RTSP_SESSION_POOL (pool));
      g_clear_object (&old);
    }
  // Which pool the server is bound to, as a weak reference: a raw pointer
  // could name a later pool at the same address.
  auto *bound = static_cast<GWeakRef *> (g_object_get_qdata (G_OBJECT (server), bound_quark ()));
  gpointer bound_pool = bound ? g_weak_ref_get (bound) : nullptr;
  if (bound_pool != pool)
    {
      g_signal_connect_object (server, "client-connected", G_CALLBACK (on_client_connected), pool, GConnectFlags (0));
      auto *ref = g_new (GWeakRef, 1);
      g_weak_ref_init (ref, pool);
      g_object_set_qdata_full (G_OBJECT (server), bound_quark (), ref, [] (gpointer data) noexcept {
        g_weak_ref_clear (static_cast<GWeakRef *> (data));
        g_free (data);
      });
    }
  if (bound_pool)
    g_object_unref (bound_pool);
  // The server holds the pool.
  g_object_unref (pool);
  return pool;
}
