// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#define RS_DISABLE_DEPRECATION_WARNINGS
#include <rtspsession/rtspsession.h>

#include <climits>
#include <string>
#include <vector>

#include "test-util.hh"

namespace {

constexpr gint64 kSecond = G_USEC_PER_SEC;

GObject* new_object() { return G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)); }

struct NotifyCounter {
  // Holds a reference so that it can disconnect after the test's unref.
  explicit NotifyCounter(gpointer object, const char* signal) : object_(g_object_ref(object)) {
    id_ = g_signal_connect_swapped(object, signal, G_CALLBACK(+[](NotifyCounter* self) { self->count++; }), this);
  }
  ~NotifyCounter() {
    g_signal_handler_disconnect(object_, id_);
    g_object_unref(object_);
  }
  int count = 0;

 private:
  gpointer object_;
  gulong id_;
};

std::string header_of(RsRTSPSession* session) {
  g_autofree gchar* header = rs_rtsp_session_get_header(session);
  return header ? header : "(none)";
}

}  // namespace

TEST(Session, NewSetsIdAndDefaults) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc123");
  EXPECT_STREQ(rs_rtsp_session_get_sessionid(session), "abc123");
  EXPECT_EQ(rs_rtsp_session_get_timeout(session), 60u);
  guint extra = 0;
  gboolean visible = TRUE;
  g_autofree gchar* id = nullptr;
  g_object_get(session, "extra-timeout", &extra, "timeout-always-visible", &visible, "sessionid", &id, nullptr);
  EXPECT_EQ(extra, 5u);
  EXPECT_FALSE(visible);
  EXPECT_STREQ(id, "abc123");
}

TEST(Session, PropertySpecs) {
  g_autoptr(GTypeClass) klass_ref = static_cast<GTypeClass*>(g_type_class_ref(RS_TYPE_RTSP_SESSION));
  GObjectClass* klass = G_OBJECT_CLASS(klass_ref);
  GParamSpec* id = g_object_class_find_property(klass, "sessionid");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->value_type, G_TYPE_STRING);
  EXPECT_TRUE(id->flags & G_PARAM_CONSTRUCT_ONLY);
  EXPECT_TRUE(id->flags & G_PARAM_READWRITE);
  for (const char* name : {"timeout", "extra-timeout"}) {
    auto* spec = G_PARAM_SPEC_UINT(g_object_class_find_property(klass, name));
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->minimum, 0u);
    EXPECT_EQ(spec->maximum, G_MAXUINT);
    EXPECT_EQ(spec->default_value, std::string(name) == "timeout" ? 60u : 5u);
    EXPECT_TRUE(G_PARAM_SPEC(spec)->flags & G_PARAM_EXPLICIT_NOTIFY);
  }
  auto* visible = G_PARAM_SPEC_BOOLEAN(g_object_class_find_property(klass, "timeout-always-visible"));
  ASSERT_NE(visible, nullptr);
  EXPECT_FALSE(visible->default_value);
}

TEST(Session, NotifyOnlyOnChange) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  NotifyCounter timeout(session, "notify::timeout");
  NotifyCounter extra(session, "notify::extra-timeout");
  NotifyCounter visible(session, "notify::timeout-always-visible");

  rs_rtsp_session_set_timeout(session, 60);
  EXPECT_EQ(timeout.count, 0);
  rs_rtsp_session_set_timeout(session, 30);
  EXPECT_EQ(timeout.count, 1);
  g_object_set(session, "timeout", 30u, nullptr);
  EXPECT_EQ(timeout.count, 1);
  g_object_set(session, "timeout", 31u, nullptr);
  EXPECT_EQ(timeout.count, 2);

  g_object_set(session, "extra-timeout", 5u, nullptr);
  EXPECT_EQ(extra.count, 0);
  g_object_set(session, "extra-timeout", 0u, nullptr);
  EXPECT_EQ(extra.count, 1);

  g_object_set(session, "timeout-always-visible", FALSE, nullptr);
  EXPECT_EQ(visible.count, 0);
  g_object_set(session, "timeout-always-visible", TRUE, nullptr);
  g_object_set(session, "timeout-always-visible", TRUE, nullptr);
  EXPECT_EQ(visible.count, 1);
}

