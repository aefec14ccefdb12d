// SPDX-License-Identifier: LGPL-2.1-or-later
// RsGstSessionPool from C: expiry with an explicit now, the watch's
// wake-ups, removals from outside, finalize, and threads (under TSan).
#include <gtest/gtest.h>
#include <rtspsession-gst/rtspsession-gst.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr gint64 kSecond = G_USEC_PER_SEC;
constexpr gint64 kExtra = 5 * kSecond;  // GStreamer's default extra-timeout

GstRTSPSessionPool* base(RsGstSessionPool* pool) { return GST_RTSP_SESSION_POOL(pool); }

// A session of `pool` with `timeout` seconds and no extra time.
GstRTSPSession* make_session(RsGstSessionPool* pool, guint timeout, guint extra = 0) {
  GstRTSPSession* session = gst_rtsp_session_pool_create(base(pool));
  gst_rtsp_session_set_timeout(session, timeout);
  g_object_set(session, "extra-timeout", extra, nullptr);
  rs_gst_session_pool_reschedule(pool, session);
  return session;
}

// Counts warnings and criticals of every log domain while alive.
class CountLogs {
 public:
  CountLogs() {
    saved_ = g_log_set_always_fatal(GLogLevelFlags(G_LOG_FATAL_MASK));
    for (const char* domain : {"", "GLib", "GLib-GObject", "GStreamer"})
      handlers_.emplace_back(domain, g_log_set_handler(domain[0] ? domain : nullptr,
                                                       GLogLevelFlags(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL),
                                                       &CountLogs::handle, this));
  }
  ~CountLogs() {
    for (auto& [domain, id] : handlers_)
      g_log_remove_handler(domain[0] ? domain : nullptr, id);
    g_log_set_always_fatal(saved_);
  }
  int count() const { return count_; }

 private:
  static void handle(const gchar*, GLogLevelFlags, const gchar*, gpointer self) { static_cast<CountLogs*>(self)->count_++; }
  GLogLevelFlags saved_;
  std::vector<std::pair<const char*, guint>> handlers_;
  int count_ = 0;
};

gint context_timeout(GMainContext* context) {
  gint priority;
  g_main_context_prepare(context, &priority);
  gint timeout = -2;
  GPollFD fds[16];
  g_main_context_query(context, priority, &timeout, fds, G_N_ELEMENTS(fds));
  g_main_context_check(context, priority, fds, 0);
  return timeout;
}

gboolean count_and_clean(GstRTSPSessionPool* pool, gpointer data) {
  *static_cast<guint*>(data) += rs_gst_session_pool_cleanup(RS_GST_SESSION_POOL(pool));
  return G_SOURCE_CONTINUE;
}

GSourceFunc as_source_func(GstRTSPSessionPoolFunc func) {
  return reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)(void)>(func));
}

}  // namespace

TEST(GstPool, ExpiresAtGStreamersDeadline) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(GstRTSPSession) session = make_session(pool, 2, 5);
  const gint64 start = g_get_monotonic_time();
  const gint64 deadline = start + 2 * kSecond + kExtra;
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, deadline - 20000), 0u);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, deadline + 20000), 1u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 0u);
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(pool, start), -1);
}

TEST(GstPool, TimeoutZeroNeverWakesOrExpires) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(GstRTSPSession) session = make_session(pool, 0);
  const gint64 now = g_get_monotonic_time();
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(pool, now), -1);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + (G_GINT64_CONSTANT(1) << 50)), 0u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 1u);
}

TEST(GstPool, RemovalsFromOutsideLeaveTheIndexConsistent) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  std::vector<GstRTSPSession*> sessions;
  for (int i = 0; i < 30; i++)
    sessions.push_back(make_session(pool, 1));
  for (int i = 0; i < 10; i++)
    EXPECT_TRUE(gst_rtsp_session_pool_remove(base(pool), sessions[i]));
  GList* kept = gst_rtsp_session_pool_filter(
      base(pool),
      [](GstRTSPSessionPool*, GstRTSPSession* s, gpointer data) -> GstRTSPFilterResult {
        auto* all = static_cast<std::vector<GstRTSPSession*>*>(data);
        for (int i = 10; i < 20; i++)
          if ((*all)[i] == s)
            return GST_RTSP_FILTER_REMOVE;
        return GST_RTSP_FILTER_KEEP;
      },
      &sessions);
  EXPECT_EQ(kept, nullptr);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 10u);
  g_usleep(1100 * 1000);
  // GStreamer's own scan, as an application may still run it.
  EXPECT_EQ(gst_rtsp_session_pool_cleanup(base(pool)), 10u);
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(pool, g_get_monotonic_time()), -1);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, g_get_monotonic_time() + 1000 * kSecond), 0u);
  for (GstRTSPSession* s : sessions)
    g_object_unref(s);
}

