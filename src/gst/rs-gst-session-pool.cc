// SPDX-License-Identifier: LGPL-2.1-or-later
// RsGstSessionPool: a GstRTSPSessionPool with librtspsession's session ids
// and expiry index, for GstRTSPSession objects; and the per-owner
// views of it that the server binding gives its connections.
#include <algorithm>
#include <new>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hh"
#include "core/expiry-index.hh"
#include "core/session-id.hh"
#include "glib/rs-watch-timeout.hh"
#include "rs-gst-private.hh"

using rs::core::Micros;

namespace {

// How soon a new session, or one that looks prevented from expiring, is
// judged again. New: an application may lower its timeout in the client's
// new-session handler. Prevented: GStreamer counts such a session as touched
// whenever its deadline is asked for, and gives no word when it is allowed
// to expire again.
constexpr Micros kRecheck = rs::core::kMicrosPerSecond;

// What the index knows of one stock session of the pool. Lives from the
// session's creation in the pool to its removal, attached to the session as
// the session's `entry` field.
struct Shared;
struct Entry : rs::core::IndexNode {
  Shared *home = nullptr;             // whose entry it is
  GstRTSPSession *session = nullptr;  // a reference: alive while the entry is
  Micros recheck_at = 0;              // judge again no later than this
  GstRTSPSessionPool *view = nullptr;  // the view that made it (owned), if any
  std::string owner;                   // owner key; empty: nobody's
  guint64 creator = 0;                 // serial of the connection that made it, 0: none
};

struct EntryTraits {
  static rs::core::IndexNode &node (Entry &entry) noexcept { return entry; }
  static Entry &entry (rs::core::IndexNode &node) noexcept { return static_cast<Entry &> (node); }
  static std::optional<Micros> deadline (Entry &entry, Micros now) noexcept;
};

std::optional<Micros>
EntryTraits::deadline (Entry &entry, Micros now) noexcept
{
  // Milliseconds left, rounded down: never later than the real deadline.
  const gint left_ms = gst_rtsp_session_next_timeout_usec (entry.session, now);
  if (left_ms < 0)
    {
      if (gst_rtsp_session_get_timeout (entry.session) == 0)
        return std::nullopt;  // timeout 0: never expires
      // GStreamer's milliseconds overflow a gint beyond 24.8 days: judge
      // again when that much has passed.
      return now + Micros (G_MAXINT) * rs::core::kMicrosPerMilli;
    }
  if (left_ms == 0)
    return now;
  const Micros due = now + Micros (left_ms) * rs::core::kMicrosPerMilli;
  const guint timeout = gst_rtsp_session_get_timeout (entry.session);
  if (Micros (left_ms) >= Micros (timeout) * 1000)
    {
      // Touched within its extra time: as fresh as a prevented session is
      // after the probe above. Look again soon, for it may be allowed.
      guint extra = 0;
      g_object_get (entry.session, "extra-timeout", &extra, nullptr);
      if (Micros (left_ms) + 1 >= (Micros (timeout) + extra) * 1000)
        entry.recheck_at = now + kRecheck;
    }
  if (now < entry.recheck_at && entry.recheck_at < due)
    return entry.recheck_at;
  return due;
}

// State the pool and its views share; outlives the pool while views live.
struct Shared {
  std::mutex lock;  // guards everything below, and every entry
  rs::core::ExpiryIndex<Entry, EntryTraits> index;
  std::size_t live_entries = 0;
  std::vector<GSource *> watches;                // attached or not; to wake
  std::map<std::string, GWeakRef> views;         // owner key -> live view
  GWeakRef pool;                                 // the RsGstSessionPool
  RsGstOwnerPolicy policy = RS_GST_OWNER_CONNECTION;
  RsGstOwnerFunc owner_func = nullptr;
  gpointer owner_data = nullptr;
  GDestroyNotify owner_notify = nullptr;

  Shared () { g_weak_ref_init (&pool, nullptr); }
  ~Shared ()
  {
    for (auto &[key, ref] : views)
      g_weak_ref_clear (&ref);
    g_weak_ref_clear (&pool);
  }
  // Wakes every watch's context, so that it sleeps until the new earliest
  // deadline. Called with the lock held.
  void wake_watches () const noexcept
  {
    for (GSource *watch : watches)
      rs_watch_wake (watch);
  }
};

}  // namespace

// The pool's sessions: stock GstRTSPSession objects in all but one field,
// the index entry, which qdata would also hold, at the price of a bit lock
// and a list walk per lookup.
#define RS_GST_TYPE_SESSION (rs_gst_session_get_type ())
G_DECLARE_FINAL_TYPE (RsGstSession, rs_gst_session, RS_GST, SESSION, GstRTSPSession)

