// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-session-directory.h"

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/session-header.hh"
#include "core/session-id.hh"
#include "core/session.hh"
#include "rs-directory-private.hh"
#include "rs-rtsp-session-private.hh"

/**
 * RsRTSPSessionDirectory:
 *
 * Where the sessions of several server nodes are visible to each other: a
 * directory on Redis of which node holds which session.
 *
 * A pool publishes to it with rs_rtsp_session_pool_set_directory(): every
 * session the pool holds has an entry with its node, owner and timeout,
 * which lives in Redis for the session's deadline plus a margin
 * (#RsRTSPSessionDirectory:ttl-margin). The pool's own expiry stays the
 * authority: the entry is rewritten when the pool's expiry index judges the
 * session again (never per touch) and deleted when the session leaves the
 * pool, and Redis only forgets what a node stopped refreshing, such as the
 * sessions of a node that died. Each node also keeps a heartbeat entry with
 * its session count, alive for three heartbeats.
 *
 * All Redis I/O runs on the directory's own thread and main context: creating,
 * finding, touching and expiring sessions only queue work for it, and never
 * wait for Redis. While Redis cannot be reached, nothing is queued; when it
 * can be again (or comes back empty), every pool republishes what it holds.
 *
 * Lookups — which node holds a session, which nodes are alive with how many
 * sessions — are asynchronous in the GIO style, with blocking variants for
 * tools.
 *
 * Keys (each session's key in its own hash slot, the nodes' keys in one, so
 * that a Redis Cluster can shard them):
 *
 * - `rs:s:{<session id>}`: a string `<node>\n<timeout>\n<owner>`, with a TTL
 * - `rs:{nodes}:all`: a set of the node names ever seen
 * - `rs:{nodes}:n:<node>`: the node's session count, with a TTL of three
 *   heartbeats: the node is alive while it exists
 *
 * Since: 1.0
 */

namespace {

constexpr gint64 kHeartbeatMs = 1000;
constexpr gint64 kNodeTtlMs = 3 * kHeartbeatMs;
constexpr guint kDefaultTtlMarginMs = 5000;
// An entry of a session that never expires (timeout 0) lives this long; it
// is refreshed when the pool republishes.
constexpr gint64 kNoTimeoutTtlMs = 3600 * 1000;
// Work queued for Redis beyond this is dropped and the pools republish
// once Redis keeps up again: a slow Redis costs bounded memory.
constexpr std::size_t kMaxQueued = 200000;
// Commands sent and not answered yet beyond which sending waits.
constexpr long kMaxInFlight = 20000;
constexpr guint kReconnectMinMs = 100;
constexpr guint kReconnectMaxMs = 2000;
constexpr gint64 kSyncTimeoutUs = 5 * G_USEC_PER_SEC;

enum
{
  PROP_0,
  PROP_URI,
  PROP_TTL_MARGIN,
  N_PROPS
};

GParamSpec *properties[N_PROPS];

struct Endpoint
{
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string path;  // the unix socket
  long db = 0;
};

bool
parse_db (const char *text, long &db) noexcept
{
  if (*text == '\0')
    return true;
  char *end = nullptr;
  errno = 0;
  const long value = strtol (text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0 || value > 65535 || end == text)
    return false;
  db = value;
  return true;
}

bool
parse_uri (const char *uri, Endpoint &endpoint) noexcept
{
  const std::string text (uri);
  if (text.rfind ("unix://", 0) == 0)
    {
      std::string rest = text.substr (7);
      const auto query = rest.find ('?');
      if (query != std::string::npos)
        {
          const std::string params = rest.substr (query + 1);
          rest.resize (query);
          if (params.rfind ("db=", 0) != 0 || !parse_db (params.c_str () + 3, endpoint.db))
            return false;
        }
      if (rest.empty () || rest[0] != '/' || rest.size () > 107)
        return false;
      endpoint.path = rest;
      return true;
    }
  if (text.rfind ("redis://", 0) != 0)
    return false;
  std::string rest = text.substr (8);
  const auto slash = rest.find ('/');
  if (slash != std::string::npos)
    {
      if (!parse_db (rest.c_str () + slash + 1, endpoint.db))
        return false;
      rest.resize (slash);
    }
  if (rest.find ('@') != std::string::npos)
    return false;  // credentials are not supported
  std::string host = rest;
  if (!rest.empty () && rest[0] == '[')
    {
      const auto close = rest.find (']');
      if (close == std::string::npos)
        return false;
      host = rest.substr (1, close - 1);
      rest = rest.substr (close + 1);
      if (!rest.empty () && rest[0] != ':')
        return false;
      rest = rest.empty () ? rest : rest.substr (1);
    }
  else
    {
      const auto colon = rest.rfind (':');
      host = rest.substr (0, colon);
      rest = colon == std::string::npos ? std::string () : rest.substr (colon + 1);
    }
  if (host.empty () || host.size () > 255)
    return false;
  if (!rest.empty ())
    {
      char *end = nullptr;
      errno = 0;
      const long port = strtol (rest.c_str (), &end, 10);
      if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
        return false;
      endpoint.port = static_cast<int> (port);
    }
  endpoint.host = host;
  return true;
}

std::string
session_key (const char *id)
{
  return std::string ("rs:s:{") + id + "}";
}

constexpr const char kNodesKey[] = "rs:{nodes}:all";

std::string
node_key (const std::string &node)
{
  return "rs:{nodes}:n:" + node;
}

// One piece of work for Redis.
struct Op
{
  RsRTSPSession *session = nullptr;  // a reference: (re)write its entry...
  std::string node;                  // ...as held by this node
  std::string id;                    // without a session: delete this id's entry
};

}  // namespace