TEST(Session, Header) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc123");
  EXPECT_EQ(header_of(session), "abc123");
  rs_rtsp_session_set_timeout(session, 30);
  EXPECT_EQ(header_of(session), "abc123;timeout=30");
  rs_rtsp_session_set_timeout(session, 0);
  EXPECT_EQ(header_of(session), "abc123;timeout=0");
  rs_rtsp_session_set_timeout(session, G_MAXUINT);
  EXPECT_EQ(header_of(session), "abc123;timeout=4294967295");
  rs_rtsp_session_set_timeout(session, 60);
  g_object_set(session, "timeout-always-visible", TRUE, nullptr);
  EXPECT_EQ(header_of(session), "abc123;timeout=60");
  g_object_set(session, "extra-timeout", 100u, nullptr);
  EXPECT_EQ(header_of(session), "abc123;timeout=60");  // grace is never shown
}

TEST(Session, NoIdMeansNoHeader) {
  g_autoptr(RsRTSPSession) session = static_cast<RsRTSPSession*>(g_object_new(RS_TYPE_RTSP_SESSION, nullptr));
  EXPECT_EQ(rs_rtsp_session_get_sessionid(session), nullptr);
  g_autofree gchar* header = rs_rtsp_session_get_header(session);
  EXPECT_EQ(header, nullptr);
}

TEST(Session, TimeoutsWithExplicitNow) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  rs_rtsp_session_touch(session);
  gint64 now = g_get_monotonic_time();
  gint left = rs_rtsp_session_next_timeout_usec(session, now);
  EXPECT_LE(left, 65000);
  EXPECT_GT(left, 64000);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, now));
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, now + 66 * kSecond), 0);
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, now + 66 * kSecond));

  rs_rtsp_session_set_timeout(session, 0);
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, G_MAXINT64), -1);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, G_MAXINT64));

  rs_rtsp_session_set_timeout(session, G_MAXUINT);
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, now), G_MAXINT);
}

TEST(Session, PreventAndAllowExpire) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  gint64 far = g_get_monotonic_time() + 1000 * kSecond;
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, far));
  rs_rtsp_session_prevent_expire(session);
  rs_rtsp_session_prevent_expire(session);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, far));
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, far), 65000);
  rs_rtsp_session_allow_expire(session);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, far));
  rs_rtsp_session_allow_expire(session);
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, far));
  // The last allow counted as a touch.
  EXPECT_GT(rs_rtsp_session_next_timeout_usec(session, g_get_monotonic_time()), 60000);
  {
    ExpectCriticals criticals;
    rs_rtsp_session_allow_expire(session);
    EXPECT_EQ(criticals.count(), 1);
  }
  // The refused allow left the counter at zero: one prevent is enough again.
  rs_rtsp_session_prevent_expire(session);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, far));
  rs_rtsp_session_allow_expire(session);
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, far));
}

G_GNUC_BEGIN_IGNORE_DEPRECATIONS
TEST(Session, DeprecatedTimeValApi) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  gint64 real = g_get_real_time();
  GTimeVal now = {static_cast<glong>(real / kSecond), static_cast<glong>(real % kSecond)};
  gint left = rs_rtsp_session_next_timeout(session, &now);
  EXPECT_LE(left, 65000);
  EXPECT_GT(left, 64000);
  EXPECT_FALSE(rs_rtsp_session_is_expired(session, &now));
  now.tv_sec += 100;
  EXPECT_EQ(rs_rtsp_session_next_timeout(session, &now), 0);
  EXPECT_TRUE(rs_rtsp_session_is_expired(session, &now));
  GTimeVal extreme = {G_MAXLONG, G_USEC_PER_SEC - 1};
  EXPECT_TRUE(rs_rtsp_session_is_expired(session, &extreme));
  extreme.tv_sec = G_MINLONG;
  EXPECT_EQ(rs_rtsp_session_next_timeout(session, &extreme), G_MAXINT);
}
G_GNUC_END_IGNORE_DEPRECATIONS

