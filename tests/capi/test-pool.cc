// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <rtspsession/rtspsession.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test-util.hh"

namespace {

constexpr gint64 kSecond = G_USEC_PER_SEC;

// Disconnects when it goes out of scope, which is before the pool it was
// declared after is released: the pool's dispose never writes into a dead log.
struct RemovedLog {
  explicit RemovedLog(RsRTSPSessionPool* pool) : pool_(pool) {
    id_ = g_signal_connect(pool, "session-removed", G_CALLBACK(+[](RsRTSPSessionPool*, RsRTSPSession* s, RemovedLog* log) {
      log->ids.push_back(rs_rtsp_session_get_sessionid(s));
    }), this);
  }
  ~RemovedLog() { g_signal_handler_disconnect(pool_, id_); }
  RemovedLog(const RemovedLog&) = delete;
  RemovedLog& operator=(const RemovedLog&) = delete;
  std::vector<std::string> ids;

 private:
  RsRTSPSessionPool* pool_;
  gulong id_;
};

// A session that expires exactly `timeout` seconds after its last access.
RsRTSPSession* create_exact(RsRTSPSessionPool* pool, guint timeout) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  g_object_set(session, "extra-timeout", 0u, nullptr);
  rs_rtsp_session_set_timeout(session, timeout);
  rs_rtsp_session_touch(session);
  return static_cast<RsRTSPSession*>(g_steal_pointer(&session));
}

}  // namespace

TEST(Pool, DefaultsAndMaxSessions) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  EXPECT_EQ(rs_rtsp_session_pool_get_max_sessions(pool), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 0u);
  int notifies = 0;
  g_signal_connect_swapped(pool, "notify::max-sessions", G_CALLBACK(+[](int* n) { (*n)++; }), &notifies);
  rs_rtsp_session_pool_set_max_sessions(pool, 0);
  EXPECT_EQ(notifies, 0);
  rs_rtsp_session_pool_set_max_sessions(pool, 2);
  g_object_set(pool, "max-sessions", 2u, nullptr);
  EXPECT_EQ(notifies, 1);

  g_autoptr(RsRTSPSession) a = rs_rtsp_session_pool_create(pool);
  g_autoptr(RsRTSPSession) b = rs_rtsp_session_pool_create(pool);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  g_autoptr(RsRTSPSession) over_max = rs_rtsp_session_pool_create(pool);
  EXPECT_EQ(over_max, nullptr);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 2u);
  EXPECT_TRUE(rs_rtsp_session_pool_remove(pool, a));
  g_autoptr(RsRTSPSession) c = rs_rtsp_session_pool_create(pool);
  EXPECT_NE(c, nullptr);
  rs_rtsp_session_pool_set_max_sessions(pool, 1);  // lowering removes nothing
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 2u);
  g_autoptr(RsRTSPSession) over_lowered_max = rs_rtsp_session_pool_create(pool);
  EXPECT_EQ(over_lowered_max, nullptr);
}

TEST(Pool, CreateFindRemove) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  RemovedLog removed(pool);
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  std::string id = rs_rtsp_session_get_sessionid(session);
  EXPECT_EQ(id.size(), 22u);

  g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find(pool, id.c_str());
  EXPECT_EQ(found, session);
  g_clear_object(&found);  // so that ours is the last reference below
  g_autoptr(RsRTSPSession) nope = rs_rtsp_session_pool_find(pool, "nope");
  EXPECT_EQ(nope, nullptr);
  g_autoptr(RsRTSPSession) prefix = rs_rtsp_session_pool_find(pool, id.substr(0, 21).c_str());
  EXPECT_EQ(prefix, nullptr);

  EXPECT_TRUE(rs_rtsp_session_pool_remove(pool, session));
  EXPECT_EQ(removed.ids, std::vector<std::string>{id});
  EXPECT_FALSE(rs_rtsp_session_pool_remove(pool, session));
  EXPECT_EQ(removed.ids.size(), 1u);
  g_autoptr(RsRTSPSession) after_removal = rs_rtsp_session_pool_find(pool, id.c_str());
  EXPECT_EQ(after_removal, nullptr);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 0u);

  // The pool dropped its reference: ours is the last.
  WeakWatch alive(session);
  g_clear_object(&session);
  EXPECT_FALSE(alive.alive());
}

TEST(Pool, FindTouches) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = create_exact(pool, 10);
  const gint64 start = g_get_monotonic_time();
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, start + 10 * kSecond), 0);
  g_usleep(5000);
  g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find(pool, rs_rtsp_session_get_sessionid(session));
  // The deadline moved at least 5 ms later.
  EXPECT_GE(rs_rtsp_session_next_timeout_usec(session, start + 10 * kSecond), 4);
}