struct DirectoryState;

namespace {

// What one pool publishes under one node name.
struct Publisher : RsDirectoryPublisher
{
  std::weak_ptr<DirectoryState> state;
  std::string node;
  GWeakRef pool;

  Publisher () { g_weak_ref_init (&pool, nullptr); }
  ~Publisher () override { g_weak_ref_clear (&pool); }
  void published (RsRTSPSession *session) noexcept override;
  void removed (const char *id) noexcept override;
};

}  // namespace

// Everything the directory's thread and the publishing pools share.
struct DirectoryState : std::enable_shared_from_this<DirectoryState>
{
  Endpoint endpoint;
  std::string uri;
  std::atomic<guint> ttl_margin_ms{ kDefaultTtlMarginMs };

  GMainContext *context = g_main_context_new ();
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  GThread *thread = nullptr;

  std::mutex lock;  // guards the members up to the next comment
  std::deque<Op> queue;
  bool flush_scheduled = false;
  bool republish = true;  // every pool's sessions must be written again
  std::vector<std::weak_ptr<Publisher>> publishers;

  // Written by the directory's thread only.
  std::atomic<bool> connected{ false };
  redisAsyncContext *redis = nullptr;
  GSource *redis_source = nullptr;
  GSource *reconnect_source = nullptr;
  GSource *heartbeat_source = nullptr;
  guint reconnect_ms = 0;
  long in_flight = 0;
  bool closing = false;

  ~DirectoryState ()
  {
    drop_queue ();
    g_main_loop_unref (loop);
    g_main_context_unref (context);
  }

  void drop_queue () noexcept
  {
    for (Op &op : queue)
      if (op.session)
        g_object_unref (op.session);
    queue.clear ();
  }

  void enqueue (Op &&op) noexcept;
  void schedule_flush_locked () noexcept;
  void invoke (std::function<void ()> func) noexcept;

  // The directory's thread.
  void connect () noexcept;
  void schedule_reconnect () noexcept;
  void on_connected (int status) noexcept;
  void on_disconnected () noexcept;
  void flush () noexcept;
  void send_op (const Op &op, gint64 now) noexcept;
  void heartbeat () noexcept;
  void command (redisCallbackFn *callback, void *data, const std::vector<std::string> &args) noexcept;
  void close_connection () noexcept;
};

namespace {

// Runs `func` on the directory's thread.
struct Invocation
{
  std::weak_ptr<DirectoryState> state;
  std::function<void ()> func;
};

}  // namespace

void
DirectoryState::invoke (std::function<void ()> func) noexcept
{
  auto *invocation = new Invocation{ weak_from_this (), std::move (func) };
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "RsRTSPSessionDirectory work");
  g_source_set_callback (
    source,
    [] (gpointer data) noexcept -> gboolean {
      auto *invocation = static_cast<Invocation *> (data);
      if (auto state = invocation->state.lock ())
        invocation->func ();
      return G_SOURCE_REMOVE;
    },
    invocation, [] (gpointer data) noexcept { delete static_cast<Invocation *> (data); });
  g_source_attach (source, context);
  g_source_unref (source);
}

// ---------------------------------------------------------------------------
// Queueing: from any thread, never waiting for Redis.

void
DirectoryState::schedule_flush_locked () noexcept
{
  if (flush_scheduled)
    return;
  flush_scheduled = true;
  invoke ([this] { flush (); });
}

void
DirectoryState::enqueue (Op &&op) noexcept
{
  std::lock_guard guard (lock);
  if (!connected.load (std::memory_order_acquire) || republish)
    {
      // Everything is written again once Redis is back: nothing to queue.
      republish = true;
      if (op.session)
        g_object_unref (op.session);
      return;
    }
  if (queue.size () >= kMaxQueued)
    {
      // Redis is far behind: forget the backlog, write everything again
      // once it keeps up.
      drop_queue ();
      republish = true;
      if (op.session)
        g_object_unref (op.session);
      schedule_flush_locked ();
      return;
    }
  queue.push_back (std::move (op));
  schedule_flush_locked ();
}

