// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-session-pool.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <mutex>
#include <vector>

#include "core/pool-engine.hh"
#include "core/session-header.hh"
#include "core/session-id.hh"
#include "rs-cxx-private.hh"
#include "rs-rtsp-session-private.hh"
#include "rs-directory-private.hh"
#include "rs-watch-timeout.hh"

/**
 * RsRTSPSessionPool:
 *
 * The sessions of an RTSP server: it makes them with unguessable ids, finds
 * them again by the id in a request's `Session:` header, and removes them
 * when they expire.
 *
 * Finding and touching a session takes no lock shared by the whole pool, and
 * expiring sessions — rs_rtsp_session_pool_cleanup() and the source of
 * rs_rtsp_session_pool_create_watch() — costs what the expired sessions
 * cost, not what the pool's size costs. All methods may be called from any
 * thread.
 *
 * Since: 1.0
 */

namespace {

void
ref_session (rs::core::Session *core) noexcept
{
  g_object_ref (rs_rtsp_session_from_core (core));
}

void
unref_session (rs::core::Session *core) noexcept
{
  g_object_unref (rs_rtsp_session_from_core (core));
}

void wake_watches (RsRTSPSessionPool *pool) noexcept;

struct RsRTSPSessionPoolPrivate
{
  // The session directory this pool publishes to, if any
  // (rs_rtsp_session_pool_set_directory()); set once.
  std::atomic<bool> has_publisher{ false };
  std::shared_ptr<RsDirectoryPublisher> publisher;  // written once, before has_publisher
  std::shared_ptr<RsPoolHandle> handle;            // likewise

  // Protects watches: the sources made by create_watch() that are still
  // alive. A leaf lock; taken under the engine's locks by its wakeup hook.
  std::mutex watches_lock;
  std::vector<GSource *> watches;
  // Last, so that it goes first: until it is gone, a session's
  // set_timeout() may still reach the wakeup hook, which uses the watches.
  // On the heap: its shards are cache-line aligned, and GLib aligns
  // private data to 16 bytes only.
  std::unique_ptr<rs::core::PoolEngine> engine;

  explicit RsRTSPSessionPoolPrivate (RsRTSPSessionPool *pool)
      : engine (std::make_unique<rs::core::PoolEngine> (rs::core::SessionOps{ ref_session, unref_session },
                                                         [pool] { wake_watches (pool); }))
  {
  }
};

enum
{
  PROP_0,
  PROP_MAX_SESSIONS,
  N_PROPS
};

enum
{
  SIGNAL_SESSION_REMOVED,
  N_SIGNALS
};

GParamSpec *properties[N_PROPS];
guint signals[N_SIGNALS];

}  // namespace

RS_DEFINE_TYPE_WITH_CXX_PRIVATE (RsRTSPSessionPool, rs_rtsp_session_pool, G_TYPE_OBJECT, RsRTSPSessionPoolPrivate)

static rs::core::PoolEngine &
get_engine (RsRTSPSessionPool *pool) noexcept
{
  return *get_priv (pool).engine;
}

static RsDirectoryPublisher *
publisher_of (RsRTSPSessionPool *pool) noexcept
{
  auto &priv = get_priv (pool);
  return priv.has_publisher.load (std::memory_order_acquire) ? priv.publisher.get () : nullptr;
}

// Emits session-removed for each session and drops the reference the pool
// held. No lock is held here.
static guint
finish_removals (RsRTSPSessionPool *pool, const std::vector<rs::core::Session *> &removed) noexcept
{
  RsDirectoryPublisher *publisher = publisher_of (pool);
  constexpr std::size_t ahead = 8;
  for (std::size_t i = 0; i < removed.size (); i++)
    {
      // Expired sessions lie scattered in memory: start loading the
      // instance a few sessions ahead, while this one is finalized.
      if (i + ahead < removed.size ())
        {
          __builtin_prefetch (removed[i + ahead]);
          __builtin_prefetch (rs_rtsp_session_from_core (removed[i + ahead]));
        }
      RsRTSPSession *session = rs_rtsp_session_from_core (removed[i]);
      if (publisher)
        publisher->removed (session);
      g_signal_emit (pool, signals[SIGNAL_SESSION_REMOVED], 0, session);
      g_object_unref (session);
    }
  return static_cast<guint> (std::min<std::size_t> (removed.size (), G_MAXUINT));
}