TEST(Pool, CleanupAtExplicitTimes) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  RemovedLog removed(pool);
  g_autoptr(RsRTSPSession) short_lived = create_exact(pool, 1);
  g_autoptr(RsRTSPSession) longer = create_exact(pool, 5);
  g_autoptr(RsRTSPSession) forever = create_exact(pool, 0);
  g_autoptr(RsRTSPSession) held = create_exact(pool, 1);
  rs_rtsp_session_prevent_expire(held);
  g_autoptr(RsRTSPSession) with_grace = rs_rtsp_session_pool_create(pool);  // 60 + 5
  const gint64 now = g_get_monotonic_time();

  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 2 * kSecond), 1u);
  EXPECT_EQ(removed.ids, std::vector<std::string>{rs_rtsp_session_get_sessionid(short_lived)});
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 6 * kSecond), 1u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 64 * kSecond), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 66 * kSecond), 1u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 1000000 * kSecond), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 2u);  // forever and held

  rs_rtsp_session_allow_expire(held);  // a touch, now
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, g_get_monotonic_time() + 2 * kSecond), 1u);
  EXPECT_EQ(removed.ids.size(), 4u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup(pool), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 1u);
}

namespace {

struct PoolFilterScript {
  RsRTSPSessionPool* pool;
  std::set<RsRTSPSession*> to_remove;
  std::set<RsRTSPSession*> to_ref;
  std::vector<RsRTSPSession*> visited;
  RsRTSPSession* remove_during = nullptr;  // removed by the callback itself
  int created_during = 0;
};

RsRTSPFilterResult pool_script(RsRTSPSessionPool* pool, RsRTSPSession* session, gpointer data) {
  auto* script = static_cast<PoolFilterScript*>(data);
  script->visited.push_back(session);
  if (script->visited.size() == 1) {
    // Pool methods from the callback: would deadlock under a pool lock.
    if (script->remove_during && script->remove_during != session)
      rs_rtsp_session_pool_remove(pool, script->remove_during);
    for (int i = 0; i < script->created_during; i++) {
      g_autoptr(RsRTSPSession) created = rs_rtsp_session_pool_create(pool);
    }
    g_autoptr(RsRTSPSession) again = rs_rtsp_session_pool_find(pool, rs_rtsp_session_get_sessionid(session));
    EXPECT_EQ(again, session);
  }
  if (script->to_remove.count(session))
    return RS_RTSP_FILTER_REMOVE;
  if (script->to_ref.count(session))
    return RS_RTSP_FILTER_REF;
  return RS_RTSP_FILTER_KEEP;
}

// The test's sessions, in an array that holds a reference to each.
GPtrArray* create_sessions(RsRTSPSessionPool* pool, int n) {
  GPtrArray* sessions = g_ptr_array_new_with_free_func(g_object_unref);
  for (int i = 0; i < n; i++)
    g_ptr_array_add(sessions, rs_rtsp_session_pool_create(pool));
  return sessions;
}

RsRTSPSession* session_at(GPtrArray* sessions, guint i) { return RS_RTSP_SESSION(g_ptr_array_index(sessions, i)); }

}  // namespace

TEST(Pool, FilterRemoveKeepRef) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  RemovedLog removed(pool);
  g_autoptr(GPtrArray) sessions = create_sessions(pool, 6);

  PoolFilterScript script{pool};
  script.to_remove = {session_at(sessions, 0), session_at(sessions, 1)};
  script.to_ref = {session_at(sessions, 2), session_at(sessions, 3)};
  g_autolist(RsRTSPSession) refs = rs_rtsp_session_pool_filter(pool, pool_script, &script);
  EXPECT_EQ(script.visited.size(), 6u);
  EXPECT_EQ(std::set<RsRTSPSession*>(script.visited.begin(), script.visited.end()).size(), 6u);
  std::set<RsRTSPSession*> got;
  for (GList* l = refs; l; l = l->next)
    got.insert(RS_RTSP_SESSION(l->data));
  EXPECT_EQ(got, script.to_ref);
  EXPECT_EQ(removed.ids.size(), 2u);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 4u);

  g_autolist(RsRTSPSession) all = rs_rtsp_session_pool_filter(pool, nullptr, nullptr);
  EXPECT_EQ(g_list_length(all), 4u);
}