struct _RsGstSession {
  GstRTSPSession parent_instance;
  Entry *entry;  // guarded by its pool's Shared::lock; null once removed
  // Where `entry` points while the session is in the pool: inside the
  // session, so that expiry reaches it without another allocation or cache
  // miss. Used once; emptied when the session leaves the pool.
  Entry storage;
};

G_DEFINE_FINAL_TYPE (RsGstSession, rs_gst_session, GST_TYPE_RTSP_SESSION)

static void
rs_gst_session_finalize (GObject *object) noexcept
{
  RS_GST_SESSION (object)->storage.~Entry ();
  G_OBJECT_CLASS (rs_gst_session_parent_class)->finalize (object);
}

static void
rs_gst_session_class_init (RsGstSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rs_gst_session_finalize;
}

static void
rs_gst_session_init (RsGstSession *self)
{
  new (&self->storage) Entry ();
}

namespace {

// The entry of `session` in `shared`'s pool, if it is one of its sessions.
// Called with the lock held.
Entry *
entry_of (Shared &shared, GstRTSPSession *session) noexcept
{
  if (!RS_GST_IS_SESSION (session))
    return nullptr;
  Entry *entry = __atomic_load_n (&RS_GST_SESSION (session)->entry, __ATOMIC_RELAXED);
  return entry && entry->home == &shared ? entry : nullptr;
}

void
set_entry (GstRTSPSession *session, Entry *entry) noexcept
{
  // Written under the pool's lock; read without it only to see that it is
  // gone (see cleanup_at), hence atomic.
  __atomic_store_n (&RS_GST_SESSION (session)->entry, entry, __ATOMIC_RELAXED);
}

// The view whose create is running on this thread, for the pool's
// create_session to record as the new session's owner.
thread_local GstRTSPSessionPool *creating_view = nullptr;

}  // namespace

struct _RsGstSessionPool {
  GstRTSPSessionPool parent_instance;
  std::shared_ptr<Shared> *shared;
  GSource *bound_watch;  // attached by the server binding, without a pool reference
};