static gchar *
default_create_session_id (RsRTSPSessionPool *pool) noexcept
{
  auto *id = static_cast<gchar *> (g_malloc (rs::core::kSessionIdLength + 1));
  rs::core::random_session_id (id);
  id[rs::core::kSessionIdLength] = '\0';
  return id;
}

static RsRTSPSession *
default_create_session (RsRTSPSessionPool *pool, const gchar *id) noexcept
{
  return rs_rtsp_session_new_with_type (RS_TYPE_RTSP_SESSION, id);
}

static void
rs_rtsp_session_pool_dispose (GObject *object) noexcept
{
  auto *pool = RS_RTSP_SESSION_POOL (object);
  if (auto &handle = get_priv (pool).handle)
    handle->detach ();
  // Every remaining session is removed, with its signal, while the pool is
  // still a whole object; so are the ones session-removed handlers create
  // meanwhile.
  for (auto removed = get_engine (pool).take_all (); !removed.empty (); removed = get_engine (pool).take_all ())
    finish_removals (pool, removed);
  G_OBJECT_CLASS (rs_rtsp_session_pool_parent_class)->dispose (object);
}

static void
rs_rtsp_session_pool_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  switch (prop_id)
    {
    case PROP_MAX_SESSIONS:
      g_value_set_uint (value, rs_rtsp_session_pool_get_max_sessions (RS_RTSP_SESSION_POOL (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_pool_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  switch (prop_id)
    {
    case PROP_MAX_SESSIONS:
      rs_rtsp_session_pool_set_max_sessions (RS_RTSP_SESSION_POOL (object), g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_pool_class_init (RsRTSPSessionPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rs_rtsp_session_pool_dispose;
  object_class->finalize = rs_rtsp_session_pool_finalize;
  object_class->get_property = rs_rtsp_session_pool_get_property;
  object_class->set_property = rs_rtsp_session_pool_set_property;

  klass->create_session_id = default_create_session_id;
  klass->create_session = default_create_session;

  /**
   * RsRTSPSessionPool:max-sessions:
   *
   * How many sessions the pool holds at most; 0 for no limit. When it is
   * full, rs_rtsp_session_pool_create() returns %NULL (a server answers
   * `503 Service Unavailable`). Lowering it removes no session.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_SESSIONS] =
      g_param_spec_uint ("max-sessions", nullptr, nullptr, 0, G_MAXUINT, 0,
                         GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * RsRTSPSessionPool::session-removed:
   * @pool: the pool
   * @session: the session that was removed
   *
   * Emitted once for every session that leaves the pool: by
   * rs_rtsp_session_pool_remove(), by expiry in rs_rtsp_session_pool_cleanup(),
   * by %RS_RTSP_FILTER_REMOVE in rs_rtsp_session_pool_filter() and when the
   * pool is disposed. No lock is held, so handlers may call any method.
   *
   * Since: 1.0
   */
  signals[SIGNAL_SESSION_REMOVED] =
      g_signal_new ("session-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                    G_STRUCT_OFFSET (RsRTSPSessionPoolClass, session_removed), nullptr, nullptr, nullptr,
                    G_TYPE_NONE, 1, RS_TYPE_RTSP_SESSION);
}

namespace {

void
wake_watches (RsRTSPSessionPool *pool) noexcept
{
  auto &priv = get_priv (pool);
  std::lock_guard guard (priv.watches_lock);
  for (GSource *source : priv.watches)
    rs_watch_wake (source);
}

}  // namespace

/**
 * rs_rtsp_session_pool_new:
 *
 * Makes an empty pool with no limit on its size.
 *
 * Returns: (transfer full): a new #RsRTSPSessionPool
 *
 * Since: 1.0
 */
RsRTSPSessionPool *
rs_rtsp_session_pool_new (void) noexcept
{
  return static_cast<RsRTSPSessionPool *> (g_object_new (RS_TYPE_RTSP_SESSION_POOL, nullptr));
}

/**
 * rs_rtsp_session_pool_set_max_sessions:
 * @pool: a #RsRTSPSessionPool
 * @max: the most sessions the pool may hold; 0 for no limit
 *
 * Sets #RsRTSPSessionPool:max-sessions.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_pool_set_max_sessions (RsRTSPSessionPool *pool, guint max) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION_POOL (pool));
  if (get_engine (pool).set_max_sessions (max) != max)
    g_object_notify_by_pspec (G_OBJECT (pool), properties[PROP_MAX_SESSIONS]);
}

/**
 * rs_rtsp_session_pool_get_max_sessions:
 * @pool: a #RsRTSPSessionPool
 *
 * Gets #RsRTSPSessionPool:max-sessions.
 *
 * Returns: the most sessions the pool may hold; 0 for no limit
 *
 * Since: 1.0
 */
guint
rs_rtsp_session_pool_get_max_sessions (RsRTSPSessionPool *pool) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), 0);
  return get_engine (pool).max_sessions ();
}

/**
 * rs_rtsp_session_pool_get_n_sessions:
 * @pool: a #RsRTSPSessionPool
 *
 * How many sessions the pool holds, expired ones not yet cleaned up
 * included.
 *
 * Returns: the number of sessions
 *
 * Since: 1.0
 */
guint
rs_rtsp_session_pool_get_n_sessions (RsRTSPSessionPool *pool) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), 0);
  return static_cast<guint> (std::min<std::size_t> (get_engine (pool).size (), G_MAXUINT));
}