TEST(Pool, FilterCallbackMayChangeThePool) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  RemovedLog removed(pool);
  g_autoptr(GPtrArray) sessions = create_sessions(pool, 4);

  PoolFilterScript script{pool};
  script.created_during = 3;
  // Whichever is visited first removes another one: that one is never shown.
  script.remove_during = session_at(sessions, 2);
  g_autolist(RsRTSPSession) refs = rs_rtsp_session_pool_filter(pool, pool_script, &script);
  EXPECT_EQ(refs, nullptr);
  std::set<RsRTSPSession*> visited(script.visited.begin(), script.visited.end());
  EXPECT_EQ(visited.size(), script.visited.size());  // each once
  // The 3 sessions made by the callback are shown too; the one it removed
  // before its turn is not.
  if (script.visited.front() != session_at(sessions, 2)) {
    EXPECT_EQ(visited.count(session_at(sessions, 2)), 0u);
    EXPECT_EQ(script.visited.size(), 6u);
    EXPECT_EQ(removed.ids.size(), 1u);
    EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 6u);
  } else {
    EXPECT_EQ(script.visited.size(), 7u);
    EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 7u);
  }
}

TEST(Pool, DisposeRemovesEveryoneWithSignal) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  int signals = 0;
  g_signal_connect_swapped(pool, "session-removed", G_CALLBACK(+[](int* n) { (*n)++; }), &signals);
  g_autoptr(RsRTSPSession) kept = rs_rtsp_session_pool_create(pool);
  g_autoptr(RsRTSPSession) dropped = rs_rtsp_session_pool_create(pool);
  WeakWatch dropped_alive(dropped);
  g_clear_object(&dropped);
  EXPECT_TRUE(dropped_alive.alive());  // the pool holds it
  WeakWatch pool_alive(pool);
  g_clear_object(&pool);
  EXPECT_FALSE(pool_alive.alive());
  EXPECT_EQ(signals, 2);
  EXPECT_FALSE(dropped_alive.alive());
  // The app's session outlives its pool and still works.
  rs_rtsp_session_set_timeout(kept, 1);
  rs_rtsp_session_touch(kept);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(kept, g_get_monotonic_time()));
}

TEST(Pool, IdsAreUnique) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  std::set<std::string> ids;
  for (int i = 0; i < 100000; i++) {
    g_autoptr(RsRTSPSession) s = rs_rtsp_session_pool_create(pool);
    ids.insert(rs_rtsp_session_get_sessionid(s));
  }
  EXPECT_EQ(ids.size(), 100000u);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 100000u);
}

// A pool subclass with its own id scheme and a colliding first id.
namespace {

struct CountingPool {
  RsRTSPSessionPool parent;
};
struct CountingPoolClass {
  RsRTSPSessionPoolClass parent_class;
};
int next_counter = 0;
int removed_vfunc_calls = 0;

G_DEFINE_TYPE(CountingPool, counting_pool, RS_TYPE_RTSP_SESSION_POOL)

gchar* counting_create_session_id(RsRTSPSessionPool*) noexcept {
  // Hands out "dup" twice, then numbered ids: the collision must be retried.
  if (next_counter < 2) {
    next_counter++;
    return g_strdup("dup");
  }
  return g_strdup_printf("c%d", next_counter++);
}

void counting_session_removed(RsRTSPSessionPool*, RsRTSPSession*) noexcept { removed_vfunc_calls++; }

void counting_pool_class_init(CountingPoolClass* klass) {
  RS_RTSP_SESSION_POOL_CLASS(klass)->create_session_id = counting_create_session_id;
  RS_RTSP_SESSION_POOL_CLASS(klass)->session_removed = counting_session_removed;
}
void counting_pool_init(CountingPool*) {}

}  // namespace

TEST(Pool, SubclassVirtualMethods) {
  g_autoptr(RsRTSPSessionPool) pool = static_cast<RsRTSPSessionPool*>(g_object_new(counting_pool_get_type(), nullptr));
  g_autoptr(RsRTSPSession) first = rs_rtsp_session_pool_create(pool);
  g_autoptr(RsRTSPSession) second = rs_rtsp_session_pool_create(pool);
  EXPECT_STREQ(rs_rtsp_session_get_sessionid(first), "dup");
  EXPECT_STREQ(rs_rtsp_session_get_sessionid(second), "c2");
  rs_rtsp_session_pool_remove(pool, first);
  EXPECT_EQ(removed_vfunc_calls, 1);
  g_clear_object(&pool);
  EXPECT_EQ(removed_vfunc_calls, 2);
}

