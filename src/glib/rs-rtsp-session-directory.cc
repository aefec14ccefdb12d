// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-session-directory.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
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
 * wait for Redis. While Redis cannot be reached, only removals are kept (up
 * to a million); when it can be again (or comes back empty), every pool
 * republishes what it holds and the removals are sent. What is queued for a
 * Redis that does not keep up is bounded: beyond it, the pools republish
 * once Redis has caught up.
 *
 * Lookups — which node holds a session, which nodes are alive with how many
 * sessions — are asynchronous in the GIO style, with blocking variants for
 * tools.
 *
 * Limits that span the cluster: with #RsRTSPSessionDirectory:max-sessions
 * or #RsRTSPSessionDirectory:max-sessions-per-owner set (the same on every
 * node), a server calls rs_rtsp_session_directory_reserve_async() before it
 * creates a session; Redis checks the limit and takes the place atomically,
 * and the session's entry takes it over once the pool publishes it (the
 * owner must be set right after creation). A place that is not taken over
 * is given back after 10 s. When Redis cannot be reached, the reservation
 * follows #RsRTSPSessionDirectory:unreachable-policy.
 *
 * Keys: each session's key is in a hash slot of its own, the nodes' keys
 * share one, and so do the limits' keys (so that one script sees them all).
 * This client talks to one Redis (or a proxy in front of a Cluster): it does
 * not follow Cluster redirections itself.
 *
 * - `rs:s:{<session id>}`: a string `<node>\n<timeout>\n<owner>`, with a TTL
 * - `rs:{nodes}:all`: a set of the node names ever seen
 * - `rs:{nodes}:n:<node>`: the node's session count, with a TTL of three
 *   heartbeats: the node is alive while it exists
 * - `rs:{limits}:all` and `rs:{limits}:o:<owner>`: sorted sets of the
 *   sessions (and reservations) that count against the limits, scored by
 *   when they lapse (Redis's clock, in milliseconds); kept only while a
 *   limit is set
 *
 * Since: 1.0
 */

namespace {

constexpr gint64 kHeartbeatMs = 1000;
constexpr gint64 kNodeTtlMs = 3 * kHeartbeatMs;
constexpr guint kDefaultTtlMarginMs = 5000;
// An entry of a session that never expires (timeout 0) lives this long,
// and is rewritten every third of it.
constexpr gint64 kNoTimeoutTtlMs = 3600 * 1000;
// Work queued for Redis beyond this is dropped and the pools republish
// once Redis keeps up again: a slow Redis costs bounded memory.
constexpr std::size_t kMaxQueued = 200000;
// Removals kept while Redis cannot be reached (about 50 bytes each); the
// entries of those beyond it lapse by their TTL.
constexpr std::size_t kMaxRemovals = 1000000;
// How long a reservation holds its place without a session taking it over.
constexpr gint64 kReservationMs = 10000;
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
  PROP_MAX_SESSIONS,
  PROP_MAX_SESSIONS_PER_OWNER,
  PROP_UNREACHABLE_POLICY,
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

// A piece of work for Redis: (re)write a session's entry.
struct Op
{
  RsRTSPSession *session = nullptr;  // a reference
  std::string node;
  bool created = false;  // just made: takes over a reservation of its owner
};

// A removal: the entry to delete, and whose place it frees.
struct Removal
{
  std::string id;
  std::string owner;
};

// What the limits' sorted sets are told; each runs on the {limits} slot
// only, with Redis's clock.
constexpr const char kAccountScript[] = R"lua(
local t = redis.call('TIME')
local lapse = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
for i = 1, #KEYS do
  if ARGV[3] ~= '' then redis.call('ZREM', KEYS[i], ARGV[3]) end
  redis.call('ZADD', KEYS[i], lapse, ARGV[1])
end
return 1
)lua";

constexpr const char kForgetScript[] = R"lua(
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
)lua";

// 1: reserved; 0: the cluster is full; -1: the owner has its share.
constexpr const char kReserveScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, max_owner = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
if KEYS[2] then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if max_owner > 0 and redis.call('ZCARD', KEYS[2]) >= max_owner then return -1 end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
return 1
)lua";

constexpr const char kLimitsAllKey[] = "rs:{limits}:all";

std::string
owner_limits_key (const std::string &owner)
{
  return "rs:{limits}:o:" + owner;
}

// The GSource that runs a hiredis connection on a main context. Not
// hiredis's GLib adapter: its dispatch goes on to read after a write that
// freed the connection. Here the connection's cleanup clears `redis`, and
// dispatch looks again before each step.
struct RedisWatch
{
  GSource source;
  redisAsyncContext *redis;
  GPollFD fd;
};

gboolean
redis_watch_prepare (GSource *, gint *timeout) noexcept
{
  *timeout = -1;
  return FALSE;
}

gboolean
redis_watch_check (GSource *source) noexcept
{
  auto *watch = reinterpret_cast<RedisWatch *> (source);
  return (watch->fd.revents & (watch->fd.events | G_IO_HUP | G_IO_ERR)) != 0;
}