/**
 * rs_rtsp_session_pool_create:
 * @pool: a #RsRTSPSessionPool
 *
 * Makes a new session in the pool, with an id from the `create_session_id`
 * virtual method and an object from the `create_session` one. An id already
 * in use is never handed out twice: a colliding id is drawn again. An id
 * that is not valid (see rs_rtsp_session_id_is_valid()) is a programmer
 * error in `create_session_id`.
 *
 * Returns: (transfer full) (nullable): the new session, or %NULL when the
 *   pool is full (see #RsRTSPSessionPool:max-sessions) or no session could
 *   be made
 *
 * Since: 1.0
 */
RsRTSPSession *
rs_rtsp_session_pool_create (RsRTSPSessionPool *pool) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), nullptr);

  RsRTSPSessionPoolClass *klass = RS_RTSP_SESSION_POOL_GET_CLASS (pool);
  using Failure = rs::core::PoolEngine::CreateFailure;
  std::string wrong_type;
  auto created = get_engine (pool).create (
      klass->create_session_id != default_create_session_id,
      [&] (std::string &id) {
        g_autofree gchar *made = klass->create_session_id ? klass->create_session_id (pool) : nullptr;
        if (made == nullptr)
          return false;
        id = made;
        return true;
      },
      [&] (const char *id) {
        RsRTSPSession *session = klass->create_session ? klass->create_session (pool, id) : nullptr;
        if (session != nullptr && !RS_IS_RTSP_SESSION (session))
          {
            wrong_type = G_OBJECT_TYPE_NAME (session);
            g_object_unref (session);
            return rs::core::PoolEngine::MadeSession{ nullptr, true };
          }
        return rs::core::PoolEngine::MadeSession{ session ? rs_rtsp_session_get_core (session) : nullptr, false };
      });
  if (created.session != nullptr)
    {
      RsRTSPSession *session = rs_rtsp_session_from_core (created.session);
      if (RsDirectoryPublisher *publisher = publisher_of (pool))
        publisher->published (session, true);
      return session;
    }

  switch (created.failure)
    {
    case Failure::Full:
      break;
    case Failure::NoId:
      g_warning ("rs_rtsp_session_pool_create: no session id was made");
      break;
    case Failure::InvalidId:
      g_critical ("rs_rtsp_session_pool_create: create_session_id made an invalid session id");
      break;
    case Failure::NoSession:
      g_warning ("rs_rtsp_session_pool_create: no session was made for id %s", created.id.c_str ());
      break;
    case Failure::WrongKind:
      g_critical ("rs_rtsp_session_pool_create: create_session made a %s, not an RsRTSPSession", wrong_type.c_str ());
      break;
    case Failure::WrongId:
      g_critical ("rs_rtsp_session_pool_create: create_session made a session without the id %s it was given",
                  created.id.c_str ());
      break;
    case Failure::AlreadyPooled:
      g_critical ("rs_rtsp_session_pool_create: create_session returned session %s, which was already in a pool",
                  created.id.c_str ());
      break;
    case Failure::NoUnusedId:
      g_warning ("rs_rtsp_session_pool_create: no unused session id in %d attempts",
                 rs::core::PoolEngine::kMaxIdAttempts);
      break;
    }
  return nullptr;
}