namespace {

gboolean count_dispatch(RsRTSPSessionPool* pool, gpointer data) {
  (*static_cast<int*>(data))++;
  rs_rtsp_session_pool_cleanup(pool);
  return G_SOURCE_CONTINUE;
}

// The timeout the context would sleep for, in ms (-1: forever).
gint context_timeout(GMainContext* context) {
  gint priority;
  g_main_context_prepare(context, &priority);
  gint timeout = -2;
  GPollFD fds[16];
  g_main_context_query(context, priority, &timeout, fds, G_N_ELEMENTS(fds));
  g_main_context_check(context, priority, fds, 0);
  return timeout;
}

}  // namespace

TEST(PoolWatch, SleepsUntilTheEarliestDeadline) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
  int dispatched = 0;
  g_source_set_callback(watch, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)(void)>(count_dispatch)),
                        &dispatched, nullptr);
  g_source_attach(watch, context);

  EXPECT_EQ(context_timeout(context), -1);  // empty pool: sleep until woken
  g_autoptr(RsRTSPSession) forever = create_exact(pool, 0);
  EXPECT_EQ(context_timeout(context), -1);  // difference 8: timeout 0 never wakes it
  g_autoptr(RsRTSPSession) minute = rs_rtsp_session_pool_create(pool);
  gint timeout = context_timeout(context);
  EXPECT_GT(timeout, 64000);
  EXPECT_LE(timeout, 65001);
  g_autoptr(RsRTSPSession) soon = create_exact(pool, 1);
  timeout = context_timeout(context);
  EXPECT_GT(timeout, 900);
  EXPECT_LE(timeout, 1001);

  g_usleep(1005 * 1000);
  EXPECT_TRUE(g_main_context_iteration(context, FALSE));
  EXPECT_EQ(dispatched, 1);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 2u);
  EXPECT_FALSE(g_main_context_iteration(context, FALSE));
  EXPECT_EQ(dispatched, 1);
  timeout = context_timeout(context);
  EXPECT_GT(timeout, 60000);

  g_source_destroy(watch);
}

TEST(PoolWatch, TouchedSessionsDoNotDispatch) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
  int dispatched = 0;
  g_source_set_callback(watch, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)(void)>(count_dispatch)),
                        &dispatched, nullptr);
  g_source_attach(watch, context);
  g_autoptr(RsRTSPSession) session = create_exact(pool, 1);
  g_usleep(600 * 1000);
  rs_rtsp_session_touch(session);
  g_usleep(600 * 1000);
  // Its first slot has passed, but it was touched: rescheduled, not dispatched.
  EXPECT_FALSE(g_main_context_iteration(context, FALSE));
  EXPECT_EQ(dispatched, 0);
  gint timeout = context_timeout(context);
  EXPECT_GT(timeout, 0);
  EXPECT_LE(timeout, 401);
  g_source_destroy(watch);
}

// Parity with GStreamer's pool watch: dispatched without a callback, it
// removes itself and logs nothing.
TEST(PoolWatch, WithoutACallbackRemovesItselfSilently) {
  ExpectCriticals logged;
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
  g_source_attach(watch, context);
  g_autoptr(RsRTSPSession) session = create_exact(pool, 1);
  g_usleep(1005 * 1000);
  EXPECT_TRUE(g_main_context_iteration(context, FALSE));
  EXPECT_TRUE(g_source_is_destroyed(watch));
  EXPECT_EQ(logged.count(), 0);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 1u);  // nobody cleaned up
}

// Waking watches never trips GLib's checks: for a watch destroyed without
// being attached, one whose context is gone, while timeouts change.
TEST(PoolWatch, WakingDeadWatchesIsQuiet) {
  ExpectCriticals glib("GLib");
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(GSource) never_attached = rs_rtsp_session_pool_create_watch(pool);
  g_source_destroy(never_attached);
  g_autoptr(GSource) orphan = rs_rtsp_session_pool_create_watch(pool);
  {
    g_autoptr(GMainContext) context = g_main_context_new();
    g_source_attach(orphan, context);
  }  // the context goes, the watch stays
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  rs_rtsp_session_set_timeout(session, 1);  // an earlier deadline wakes the watches
  g_autoptr(RsRTSPSession) other = rs_rtsp_session_pool_create(pool);
  EXPECT_EQ(glib.count(), 0);
}