TEST(Session, ManageGetRelease) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  g_autoptr(GObject) owned_media = new_object();
  GObject* media = owned_media;
  RsRTSPSessionMedia* sm = rs_rtsp_session_manage_media(session, "/test", g_steal_pointer(&owned_media));
  ASSERT_NE(sm, nullptr);
  EXPECT_EQ(rs_rtsp_session_media_get_media(sm), media);

  gint matched = -1;
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/test/stream=0", &matched), sm);
  EXPECT_EQ(matched, 5);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/other", &matched), nullptr);
  EXPECT_EQ(matched, 0);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/test", nullptr), sm);

  g_autoptr(RsRTSPSessionMedia) dup = rs_rtsp_session_dup_media(session, "/test", &matched);
  EXPECT_EQ(dup, sm);
  EXPECT_EQ(matched, 5);

  WeakWatch sm_alive(sm);
  WeakWatch media_alive(media);
  EXPECT_FALSE(rs_rtsp_session_release_media(session, sm));
  EXPECT_TRUE(sm_alive.alive());  // dup's reference keeps it
  g_clear_object(&dup);
  EXPECT_FALSE(sm_alive.alive());
  EXPECT_FALSE(media_alive.alive());
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/test", &matched), nullptr);
}

TEST(Session, LongestMatchAndTies) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  RsRTSPSessionMedia* root = rs_rtsp_session_manage_media(session, "/", new_object());
  RsRTSPSessionMedia* a1 = rs_rtsp_session_manage_media(session, "/a", new_object());
  RsRTSPSessionMedia* ab = rs_rtsp_session_manage_media(session, "/a/b", new_object());
  RsRTSPSessionMedia* a2 = rs_rtsp_session_manage_media(session, "/a", new_object());
  gint matched;
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/a/b/c", &matched), ab);
  EXPECT_EQ(matched, 4);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/a/c", &matched), a2);
  EXPECT_EQ(matched, 2);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/ab", &matched), root);
  EXPECT_EQ(matched, 1);
  EXPECT_TRUE(rs_rtsp_session_release_media(session, a2));
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/a", &matched), a1);
}

TEST(Session, ReleaseMediaOfAnotherSession) {
  g_autoptr(RsRTSPSession) one = rs_rtsp_session_new("one");
  g_autoptr(RsRTSPSession) two = rs_rtsp_session_new("two");
  RsRTSPSessionMedia* of_one = rs_rtsp_session_manage_media(one, "/x", new_object());
  EXPECT_FALSE(rs_rtsp_session_release_media(two, of_one));  // two has none
  rs_rtsp_session_manage_media(two, "/y", new_object());
  EXPECT_TRUE(rs_rtsp_session_release_media(two, of_one));
  EXPECT_EQ(rs_rtsp_session_get_media(one, "/x", nullptr), of_one);  // untouched
}

TEST(Session, FinalizeDropsMedias) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  g_autoptr(GObject) owned_media = new_object();
  GObject* media = owned_media;
  RsRTSPSessionMedia* sm = rs_rtsp_session_manage_media(session, "/a", g_steal_pointer(&owned_media));
  WeakWatch session_alive(session);
  WeakWatch sm_alive(sm);
  WeakWatch media_alive(media);
  g_clear_object(&session);
  EXPECT_FALSE(session_alive.alive());
  EXPECT_FALSE(sm_alive.alive());
  EXPECT_FALSE(media_alive.alive());
}

