// SPDX-License-Identifier: LGPL-2.1-or-later
// Threads doing every pool operation at once. Run under ThreadSanitizer in
// CI, where any data race fails the test.
#include <gtest/gtest.h>

#include <rtspsession/rtspsession.h>

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 6;
constexpr int kOpsPerThread = 20000;
constexpr gint64 kSecond = G_USEC_PER_SEC;

struct Totals {
  // Per session, by creation number: how often session-removed named it.
  std::vector<std::atomic<int>> removed_signals = std::vector<std::atomic<int>>(kThreads * kOpsPerThread);
  std::atomic<long> created{0};
  std::atomic<long> removed_by_remove{0};
  std::atomic<long> removed_by_cleanup{0};
  std::atomic<long> removed_by_filter{0};
  std::atomic<long> signals{0};
  std::atomic<long> finalized{0};
  std::atomic<long> found_after_removal{0};
};

void on_finalized(gpointer data, GObject*) { static_cast<Totals*>(data)->finalized++; }

}  // namespace

TEST(PoolStress, AllOperationsAtOnce) {
  // Class initialization runs under GLib's own locks, which TSan cannot
  // see; do it before the threads start.
  g_type_class_unref(g_type_class_ref(RS_TYPE_RTSP_SESSION));
  // Before the pool, so that it outlives the pool's signals and weak refs.
  Totals totals;
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_signal_connect(pool, "session-removed", G_CALLBACK(+[](RsRTSPSessionPool*, RsRTSPSession* s, Totals* t) {
    t->signals++;
    t->removed_signals[GPOINTER_TO_INT(g_object_get_data(G_OBJECT(s), "creation-number"))]++;
  }), &totals);

  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t + 1);
      // The sessions this thread holds a reference to.
      g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func(g_object_unref);
      while (!go) {}
      for (int i = 0; i < kOpsPerThread; i++) {
        const int op = random() % 100;
        auto* s = mine->len == 0 ? nullptr : static_cast<RsRTSPSession*>(g_ptr_array_index(mine, random() % mine->len));
        if (op < 20 || mine->len == 0) {
          g_autoptr(RsRTSPSession) fresh = rs_rtsp_session_pool_create(pool);
          ASSERT_NE(fresh, nullptr);
          g_object_weak_ref(G_OBJECT(fresh), on_finalized, &totals);
          g_object_set_data(G_OBJECT(fresh), "creation-number", GINT_TO_POINTER(totals.created++));
          rs_rtsp_session_set_timeout(fresh, random() % 4);  // 0..3 s, 0 = never
          if (random() % 2)
            g_object_set(fresh, "extra-timeout", 0u, nullptr);
          g_ptr_array_add(mine, g_steal_pointer(&fresh));
        } else if (op < 45) {
          g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find(pool, rs_rtsp_session_get_sessionid(s));
          if (found)
            rs_rtsp_session_touch(found);
        } else if (op < 55) {
          rs_rtsp_session_set_timeout(s, random() % 5);
        } else if (op < 60) {
          rs_rtsp_session_prevent_expire(s);
          rs_rtsp_session_allow_expire(s);
        } else if (op < 70) {
          std::string id = rs_rtsp_session_get_sessionid(s);
          if (rs_rtsp_session_pool_remove(pool, s)) {
            totals.removed_by_remove++;
            g_autoptr(RsRTSPSession) again = rs_rtsp_session_pool_find(pool, id.c_str());
            if (again)
              totals.found_after_removal++;
          }
          g_ptr_array_remove(mine, s);  // drops this thread's reference
        } else if (op < 85) {
          // Judge expiry up to 10 s ahead, so that sessions really expire.
          const gint64 when = g_get_monotonic_time() + (random() % 10) * kSecond;
          totals.removed_by_cleanup += rs_rtsp_session_pool_cleanup_usec(pool, when);
        } else if (op < 88) {
          g_autolist(RsRTSPSession) removed_some = rs_rtsp_session_pool_filter(
              pool,
              [](RsRTSPSessionPool*, RsRTSPSession* session, gpointer data) {
                auto* counter = static_cast<std::atomic<long>*>(data);
                if (rs_rtsp_session_get_timeout(session) == 4) {
                  (*counter)++;
                  return RS_RTSP_FILTER_REMOVE;
                }
                return RS_RTSP_FILTER_KEEP;
              },
              &totals.removed_by_filter);
          EXPECT_EQ(removed_some, nullptr);
        } else {
          g_autofree gchar* header = rs_rtsp_session_get_header(s);
          EXPECT_NE(header, nullptr);
          (void) rs_rtsp_session_pool_get_n_sessions(pool);
        }
        // Keep the working set bounded.
        if (mine->len > 200)
          g_ptr_array_remove_index(mine, 0);
      }
    });
  }
  go = true;
  for (auto& thread : threads)
    thread.join();

  // A filter may answer REMOVE for a session another thread removed first,
  // so its answers only bound the removals from above.
  const long removed = totals.signals;
  EXPECT_EQ(totals.created - removed, static_cast<long>(rs_rtsp_session_pool_get_n_sessions(pool)));
  EXPECT_GE(removed, totals.removed_by_remove + totals.removed_by_cleanup);
  EXPECT_LE(removed, totals.removed_by_remove + totals.removed_by_cleanup + totals.removed_by_filter);
  EXPECT_EQ(totals.found_after_removal.load(), 0);
  EXPECT_GT(totals.removed_by_cleanup.load(), 0);
  EXPECT_GT(totals.removed_by_remove.load(), 0);

  g_clear_object(&pool);  // removes the rest, one signal each
  ASSERT_LE(totals.created.load(), static_cast<long>(totals.removed_signals.size()));
  for (long i = 0; i < totals.created; i++)
    ASSERT_EQ(totals.removed_signals[i].load(), 1) << "session number " << i;
  EXPECT_EQ(totals.finalized.load(), totals.created.load());  // no leak
}