gboolean
redis_watch_dispatch (GSource *source, GSourceFunc, gpointer) noexcept
{
  auto *watch = reinterpret_cast<RedisWatch *> (source);
  const gushort revents = std::exchange (watch->fd.revents, 0);
  if (watch->redis && (revents & G_IO_OUT) && (watch->fd.events & G_IO_OUT))
    redisAsyncHandleWrite (watch->redis);
  if (watch->redis && (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    redisAsyncHandleRead (watch->redis);
  return G_SOURCE_CONTINUE;
}

GSourceFuncs redis_watch_funcs = { redis_watch_prepare, redis_watch_check, redis_watch_dispatch, nullptr, nullptr,
                                   nullptr };

GSource *
redis_watch_new (redisAsyncContext *redis)
{
  GSource *source = g_source_new (&redis_watch_funcs, sizeof (RedisWatch));
  g_source_set_static_name (source, "RsRTSPSessionDirectory connection");
  auto *watch = reinterpret_cast<RedisWatch *> (source);
  watch->redis = redis;
  watch->fd.fd = redis->c.fd;
  watch->fd.events = 0;
  watch->fd.revents = 0;
  g_source_add_poll (source, &watch->fd);
  // hiredis calls these on the directory's thread only, which is the one
  // that polls: changing the events needs no wake-up.
  redis->ev.addRead = [] (void *data) noexcept { static_cast<RedisWatch *> (data)->fd.events |= G_IO_IN; };
  redis->ev.delRead = [] (void *data) noexcept { static_cast<RedisWatch *> (data)->fd.events &= ~G_IO_IN; };
  redis->ev.addWrite = [] (void *data) noexcept { static_cast<RedisWatch *> (data)->fd.events |= G_IO_OUT; };
  redis->ev.delWrite = [] (void *data) noexcept { static_cast<RedisWatch *> (data)->fd.events &= ~G_IO_OUT; };
  redis->ev.cleanup = [] (void *data) noexcept {
    auto *watch = static_cast<RedisWatch *> (data);
    watch->redis = nullptr;
    if (watch->fd.fd >= 0)
      {
        g_source_remove_poll (&watch->source, &watch->fd);
        watch->fd.fd = -1;
      }
  };
  redis->ev.data = watch;
  return source;
}

}  // namespace

struct DirectoryState;

namespace {

// What one pool publishes under one node name.
struct Publisher : RsDirectoryPublisher
{
  std::weak_ptr<DirectoryState> state;
  std::string node;
  std::shared_ptr<RsPoolHandle> pool;

  void published (RsRTSPSession *session, bool created) noexcept override;
  void removed (RsRTSPSession *session) noexcept override;
};

// A command's answer: called once, on the directory's thread, with the
// reply or with an error (then `reply` is null).
using Answer = std::function<void (redisReply *reply, GError *error)>;

}  // namespace

// Everything the directory's thread and the publishing pools share.
struct DirectoryState : std::enable_shared_from_this<DirectoryState>
{
  Endpoint endpoint;
  std::string uri;
  std::atomic<guint> ttl_margin_ms{ kDefaultTtlMarginMs };
  std::atomic<guint> max_sessions{ 0 };
  std::atomic<guint> max_per_owner{ 0 };
  std::atomic<int> policy{ RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW };

  GMainContext *context = g_main_context_new ();
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  GThread *thread = nullptr;

  std::mutex work_lock;  // guards work and work_source_attached
  std::deque<std::function<void ()>> work;  // for the directory's thread, in order
  bool work_source_attached = false;

  std::mutex lock;  // guards the members up to the next comment
  std::deque<Op> queue;
  std::deque<Removal> removals;
  bool flush_scheduled = false;
  bool republish = true;  // every pool's sessions must be written again
  std::vector<std::weak_ptr<Publisher>> publishers;

  // Changed by the directory's thread only.
  std::atomic<bool> connected{ false };
  redisAsyncContext *redis = nullptr;
  GSource *redis_source = nullptr;
  GSource *reconnect_source = nullptr;
  GSource *heartbeat_source = nullptr;
  guint reconnect_ms = 0;
  long in_flight = 0;
  bool closing = false;
  bool warned_select = false;
  std::deque<Op> backlog;  // a republish, sent as answers come in
  gint64 last_no_timeout_refresh = 0;
  // Places reserved here and not yet taken over, oldest first: (owner, token).
  std::deque<std::pair<std::string, std::string>> reservations;

  ~DirectoryState ()
  {
    for (Op &op : queue)
      g_object_unref (op.session);
    for (Op &op : backlog)
      g_object_unref (op.session);
    g_main_loop_unref (loop);
    g_main_context_unref (context);
  }

  bool limits () const noexcept { return max_sessions.load () > 0 || max_per_owner.load () > 0; }
  std::vector<std::shared_ptr<Publisher>> live_publishers ();
  void enqueue (Op &&op) noexcept;
  void enqueue_removal (Removal &&removal) noexcept;
  void schedule_flush_locked () noexcept;
  // The directory's thread: flushes again if anything waits to be sent.
  void resume () noexcept
  {
    std::lock_guard guard (lock);
    if (!backlog.empty () || !queue.empty () || !removals.empty () || republish)
      schedule_flush_locked ();
  }
  void invoke (std::function<void ()> func) noexcept;
  void ask (std::vector<std::string> args, Answer answer) noexcept;

  // The directory's thread.
  void connect () noexcept;
  void schedule_reconnect () noexcept;
  void on_connected (int status) noexcept;
  void mark_connected () noexcept;
  void on_disconnected () noexcept;
  void flush () noexcept;
  void send_op (const Op &op, gint64 now) noexcept;
  void send_removal (const Removal &removal) noexcept;
  void heartbeat () noexcept;
  void refresh_no_timeout () noexcept;
  void command (redisCallbackFn *callback, void *data, const std::vector<std::string> &args) noexcept;
  void close_connection () noexcept;
};

// Runs `func` on the directory's thread.
void
DirectoryState::invoke (std::function<void ()> func) noexcept
{
  // Work goes through a queue of ours, not one GSource each: its mutex
  // also orders the work for ThreadSanitizer, which cannot see GLib's.
  std::lock_guard guard (work_lock);
  work.push_back (std::move (func));
  if (work_source_attached)
    return;
  work_source_attached = true;
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "RsRTSPSessionDirectory work");
  g_source_set_callback (
    source,
    [] (gpointer data) noexcept -> gboolean {
      // The state outlives every source of its context: its thread holds
      // it until the context is gone.
      auto *state = static_cast<DirectoryState *> (data);
      std::deque<std::function<void ()>> batch;
      {
        std::lock_guard guard (state->work_lock);
        batch.swap (state->work);
        state->work_source_attached = false;
      }
      for (auto &func : batch)
        func ();
      return G_SOURCE_REMOVE;
    },
    this, nullptr);
  g_source_attach (source, context);
  g_source_unref (source);
}