enum {
  PROP_0,
  PROP_OWNER_POLICY,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ENUM_TYPE (RsGstOwnerPolicy, rs_gst_owner_policy,
                    G_DEFINE_ENUM_VALUE (RS_GST_OWNER_CONNECTION, "connection"),
                    G_DEFINE_ENUM_VALUE (RS_GST_OWNER_PEER_ADDRESS, "peer-address"),
                    G_DEFINE_ENUM_VALUE (RS_GST_OWNER_USER, "user"),
                    G_DEFINE_ENUM_VALUE (RS_GST_OWNER_CUSTOM, "custom"))

G_DEFINE_FINAL_TYPE (RsGstSessionPool, rs_gst_session_pool, GST_TYPE_RTSP_SESSION_POOL)

static Shared &
shared_of (RsGstSessionPool *pool) noexcept
{
  return **pool->shared;
}

// GStreamer's pool finalize removes the remaining sessions and signals each
// removal; a class handler makes that emission ref and unref the object
// being finalized, which finalizes it twice. So subclasses with a class
// handler empty the pool in dispose, after the parent's dispose has dropped
// the handlers connected to it (as they are dropped before finalize).
static void
remove_all_sessions (GstRTSPSessionPool *pool) noexcept
{
  GList *none = gst_rtsp_session_pool_filter (
    pool, [] (GstRTSPSessionPool *, GstRTSPSession *, gpointer) noexcept { return GST_RTSP_FILTER_REMOVE; },
    nullptr);
  g_list_free (none);
}

// ---------------------------------------------------------------------------
// Views: what a bound connection sees of the pool.

#define RS_GST_TYPE_SESSION_VIEW (rs_gst_session_view_get_type ())
G_DECLARE_FINAL_TYPE (RsGstSessionView, rs_gst_session_view, RS_GST, SESSION_VIEW, GstRTSPSessionPool)

struct _RsGstSessionView {
  GstRTSPSessionPool parent_instance;
  std::shared_ptr<Shared> *shared;
  std::string *key;
};

G_DEFINE_FINAL_TYPE (RsGstSessionView, rs_gst_session_view, GST_TYPE_RTSP_SESSION_POOL)

static gchar *
view_create_session_id (GstRTSPSessionPool *) noexcept
{
  // The session gets the pool's id, not this one; this only has to differ
  // from every id in the view, and the pool's ids are alphanumeric.
  return g_strdup ("-");
}

static GstRTSPSession *
view_create_session (GstRTSPSessionPool *view, const gchar *) noexcept
{
  // Runs under the view's lock; the pool's create takes the pool's lock
  // next, and nothing takes them the other way round.
  auto *self = RS_GST_SESSION_VIEW (view);
  auto *pool = static_cast<GstRTSPSessionPool *> (g_weak_ref_get (&(*self->shared)->pool));
  if (pool == nullptr)
    return nullptr;
  GstRTSPSessionPool *outer = creating_view;
  creating_view = view;
  GstRTSPSession *session = gst_rtsp_session_pool_create (pool);
  creating_view = outer;
  // Everyone else let go of the pool meanwhile (a server going away): its
  // dispose removes its sessions through this view, whose lock is held
  // here. Let it go from the main loop instead.
  if (g_atomic_int_get (&G_OBJECT (pool)->ref_count) == 1)
    {
      GSource *later = g_idle_source_new ();
      g_source_set_callback (
        later, [] (gpointer) noexcept { return G_SOURCE_REMOVE; }, pool, g_object_unref);
      g_source_set_static_name (later, "RsGstSessionView: last pool reference");
      GMainContext *context = g_main_context_ref_thread_default ();
      g_source_attach (later, context);
      g_main_context_unref (context);
      g_source_unref (later);
    }
  else
    g_object_unref (pool);
  return session;
}

static void
view_session_removed (GstRTSPSessionPool *view, GstRTSPSession *session) noexcept
{
  // Removed through the view (a TEARDOWN): out of the pool too. When the
  // pool removed it first, this finds nothing there.
  auto *self = RS_GST_SESSION_VIEW (view);
  if (auto *pool = static_cast<GstRTSPSessionPool *> (g_weak_ref_get (&(*self->shared)->pool)))
    {
      gst_rtsp_session_pool_remove (pool, session);
      g_object_unref (pool);
    }
}

static void
view_dispose (GObject *object) noexcept
{
  G_OBJECT_CLASS (rs_gst_session_view_parent_class)->dispose (object);
  remove_all_sessions (GST_RTSP_SESSION_POOL (object));
}

static void
view_finalize (GObject *object) noexcept
{
  auto *self = RS_GST_SESSION_VIEW (object);
  {
    Shared &shared = **self->shared;
    std::lock_guard guard (shared.lock);
    auto it = shared.views.find (*self->key);
    if (it != shared.views.end ())
      {
        // Only forget the key if no newer view took it over.
        GObject *current = static_cast<GObject *> (g_weak_ref_get (&it->second));
        if (current == nullptr)
          {
            g_weak_ref_clear (&it->second);
            shared.views.erase (it);
          }
        else
          g_object_unref (current);
      }
  }
  delete self->key;
  delete self->shared;
  G_OBJECT_CLASS (rs_gst_session_view_parent_class)->finalize (object);
}

static void
rs_gst_session_view_class_init (RsGstSessionViewClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = view_dispose;
  G_OBJECT_CLASS (klass)->finalize = view_finalize;
  auto *pool_class = GST_RTSP_SESSION_POOL_CLASS (klass);
  pool_class->create_session_id = view_create_session_id;
  pool_class->create_session = view_create_session;
  pool_class->session_removed = view_session_removed;
}

static void
rs_gst_session_view_init (RsGstSessionView *)
{
}

GstRTSPSessionPool *
rs_gst_session_pool_view (RsGstSessionPool *pool, const std::string &key)
{
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  auto it = shared.views.find (key);
  if (it != shared.views.end ())
    {
      if (gpointer view = g_weak_ref_get (&it->second))
        return static_cast<GstRTSPSessionPool *> (view);
    }
  auto *view = static_cast<RsGstSessionView *> (g_object_new (RS_GST_TYPE_SESSION_VIEW, nullptr));
  view->shared = new std::shared_ptr<Shared> (*pool->shared);
  view->key = new std::string (key);
  if (it == shared.views.end ())
    {
      it = shared.views.try_emplace (key).first;
      g_weak_ref_init (&it->second, view);
    }
  else
    g_weak_ref_set (&it->second, view);
  return GST_RTSP_SESSION_POOL (view);
}

// ---------------------------------------------------------------------------
// The pool.

static gchar *
pool_create_session_id (GstRTSPSessionPool *) noexcept
{
  auto *id = static_cast<gchar *> (g_malloc (rs::core::kSessionIdLength + 1));
  rs::core::random_session_id (id);
  id[rs::core::kSessionIdLength] = '\0';
  return id;
}

static std::string
user_of (GstRTSPToken *token)
{
  const gchar *user = token ? gst_rtsp_token_get_string (token, RS_GST_TOKEN_USER) : nullptr;
  return user && *user ? user : std::string ();
}

// The owner of a session made outside a view: under the user policy, the
// request's user; otherwise the requesting connection; nobody for a session
// an application makes itself.
static std::string
owner_from_context (RsGstOwnerPolicy policy, guint64 &creator)
{
  GstRTSPContext *ctx = gst_rtsp_context_get_current ();
  if (ctx == nullptr || ctx->client == nullptr)
    return {};
  creator = rs_gst_client_serial (ctx->client);
  if (policy == RS_GST_OWNER_USER)
    {
      std::string user = user_of (ctx->token);
      if (!user.empty ())
        return "user:" + user;
    }
  return "connection:" + std::to_string (creator);
}

static GstRTSPSession *
pool_create_session (GstRTSPSessionPool *gst_pool, const gchar *id) noexcept
{
  // Runs under the pool's lock: nothing here may call back into the pool.
  auto *pool = RS_GST_SESSION_POOL (gst_pool);
  Shared &shared = shared_of (pool);
  auto *session = static_cast<GstRTSPSession *> (g_object_new (RS_GST_TYPE_SESSION, "sessionid", id, nullptr));
  Entry *entry = &RS_GST_SESSION (session)->storage;
  entry->home = &shared;
  entry->session = static_cast<GstRTSPSession *> (g_object_ref (session));
  if (creating_view)
    {
      entry->view = static_cast<GstRTSPSessionPool *> (g_object_ref (creating_view));
      entry->owner = *RS_GST_SESSION_VIEW (creating_view)->key;
    }
  const Micros now = g_get_monotonic_time ();
  entry->recheck_at = now + kRecheck;
  set_entry (session, entry);
  std::lock_guard guard (shared.lock);
  if (!creating_view)
    entry->owner = owner_from_context (shared.policy, entry->creator);
  shared.live_entries++;
  if (shared.index.schedule (*entry, now))
    shared.wake_watches ();
  return session;
}

// Takes `session`'s entry out of the pool's books; null if it has none.
static Entry *
detach_entry (Shared &shared, GstRTSPSession *session) noexcept
{
  std::lock_guard guard (shared.lock);
  Entry *entry = entry_of (shared, session);
  if (entry == nullptr)
    return nullptr;
  set_entry (session, nullptr);
  shared.index.unschedule (*entry);
  shared.live_entries--;
  return entry;
}

// Frees a detached entry, without any lock held.
static void
release_entry (Entry *entry) noexcept
{
  // The entry lives in its session, which the last unref below may finalize.
  GstRTSPSession *session = std::exchange (entry->session, nullptr);
  GstRTSPSessionPool *view = std::exchange (entry->view, nullptr);
  std::string ().swap (entry->owner);
  if (view)
    {
      // The connections watching the session learn of it from the view.
      gst_rtsp_session_pool_remove (view, session);
      g_object_unref (view);
    }
  g_object_unref (session);
}

static void
pool_session_removed (GstRTSPSessionPool *gst_pool, GstRTSPSession *session) noexcept
{
  // Every removal comes here (remove, filter, cleanup: ours and the stock
  // one), after the pool has let go of its lock; unless a handler stops
  // the emission, in which case expiry finds the session gone.
  auto *pool = RS_GST_SESSION_POOL (gst_pool);
  if (pool->shared == nullptr)
    return;  // finalized: the entries are gone already
  if (Entry *entry = detach_entry (shared_of (pool), session))
    release_entry (entry);
}

static void
rs_gst_session_pool_dispose (GObject *object) noexcept
{
  G_OBJECT_CLASS (rs_gst_session_pool_parent_class)->dispose (object);
  remove_all_sessions (GST_RTSP_SESSION_POOL (object));
}

static void
rs_gst_session_pool_finalize (GObject *object) noexcept
{
  auto *pool = RS_GST_SESSION_POOL (object);
  if (pool->bound_watch)
    {
      g_source_destroy (pool->bound_watch);
      g_source_unref (pool->bound_watch);
      pool->bound_watch = nullptr;
    }
  GDestroyNotify notify;
  gpointer data;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    // Dispose removed every session, and with it every entry.
    g_warn_if_fail (shared.live_entries == 0);
    notify = shared.owner_notify;
    data = shared.owner_data;
    shared.owner_func = nullptr;
    shared.owner_notify = nullptr;
  }
  if (notify)
    notify (data);
  delete pool->shared;
  pool->shared = nullptr;
  // Dispose emptied the pool: the stock finalize has nothing left to remove.
  G_OBJECT_CLASS (rs_gst_session_pool_parent_class)->finalize (object);
}

