// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <rtspsession/rtspsession.h>

#include "test-util.hh"

namespace {

RsRTSPSessionMedia* new_media(const char* path, GObject** media_out = nullptr) {
  g_autoptr(GObject) media = G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr));
  if (media_out)
    *media_out = media;
  return rs_rtsp_session_media_new(path, g_steal_pointer(&media));
}

}  // namespace

TEST(SessionMedia, NewKeepsPathAndMedia) {
  GObject* media;
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/test", &media);
  ASSERT_NE(sm, nullptr);
  EXPECT_STREQ(rs_rtsp_session_media_get_path(sm), "/test");
  EXPECT_EQ(rs_rtsp_session_media_get_media(sm), media);
  EXPECT_EQ(rs_rtsp_session_media_get_rtsp_state(sm), RS_RTSP_STATE_INIT);
}

TEST(SessionMedia, OwnsTheMediaReference) {
  GObject* media;
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/test", &media);
  WeakWatch media_alive(media);
  WeakWatch sm_alive(sm);
  g_clear_object(&sm);
  EXPECT_FALSE(sm_alive.alive());
  EXPECT_FALSE(media_alive.alive());
}

TEST(SessionMedia, Matches) {
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/test");
  gint matched = -1;
  EXPECT_TRUE(rs_rtsp_session_media_matches(sm, "/test", &matched));
  EXPECT_EQ(matched, 5);
  EXPECT_TRUE(rs_rtsp_session_media_matches(sm, "/test/stream=1", &matched));
  EXPECT_EQ(matched, 5);
  EXPECT_FALSE(rs_rtsp_session_media_matches(sm, "/testX", &matched));
  EXPECT_EQ(matched, 0);
  EXPECT_TRUE(rs_rtsp_session_media_matches(sm, "/test", nullptr));

  g_autoptr(RsRTSPSessionMedia) root = new_media("/");
  EXPECT_TRUE(rs_rtsp_session_media_matches(root, "/anything/at/all", &matched));
  EXPECT_EQ(matched, 1);
  EXPECT_FALSE(rs_rtsp_session_media_matches(root, "relative", &matched));
}

TEST(SessionMedia, RtspState) {
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/test");
  rs_rtsp_session_media_set_rtsp_state(sm, RS_RTSP_STATE_PLAYING);
  EXPECT_EQ(rs_rtsp_session_media_get_rtsp_state(sm), RS_RTSP_STATE_PLAYING);
  {
    ExpectCriticals criticals;
    rs_rtsp_session_media_set_rtsp_state(sm, static_cast<RsRTSPState>(42));
    EXPECT_EQ(criticals.count(), 1);
  }
  EXPECT_EQ(rs_rtsp_session_media_get_rtsp_state(sm), RS_RTSP_STATE_PLAYING);
}

TEST(SessionMedia, AllocChannels) {
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/test");
  RsRTSPRange range = {-1, -1};
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(rs_rtsp_session_media_alloc_channels(sm, &range));
    EXPECT_EQ(range.min, 2 * i);
    EXPECT_EQ(range.max, 2 * i + 1);
  }
}

TEST(SessionMedia, RangeBoxed) {
  RsRTSPRange range = {4, 5};
  auto* copy = static_cast<RsRTSPRange*>(g_boxed_copy(RS_TYPE_RTSP_RANGE, &range));
  ASSERT_NE(copy, &range);
  EXPECT_EQ(copy->min, 4);
  EXPECT_EQ(copy->max, 5);
  g_boxed_free(RS_TYPE_RTSP_RANGE, copy);
  g_autoptr(RsRTSPRange) second = rs_rtsp_range_copy(&range);
  EXPECT_EQ(second->max, 5);
}

TEST(SessionMedia, EnumsAreRegistered) {
  g_autoptr(GEnumClass) filter = static_cast<GEnumClass*>(g_type_class_ref(RS_TYPE_RTSP_FILTER_RESULT));
  EXPECT_STREQ(g_enum_get_value(filter, RS_RTSP_FILTER_REMOVE)->value_nick, "remove");
  EXPECT_STREQ(g_enum_get_value(filter, RS_RTSP_FILTER_KEEP)->value_nick, "keep");
  EXPECT_STREQ(g_enum_get_value(filter, RS_RTSP_FILTER_REF)->value_nick, "ref");
  g_autoptr(GEnumClass) state = static_cast<GEnumClass*>(g_type_class_ref(RS_TYPE_RTSP_STATE));
  EXPECT_EQ(state->n_values, 6u);
  EXPECT_STREQ(g_enum_get_value(state, RS_RTSP_STATE_RECORDING)->value_nick, "recording");
}

TEST(SessionMedia, MadeWithGObjectNewIsSafe) {
  g_autoptr(RsRTSPSessionMedia) sm = static_cast<RsRTSPSessionMedia*>(g_object_new(RS_TYPE_RTSP_SESSION_MEDIA, nullptr));
  EXPECT_STREQ(rs_rtsp_session_media_get_path(sm), "");
  EXPECT_EQ(rs_rtsp_session_media_get_media(sm), nullptr);
  gint matched = -1;
  EXPECT_TRUE(rs_rtsp_session_media_matches(sm, "/x", &matched));
  EXPECT_EQ(matched, 0);
}

TEST(SessionMedia, CriticalsForBadArguments) {
  ExpectCriticals criticals;
  g_autoptr(GObject) media = G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr));
  EXPECT_EQ(rs_rtsp_session_media_new(nullptr, media), nullptr);
  EXPECT_EQ(rs_rtsp_session_media_new("/a", nullptr), nullptr);
  gint matched = 7;
  EXPECT_FALSE(rs_rtsp_session_media_matches(nullptr, "/a", &matched));
  EXPECT_EQ(matched, 0);
  g_autoptr(RsRTSPSessionMedia) sm = new_media("/a");
  EXPECT_FALSE(rs_rtsp_session_media_matches(sm, nullptr, &matched));
  EXPECT_EQ(rs_rtsp_session_media_get_media(nullptr), nullptr);
  EXPECT_EQ(rs_rtsp_session_media_get_path(nullptr), nullptr);
  EXPECT_EQ(rs_rtsp_session_media_get_rtsp_state(nullptr), RS_RTSP_STATE_INVALID);
  rs_rtsp_session_media_set_rtsp_state(nullptr, RS_RTSP_STATE_READY);
  EXPECT_FALSE(rs_rtsp_session_media_alloc_channels(nullptr, nullptr));
  EXPECT_FALSE(rs_rtsp_session_media_alloc_channels(sm, nullptr));
  // The wrong type of object is refused the same way.
  EXPECT_EQ(rs_rtsp_session_media_get_path(reinterpret_cast<RsRTSPSessionMedia*>(media)), nullptr);
  EXPECT_EQ(rs_rtsp_range_copy(nullptr), nullptr);
  EXPECT_EQ(criticals.count(), 12);
}