std::vector<std::shared_ptr<Publisher>>
DirectoryState::live_publishers ()
{
  std::vector<std::shared_ptr<Publisher>> live;
  std::lock_guard guard (lock);
  for (auto &weak : publishers)
    if (auto publisher = weak.lock ())
      live.push_back (std::move (publisher));
  return live;
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
  std::deque<Op> dropped;
  {
    std::lock_guard guard (lock);
    if (!connected.load (std::memory_order_acquire) || republish)
      {
        // Everything is written again once Redis is back: nothing to queue.
        republish = true;
        dropped.push_back (std::move (op));
      }
    else if (queue.size () >= kMaxQueued)
      {
        // Redis is far behind: forget the backlog, write everything again
        // once it has caught up.
        dropped.swap (queue);
        dropped.push_back (std::move (op));
        republish = true;
        schedule_flush_locked ();
      }
    else
      {
        queue.push_back (std::move (op));
        schedule_flush_locked ();
      }
  }
  // Outside the lock: a pool's thread may drop many references here.
  for (Op &gone : dropped)
    g_object_unref (gone.session);
}

void
DirectoryState::enqueue_removal (Removal &&removal) noexcept
{
  std::lock_guard guard (lock);
  // Kept while Redis is away too: a removed session must not stay listed.
  if (removals.size () < kMaxRemovals)
    removals.push_back (std::move (removal));
  if (connected.load (std::memory_order_acquire))
    schedule_flush_locked ();
}

void
Publisher::published (RsRTSPSession *session, bool created) noexcept
{
  if (auto held = state.lock ())
    held->enqueue (Op{ static_cast<RsRTSPSession *> (g_object_ref (session)), node, created });
}

void
Publisher::removed (RsRTSPSession *session) noexcept
{
  auto held = state.lock ();
  if (!held)
    return;
  rs::core::Session *core = rs_rtsp_session_get_core (session);
  if (core->has_id ())
    held->enqueue_removal (Removal{ core->id_c_str (), core->owner ().value_or (std::string ()) });
}

// ---------------------------------------------------------------------------
// The directory's thread: the connection, and sending.

namespace {

// Counts a fire-and-forget command's answer.
void
on_counted_reply (redisAsyncContext *, void *, void *data) noexcept
{
  auto *state = static_cast<DirectoryState *> (data);
  if (state->in_flight > 0)
    state->in_flight--;
  // Sending stopped at kMaxInFlight: it resumes once half has been answered.
  if (state->in_flight == kMaxInFlight / 2)
    state->resume ();
}

void
on_answer (redisAsyncContext *, void *reply, void *data) noexcept
{
  std::unique_ptr<Answer> answer (static_cast<Answer *> (data));
  auto *r = static_cast<redisReply *> (reply);
  if (r == nullptr)
    {
      g_autoptr (GError) error = g_error_new (RS_RTSP_SESSION_DIRECTORY_ERROR,
                                              RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
                                              "Redis went away before it answered");
      (*answer) (nullptr, error);
    }
  else if (r->type == REDIS_REPLY_ERROR)
    {
      g_autoptr (GError) error = g_error_new (RS_RTSP_SESSION_DIRECTORY_ERROR,
                                              RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED, "Redis: %s", r->str);
      (*answer) (nullptr, error);
    }
  else
    (*answer) (r, nullptr);
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
    }
  in_flight++;
  if (redis == nullptr
      || redisAsyncCommandArgv (redis, callback, data, static_cast<int> (argv.size ()), argv.data (), lengths.data ())
           != REDIS_OK)
    callback (redis, nullptr, data);
}