static void
rs_gst_session_pool_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto *pool = RS_GST_SESSION_POOL (object);
  switch (prop_id)
    {
    case PROP_OWNER_POLICY:
      g_value_set_enum (value, rs_gst_session_pool_get_owner_policy (pool));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_gst_session_pool_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  auto *pool = RS_GST_SESSION_POOL (object);
  switch (prop_id)
    {
    case PROP_OWNER_POLICY:
      rs_gst_session_pool_set_owner_policy (pool, static_cast<RsGstOwnerPolicy> (g_value_get_enum (value)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_gst_session_pool_class_init (RsGstSessionPoolClass *klass)
{
  auto *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = rs_gst_session_pool_dispose;
  object_class->finalize = rs_gst_session_pool_finalize;
  object_class->get_property = rs_gst_session_pool_get_property;
  object_class->set_property = rs_gst_session_pool_set_property;

  auto *pool_class = GST_RTSP_SESSION_POOL_CLASS (klass);
  pool_class->create_session_id = pool_create_session_id;
  pool_class->create_session = pool_create_session;
  pool_class->session_removed = pool_session_removed;

  /**
   * RsGstSessionPool:owner-policy:
   *
   * Who may use a session, for connections a bound server accepts from now
   * on. See #RsGstOwnerPolicy.
   *
   * Since: 1.0
   */
  properties[PROP_OWNER_POLICY] =
    g_param_spec_enum ("owner-policy", nullptr, nullptr, RS_GST_TYPE_OWNER_POLICY, RS_GST_OWNER_CONNECTION,
                       static_cast<GParamFlags> (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rs_gst_session_pool_init (RsGstSessionPool *pool)
{
  pool->shared = new std::shared_ptr<Shared> (std::make_shared<Shared> ());
  g_weak_ref_set (&shared_of (pool).pool, pool);
}

/**
 * rs_gst_session_pool_new:
 *
 * Makes a session pool for gst-rtsp-server that gives its #GstRTSPSession
 * objects (of a private subclass that only carries the pool's index entry)
 * 22-character alphanumeric ids from the operating
 * system's cryptographic random source, and keeps them in an expiry index,
 * so that rs_gst_session_pool_cleanup() and the pool's watch cost what the
 * expired sessions cost, not what the number of sessions costs.
 *
 * It is a #GstRTSPSessionPool: `max-sessions`, find, filter, remove and the
 * `session-removed` signal are GStreamer's own. gst_rtsp_session_pool_cleanup()
 * still works, and scans every session as it always did.
 *
 * Returns: (transfer full): a new #RsGstSessionPool
 *
 * Since: 1.0
 */
RsGstSessionPool *
rs_gst_session_pool_new (void)
{
  return static_cast<RsGstSessionPool *> (g_object_new (RS_GST_TYPE_SESSION_POOL, nullptr));
}

/**
 * rs_gst_session_pool_cleanup_at:
 * @pool: a #RsGstSessionPool
 * @now: a monotonic time in microseconds, as g_get_monotonic_time() gives
 *
 * Removes the sessions of @pool that have expired at @now, as
 * gst_rtsp_session_is_expired_usec() judges it, emitting `session-removed`
 * for each. Sessions with timeout 0 and sessions prevented from expiring
 * stay. Only the sessions whose indexed deadline has come are looked at.
 *
 * Returns: the number of sessions removed
 *
 * Since: 1.0
 */
guint
rs_gst_session_pool_cleanup_at (RsGstSessionPool *pool, gint64 now)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), 0);
  std::vector<Entry *> due;
  std::vector<GstRTSPSession *> expired;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    shared.index.pop_due (now, due);
    expired.reserve (due.size ());
    for (Entry *entry : due)
      expired.push_back (static_cast<GstRTSPSession *> (g_object_ref (entry->session)));
  }
  // The entries may go as soon as the lock is let go: only the sessions
  // are used from here on.
  guint removed = 0;
  for (GstRTSPSession *session : expired)
    {
      if (!gst_rtsp_session_is_expired_usec (session, now))
        {
          // Touched since the index judged it, as the stock cleanup judges
          // again under its lock: back into the index, at its new deadline.
          Shared &shared = shared_of (pool);
          std::lock_guard guard (shared.lock);
          if (Entry *entry = entry_of (shared, session); entry && !shared.index.contains (*entry))
            {
              if (shared.index.schedule (*entry, std::min<Micros> (now, g_get_monotonic_time ())))
                shared.wake_watches ();
            }
          g_object_unref (session);
          continue;
        }
      if (gst_rtsp_session_pool_remove (GST_RTSP_SESSION_POOL (pool), session))
        removed++;
      // Normally the class handler has released the entry, in this thread;
      // not if a handler stopped the emission, or the session left the pool
      // that way earlier.
      if (__atomic_load_n (&RS_GST_SESSION (session)->entry, __ATOMIC_RELAXED) != nullptr)
        {
          if (Entry *entry = detach_entry (shared_of (pool), session))
            release_entry (entry);
        }
      g_object_unref (session);
    }
  return removed;
}

/**
 * rs_gst_session_pool_cleanup:
 * @pool: a #RsGstSessionPool
 *
 * rs_gst_session_pool_cleanup_at() at the current monotonic time.
 *
 * Returns: the number of sessions removed
 *
 * Since: 1.0
 */
guint
rs_gst_session_pool_cleanup (RsGstSessionPool *pool)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), 0);
  return rs_gst_session_pool_cleanup_at (pool, g_get_monotonic_time ());
}