// A new reference to the session with `sessionid` (and `owner`, if
// `check_owner`), touched; nullptr otherwise. An invalid id is refused
// after at most 257 bytes, whatever its length.
static RsRTSPSession *
find_session (RsRTSPSessionPool *pool, const gchar *sessionid, bool check_owner, const gchar *owner) noexcept
{
  const std::size_t length = rs::core::valid_session_id_length (sessionid);
  if (length == 0)
    return nullptr;
  const std::string_view id (sessionid, length);
  auto &engine = get_engine (pool);
  rs::core::Session *core = check_owner ? engine.find_owned (id, owner) : engine.find (id, true);
  return core ? rs_rtsp_session_from_core (core) : nullptr;
}

/**
 * rs_rtsp_session_pool_find:
 * @pool: a #RsRTSPSessionPool
 * @sessionid: the session id, as in a request's `Session:` header
 *
 * Finds the session with the id @sessionid and touches it (see
 * rs_rtsp_session_touch()). An id that is not valid (see
 * rs_rtsp_session_id_is_valid()) finds nothing, and is refused after
 * reading at most 257 bytes of it.
 *
 * Servers that know who is asking should use
 * rs_rtsp_session_pool_find_owned() instead.
 *
 * Returns: (transfer full) (nullable): the session, or %NULL when the pool
 *   has no session with that id
 *
 * Since: 1.0
 */
RsRTSPSession *
rs_rtsp_session_pool_find (RsRTSPSessionPool *pool, const gchar *sessionid) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), nullptr);
  g_return_val_if_fail (sessionid != nullptr, nullptr);
  return find_session (pool, sessionid, false, nullptr);
}

/**
 * rs_rtsp_session_pool_find_owned:
 * @pool: a #RsRTSPSessionPool
 * @sessionid: the session id, as in a request's `Session:` header
 * @owner: (nullable): who is asking: the authenticated user, or the
 *   connection, as set in #RsRTSPSession:owner when the session was made
 *
 * Like rs_rtsp_session_pool_find(), but finds the session only when its
 * #RsRTSPSession:owner equals @owner (two %NULL owners are equal). The owners
 * are compared in constant time. A session with another owner is reported
 * as not found and is not touched, so that a client that learned someone
 * else's session id cannot use the session or keep it alive.
 *
 * Returns: (transfer full) (nullable): the session, or %NULL when the pool
 *   has no session with that id and owner
 *
 * Since: 1.0
 */
RsRTSPSession *
rs_rtsp_session_pool_find_owned (RsRTSPSessionPool *pool, const gchar *sessionid, const gchar *owner) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), nullptr);
  g_return_val_if_fail (sessionid != nullptr, nullptr);
  return find_session (pool, sessionid, true, owner);
}