namespace {

struct FilterScript {
  RsRTSPFilterResult (*decide)(RsRTSPSession*, RsRTSPSessionMedia*, FilterScript*);
  std::vector<RsRTSPSessionMedia*> visited;
  std::vector<RsRTSPSessionMedia*> targets;
};

RsRTSPFilterResult run_script(RsRTSPSession* session, RsRTSPSessionMedia* media, gpointer data) {
  auto* script = static_cast<FilterScript*>(data);
  script->visited.push_back(media);
  return script->decide(session, media, script);
}

std::vector<RsRTSPSessionMedia*> to_vector(GList* list) {
  std::vector<RsRTSPSessionMedia*> out;
  for (GList* l = list; l; l = l->next)
    out.push_back(RS_RTSP_SESSION_MEDIA(l->data));
  return out;
}

}  // namespace

TEST(SessionFilter, RemoveKeepRef) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  RsRTSPSessionMedia* a = rs_rtsp_session_manage_media(session, "/a", new_object());
  RsRTSPSessionMedia* b = rs_rtsp_session_manage_media(session, "/b", new_object());
  RsRTSPSessionMedia* c = rs_rtsp_session_manage_media(session, "/c", new_object());
  WeakWatch a_alive(a);

  FilterScript script;
  script.targets = {a, b};
  script.decide = [](RsRTSPSession*, RsRTSPSessionMedia* media, FilterScript* s) {
    if (media == s->targets[0]) return RS_RTSP_FILTER_REMOVE;
    if (media == s->targets[1]) return RS_RTSP_FILTER_REF;
    return RS_RTSP_FILTER_KEEP;
  };
  g_autolist(RsRTSPSessionMedia) result = rs_rtsp_session_filter(session, run_script, &script);
  EXPECT_EQ(script.visited, (std::vector<RsRTSPSessionMedia*>{c, b, a}));
  EXPECT_EQ(to_vector(result), std::vector<RsRTSPSessionMedia*>{b});
  EXPECT_FALSE(a_alive.alive());
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/a", nullptr), nullptr);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/c", nullptr), c);

  // The list holds its own reference: b outlives its release.
  WeakWatch b_alive(b);
  rs_rtsp_session_release_media(session, b);
  EXPECT_TRUE(b_alive.alive());
  g_clear_list(&result, g_object_unref);
  EXPECT_FALSE(b_alive.alive());
}

TEST(SessionFilter, NullFuncRefsAllOldestFirst) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  RsRTSPSessionMedia* a = rs_rtsp_session_manage_media(session, "/a", new_object());
  RsRTSPSessionMedia* b = rs_rtsp_session_manage_media(session, "/b", new_object());
  g_autolist(RsRTSPSessionMedia) result = rs_rtsp_session_filter(session, nullptr, nullptr);
  EXPECT_EQ(to_vector(result), (std::vector<RsRTSPSessionMedia*>{a, b}));
}

TEST(SessionFilter, CallbackMayCallSessionMethods) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  RsRTSPSessionMedia* a = rs_rtsp_session_manage_media(session, "/a", new_object());
  RsRTSPSessionMedia* b = rs_rtsp_session_manage_media(session, "/b", new_object());
  RsRTSPSessionMedia* c = rs_rtsp_session_manage_media(session, "/c", new_object());
  WeakWatch b_alive(b);

  FilterScript script;
  script.targets = {b};
  script.decide = [](RsRTSPSession* sess, RsRTSPSessionMedia* media, FilterScript* s) {
    if (s->visited.size() == 1) {
      // Would deadlock if the filter held the session's lock.
      EXPECT_EQ(rs_rtsp_session_get_media(sess, "/c", nullptr), media);
      rs_rtsp_session_release_media(sess, s->targets[0]);
      s->targets.push_back(rs_rtsp_session_manage_media(sess, "/d", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr))));
    }
    return RS_RTSP_FILTER_REF;
  };
  g_autolist(RsRTSPSessionMedia) result = rs_rtsp_session_filter(session, run_script, &script);
  RsRTSPSessionMedia* d = script.targets[1];
  EXPECT_FALSE(b_alive.alive());  // released before its turn: never shown
  EXPECT_EQ(script.visited, (std::vector<RsRTSPSessionMedia*>{c, d, a}));
  EXPECT_EQ(to_vector(result), (std::vector<RsRTSPSessionMedia*>{a, d, c}));
}