/**
 * rs_gst_session_pool_next_wakeup:
 * @pool: a #RsGstSessionPool
 * @now: a monotonic time in microseconds
 *
 * When the pool's expiry must look next: a time not later than @now when a
 * session has expired at @now, the earliest indexed deadline otherwise.
 * Sessions touched since they were indexed are indexed again on the way.
 *
 * Returns: a monotonic time in microseconds, or -1 when no session can expire
 *
 * Since: 1.0
 */
gint64
rs_gst_session_pool_next_wakeup (RsGstSessionPool *pool, gint64 now)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), -1);
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  auto wakeup = shared.index.next_wakeup (now);
  return wakeup ? *wakeup : -1;
}

/**
 * rs_gst_session_pool_reschedule:
 * @pool: a #RsGstSessionPool
 * @session: a session of @pool
 *
 * Judges the deadline of @session again. The index sees a deadline that
 * moves later by itself; one that moves earlier (a lowered timeout, a
 * timeout no longer 0, an allowed expiry) is seen when the session is next
 * judged: within a second of its creation, within a second while it is
 * prevented from expiring, and at once after this call. The server binding
 * calls it after every client's `new-session` handlers.
 *
 * Since: 1.0
 */
void
rs_gst_session_pool_reschedule (RsGstSessionPool *pool, GstRTSPSession *session)
{
  g_return_if_fail (RS_GST_IS_SESSION_POOL (pool));
  g_return_if_fail (GST_IS_RTSP_SESSION (session));
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  Entry *entry = entry_of (shared, session);
  if (entry == nullptr)
    return;
  if (shared.index.schedule (*entry, g_get_monotonic_time ()))
    shared.wake_watches ();
}