/**
 * rs_rtsp_session_pool_remove:
 * @pool: a #RsRTSPSessionPool
 * @sess: (transfer none): a session of @pool
 *
 * Removes @sess from the pool and emits #RsRTSPSessionPool::session-removed.
 *
 * Returns: %TRUE when @sess was in the pool
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_pool_remove (RsRTSPSessionPool *pool, RsRTSPSession *sess) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), FALSE);
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), FALSE);

  rs::core::Session *core = rs_rtsp_session_get_core (sess);
  if (!get_engine (pool).remove (core))
    return FALSE;
  // A handler may drop the caller's last reference to the pool.
  g_autoptr (RsRTSPSessionPool) keep_alive = static_cast<RsRTSPSessionPool *> (g_object_ref (pool));
  finish_removals (pool, {core});
  return TRUE;
}

/**
 * rs_rtsp_session_pool_cleanup_usec:
 * @pool: a #RsRTSPSessionPool
 * @now: the monotonic time to judge expiry at, as from g_get_monotonic_time()
 *
 * Like rs_rtsp_session_pool_cleanup(), at the time @now, so that servers and
 * tests can run expiry deterministically.
 *
 * Returns: how many sessions were removed
 *
 * Since: 1.0
 */
guint
rs_rtsp_session_pool_cleanup_usec (RsRTSPSessionPool *pool, gint64 now) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), 0);
  // A session-removed handler may drop the caller's last reference to the
  // pool while more signals are to come.
  g_autoptr (RsRTSPSessionPool) keep_alive = static_cast<RsRTSPSessionPool *> (g_object_ref (pool));
  return finish_removals (pool, get_engine (pool).take_expired (now));
}

/**
 * rs_rtsp_session_pool_cleanup:
 * @pool: a #RsRTSPSessionPool
 *
 * Removes every session that has expired (see
 * rs_rtsp_session_is_expired_usec()), emitting
 * #RsRTSPSessionPool::session-removed for each. The work follows the number
 * of expired sessions, not the size of the pool.
 *
 * Returns: how many sessions were removed
 *
 * Since: 1.0
 */
guint
rs_rtsp_session_pool_cleanup (RsRTSPSessionPool *pool) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), 0);
  return rs_rtsp_session_pool_cleanup_usec (pool, g_get_monotonic_time ());
}

/**
 * rs_rtsp_session_pool_filter:
 * @pool: a #RsRTSPSessionPool
 * @func: (scope call) (nullable): what to do with each session
 * @user_data: (closure): data for @func
 *
 * Calls @func for each session of the pool and removes, keeps or collects
 * the session as @func answers (see #RsRTSPFilterResult). @func is called
 * with no lock held and may call any method of @pool; each session is shown
 * to it once, sessions removed before their turn are not shown, and
 * sessions that @func creates are shown too (sessions that other threads
 * create meanwhile are not, so a filter ends on a busy pool). Removed sessions get
 * #RsRTSPSessionPool::session-removed.
 *
 * A %NULL @func collects every session.
 *
 * Returns: (element-type RsRTSPSession) (transfer full): the sessions
 *   answered with %RS_RTSP_FILTER_REF
 *
 * Since: 1.0
 */
GList *
rs_rtsp_session_pool_filter (RsRTSPSessionPool *pool, RsRTSPSessionPoolFilterFunc func, gpointer user_data) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), nullptr);

  // The callback may drop the caller's last reference to the pool.
  g_autoptr (RsRTSPSessionPool) keep_alive = static_cast<RsRTSPSessionPool *> (g_object_ref (pool));
  GList *result = nullptr;
  get_engine (pool).filter (
      [&] (rs::core::Session *core) {
        return func ? rs_filter_decision (func (pool, rs_rtsp_session_from_core (core), user_data))
                    : rs::core::FilterDecision::Ref;
      },
      [&] (rs::core::Session *core) { result = g_list_prepend (result, g_object_ref (rs_rtsp_session_from_core (core))); },
      [&] (rs::core::Session *core) { finish_removals (pool, { core }); });
  return result;
}

namespace {

struct PoolWatch
{
  GSource source;
  RsRTSPSessionPool *pool;
};

gboolean
watch_prepare (GSource *source, gint *timeout) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  const gint64 now = g_source_get_time (source);
  return rs_watch_timeout (get_engine (watch->pool).next_wakeup (now), now, timeout);
}

gboolean
watch_check (GSource *source) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  const gint64 now = g_source_get_time (source);
  return rs_watch_timeout (get_engine (watch->pool).next_wakeup (now), now, nullptr);
}