void
Publisher::published (RsRTSPSession *session) noexcept
{
  if (auto held = state.lock ())
    held->enqueue (Op{ static_cast<RsRTSPSession *> (g_object_ref (session)), node, {} });
}

void
Publisher::removed (const char *id) noexcept
{
  if (auto held = state.lock ())
    held->enqueue (Op{ nullptr, {}, id ? id : "" });
}

// ---------------------------------------------------------------------------
// The directory's thread: the connection, and sending.

namespace {

// Counts a fire-and-forget command's answer.
void
on_counted_reply (redisAsyncContext *redis, void *, void *data) noexcept
{
  auto *state = static_cast<DirectoryState *> (data);
  if (state->in_flight > 0)
    state->in_flight--;
  if (state->in_flight == kMaxInFlight / 2)
    {
      std::lock_guard guard (state->lock);
      if (!state->queue.empty () || state->republish)
        state->schedule_flush_locked ();
    }
}

}  // namespace

void
DirectoryState::command (redisCallbackFn *callback, void *data, const std::vector<std::string> &args) noexcept
{
  std::vector<const char *> argv;
  std::vector<size_t> lengths;
  for (const std::string &arg : args)
    {
      argv.push_back (arg.data ());
      lengths.push_back (arg.size ());
    }
  if (callback == nullptr)
    {
      callback = on_counted_reply;
      data = this;
      in_flight++;
    }
  if (redisAsyncCommandArgv (redis, callback, data, static_cast<int> (argv.size ()), argv.data (), lengths.data ())
      != REDIS_OK)
    {
      if (callback == on_counted_reply)
        in_flight--;
      else
        callback (redis, nullptr, data);
    }
}

void
DirectoryState::send_op (const Op &op, gint64 now) noexcept
{
  if (op.session == nullptr)
    {
      if (!op.id.empty ())
        command (nullptr, nullptr, { "DEL", session_key (op.id.c_str ()) });
      return;
    }
  rs::core::Session *core = rs_rtsp_session_get_core (op.session);
  if (!core->in_pool () || !core->has_id ())
    return;  // gone meanwhile: its removal is queued too
  const int left_ms = core->expiry ().next_timeout_ms (now);
  const gint64 ttl_ms = left_ms < 0 ? kNoTimeoutTtlMs : gint64 (left_ms) + ttl_margin_ms.load ();
  const std::string value = op.node + "\n" + std::to_string (core->expiry ().timeout ()) + "\n"
                            + core->owner ().value_or (std::string ());
  command (nullptr, nullptr,
           { "SET", session_key (core->id_c_str ()), value, "PX", std::to_string (std::max<gint64> (ttl_ms, 1)) });
}

void
DirectoryState::flush () noexcept
{
  std::deque<Op> work;
  bool all = false;
  std::vector<std::shared_ptr<Publisher>> live;
  {
    std::lock_guard guard (lock);
    flush_scheduled = false;
    if (!connected.load () || redis == nullptr)
      {
        drop_queue ();
        return;
      }
    if (in_flight >= kMaxInFlight)
      return;  // rescheduled when answers come in
    work.swap (queue);
    all = std::exchange (republish, false);
    if (all)
      for (auto &weak : publishers)
        if (auto publisher = weak.lock ())
          live.push_back (std::move (publisher));
  }
  const gint64 now = g_get_monotonic_time ();
  if (all)
    {
      // What was queued is part of what is written again.
      for (Op &op : work)
        if (op.session)
          g_object_unref (op.session);
      work.clear ();
      for (auto &publisher : live)
        {
          auto *pool = static_cast<RsRTSPSessionPool *> (g_weak_ref_get (&publisher->pool));
          if (pool == nullptr)
            continue;
          for (RsRTSPSession *session : rs_rtsp_session_pool_snapshot (pool))
            {
              send_op (Op{ session, publisher->node, {} }, now);
              g_object_unref (session);
            }
          g_object_unref (pool);
        }
      heartbeat ();
    }
  for (Op &op : work)
    {
      send_op (op, now);
      if (op.session)
        g_object_unref (op.session);
    }
}

void
DirectoryState::heartbeat () noexcept
{
  if (!connected.load ())
    return;
  std::vector<std::shared_ptr<Publisher>> live;
  {
    std::lock_guard guard (lock);
    for (auto &weak : publishers)
      if (auto publisher = weak.lock ())
        live.push_back (std::move (publisher));
  }
  for (auto &publisher : live)
    {
      auto *pool = static_cast<RsRTSPSessionPool *> (g_weak_ref_get (&publisher->pool));
      if (pool == nullptr)
        continue;
      const guint count = rs_rtsp_session_pool_get_n_sessions (pool);
      g_object_unref (pool);
      command (nullptr, nullptr, { "SADD", kNodesKey, publisher->node });
      command (nullptr, nullptr,
               { "SET", node_key (publisher->node), std::to_string (count), "PX", std::to_string (kNodeTtlMs) });
    }
}

