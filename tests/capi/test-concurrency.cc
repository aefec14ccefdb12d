// SPDX-License-Identifier: LGPL-2.1-or-later
// Many threads on one session at once. Run under ThreadSanitizer in CI
// (meson setup -Db_sanitize=thread), where any data race fails the test.
#include <gtest/gtest.h>

#include <rtspsession/rtspsession.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kIterations = 50000;

}  // namespace

TEST(Concurrency, OneSessionManyThreads) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("shared");
  for (const char* path : {"/a", "/a/b", "/c"})
    rs_rtsp_session_manage_media(session, path, G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));

  std::atomic<bool> go{false};
  std::atomic<int> found{0};
  std::atomic<int> filtered{0};
  std::vector<std::thread> threads;

  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations; i++)
      rs_rtsp_session_touch(session);
  });
  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations; i++) {
      g_autofree gchar* header = rs_rtsp_session_get_header(session);
      ASSERT_EQ(std::string(header, 6), "shared");
    }
  });
  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations; i++) {
      rs_rtsp_session_set_timeout(session, 30 + i % 60);
      g_object_set(session, "extra-timeout", static_cast<guint>(i % 7), nullptr);
      (void) rs_rtsp_session_next_timeout_usec(session, g_get_monotonic_time());
    }
  });
  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations; i++) {
      gint matched = 0;
      g_autoptr(RsRTSPSessionMedia) media = rs_rtsp_session_dup_media(session, "/a/b/c", &matched);
      if (media) {
        found++;
        EXPECT_EQ(matched, 4);
        EXPECT_STREQ(rs_rtsp_session_media_get_path(media), "/a/b");
      }
      rs_rtsp_session_prevent_expire(session);
      rs_rtsp_session_allow_expire(session);
    }
  });
  threads.emplace_back([&] {
    while (!go) {}
    // Churn: add a media, let filter see it, and remove it again.
    for (int i = 0; i < kIterations / 10; i++) {
      RsRTSPSessionMedia* temp =
          rs_rtsp_session_manage_media(session, "/tmp", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
      (void) temp;
      g_autolist(RsRTSPSessionMedia) all = rs_rtsp_session_filter(
          session,
          [](RsRTSPSession*, RsRTSPSessionMedia* media, gpointer) {
            return g_str_equal(rs_rtsp_session_media_get_path(media), "/tmp") ? RS_RTSP_FILTER_REMOVE
                                                                              : RS_RTSP_FILTER_REF;
          },
          nullptr);
      filtered += static_cast<int>(g_list_length(all));
    }
  });

  go = true;
  for (auto& thread : threads)
    thread.join();

  EXPECT_EQ(found.load(), kIterations);
  EXPECT_GE(filtered.load(), 3 * (kIterations / 10));
  g_autolist(RsRTSPSessionMedia) remaining = rs_rtsp_session_filter(session, nullptr, nullptr);
  EXPECT_EQ(g_list_length(remaining), 3u);  // every /tmp was removed
  EXPECT_LT(rs_rtsp_session_get_timeout(session), 90u);
}

// A prevent count and an extra timeout too large for the session's settings
// word live in a side table; threads crossing that border at once lose no
// prevent and leave every setting exact.
TEST(Concurrency, SettingsAcrossTheirWordsBorder) {
  constexpr int kBase = 65533;  // two below the border
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("deep");
  rs_rtsp_session_set_timeout(session, 1);
  for (int i = 0; i < kBase; i++)
    rs_rtsp_session_prevent_expire(session);

  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++)
    threads.emplace_back([&] {
      while (!go) {}
      for (int i = 0; i < kIterations / 5; i++) {
        rs_rtsp_session_prevent_expire(session);
        rs_rtsp_session_prevent_expire(session);
        rs_rtsp_session_prevent_expire(session);
        rs_rtsp_session_allow_expire(session);
        rs_rtsp_session_allow_expire(session);
        rs_rtsp_session_allow_expire(session);
      }
    });
  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations / 5; i++) {
      const guint extra = i % 2 ? 65534u : 70000u + i;
      g_object_set(session, "extra-timeout", extra, nullptr);
      guint read = 0;
      g_object_get(session, "extra-timeout", &read, nullptr);
      EXPECT_TRUE(read == 65534u || read >= 70000u) << read;
    }
    g_object_set(session, "extra-timeout", 0u, nullptr);
  });
  threads.emplace_back([&] {
    while (!go) {}
    for (int i = 0; i < kIterations / 5; i++) {
      rs_rtsp_session_set_timeout(session, 1 + i % 2);
      // Prevented all along: never expired, whatever `now`.
      EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, G_MAXINT64 / 2));
    }
    rs_rtsp_session_set_timeout(session, 1);
  });
  go = true;
  for (auto& thread : threads)
    thread.join();

  guint extra = 99;
  g_object_get(session, "extra-timeout", &extra, nullptr);
  EXPECT_EQ(extra, 0u);
  EXPECT_EQ(rs_rtsp_session_get_timeout(session), 1u);
  // Exactly kBase prevents are left.
  for (int i = 0; i < kBase - 1; i++)
    rs_rtsp_session_allow_expire(session);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, G_MAXINT64 / 2));
  rs_rtsp_session_allow_expire(session);
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, G_MAXINT64 / 2));
}