void
DirectoryState::ask (std::vector<std::string> args, Answer answer) noexcept
{
  invoke ([this, args = std::move (args), answer = std::move (answer)] () mutable {
    if (!connected.load () || redis == nullptr)
      {
        g_autoptr (GError) error = g_error_new (RS_RTSP_SESSION_DIRECTORY_ERROR,
                                                RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
                                                "Redis cannot be reached: %s", uri.c_str ());
        answer (nullptr, error);
        return;
      }
    // Answers count as in flight too, through their own callback.
    auto *held = new Answer ([this, answer = std::move (answer)] (redisReply *reply, GError *error) {
      if (in_flight > 0)
        in_flight--;
      answer (reply, error);
    });
    command (on_answer, held, args);
  });
}

void
DirectoryState::send_removal (const Removal &removal) noexcept
{
  command (nullptr, nullptr, { "DEL", session_key (removal.id.c_str ()) });
  if (limits ())
    {
      std::vector<std::string> args{ "EVAL", kForgetScript, removal.owner.empty () ? "1" : "2", kLimitsAllKey };
      if (!removal.owner.empty ())
        args.push_back (owner_limits_key (removal.owner));
      args.push_back (removal.id);
      command (nullptr, nullptr, args);
    }
}

void
DirectoryState::send_op (const Op &op, gint64 now) noexcept
{
  rs::core::Session *core = rs_rtsp_session_get_core (op.session);
  if (!core->in_pool () || !core->has_id ())
    return;  // gone meanwhile: its removal is queued too
  const int left_ms = core->expiry ().next_timeout_ms (now);
  const gint64 ttl_ms = std::max<gint64> (left_ms < 0 ? kNoTimeoutTtlMs : gint64 (left_ms) + ttl_margin_ms.load (), 1);
  std::string owner = core->owner ().value_or (std::string ());
  const std::string value = op.node + "\n" + std::to_string (core->expiry ().timeout ()) + "\n" + owner;
  command (nullptr, nullptr, { "SET", session_key (core->id_c_str ()), value, "PX", std::to_string (ttl_ms) });
  if (limits ())
    {
      // A new session takes over the oldest place reserved here: each
      // create follows its own reservation. It counts for the owner it was
      // reserved for until its own owner is known.
      std::string token;
      if (op.created && !reservations.empty ())
        {
          auto [reserved_for, reserved] = std::move (reservations.front ());
          reservations.pop_front ();
          token = std::move (reserved);
          if (owner.empty ())
            owner = std::move (reserved_for);
          else if (reserved_for != owner && !reserved_for.empty ())
            command (nullptr, nullptr, { "EVAL", kForgetScript, "1", owner_limits_key (reserved_for), token });
        }
      std::vector<std::string> args{ "EVAL", kAccountScript, owner.empty () ? "1" : "2", kLimitsAllKey };
      if (!owner.empty ())
        args.push_back (owner_limits_key (owner));
      args.insert (args.end (), { core->id_c_str (), std::to_string (ttl_ms), token });
      command (nullptr, nullptr, args);
    }
}

void
DirectoryState::flush () noexcept
{
  std::deque<Op> work;
  std::deque<Removal> gone;
  bool all = false;
  {
    std::lock_guard guard (lock);
    flush_scheduled = false;
    if (!connected.load () || redis == nullptr)
      return;  // the queue was emptied when the connection went
    if (in_flight >= kMaxInFlight)
      return;  // rescheduled as answers come in
    gone.swap (removals);
    all = std::exchange (republish, false);
    work.swap (queue);
  }
  const gint64 now = g_get_monotonic_time ();
  // Paced by the answers awaited, like everything else: what does not go
  // now goes back to the front.
  while (!gone.empty () && in_flight < kMaxInFlight && redis)
    {
      send_removal (gone.front ());
      gone.pop_front ();
    }
  if (!gone.empty ())
    {
      std::lock_guard guard (lock);
      while (!removals.empty () && gone.size () < kMaxRemovals)
        {
          gone.push_back (std::move (removals.front ()));
          removals.pop_front ();
        }
      removals.swap (gone);
    }
  if (all)
    {
      // What was queued is part of what is written again: the pools' sessions now.
      for (Op &op : work)
        g_object_unref (op.session);
      work.clear ();
      for (Op &op : backlog)
        g_object_unref (op.session);
      backlog.clear ();
      for (auto &publisher : live_publishers ())
        for (RsRTSPSession *session : publisher->pool->snapshot ())
          backlog.push_back (Op{ session, publisher->node, false });
      heartbeat ();
    }
  for (Op &op : work)
    backlog.push_back (std::move (op));
  // Only so much at a time: the rest goes as answers come in.
  while (!backlog.empty () && in_flight < kMaxInFlight && redis)
    {
      Op op = std::move (backlog.front ());
      backlog.pop_front ();
      send_op (op, now);
      g_object_unref (op.session);
    }
}