void
DirectoryState::close_connection () noexcept
{
  if (redis_source)
    {
      // hiredis still calls the source's cleanup after this (the context
      // is freed after the callback that got here): destroy it later.
      GSource *stale = std::exchange (redis_source, nullptr);
      if (closing)
        {
          g_source_destroy (stale);
          g_source_unref (stale);
        }
      else
        invoke ([stale] {
          g_source_destroy (stale);
          g_source_unref (stale);
        });
    }
  redis = nullptr;
  in_flight = 0;
  connected.store (false, std::memory_order_release);
}

void
DirectoryState::schedule_reconnect () noexcept
{
  if (closing || reconnect_source)
    return;
  reconnect_ms = std::clamp (reconnect_ms * 2, kReconnectMinMs, kReconnectMaxMs);
  reconnect_source = g_timeout_source_new (reconnect_ms);
  g_source_set_static_name (reconnect_source, "RsRTSPSessionDirectory reconnect");
  g_source_set_callback (
    reconnect_source,
    [] (gpointer data) noexcept -> gboolean {
      auto *state = static_cast<DirectoryState *> (data);
      g_source_unref (state->reconnect_source);
      state->reconnect_source = nullptr;
      state->connect ();
      return G_SOURCE_REMOVE;
    },
    this, nullptr);
  g_source_attach (reconnect_source, context);
}

void
DirectoryState::connect () noexcept
{
  if (closing || redis)
    return;
  redisAsyncContext *fresh = endpoint.path.empty () ? redisAsyncConnect (endpoint.host.c_str (), endpoint.port)
                                                    : redisAsyncConnectUnix (endpoint.path.c_str ());
  if (fresh == nullptr || fresh->err)
    {
      if (fresh)
        redisAsyncFree (fresh);
      schedule_reconnect ();
      return;
    }
  redis = fresh;
  redis->data = this;
  redis_source = redis_source_new (redis);
  g_source_attach (redis_source, context);
  redisAsyncSetConnectCallback (redis, [] (const redisAsyncContext *c, int status) noexcept {
    static_cast<DirectoryState *> (c->data)->on_connected (status);
  });
  redisAsyncSetDisconnectCallback (redis, [] (const redisAsyncContext *c, int) noexcept {
    static_cast<DirectoryState *> (c->data)->on_disconnected ();
  });
  // The first command makes the connection complete; choosing the database
  // comes first in any case.
  command (nullptr, nullptr, { "SELECT", std::to_string (endpoint.db) });
}

void
DirectoryState::on_connected (int status) noexcept
{
  if (status != REDIS_OK)
    {
      // hiredis frees the context after this callback.
      close_connection ();
      schedule_reconnect ();
      return;
    }
  reconnect_ms = 0;
  {
    std::lock_guard guard (lock);
    connected.store (true, std::memory_order_release);
    republish = true;
    schedule_flush_locked ();
  }
}

void
DirectoryState::on_disconnected () noexcept
{
  // hiredis frees the context after this callback; the answers still
  // awaited were called with no reply already.
  {
    std::lock_guard guard (lock);
    drop_queue ();
    republish = true;
  }
  close_connection ();
  schedule_reconnect ();
}

// ---------------------------------------------------------------------------
// The GObject.

namespace {

struct RsRTSPSessionDirectoryPrivate
{
  std::shared_ptr<DirectoryState> state;
};

}  // namespace

struct _RsRTSPSessionDirectory
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE_WITH_PRIVATE (RsRTSPSessionDirectory, rs_rtsp_session_directory, G_TYPE_OBJECT)