TEST(SessionFilter, RemoveEverythingAndEmptySession) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  for (const char* path : {"/1", "/2", "/3"})
    rs_rtsp_session_manage_media(session, path, new_object());
  FilterScript script;
  script.decide = [](RsRTSPSession*, RsRTSPSessionMedia*, FilterScript*) { return RS_RTSP_FILTER_REMOVE; };
  g_autolist(RsRTSPSessionMedia) first = rs_rtsp_session_filter(session, run_script, &script);
  EXPECT_EQ(first, nullptr);
  EXPECT_EQ(script.visited.size(), 3u);
  script.visited.clear();
  g_autolist(RsRTSPSessionMedia) second = rs_rtsp_session_filter(session, run_script, &script);
  EXPECT_EQ(second, nullptr);
  EXPECT_TRUE(script.visited.empty());
}

TEST(Session, CriticalsForBadArguments) {
  ExpectCriticals criticals;
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("abc");
  g_autoptr(GObject) not_a_session = new_object();
  auto* wrong = reinterpret_cast<RsRTSPSession*>(not_a_session);
  int expected = 0;

  EXPECT_EQ(rs_rtsp_session_new(nullptr), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_get_sessionid(nullptr), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_get_sessionid(wrong), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_get_header(nullptr), nullptr);
  expected++;
  rs_rtsp_session_set_timeout(nullptr, 5);
  expected++;
  EXPECT_EQ(rs_rtsp_session_get_timeout(nullptr), 0u);
  expected++;
  rs_rtsp_session_touch(nullptr);
  expected++;
  rs_rtsp_session_touch(wrong);
  expected++;
  rs_rtsp_session_prevent_expire(nullptr);
  expected++;
  rs_rtsp_session_allow_expire(nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(nullptr, 0), -1);
  expected++;
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(nullptr, 0));
  expected++;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GTimeVal tv = {0, 0};
  EXPECT_EQ(rs_rtsp_session_next_timeout(nullptr, &tv), -1);
  expected++;
  EXPECT_EQ(rs_rtsp_session_next_timeout(session, nullptr), -1);
  expected++;
  EXPECT_FALSE(rs_rtsp_session_is_expired(nullptr, &tv));
  expected++;
  EXPECT_FALSE(rs_rtsp_session_is_expired(session, nullptr));
  expected++;
  G_GNUC_END_IGNORE_DEPRECATIONS
  EXPECT_EQ(rs_rtsp_session_manage_media(nullptr, "/a", not_a_session), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_manage_media(session, nullptr, not_a_session), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_manage_media(session, "/a", nullptr), nullptr);
  expected++;
  EXPECT_FALSE(rs_rtsp_session_release_media(nullptr, nullptr));
  expected++;
  EXPECT_FALSE(rs_rtsp_session_release_media(session, nullptr));
  expected++;
  gint matched = 9;
  EXPECT_EQ(rs_rtsp_session_get_media(nullptr, "/a", &matched), nullptr);
  expected++;
  EXPECT_EQ(matched, 0);
  matched = 9;
  EXPECT_EQ(rs_rtsp_session_get_media(session, nullptr, &matched), nullptr);
  expected++;
  EXPECT_EQ(matched, 0);
  EXPECT_EQ(rs_rtsp_session_dup_media(nullptr, "/a", &matched), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_dup_media(session, nullptr, &matched), nullptr);
  expected++;
  EXPECT_EQ(rs_rtsp_session_filter(nullptr, nullptr, nullptr), nullptr);
  expected++;

  EXPECT_EQ(criticals.count(), expected);
  for (const auto& message : criticals.messages())
    EXPECT_NE(message.find("rs_rtsp_session"), std::string::npos) << message;

  // The session is unharmed.
  EXPECT_EQ(rs_rtsp_session_get_timeout(session), 60u);
  g_autolist(RsRTSPSessionMedia) medias = rs_rtsp_session_filter(session, nullptr, nullptr);
  EXPECT_EQ(medias, nullptr);
}