TEST(GstPool, WatchSleepsUntilTheEarliestDeadline) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(GSource) watch = rs_gst_session_pool_create_watch(pool);
  guint removed = 0;
  g_source_set_callback(watch, as_source_func(count_and_clean), &removed, nullptr);
  g_source_attach(watch, context);
  EXPECT_EQ(context_timeout(context), -1);  // empty: sleeps until woken
  g_autoptr(GstRTSPSession) forever = make_session(pool, 0);
  EXPECT_EQ(context_timeout(context), -1);
  g_autoptr(GstRTSPSession) soon = make_session(pool, 1);
  gint timeout = context_timeout(context);
  EXPECT_GT(timeout, 900);
  EXPECT_LE(timeout, 1001);
  g_usleep(1010 * 1000);
  EXPECT_TRUE(g_main_context_iteration(context, FALSE));
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(context_timeout(context), -1);
  g_source_destroy(watch);
}

TEST(GstPool, WatchWithoutACallbackRemovesItselfSilently) {
  CountLogs logs;
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(GSource) watch = rs_gst_session_pool_create_watch(pool);
  g_source_attach(watch, context);
  g_autoptr(GstRTSPSession) session = make_session(pool, 1);
  g_usleep(1010 * 1000);
  EXPECT_TRUE(g_main_context_iteration(context, FALSE));
  EXPECT_TRUE(g_source_is_destroyed(watch));
  EXPECT_EQ(logs.count(), 0);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 1u);
}

TEST(GstPool, AttachRunsCleanup) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  const guint id = rs_gst_session_pool_attach(pool, context);
  EXPECT_GT(id, 0u);
  g_autoptr(GstRTSPSession) session = make_session(pool, 1);
  const gint64 start = g_get_monotonic_time();
  while (gst_rtsp_session_pool_get_n_sessions(base(pool)) > 0 && g_get_monotonic_time() - start < 3 * kSecond)
    g_main_context_iteration(context, TRUE);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 0u);
  EXPECT_GE(g_get_monotonic_time() - start, 990 * 1000);
  g_source_destroy(g_main_context_find_source_by_id(context, id));
}

TEST(GstPool, FinalizeWithSessionsHeldElsewhere) {
  RsGstSessionPool* pool = rs_gst_session_pool_new();
  guint removed = 0;
  g_signal_connect(pool, "session-removed", G_CALLBACK(+[](GstRTSPSessionPool*, GstRTSPSession*, gpointer n) {
                     (*static_cast<guint*>(n))++;
                   }), &removed);
  GstRTSPSession* held = make_session(pool, 60);
  for (int i = 0; i < 100; i++)
    g_object_unref(make_session(pool, 60));
  g_object_unref(pool);
  // As the stock pool: handlers are gone before the sessions are let go.
  EXPECT_EQ(removed, 0u);
  EXPECT_EQ(gst_rtsp_session_get_timeout(held), 60u);
  g_object_unref(held);
}

TEST(GstPool, OwnerOfAnApplicationsSessionIsNobody) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(RsGstSessionPool) other = rs_gst_session_pool_new();
  g_autoptr(GstRTSPSession) session = make_session(pool, 60);
  g_autofree gchar* owner = rs_gst_session_pool_get_owner(pool, session);
  EXPECT_STREQ(owner, "");
  // A session of another pool is not ours to judge or move.
  EXPECT_EQ(rs_gst_session_pool_get_owner(other, session), nullptr);
  rs_gst_session_pool_reschedule(other, session);
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(other, g_get_monotonic_time()), -1);
}

TEST(GstPool, ThreadsCreateFindTouchRemoveAndExpireAtOnce) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  std::atomic<bool> stop{false};
  std::vector<std::string> ids;
  for (int i = 0; i < 200; i++) {
    GstRTSPSession* s = make_session(pool, (i % 3) + 1);
    ids.emplace_back(gst_rtsp_session_get_sessionid(s));
    g_object_unref(s);
  }
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // creates and removes
    while (!stop) {
      GstRTSPSession* s = make_session(pool, 1);
      gst_rtsp_session_pool_remove(base(pool), s);
      g_object_unref(s);
    }
  });
  threads.emplace_back([&] {  // finds, touches, lowers timeouts
    for (size_t i = 0; !stop; i++) {
      if (GstRTSPSession* s = gst_rtsp_session_pool_find(base(pool), ids[i % ids.size()].c_str())) {
        gst_rtsp_session_set_timeout(s, 1);
        rs_gst_session_pool_reschedule(pool, s);
        g_object_unref(s);
      }
    }
  });
  threads.emplace_back([&] {  // expires with times from the future
    for (gint64 step = 0; !stop; step++)
      rs_gst_session_pool_cleanup_at(pool, g_get_monotonic_time() + (step % 20) * kSecond);
  });
  threads.emplace_back([&] {  // the watch's view of it
    while (!stop)
      rs_gst_session_pool_next_wakeup(pool, g_get_monotonic_time());
  });
  g_usleep(500 * 1000);
  stop = true;
  for (auto& t : threads)
    t.join();
  rs_gst_session_pool_cleanup_at(pool, g_get_monotonic_time() + 1000 * kSecond);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 0u);
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(pool, g_get_monotonic_time()), -1);
}

