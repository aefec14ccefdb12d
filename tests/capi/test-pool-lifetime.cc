// SPDX-License-Identifier: LGPL-2.1-or-later
// Sessions that outlive their pool while other threads change their
// timeouts: the pool's engine goes while sessions still ask it to re-index
// them. Run under ThreadSanitizer in CI.
#include <gtest/gtest.h>
#include <rtspsession/rtspsession.h>

#include <atomic>
#include <thread>
#include <vector>

TEST(PoolLifetime, TimeoutChangesRaceWithPoolFinalize) {
  for (int round = 0; round < 20; round++) {
    RsRTSPSessionPool *pool = rs_rtsp_session_pool_new();
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
    g_source_attach(watch, context);
    std::vector<RsRTSPSession *> sessions;
    for (int i = 0; i < 64; i++)
      sessions.push_back(rs_rtsp_session_pool_create(pool));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; t++) {
      threads.emplace_back([&, t] {
        while (!go.load())
          std::this_thread::yield();
        for (int i = 0; i < 2000; i++) {
          RsRTSPSession *session = sessions[(i * 7 + t) % sessions.size()];
          // Lower (re-index through the pool, if still there) and raise.
          rs_rtsp_session_set_timeout(session, i % 2 ? 1 : 90);
          g_object_set(session, "extra-timeout", guint(i % 3), nullptr);
        }
      });
    }
    go.store(true);
    g_source_destroy(watch);
    g_clear_pointer(&watch, g_source_unref);  // it holds the pool
    g_object_unref(pool);  // disposed and finalized while the threads run
    for (std::thread &thread : threads)
      thread.join();
    for (RsRTSPSession *session : sessions) {
      // Still whole: a session that left its pool keeps working.
      rs_rtsp_session_set_timeout(session, 2);
      EXPECT_EQ(rs_rtsp_session_get_timeout(session), 2u);
      g_object_unref(session);
    }
  }
}

TEST(PoolLifetime, LoweredTimeoutWakesTheWatchAcrossThreads) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
  g_autoptr(GMainContext) context = g_main_context_new();
  g_source_attach(watch, context);
  gint64 now = g_get_monotonic_time();
  gint timeout = -1;
  EXPECT_FALSE(watch->source_funcs->prepare(watch, &timeout));
  EXPECT_GT(timeout, 60 * 1000);
  std::thread([&] {
    g_object_set(session, "extra-timeout", 0u, nullptr);
    rs_rtsp_session_set_timeout(session, 1);
  }).join();
  EXPECT_FALSE(watch->source_funcs->prepare(watch, &timeout));
  EXPECT_LE(timeout, 1000 + (g_get_monotonic_time() - now) / 1000 + 1);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, g_get_monotonic_time() + 1001 * 1000), 1u);
  g_source_destroy(watch);
}