/**
 * rs_rtsp_session_directory_error_quark:
 *
 * The error domain of #RsRTSPSessionDirectory.
 *
 * Returns: the #GQuark of %RS_RTSP_SESSION_DIRECTORY_ERROR
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (rs-rtsp-session-directory-error-quark, rs_rtsp_session_directory_error)

static DirectoryState &
state_of (RsRTSPSessionDirectory *directory) noexcept
{
  auto *priv = static_cast<RsRTSPSessionDirectoryPrivate *> (rs_rtsp_session_directory_get_instance_private (directory));
  return *priv->state;
}

static gpointer
directory_thread (gpointer data) noexcept
{
  // The thread keeps the state alive: the directory may be finalized on
  // this very thread (its last reference dropped by a task finishing here).
  std::unique_ptr<std::shared_ptr<DirectoryState>> keep (static_cast<std::shared_ptr<DirectoryState> *> (data));
  DirectoryState *state = keep->get ();
  g_main_context_push_thread_default (state->context);
  state->connect ();
  state->heartbeat_source = g_timeout_source_new (kHeartbeatMs);
  g_source_set_static_name (state->heartbeat_source, "RsRTSPSessionDirectory heartbeat");
  g_source_set_callback (
    state->heartbeat_source,
    [] (gpointer data) noexcept -> gboolean {
      auto *state = static_cast<DirectoryState *> (data);
      state->heartbeat ();
      // A flush stopped by too many answers awaited resumes here at the latest.
      std::lock_guard guard (state->lock);
      if (!state->queue.empty () || state->republish)
        state->schedule_flush_locked ();
      return G_SOURCE_CONTINUE;
    },
    state, nullptr);
  g_source_attach (state->heartbeat_source, state->context);
  g_main_loop_run (state->loop);

  // Closing: what is queued goes out, best effort, then the connection.
  state->closing = true;
  if (state->connected.load ())
    {
      state->flush ();
      const gint64 until = g_get_monotonic_time () + 500 * 1000;
      while (state->redis && state->in_flight > 0 && g_get_monotonic_time () < until)
        if (!g_main_context_iteration (state->context, FALSE))
          g_usleep (1000);
    }
  GSource *source = std::exchange (state->redis_source, nullptr);
  if (state->redis)
    redisAsyncFree (state->redis);  // calls the disconnect callback, then the source's cleanup
  if (source)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
  state->close_connection ();
  for (GSource **source : { &state->reconnect_source, &state->heartbeat_source })
    if (*source)
      {
        g_source_destroy (*source);
        g_source_unref (*source);
        *source = nullptr;
      }
  g_main_context_pop_thread_default (state->context);
  return nullptr;
}

static void
rs_rtsp_session_directory_init (RsRTSPSessionDirectory *self)
{
  auto *priv = static_cast<RsRTSPSessionDirectoryPrivate *> (rs_rtsp_session_directory_get_instance_private (self));
  new (priv) RsRTSPSessionDirectoryPrivate ();
  priv->state = std::make_shared<DirectoryState> ();
}

static void
rs_rtsp_session_directory_finalize (GObject *object) noexcept
{
  auto *self = RS_RTSP_SESSION_DIRECTORY (object);
  auto *priv = static_cast<RsRTSPSessionDirectoryPrivate *> (rs_rtsp_session_directory_get_instance_private (self));
  DirectoryState &state = *priv->state;
  if (GThread *thread = std::exchange (state.thread, nullptr))
    {
      // The loop stops after this iteration; the thread then sends what is
      // queued (best effort) and closes the connection.
      // A source, not g_main_loop_quit(): the loop may not be running yet.
      GSource *quit = g_idle_source_new ();
      g_source_set_callback (
        quit,
        [] (gpointer loop) noexcept -> gboolean {
          g_main_loop_quit (static_cast<GMainLoop *> (loop));
          return G_SOURCE_REMOVE;
        },
        g_main_loop_ref (state.loop), (GDestroyNotify) g_main_loop_unref);
      g_source_attach (quit, state.context);
      g_source_unref (quit);
      if (thread == g_thread_self ())
        g_thread_unref (thread);  // finalized by a callback on the directory's thread: it ends by itself
      else
        g_thread_join (thread);
    }
  priv->~RsRTSPSessionDirectoryPrivate ();
  G_OBJECT_CLASS (rs_rtsp_session_directory_parent_class)->finalize (object);
}

static void
rs_rtsp_session_directory_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DirectoryState &state = state_of (RS_RTSP_SESSION_DIRECTORY (object));
  switch (prop_id)
    {
    case PROP_URI:
      g_value_set_string (value, state.uri.c_str ());
      break;
    case PROP_TTL_MARGIN:
      g_value_set_uint (value, state.ttl_margin_ms.load ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_directory_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DirectoryState &state = state_of (RS_RTSP_SESSION_DIRECTORY (object));
  switch (prop_id)
    {
    case PROP_URI:
      // Construct-only; checked by rs_rtsp_session_directory_new().
      state.uri = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_TTL_MARGIN:
      state.ttl_margin_ms.store (g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_directory_class_init (RsRTSPSessionDirectoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = rs_rtsp_session_directory_finalize;
  object_class->get_property = rs_rtsp_session_directory_get_property;
  object_class->set_property = rs_rtsp_session_directory_set_property;

  /**
   * RsRTSPSessionDirectory:uri:
   *
   * Where Redis is: `redis://host[:port][/db]` (port 6379 and database 0
   * by default; an IPv6 host in brackets) or `unix:///path/to/socket[?db=N]`.
   *
   * Since: 1.0
   */
  properties[PROP_URI] = g_param_spec_string (
    "uri", nullptr, nullptr, nullptr, GParamFlags (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * RsRTSPSessionDirectory:ttl-margin:
   *
   * Milliseconds a session's entry outlives the session's deadline in
   * Redis, so that the pool's own expiry removes it first. A node that
   * dies leaves its sessions' entries for at most their deadline plus this.
   *
   * Since: 1.0
   */
  properties[PROP_TTL_MARGIN] = g_param_spec_uint ("ttl-margin", nullptr, nullptr, 1, G_MAXINT / 2, kDefaultTtlMarginMs,
                                                   GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/**
 * rs_rtsp_session_directory_new:
 * @uri: where Redis is (see #RsRTSPSessionDirectory:uri)
 * @error: return location for a #GError
 *
 * Makes a directory on the Redis at @uri and starts connecting to it on the
 * directory's own thread. Returns at once: Redis need not be up yet, and
 * the directory keeps reconnecting whenever it goes away.
 *
 * Returns: (transfer full) (nullable): a new directory, or %NULL with
 *   %RS_RTSP_SESSION_DIRECTORY_ERROR_INVALID_URI
 *
 * Since: 1.0
 */
RsRTSPSessionDirectory *
rs_rtsp_session_directory_new (const gchar *uri, GError **error)
{
  g_return_val_if_fail (error == nullptr || *error == nullptr, nullptr);
  Endpoint endpoint;
  if (uri == nullptr || !parse_uri (uri, endpoint))
    {
      g_set_error (error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_INVALID_URI,
                   "Not a Redis URI (redis://host[:port][/db] or unix:///path[?db=N]): %s", uri ? uri : "(null)");
      return nullptr;
    }
  auto *directory
    = static_cast<RsRTSPSessionDirectory *> (g_object_new (RS_TYPE_RTSP_SESSION_DIRECTORY, "uri", uri, nullptr));
  DirectoryState &state = state_of (directory);
  state.endpoint = std::move (endpoint);
  state.thread = g_thread_new ("rs-directory", directory_thread,
                               new std::shared_ptr<DirectoryState> (state.shared_from_this ()));
  return directory;
}

/**
 * rs_rtsp_session_directory_get_uri:
 * @directory: a #RsRTSPSessionDirectory
 *
 * Where @directory's Redis is.
 *
 * Returns: (transfer none): #RsRTSPSessionDirectory:uri
 *
 * Since: 1.0
 */
const gchar *
rs_rtsp_session_directory_get_uri (RsRTSPSessionDirectory *directory)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), nullptr);
  return state_of (directory).uri.c_str ();
}