gboolean
watch_dispatch (GSource *source, GSourceFunc callback, gpointer user_data) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  // Like GStreamer's pool watch, and unlike GLib's own sources, a watch
  // without a callback removes itself without a word: programs that make
  // warnings fatal must not abort on it.
  if (callback == nullptr)
    return G_SOURCE_REMOVE;
  // The callback is an RsRTSPSessionPoolFunc stored as a GSourceFunc, as
  // g_source_set_callback() takes it; the detour through void (*) (void) says so.
  auto func = reinterpret_cast<RsRTSPSessionPoolFunc> (reinterpret_cast<void (*) (void)> (callback));
  return func (watch->pool, user_data);
}

void
watch_finalize (GSource *source) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  {
    auto &priv = get_priv (watch->pool);
    std::lock_guard guard (priv.watches_lock);
    priv.watches.erase (std::remove (priv.watches.begin (), priv.watches.end (), source), priv.watches.end ());
  }
  g_object_unref (watch->pool);
}

GSourceFuncs watch_funcs = {
  watch_prepare,
  watch_check,
  watch_dispatch,
  watch_finalize,
  nullptr,
  nullptr,
};

}  // namespace

/**
 * rs_rtsp_session_pool_create_watch:
 * @pool: a #RsRTSPSessionPool
 *
 * Makes a #GSource that dispatches when a session of @pool has expired,
 * calling the #RsRTSPSessionPoolFunc set with g_source_set_callback(), which
 * usually calls rs_rtsp_session_pool_cleanup(). It sleeps until the earliest
 * deadline in the pool; sessions with timeout 0 never wake it. The source
 * holds a reference to @pool.
 *
 * Returns: (transfer full): a new #GSource, to attach to a #GMainContext
 *
 * Since: 1.0
 */
GSource *
rs_rtsp_session_pool_create_watch (RsRTSPSessionPool *pool) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_POOL (pool), nullptr);

  GSource *source = g_source_new (&watch_funcs, sizeof (PoolWatch));
  g_source_set_static_name (source, "RsRTSPSessionPool watch");
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  watch->pool = static_cast<RsRTSPSessionPool *> (g_object_ref (pool));
  auto &priv = get_priv (pool);
  std::lock_guard guard (priv.watches_lock);
  priv.watches.push_back (source);
  return source;
}

std::shared_ptr<RsPoolHandle>
rs_rtsp_session_pool_attach_publisher (RsRTSPSessionPool *pool, std::shared_ptr<RsDirectoryPublisher> publisher) noexcept
{
  auto &priv = get_priv (pool);
  g_return_val_if_fail (!priv.has_publisher.load (), nullptr);
  std::weak_ptr<RsDirectoryPublisher> weak = publisher;
  priv.publisher = std::move (publisher);
  priv.handle = std::make_shared<RsPoolHandle> ();
  priv.handle->engine = priv.engine.get ();
  priv.has_publisher.store (true, std::memory_order_release);
  // Sessions whose deadline the index judged again: their entries are
  // refreshed then, never per touch.
  priv.engine->set_on_rescheduled ([weak] (std::vector<rs::core::Session *> &&sessions) {
    auto held = weak.lock ();
    for (rs::core::Session *core : sessions)
      {
        if (held)
          held->published (rs_rtsp_session_from_core (core), false);
        g_object_unref (rs_rtsp_session_from_core (core));
      }
  });
  return priv.handle;
}

std::vector<RsRTSPSession *>
RsPoolHandle::snapshot ()
{
  std::vector<RsRTSPSession *> sessions;
  std::lock_guard guard (lock);
  if (engine)
    for (rs::core::Session *core : engine->snapshot ())
      sessions.push_back (rs_rtsp_session_from_core (core));
  return sessions;
}

std::size_t
RsPoolHandle::size ()
{
  std::lock_guard guard (lock);
  return engine ? engine->size () : 0;
}

void
RsPoolHandle::detach () noexcept
{
  std::lock_guard guard (lock);
  engine = nullptr;
}