void
DirectoryState::refresh_no_timeout () noexcept
{
  // Sessions that never expire are never judged again by their pool's
  // index: their entries are rewritten here, a third of their TTL apart.
  for (auto &publisher : live_publishers ())
    for (RsRTSPSession *session : publisher->pool->snapshot ())
      {
        if (rs_rtsp_session_get_core (session)->expiry ().timeout () == 0)
          backlog.push_back (Op{ session, publisher->node, false });
        else
          g_object_unref (session);
      }
}

void
DirectoryState::heartbeat () noexcept
{
  if (!connected.load () || redis == nullptr)
    return;
  for (auto &publisher : live_publishers ())
    {
      command (nullptr, nullptr, { "SADD", kNodesKey, publisher->node });
      command (nullptr, nullptr,
               { "SET", node_key (publisher->node), std::to_string (publisher->pool->size ()), "PX",
                 std::to_string (kNodeTtlMs) });
    }
  const gint64 now = g_get_monotonic_time ();
  if (now - last_no_timeout_refresh >= kNoTimeoutTtlMs * 1000 / 3)
    {
      last_no_timeout_refresh = now;
      refresh_no_timeout ();
    }
}

void
DirectoryState::close_connection () noexcept
{
  if (redis_source)
    {
      // hiredis still calls the watch's cleanup after the callback that
      // got here: the source goes later.
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
  for (Op &op : backlog)
    g_object_unref (op.session);
  backlog.clear ();
  reservations.clear ();
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
  redis_source = redis_watch_new (redis);
  g_source_attach (redis_source, context);
  redisAsyncSetConnectCallback (redis, [] (const redisAsyncContext *c, int status) noexcept {
    static_cast<DirectoryState *> (c->data)->on_connected (status);
  });
  redisAsyncSetDisconnectCallback (redis, [] (const redisAsyncContext *c, int) noexcept {
    static_cast<DirectoryState *> (c->data)->on_disconnected ();
  });
  // The first command completes the connection. The database is chosen
  // first; a Redis that refuses it is not used (so database 0, which needs
  // no SELECT, also works with a Cluster proxy).
  if (endpoint.db == 0)
    {
      command (nullptr, nullptr, { "PING" });
      return;
    }
  command (
    [] (redisAsyncContext *c, void *reply, void *) noexcept {
      auto *state = static_cast<DirectoryState *> (c->data);
      if (state->in_flight > 0)
        state->in_flight--;
      auto *r = static_cast<redisReply *> (reply);
      if (r == nullptr)
        return;
      if (r->type != REDIS_REPLY_ERROR)
        {
          state->mark_connected ();
          return;
        }
      if (!state->warned_select)
        g_warning ("RsRTSPSessionDirectory: Redis refused database %ld (%s): not publishing", state->endpoint.db,
                   r->str);
      state->warned_select = true;
      redisAsyncDisconnect (c);
    },
    nullptr, { "SELECT", std::to_string (endpoint.db) });
}

void
DirectoryState::on_connected (int status) noexcept
{
  if (status != REDIS_OK)
    {
      // hiredis frees the connection after this callback.
      close_connection ();
      schedule_reconnect ();
      return;
    }
  // With a database to choose, connected once Redis said yes to it.
  if (endpoint.db == 0)
    mark_connected ();
}

void
DirectoryState::mark_connected () noexcept
{
  reconnect_ms = 0;
  warned_select = false;
  std::lock_guard guard (lock);
  connected.store (true, std::memory_order_release);
  republish = true;
  schedule_flush_locked ();
}

void
DirectoryState::on_disconnected () noexcept
{
  // hiredis frees the connection after this callback; the answers still
  // awaited were called with no reply already.
  std::deque<Op> dropped;
  {
    std::lock_guard guard (lock);
    dropped.swap (queue);
    republish = true;
  }
  for (Op &op : dropped)
    g_object_unref (op.session);
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

G_DEFINE_ENUM_TYPE (RsRTSPSessionDirectoryPolicy, rs_rtsp_session_directory_policy,
                    G_DEFINE_ENUM_VALUE (RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW, "allow"),
                    G_DEFINE_ENUM_VALUE (RS_RTSP_SESSION_DIRECTORY_POLICY_REFUSE, "refuse"))

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
  // hiredis writes with write(): a Redis that went away must give EPIPE
  // here, not SIGPIPE to the process.
  sigset_t pipe;
  sigemptyset (&pipe);
  sigaddset (&pipe, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe, nullptr);
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
      state->resume ();
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
    redisAsyncFree (state->redis);  // answers with no reply, the watch's cleanup, the disconnect callback
  if (source)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
  state->close_connection ();
  for (GSource **pending : { &state->reconnect_source, &state->heartbeat_source })
    if (*pending)
      {
        g_source_destroy (*pending);
        g_source_unref (*pending);
        *pending = nullptr;
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
    case PROP_MAX_SESSIONS:
      g_value_set_uint (value, state.max_sessions.load ());
      break;
    case PROP_MAX_SESSIONS_PER_OWNER:
      g_value_set_uint (value, state.max_per_owner.load ());
      break;
    case PROP_UNREACHABLE_POLICY:
      g_value_set_enum (value, state.policy.load ());
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
    case PROP_MAX_SESSIONS:
      state.max_sessions.store (g_value_get_uint (value));
      break;
    case PROP_MAX_SESSIONS_PER_OWNER:
      state.max_per_owner.store (g_value_get_uint (value));
      break;
    case PROP_UNREACHABLE_POLICY:
      state.policy.store (g_value_get_enum (value));
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
  /**
   * RsRTSPSessionDirectory:max-sessions:
   *
   * How many sessions all the nodes together may hold; 0 for no limit.
   * Checked by rs_rtsp_session_directory_reserve_async(). Set it the same on
   * every node.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_SESSIONS] = g_param_spec_uint ("max-sessions", nullptr, nullptr, 0, G_MAXINT, 0,
                                                     GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * RsRTSPSessionDirectory:max-sessions-per-owner:
   *
   * How many sessions one owner (#RsRTSPSession:owner, such as an
   * authenticated user) may hold on all the nodes together; 0 for no limit.
   * Checked by rs_rtsp_session_directory_reserve_async(). Set it the same on
   * every node.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_SESSIONS_PER_OWNER]
    = g_param_spec_uint ("max-sessions-per-owner", nullptr, nullptr, 0, G_MAXINT, 0,
                         GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * RsRTSPSessionDirectory:unreachable-policy:
   *
   * What a reservation answers while Redis cannot be reached.
   *
   * Since: 1.0
   */
  properties[PROP_UNREACHABLE_POLICY]
    = g_param_spec_enum ("unreachable-policy", nullptr, nullptr, RS_TYPE_RTSP_SESSION_DIRECTORY_POLICY,
                         RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW,
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
  // The pool publishes from now on; the republish below covers what it
  // held before.
  publisher->pool = rs_rtsp_session_pool_attach_publisher (pool, publisher);
  {
    std::lock_guard guard (state.lock);
    std::erase_if (state.publishers, [] (const std::weak_ptr<Publisher> &weak) { return weak.expired (); });
    state.publishers.push_back (publisher);
    state.republish = true;
    state.schedule_flush_locked ();
  }
  return TRUE;
}

// ---------------------------------------------------------------------------
// Lookups and reservations.

namespace {

// Returns a task exactly once: when its answer comes, or at once when its
// cancellable is cancelled (Redis may take long: a caller who cancels does
// not wait for it).
class TaskOnce
{
public:
  explicit TaskOnce (GTask *task) : task_ (task)
  {
    GCancellable *cancellable = g_task_get_cancellable (task);
    if (cancellable == nullptr)
      return;
    struct Data
    {
      GTask *task;  // a reference
      std::shared_ptr<std::atomic<bool>> returned;
    };
    cancellable_ = static_cast<GCancellable *> (g_object_ref (cancellable));
    handler_ = g_cancellable_connect (
      cancellable, G_CALLBACK (+[] (GCancellable *, gpointer p) noexcept {
        auto *d = static_cast<Data *> (p);
        if (!d->returned->exchange (true))
          g_task_return_error_if_cancelled (d->task);
      }),
      new Data{ static_cast<GTask *> (g_object_ref (task)), returned_ }, [] (gpointer p) noexcept {
        auto *d = static_cast<Data *> (p);
        g_object_unref (d->task);
        delete d;
      });
  }
  // Whether the caller may return the task now (nobody did).
  bool claim () noexcept
  {
    if (cancellable_)
      {
        g_cancellable_disconnect (cancellable_, handler_);
        g_clear_object (&cancellable_);
      }
    return !returned_->exchange (true);
  }
  GTask *task () const noexcept { return task_; }
  // Returns the task, unless it was returned on cancel: cancelled, with a
  // copy of `error`, or through `value (task)`; then drops the reference
  // the call held.
  template <class Value>
  void
  finish (GError *error, Value &&value)
  {
    if (!claim ())
      ;  // cancelled, and returned then
    else if (g_task_return_error_if_cancelled (task_))
      ;
    else if (error)
      g_task_return_error (task_, g_error_copy (error));
    else
      value (task_);
    g_object_unref (task_);
  }

private:
  GTask *task_;
  std::shared_ptr<std::atomic<bool>> returned_ = std::make_shared<std::atomic<bool>> (false);
  GCancellable *cancellable_ = nullptr;
  gulong handler_ = 0;
};

// Sends `args` for `task`: an error returns the task's error; `value` makes
// its value from a reply.
void
ask_for_task (RsRTSPSessionDirectory *directory, GTask *task, std::vector<std::string> args,
              std::function<void (GTask *, redisReply *)> value)
{
  auto once = std::make_shared<TaskOnce> (task);
  state_of (directory).ask (std::move (args), [once, value = std::move (value)] (redisReply *reply, GError *error) {
    once->finish (error, [&] (GTask *task) { value (task, reply); });
  });
}

// What a blocking call waits on. Shared with the directory's thread, so
// that a caller who gave up leaves nothing behind.
struct Waiter
{
  std::mutex lock;
  std::condition_variable cond;
  bool done = false;
  gpointer value = nullptr;
  GDestroyNotify free_value = nullptr;
  GError *error = nullptr;

  // The call's end: its value (which this takes) or a copy of `failure`.
  void
  finish (gpointer made, GError *failure)
  {
    std::lock_guard guard (lock);
    value = made;
    error = failure ? g_error_copy (failure) : nullptr;
    done = true;
    cond.notify_all ();
  }

  ~Waiter ()
  {
    if (value && free_value)
      free_value (value);
    g_clear_error (&error);
  }
};

// Runs the asynchronous call `start` (given a callback and its data) to its
// end: at most kSyncTimeoutUs, or until `cancellable` is cancelled.
template <class Start>
gpointer
run_sync (Start &&start, GDestroyNotify free_value, GCancellable *cancellable, GError **error)
{
  auto waiter = std::make_shared<Waiter> ();
  waiter->free_value = free_value;
  start (waiter);
  std::unique_lock guard (waiter->lock);
  const auto until = std::chrono::steady_clock::now () + std::chrono::microseconds (kSyncTimeoutUs);
  while (!waiter->done)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return nullptr;
      if (waiter->cond.wait_for (guard, std::chrono::milliseconds (50)) == std::cv_status::timeout
          && std::chrono::steady_clock::now () >= until)
        {
          g_set_error (error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
                       "Redis did not answer in time");
          return nullptr;
        }
    }
  if (waiter->error)
    {
      g_propagate_error (error, std::exchange (waiter->error, nullptr));
      return nullptr;
    }
  return std::exchange (waiter->value, nullptr);
}

// Sends `args` for a blocking call: `value` makes the call's value from a reply.
void
ask_for_waiter (RsRTSPSessionDirectory *directory, std::shared_ptr<Waiter> waiter, std::vector<std::string> args,
                std::function<gpointer (redisReply *)> value)
{
  state_of (directory).ask (std::move (args),
                            [waiter, value = std::move (value)] (redisReply *reply, GError *error) {
                              waiter->finish (error ? nullptr : value (reply), error);
                            });
}

// The node named by an entry, or null.
gchar *
node_of_reply (redisReply *reply)
{
  if (reply->type != REDIS_REPLY_STRING)
    return nullptr;
  const std::string value (reply->str, reply->len);
  return g_strdup (value.substr (0, value.find ('\n')).c_str ());
}

// The live nodes from the reply to MGET of the names' heartbeat keys.
GVariant *
nodes_of_reply (const std::vector<std::string> &names, redisReply *reply)
{
  GVariantBuilder builder;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements && i < names.size (); i++)
    {
      redisReply *count = reply->element[i];
      if (count->type != REDIS_REPLY_STRING)
        continue;  // no heartbeat: gone
      const guint64 n = g_ascii_strtoull (count->str, nullptr, 10);
      g_variant_builder_add (&builder, "{su}", names[i].c_str (), guint (std::min<guint64> (n, G_MAXUINT)));
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

// Lists the nodes in two steps on the directory's thread (their names, then
// their heartbeats); `done` gets the a{su} or an error.
void
list_nodes (RsRTSPSessionDirectory *directory, std::function<void (GVariant *, GError *)> done)
{
  DirectoryState &state = state_of (directory);
  state.ask ({ "SMEMBERS", kNodesKey }, [&state, done] (redisReply *reply, GError *error) {
    if (error)
      {
        done (nullptr, error);
        return;
      }
    auto names = std::make_shared<std::vector<std::string>> ();
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
      if (reply->element[i]->type == REDIS_REPLY_STRING)
        names->emplace_back (reply->element[i]->str, reply->element[i]->len);
    if (names->empty ())
      {
        g_autoptr (GVariant) none = nodes_of_reply (*names, nullptr);
        done (none, nullptr);
        return;
      }
    std::vector<std::string> args{ "MGET" };
    for (const std::string &name : *names)
      args.push_back (node_key (name));
    state.ask (std::move (args), [names, done] (redisReply *reply, GError *error) {
      if (error)
        {
          done (nullptr, error);
          return;
        }
      g_autoptr (GVariant) nodes = nodes_of_reply (*names, reply);
      done (nodes, nullptr);
    });
  });
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
  ask_for_task (directory, task, { "GET", session_key (session_id) },
                [] (GTask *task, redisReply *reply) { g_task_return_pointer (task, node_of_reply (reply), g_free); });
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
 * most 5 s, or until @cancellable is cancelled): for tools, not for a
 * server's main loop.
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
  if (!rs::core::is_valid_session_id (session_id))
    return nullptr;
  return static_cast<gchar *> (run_sync (
    [&] (std::shared_ptr<Waiter> waiter) {
      ask_for_waiter (directory, std::move (waiter), { "GET", session_key (session_id) },
                      [] (redisReply *reply) -> gpointer { return node_of_reply (reply); });
    },
    g_free, cancellable, error));
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
  auto once = std::make_shared<TaskOnce> (task);
  list_nodes (directory, [once] (GVariant *nodes, GError *error) {
    once->finish (error, [nodes] (GTask *task) {
      g_task_return_pointer (task, g_variant_ref (nodes), (GDestroyNotify) g_variant_unref);
    });
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
 * (at most 5 s, or until @cancellable is cancelled).
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
  return static_cast<GVariant *> (run_sync (
    [&] (std::shared_ptr<Waiter> waiter) {
      list_nodes (directory, [waiter] (GVariant *nodes, GError *error) {
        waiter->finish (nodes ? g_variant_ref (nodes) : nullptr, error);
      });
    },
    (GDestroyNotify) g_variant_unref, cancellable, error));
}

/**
 * rs_rtsp_session_directory_reserve_async:
 * @directory: a #RsRTSPSessionDirectory
 * @owner: (nullable): who the session will belong to (#RsRTSPSession:owner),
 *   or %NULL for nobody
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of the
 *   caller when the answer is there
 * @user_data: data for @callback
 *
 * Takes a place for one more session of @owner within the cluster's limits
 * (#RsRTSPSessionDirectory:max-sessions,
 * #RsRTSPSessionDirectory:max-sessions-per-owner), atomically in Redis, so
 * that nodes reserving at once can never together exceed them. Call it
 * before rs_rtsp_session_pool_create() on a pool that publishes to
 * @directory, and set the new session's owner to @owner right away: the
 * session's entry then takes the place over. A place no session takes over
 * is given back after 10 s. Without limits, it always succeeds.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_directory_reserve_async (RsRTSPSessionDirectory *directory, const gchar *owner,
                                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory));
  GTask *task = g_task_new (directory, cancellable, callback, user_data);
  g_task_set_source_tag (task, reinterpret_cast<gpointer> (rs_rtsp_session_directory_reserve_async));
  DirectoryState &state = state_of (directory);
  if (!state.limits ())
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  char drawn[rs::core::kSessionIdLength + 1];
  rs::core::random_session_id (drawn);
  drawn[rs::core::kSessionIdLength] = '\0';
  std::string token = std::string ("r:") + drawn;
  std::string who = owner ? owner : "";
  std::vector<std::string> args{ "EVAL", kReserveScript, who.empty () ? "1" : "2", kLimitsAllKey };
  if (!who.empty ())
    args.push_back (owner_limits_key (who));
  args.insert (args.end (), { std::to_string (state.max_sessions.load ()), std::to_string (state.max_per_owner.load ()),
                              token, std::to_string (kReservationMs) });
  auto once = std::make_shared<TaskOnce> (task);
  state.ask (std::move (args), [&state, once, task, token, who] (redisReply *reply, GError *error) {
    if (!once->claim ())
      {
        // Cancelled: a place taken all the same is given back after 10 s.
        g_object_unref (task);
        return;
      }
    if (g_task_return_error_if_cancelled (task))
      ;
    else if (error && error->code == RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE
             && state.policy.load () == RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW)
      g_task_return_boolean (task, TRUE);  // availability first, as the policy says
    else if (error)
      g_task_return_error (task, g_error_copy (error));
    else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)
      {
        // The next session of this owner published from here takes it over.
        state.reservations.emplace_back (who, token);
        g_task_return_boolean (task, TRUE);
      }
    else
      g_task_return_new_error (task, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_LIMIT,
                               reply->type == REDIS_REPLY_INTEGER && reply->integer == -1
                                 ? "The owner holds as many sessions as it may in the cluster"
                                 : "The cluster holds as many sessions as it may");
    g_object_unref (task);
  });
}

/**
 * rs_rtsp_session_directory_reserve_finish:
 * @directory: a #RsRTSPSessionDirectory
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes rs_rtsp_session_directory_reserve_async().
 *
 * Returns: %TRUE when the session may be created; %FALSE with
 *   %RS_RTSP_SESSION_DIRECTORY_ERROR_LIMIT when a limit says no, or with
 *   %RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE when Redis cannot be
 *   reached and #RsRTSPSessionDirectory:unreachable-policy is
 *   %RS_RTSP_SESSION_DIRECTORY_POLICY_REFUSE
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_directory_reserve_finish (RsRTSPSessionDirectory *directory, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_DIRECTORY (directory), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, directory), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