/**
 * rs_rtsp_session_directory_is_connected:
 * @directory: a #RsRTSPSessionDirectory
 *
 * Whether @directory reaches Redis now. While it does not, pools keep
 * serving, and publish everything they hold once it does again.
 *
 * Returns: whether the directory is connected to Redis at the moment
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_directory_is_connected (RsRTSPSessionDirectory *directory)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), FALSE);
  return state_of (directory).connected.load ();
}

/**
 * rs_rtsp_session_pool_set_directory:
 * @pool: a #RsRTSPSessionPool
 * @directory: the directory to publish to
 * @node: this node's name in the directory: 1 to 128 characters of
 *   `[A-Za-z0-9._-]`
 * @error: return location for a #GError
 *
 * Makes @pool publish every session it holds to @directory as held by
 * @node, from now on and for as long as @pool lives (see
 * #RsRTSPSessionDirectory). A pool publishes to one directory at most.
 * The pool keeps a reference to @directory.
 *
 * Returns: %TRUE, or %FALSE with @error set when @node is not a valid name
 *   or @pool already publishes
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_pool_set_directory (RsRTSPSessionPool *pool, RsRTSPSessionDirectory *directory, const gchar *node,
                                    GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), FALSE);
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), FALSE);
  g_return_val_if_fail (error == nullptr || *error == nullptr, FALSE);
  const gsize length = node ? strlen (node) : 0;
  bool valid = length >= 1 && length <= 128;
  for (gsize i = 0; valid && i < length; i++)
    valid = g_ascii_isalnum (node[i]) || node[i] == '.' || node[i] == '_' || node[i] == '-';
  if (!valid)
    {
      g_set_error (error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED,
                   "Not a node name (1 to 128 characters of A-Z a-z 0-9 . _ -)");
      return FALSE;
    }
  static GQuark directory_quark = g_quark_from_static_string ("rs-rtsp-session-directory");
  if (!g_object_replace_qdata (G_OBJECT (pool), directory_quark, nullptr, g_object_ref (directory), g_object_unref,
                               nullptr))
    {
      g_object_unref (directory);
      g_set_error (error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED,
                   "The pool publishes to a directory already");
      return FALSE;
    }
  DirectoryState &state = state_of (directory);
  auto publisher = std::make_shared<Publisher> ();
  publisher->state = state.shared_from_this ();
  publisher->node = node;
  g_weak_ref_set (&publisher->pool, pool);
  {
    std::lock_guard guard (state.lock);
    std::erase_if (state.publishers, [] (const std::weak_ptr<Publisher> &weak) { return weak.expired (); });
    state.publishers.push_back (publisher);
    state.republish = true;
    state.schedule_flush_locked ();
  }
  rs_rtsp_session_pool_attach_publisher (pool, std::move (publisher));
  return TRUE;
}

// ---------------------------------------------------------------------------
// Lookups.

namespace {

// A GTask waiting for Redis, with what to do with the answer.
struct Request
{
  GTask *task;
  std::function<void (GTask *, redisReply *)> answer;
};

void
on_request_reply (redisAsyncContext *, void *reply, void *data) noexcept
{
  auto *request = static_cast<Request *> (data);
  if (g_task_return_error_if_cancelled (request->task))
    ;
  else if (reply == nullptr)
    g_task_return_new_error (request->task, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
                             "Redis went away before it answered");
  else if (static_cast<redisReply *> (reply)->type == REDIS_REPLY_ERROR)
    g_task_return_new_error (request->task, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED,
                             "Redis: %s", static_cast<redisReply *> (reply)->str);
  else
    request->answer (request->task, static_cast<redisReply *> (reply));
  g_object_unref (request->task);
  delete request;
}

// Sends `args` on the directory's thread for `task`; `answer` returns the
// task's value from a reply that is no error.
void
request (RsRTSPSessionDirectory *directory, GTask *task, std::vector<std::string> args,
         std::function<void (GTask *, redisReply *)> answer)
{
  DirectoryState &state = state_of (directory);
  auto *pending = new Request{ task, std::move (answer) };
  state.invoke ([&state, pending, args = std::move (args)] {
    if (!state.connected.load () || state.redis == nullptr)
      {
        g_task_return_new_error (pending->task, RS_RTSP_SESSION_DIRECTORY_ERROR,
                                 RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE, "Redis cannot be reached: %s",
                                 state.uri.c_str ());
        g_object_unref (pending->task);
        delete pending;
        return;
      }
    state.command (on_request_reply, pending, args);
  });
}

// Runs an asynchronous call to its end on a private main context.
template <class Start>
GAsyncResult *
run_to_end (Start &&start, GCancellable *cancellable)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  GAsyncResult *result = nullptr;
  start (cancellable, [] (GObject *, GAsyncResult *res, gpointer data) noexcept {
    *static_cast<GAsyncResult **> (data) = static_cast<GAsyncResult *> (g_object_ref (res));
  }, &result);
  const gint64 until = g_get_monotonic_time () + kSyncTimeoutUs;
  while (result == nullptr && g_get_monotonic_time () < until)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return result;
}

// The blocking variant of an _async/_finish pair: at most kSyncTimeoutUs.
template <class T, class Start, class Finish>
T
run_sync (RsRTSPSessionDirectory *directory, Start &&start, Finish &&finish, GCancellable *cancellable,
          GError **error)
{
  g_autoptr (GAsyncResult) result = run_to_end (std::forward<Start> (start), cancellable);
  if (result == nullptr)
    {
      g_set_error (error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
                   "Redis did not answer in time");
      return nullptr;
    }
  return finish (directory, result, error);
}

}  // namespace

/**
 * rs_rtsp_session_directory_lookup_async:
 * @directory: a #RsRTSPSessionDirectory
 * @session_id: a session id
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of the
 *   caller when the answer is there
 * @user_data: data for @callback
 *
 * Asks which node holds the session @session_id.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_directory_lookup_async (RsRTSPSessionDirectory *directory, const gchar *session_id,
                                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory));
  g_return_if_fail (session_id != nullptr);
  GTask *task = g_task_new (directory, cancellable, callback, user_data);
  g_task_set_source_tag (task, reinterpret_cast<gpointer> (rs_rtsp_session_directory_lookup_async));
  if (!rs::core::is_valid_session_id (session_id))
    {
      // No entry can have this id.
      g_task_return_pointer (task, nullptr, nullptr);
      g_object_unref (task);
      return;
    }
  request (directory, task, { "GET", session_key (session_id) }, [] (GTask *task, redisReply *reply) {
    if (reply->type != REDIS_REPLY_STRING)
      {
        g_task_return_pointer (task, nullptr, nullptr);
        return;
      }
    const std::string value (reply->str, reply->len);
    g_task_return_pointer (task, g_strdup (value.substr (0, value.find ('\n')).c_str ()), g_free);
  });
}

/**
 * rs_rtsp_session_directory_lookup_finish:
 * @directory: a #RsRTSPSessionDirectory
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes rs_rtsp_session_directory_lookup_async().
 *
 * Returns: (transfer full) (nullable): the name of the node that holds the
 *   session, or %NULL: with @error set when Redis could not answer, without
 *   when no node holds it
 *
 * Since: 1.0
 */