TEST(GstPool, AHandlerThatStopsTheRemovalSignalLeavesNothingDangling) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_signal_connect(pool, "session-removed", G_CALLBACK(+[](GstRTSPSessionPool* p, GstRTSPSession*, gpointer) {
                     g_signal_stop_emission_by_name(p, "session-removed");
                   }), nullptr);
  GstRTSPSession* session = make_session(pool, 1);
  EXPECT_TRUE(gst_rtsp_session_pool_remove(base(pool), session));
  g_object_unref(session);  // the pool's index still holds it, not the table
  // Its deadline comes: the index finds it gone from the pool and lets go.
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, g_get_monotonic_time() + 2 * kSecond), 0u);
  EXPECT_EQ(rs_gst_session_pool_next_wakeup(pool, g_get_monotonic_time()), -1);
}

TEST(GstPool, TimeoutsBeyondTheMillisecondRangeStillExpire) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  // 30 days: GStreamer's milliseconds overflow a gint.
  g_autoptr(GstRTSPSession) session = make_session(pool, 30 * 24 * 3600);
  const gint64 now = g_get_monotonic_time();
  EXPECT_NE(rs_gst_session_pool_next_wakeup(pool, now), -1);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + 29 * 24 * 3600 * kSecond), 0u);
  EXPECT_TRUE(gst_rtsp_session_is_expired_usec(session, now + 31 * 24 * 3600 * kSecond));
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + 31 * 24 * 3600 * kSecond), 1u);
}

// GStreamer judges a prevented session as touched at the clock's time, not
// at the `now` it is asked about, so these two tests let a real second pass.
TEST(GstPool, PreventedSessionsStayUntilAllowed) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  g_autoptr(GstRTSPSession) session = make_session(pool, 1);
  g_autoptr(GstRTSPSession) control = make_session(pool, 1);
  gst_rtsp_session_prevent_expire(session);
  g_usleep(1100 * 1000);
  const gint64 now = g_get_monotonic_time();
  // Both are past their deadline; only the prevented one stays.
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now), 1u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 1u);
  g_autoptr(GstRTSPSession) found = gst_rtsp_session_pool_find(base(pool), gst_rtsp_session_get_sessionid(session));
  EXPECT_EQ(found, session);
  // Still watched: a prevented session is judged again every second.
  const gint64 wakeup = rs_gst_session_pool_next_wakeup(pool, now);
  EXPECT_NE(wakeup, -1);
  EXPECT_LE(wakeup, now + 1100 * 1000);
  gst_rtsp_session_allow_expire(session);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + 1200 * 1000), 1u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 0u);
}

TEST(GstPool, ATimeoutLoweredRightAfterCreationIsSeenWithinASecond) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  // As an application's new-session handler does: no reschedule() call.
  g_autoptr(GstRTSPSession) session = gst_rtsp_session_pool_create(base(pool));
  const gint64 start = g_get_monotonic_time();
  gst_rtsp_session_set_timeout(session, 1);
  g_object_set(session, "extra-timeout", 0u, nullptr);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, start + kSecond / 2), 0u);
  // Its real deadline is start + 1 s; the index had it at 65 s.
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, start + 2 * kSecond + kSecond / 10), 1u);
}

TEST(GstPool, ASessionTouchedDuringCleanupStays) {
  g_autoptr(RsGstSessionPool) pool = rs_gst_session_pool_new();
  GstRTSPSession* first = make_session(pool, 1);
  GstRTSPSession* second = make_session(pool, 1);
  // Both expire; whichever goes first touches the other, which the index
  // had judged expired too: it must stay.
  struct Pair {
    GstRTSPSession* sessions[2];
    int removed = 0;
  } pair{{first, second}};
  g_signal_connect(pool, "session-removed", G_CALLBACK(+[](GstRTSPSessionPool*, GstRTSPSession* s, gpointer data) {
                     auto* p = static_cast<Pair*>(data);
                     if (p->removed++ == 0)
                       gst_rtsp_session_touch(p->sessions[0] == s ? p->sessions[1] : p->sessions[0]);
                   }), &pair);
  g_usleep(1100 * 1000);
  const gint64 now = g_get_monotonic_time();
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now), 1u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 1u);
  // Back in the index: it expires a second after that touch.
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + kSecond / 2), 0u);
  EXPECT_EQ(rs_gst_session_pool_cleanup_at(pool, now + 3 * kSecond), 1u);
  EXPECT_EQ(gst_rtsp_session_pool_get_n_sessions(base(pool)), 0u);
  g_object_unref(first);
  g_object_unref(second);
}