/**
 * rs_gst_session_pool_set_owner_policy:
 * @pool: a #RsGstSessionPool
 * @policy: who may use a session
 *
 * Sets #RsGstSessionPool:owner-policy.
 *
 * Since: 1.0
 */
void
rs_gst_session_pool_set_owner_policy (RsGstSessionPool *pool, RsGstOwnerPolicy policy)
{
  g_return_if_fail (RS_GST_IS_SESSION_POOL (pool));
  g_return_if_fail (policy >= RS_GST_OWNER_CONNECTION && policy <= RS_GST_OWNER_CUSTOM);
  bool changed;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    changed = shared.policy != policy;
    shared.policy = policy;
  }
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (pool), properties[PROP_OWNER_POLICY]);
}

/**
 * rs_gst_session_pool_get_owner_policy:
 * @pool: a #RsGstSessionPool
 *
 * Gets #RsGstSessionPool:owner-policy.
 *
 * Returns: who may use a session
 *
 * Since: 1.0
 */
RsGstOwnerPolicy
rs_gst_session_pool_get_owner_policy (RsGstSessionPool *pool)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), RS_GST_OWNER_CONNECTION);
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  return shared.policy;
}

/**
 * rs_gst_session_pool_set_owner_func:
 * @pool: a #RsGstSessionPool
 * @func: (scope notified) (nullable): names the owner of a connection's sessions
 * @user_data: (closure): data for @func
 * @notify: (destroy user_data): frees @user_data
 *
 * Sets the function that names the owner key of each connection a bound
 * server accepts, and the owner policy to %RS_GST_OWNER_CUSTOM (back to
 * %RS_GST_OWNER_CONNECTION when @func is %NULL). @func runs in the thread
 * that accepts connections; set or replace it before the server is bound
 * or from that thread, as a replaced function's data is freed at once.
 *
 * Since: 1.0
 */
void
rs_gst_session_pool_set_owner_func (RsGstSessionPool *pool, RsGstOwnerFunc func, gpointer user_data,
                                    GDestroyNotify notify)
{
  g_return_if_fail (RS_GST_IS_SESSION_POOL (pool));
  GDestroyNotify old_notify;
  gpointer old_data;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    old_notify = shared.owner_notify;
    old_data = shared.owner_data;
    shared.owner_func = func;
    shared.owner_data = user_data;
    shared.owner_notify = notify;
  }
  if (old_notify)
    old_notify (old_data);
  rs_gst_session_pool_set_owner_policy (pool, func ? RS_GST_OWNER_CUSTOM : RS_GST_OWNER_CONNECTION);
}