// ... nor for watches finalized while another thread lowers timeouts.
// (Freeing a context while another thread uses its sources is not safe in
// GLib itself, and is not tried.)
TEST(PoolWatch, WatchesFinalizedWhileTimeoutsChangeAreQuiet) {
  ExpectCriticals glib("GLib");
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  std::atomic<bool> stop{false};
  std::thread changer([&] {
    for (guint t = 0; !stop; t++)
      rs_rtsp_session_set_timeout(session, 1 + t % 50);  // each lowering wakes the watches
  });
  g_autoptr(GMainContext) context = g_main_context_new();
  for (int round = 0; round < 5; round++) {
    std::vector<GSource*> watches;
    for (int i = 0; i < 100; i++) {
      GSource* watch = rs_rtsp_session_pool_create_watch(pool);
      if (i % 2)
        g_source_attach(watch, context);
      g_source_destroy(watch);  // destroyed, attached or not, still alive
      watches.push_back(watch);
    }
    g_usleep(5000);
    for (GSource* watch : watches)
      g_source_unref(watch);  // finalized as the other thread wakes them
  }
  stop = true;
  changer.join();
  for (const auto& m : glib.messages())
    ADD_FAILURE() << m;
  EXPECT_EQ(glib.count(), 0);
}

namespace {

struct Dropper {
  RsRTSPSessionPool* pool;
  int removed = 0;
};

void drop_pool_on_first_removal(RsRTSPSessionPool*, RsRTSPSession*, gpointer data) {
  auto* dropper = static_cast<Dropper*>(data);
  if (dropper->removed++ == 0)
    g_clear_object(&dropper->pool);
}

}  // namespace

// A session-removed handler may drop the caller's last reference to the
// pool in the middle of a cleanup (ASan sees a use after free otherwise).
TEST(Pool, AHandlerMayDropTheLastReferenceDuringCleanup) {
  Dropper dropper{rs_rtsp_session_pool_new()};
  RsRTSPSessionPool* pool = dropper.pool;
  g_signal_connect(pool, "session-removed", G_CALLBACK(drop_pool_on_first_removal), &dropper);
  for (int i = 0; i < 3; i++)
    g_object_unref(create_exact(pool, 1));
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, g_get_monotonic_time() + 60 * G_USEC_PER_SEC), 3u);
  EXPECT_EQ(dropper.pool, nullptr);
  EXPECT_EQ(dropper.removed, 3);
}

// Sessions a handler creates while the pool is disposed get their own
// session-removed too.
TEST(Pool, DisposeSignalsSessionsItsHandlersCreate) {
  RsRTSPSessionPool* pool = rs_rtsp_session_pool_new();
  struct Count {
    int removed = 0;
    int created = 0;
  } count;
  g_signal_connect(pool, "session-removed", G_CALLBACK(+[](RsRTSPSessionPool* p, RsRTSPSession*, gpointer data) {
                     auto* c = static_cast<Count*>(data);
                     c->removed++;
                     if (c->created < 3) {
                       c->created++;
                       g_object_unref(rs_rtsp_session_pool_create(p));
                     }
                   }), &count);
  for (int i = 0; i < 3; i++)
    g_object_unref(rs_rtsp_session_pool_create(pool));
  g_object_unref(pool);
  EXPECT_EQ(count.created, 3);
  EXPECT_EQ(count.removed, 6);
}

TEST(Pool, CriticalsForBadArguments) {
  ExpectCriticals criticals;
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) loose = rs_rtsp_session_new("loose");
  int expected = 0;
  EXPECT_EQ(rs_rtsp_session_pool_create(nullptr), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_find(nullptr, "x"), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_find(pool, nullptr), nullptr);
  expected++;
  EXPECT_FALSE(rs_rtsp_session_pool_remove(pool, nullptr));
  expected++;
  EXPECT_FALSE(rs_rtsp_session_pool_remove(nullptr, loose));
  expected++;
  EXPECT_FALSE(rs_rtsp_session_pool_remove(pool, reinterpret_cast<RsRTSPSession*>(pool)));
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_cleanup(nullptr), 0u);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(nullptr, 0), 0u);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_filter(nullptr, nullptr, nullptr), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_create_watch(nullptr), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(nullptr), 0u);
  expected++;
  EXPECT_EQ(rs_rtsp_session_pool_get_max_sessions(nullptr), 0u);
  expected++;
  rs_rtsp_session_pool_set_max_sessions(nullptr, 3);
  expected++;
  EXPECT_EQ(criticals.count(), expected);

  // A session the pool does not hold is not removed, and no signal is sent.
  int signals = 0;
  g_signal_connect_swapped(pool, "session-removed", G_CALLBACK(+[](int* n) { (*n)++; }), &signals);
  EXPECT_FALSE(rs_rtsp_session_pool_remove(pool, loose));
  EXPECT_EQ(signals, 0);
  EXPECT_EQ(criticals.count(), expected);
}