gchar *
rs_rtsp_session_directory_lookup_finish (RsRTSPSessionDirectory *directory, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), nullptr);
  g_return_val_if_fail (g_task_is_valid (result, directory), nullptr);
  return static_cast<gchar *> (g_task_propagate_pointer (G_TASK (result), error));
}

/**
 * rs_rtsp_session_directory_lookup_sync:
 * @directory: a #RsRTSPSessionDirectory
 * @session_id: a session id
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like rs_rtsp_session_directory_lookup_async(), waiting for the answer (at
 * most 5 s): for tools, not for a server's main loop.
 *
 * Returns: (transfer full) (nullable): as rs_rtsp_session_directory_lookup_finish()
 *
 * Since: 1.0
 */
gchar *
rs_rtsp_session_directory_lookup_sync (RsRTSPSessionDirectory *directory, const gchar *session_id,
                                       GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), nullptr);
  g_return_val_if_fail (session_id != nullptr, nullptr);
  return run_sync<gchar *> (
    directory,
    [&] (GCancellable *c, GAsyncReadyCallback cb, gpointer data) {
      rs_rtsp_session_directory_lookup_async (directory, session_id, c, cb, data);
    },
    rs_rtsp_session_directory_lookup_finish, cancellable, error);
}

/**
 * rs_rtsp_session_directory_list_nodes_async:
 * @directory: a #RsRTSPSessionDirectory
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of the
 *   caller when the answer is there
 * @user_data: data for @callback
 *
 * Asks which nodes are alive (their heartbeat is less than three heartbeats
 * old) and how many sessions each holds.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_directory_list_nodes_async (RsRTSPSessionDirectory *directory, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory));
  GTask *task = g_task_new (directory, cancellable, callback, user_data);
  g_task_set_source_tag (task, reinterpret_cast<gpointer> (rs_rtsp_session_directory_list_nodes_async));
  request (directory, task, { "SMEMBERS", kNodesKey }, [directory] (GTask *task, redisReply *reply) {
    std::vector<std::string> names;
    if (reply->type == REDIS_REPLY_ARRAY)
      for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
          names.emplace_back (reply->element[i]->str, reply->element[i]->len);
    if (names.empty ())
      {
        g_task_return_pointer (task, g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{su}"), nullptr, 0)),
                               (GDestroyNotify) g_variant_unref);
        return;
      }
    std::vector<std::string> args{ "MGET" };
    for (const std::string &name : names)
      args.push_back (node_key (name));
    // The second step runs on the directory's thread already: send directly.
    DirectoryState &state = state_of (directory);
    auto *next = new Request{ static_cast<GTask *> (g_object_ref (task)), [names] (GTask *task, redisReply *reply) {
                               GVariantBuilder builder;
                               g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
                               for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements
                                                  && i < names.size ();
                                    i++)
                                 {
                                   redisReply *count = reply->element[i];
                                   if (count->type != REDIS_REPLY_STRING)
                                     continue;  // no heartbeat: dead
                                   const guint64 n = g_ascii_strtoull (count->str, nullptr, 10);
                                   g_variant_builder_add (&builder, "{su}", names[i].c_str (),
                                                          guint (std::min<guint64> (n, G_MAXUINT)));
                                 }
                               g_task_return_pointer (task, g_variant_ref_sink (g_variant_builder_end (&builder)),
                                                      (GDestroyNotify) g_variant_unref);
                             } };
    state.command (on_request_reply, next, args);
  });
}

/**
 * rs_rtsp_session_directory_list_nodes_finish:
 * @directory: a #RsRTSPSessionDirectory
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes rs_rtsp_session_directory_list_nodes_async().
 *
 * Returns: (transfer full) (nullable): a #GVariant of type `a{su}`, each
 *   live node's name with its session count, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
rs_rtsp_session_directory_list_nodes_finish (RsRTSPSessionDirectory *directory, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), nullptr);
  g_return_val_if_fail (g_task_is_valid (result, directory), nullptr);
  return static_cast<GVariant *> (g_task_propagate_pointer (G_TASK (result), error));
}

/**
 * rs_rtsp_session_directory_list_nodes_sync:
 * @directory: a #RsRTSPSessionDirectory
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like rs_rtsp_session_directory_list_nodes_async(), waiting for the answer
 * (at most 5 s).
 *
 * Returns: (transfer full) (nullable): as rs_rtsp_session_directory_list_nodes_finish()
 *
 * Since: 1.0
 */
GVariant *
rs_rtsp_session_directory_list_nodes_sync (RsRTSPSessionDirectory *directory, GCancellable *cancellable,
                                           GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), nullptr);
  return run_sync<GVariant *> (
    directory,
    [&] (GCancellable *c, GAsyncReadyCallback cb, gpointer data) {
      rs_rtsp_session_directory_list_nodes_async (directory, c, cb, data);
    },
    rs_rtsp_session_directory_list_nodes_finish, cancellable, error);
}