/**
 * rs_gst_session_pool_get_owner:
 * @pool: a #RsGstSessionPool
 * @session: a session
 *
 * The owner key of @session: `connection:N`, `peer:ADDRESS`, `user:NAME`,
 * `custom:KEY`, or the empty string for a session nobody owns (one the
 * application made itself).
 *
 * Returns: (transfer full) (nullable): the owner key, or %NULL when
 *   @session is not in @pool
 *
 * Since: 1.0
 */
gchar *
rs_gst_session_pool_get_owner (RsGstSessionPool *pool, GstRTSPSession *session)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), nullptr);
  g_return_val_if_fail (GST_IS_RTSP_SESSION (session), nullptr);
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  Entry *entry = entry_of (shared, session);
  return entry ? g_strdup (entry->owner.c_str ()) : nullptr;
}

std::string
rs_gst_session_pool_connection_key (RsGstSessionPool *pool, GstRTSPClient *client)
{
  RsGstOwnerPolicy policy;
  RsGstOwnerFunc func;
  gpointer data;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    policy = shared.policy;
    func = shared.owner_func;
    data = shared.owner_data;
  }
  if (policy == RS_GST_OWNER_PEER_ADDRESS)
    {
      GstRTSPConnection *connection = gst_rtsp_client_get_connection (client);
      const gchar *ip = connection ? gst_rtsp_connection_get_ip (connection) : nullptr;
      if (ip)
        return std::string ("peer:") + ip;
    }
  else if (policy == RS_GST_OWNER_CUSTOM && func)
    {
      // The function may not be replaced while it runs: it is called
      // without the lock, like every callback.
      g_autofree gchar *key = func (pool, client, data);
      if (key)
        return std::string ("custom:") + key;
    }
  return "connection:" + std::to_string (rs_gst_client_serial (client));
}

bool
rs_gst_session_pool_may_use (RsGstSessionPool *pool, GstRTSPSession *session, GstRTSPContext *ctx)
{
  std::string owner;
  guint64 creator;
  {
    Shared &shared = shared_of (pool);
    std::lock_guard guard (shared.lock);
    Entry *entry = entry_of (shared, session);
    if (entry == nullptr)
      return true;  // not ours to guard
    owner = entry->owner;
    creator = entry->creator;
  }
  if (owner.empty ())
    return true;
  // The connection that made a session may always use it, with or
  // without credentials on later requests, as GStreamer lets it; not an
  // RTSP-over-HTTP tunnel, whose requests anyone knowing its cookie can send.
  if (ctx->client && creator != 0 && rs_gst_client_serial (ctx->client) == creator)
    {
      GstRTSPConnection *connection = gst_rtsp_client_get_connection (ctx->client);
      if (connection == nullptr || !gst_rtsp_connection_is_tunneled (connection) || !owner.starts_with ("user:"))
        return true;
    }
  if (!owner.starts_with ("user:"))
    return false;
  // GStreamer authenticates only the requests its checks need a token for
  // (not PLAY, PAUSE, TEARDOWN...): do what its check would, for a request
  // (a response message has no credentials).
  if (ctx->token == nullptr && ctx->auth && ctx->request)
    {
      auto *auth_class = GST_RTSP_AUTH_GET_CLASS (ctx->auth);
      if (auth_class->authenticate)
        auth_class->authenticate (ctx->auth, ctx);
    }
  return owner.compare (5, std::string::npos, user_of (ctx->token)) == 0;
}

// ---------------------------------------------------------------------------
// The watch.

namespace {

struct PoolWatch {
  GSource source;
  RsGstSessionPool *pool;      // a reference, unless weak
  GWeakRef weak_pool;          // for the binding's watch
  std::shared_ptr<Shared> *shared;
  bool weak;
};

// The watch's pool, as a new reference; null once a weakly held pool is gone.
RsGstSessionPool *
watch_pool (PoolWatch *watch) noexcept
{
  if (!watch->weak)
    return static_cast<RsGstSessionPool *> (g_object_ref (watch->pool));
  return static_cast<RsGstSessionPool *> (g_weak_ref_get (&watch->weak_pool));
}

std::optional<Micros>
watch_wakeup (PoolWatch *watch, Micros now) noexcept
{
  Shared &shared = **watch->shared;
  std::lock_guard guard (shared.lock);
  return shared.index.next_wakeup (now);
}

gboolean
watch_prepare (GSource *source, gint *timeout) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  const gint64 now = g_source_get_time (source);
  return rs_watch_timeout (watch_wakeup (watch, now), now, timeout);
}

gboolean
watch_check (GSource *source) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  const gint64 now = g_source_get_time (source);
  return rs_watch_timeout (watch_wakeup (watch, now), now, nullptr);
}

gboolean
watch_dispatch (GSource *source, GSourceFunc callback, gpointer user_data) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  // As GStreamer's own pool watch does: without a callback, the watch goes
  // away without a word.
  if (callback == nullptr)
    return G_SOURCE_REMOVE;
  RsGstSessionPool *pool = watch_pool (watch);
  if (pool == nullptr)
    return G_SOURCE_REMOVE;
  // The callback is a GstRTSPSessionPoolFunc stored as a GSourceFunc, as
  // g_source_set_callback() takes it.
  auto func = reinterpret_cast<GstRTSPSessionPoolFunc> (reinterpret_cast<void (*) (void)> (callback));
  const gboolean keep = func (GST_RTSP_SESSION_POOL (pool), user_data);
  g_object_unref (pool);
  return keep;
}

void
watch_finalize (GSource *source) noexcept
{
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  {
    Shared &shared = **watch->shared;
    std::lock_guard guard (shared.lock);
    std::erase (shared.watches, source);
  }
  delete watch->shared;
  if (watch->weak)
    g_weak_ref_clear (&watch->weak_pool);
  else
    g_object_unref (watch->pool);
}

GSourceFuncs watch_funcs = {
  watch_prepare, watch_check, watch_dispatch, watch_finalize, nullptr, nullptr,
};

GSource *
new_watch (RsGstSessionPool *pool, bool weak) noexcept
{
  GSource *source = g_source_new (&watch_funcs, sizeof (PoolWatch));
  g_source_set_static_name (source, "RsGstSessionPool watch");
  auto *watch = reinterpret_cast<PoolWatch *> (source);
  watch->weak = weak;
  if (weak)
    g_weak_ref_init (&watch->weak_pool, pool);
  else
    watch->pool = static_cast<RsGstSessionPool *> (g_object_ref (pool));
  watch->shared = new std::shared_ptr<Shared> (*pool->shared);
  Shared &shared = shared_of (pool);
  std::lock_guard guard (shared.lock);
  shared.watches.push_back (source);
  return source;
}

gboolean
cleanup_func (GstRTSPSessionPool *pool, gpointer) noexcept
{
  rs_gst_session_pool_cleanup (RS_GST_SESSION_POOL (pool));
  return G_SOURCE_CONTINUE;
}

}  // namespace

/**
 * rs_gst_session_pool_create_watch:
 * @pool: a #RsGstSessionPool
 *
 * Makes a #GSource that dispatches when a session of @pool has expired,
 * calling the #GstRTSPSessionPoolFunc set with g_source_set_callback(), which
 * usually calls rs_gst_session_pool_cleanup(). Unlike
 * gst_rtsp_session_pool_create_watch(), it does not look at every session in
 * each main-loop iteration: it sleeps until the earliest indexed deadline.
 * Without a callback it removes itself when it dispatches, as GStreamer's
 * does. The source holds a reference to @pool.
 *
 * Returns: (transfer full): a new #GSource
 *
 * Since: 1.0
 */
GSource *
rs_gst_session_pool_create_watch (RsGstSessionPool *pool)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), nullptr);
  return new_watch (pool, false);
}

/**
 * rs_gst_session_pool_attach:
 * @pool: a #RsGstSessionPool
 * @context: (nullable): a #GMainContext, %NULL for the default one
 *
 * Attaches to @context a watch of @pool that runs
 * rs_gst_session_pool_cleanup() whenever a session has expired: what an
 * application's periodic gst_rtsp_session_pool_cleanup() timer did, at the
 * cost of the expired sessions only. The watch holds a reference to @pool;
 * remove it with g_source_remove() or by destroying @context.
 *
 * Returns: the source id
 *
 * Since: 1.0
 */
guint
rs_gst_session_pool_attach (RsGstSessionPool *pool, GMainContext *context)
{
  g_return_val_if_fail (RS_GST_IS_SESSION_POOL (pool), 0);
  GSource *source = new_watch (pool, false);
  g_source_set_callback (source, reinterpret_cast<GSourceFunc> (reinterpret_cast<void (*) (void)> (cleanup_func)),
                         nullptr, nullptr);
  const guint id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}

void
rs_gst_session_pool_attach_once (RsGstSessionPool *pool, GMainContext *context)
{
  if (g_atomic_pointer_get (&pool->bound_watch) != nullptr)
    return;
  GSource *source = new_watch (pool, true);
  g_source_set_callback (source, reinterpret_cast<GSourceFunc> (reinterpret_cast<void (*) (void)> (cleanup_func)),
                         nullptr, nullptr);
  if (!g_atomic_pointer_compare_and_exchange (&pool->bound_watch, nullptr, source))
    {
      g_source_unref (source);
      return;
    }
  g_source_attach (source, context);
}
