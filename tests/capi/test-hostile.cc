// SPDX-License-Identifier: LGPL-2.1-or-later
// Input from the network and from careless callers: absurd numbers, hostile
// strings, NULLs, and references dropped at awkward moments.
#include <gtest/gtest.h>

#include <rtspsession/rtspsession.h>

#include <atomic>
#include <string>
#include <thread>

#include "test-util.hh"

namespace {

constexpr gint64 kSecond = G_USEC_PER_SEC;

std::string header_of(RsRTSPSession* session) {
  g_autofree gchar* header = rs_rtsp_session_get_header(session);
  return header ? header : "(none)";
}

}  // namespace

TEST(Hostile, MaximalTimeouts) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  rs_rtsp_session_set_timeout(session, G_MAXUINT);
  g_object_set(session, "extra-timeout", G_MAXUINT, nullptr);
  const std::string id = rs_rtsp_session_get_sessionid(session);
  EXPECT_EQ(header_of(session), id + ";timeout=4294967295");
  const gint64 now = g_get_monotonic_time();
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, now), G_MAXINT);
  EXPECT_FALSE(rs_rtsp_session_is_expired_usec(session, now + 1000000 * kSecond));
  EXPECT_TRUE(rs_rtsp_session_is_expired_usec(session, G_MAXINT64));
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, now + 8000000000 * kSecond), 0u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, G_MAXINT64), 1u);
  EXPECT_EQ(rs_rtsp_session_pool_cleanup_usec(pool, G_MININT64), 0u);

  // The watch of a pool whose only session expires in 2^33 s sleeps for
  // G_MAXINT ms at most, without overflowing.
  g_autoptr(RsRTSPSession) far = rs_rtsp_session_pool_create(pool);
  // Through 0, so that the pool re-indexes it at once (a raised timeout is
  // only noticed when its old slot comes up).
  rs_rtsp_session_set_timeout(far, 0);
  rs_rtsp_session_set_timeout(far, G_MAXUINT);
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GSource) watch = rs_rtsp_session_pool_create_watch(pool);
  g_source_set_callback(watch, [](gpointer) -> gboolean { return G_SOURCE_CONTINUE; }, nullptr, nullptr);
  g_source_attach(watch, context);
  gint priority, timeout = 0;
  g_main_context_prepare(context, &priority);
  GPollFD fds[4];
  g_main_context_query(context, priority, &timeout, fds, 4);
  EXPECT_EQ(timeout, G_MAXINT);
  g_main_context_check(context, priority, fds, 0);
  g_source_destroy(watch);
}

TEST(Hostile, HugeAndStrangeIds) {
  ExpectCriticals criticals;  // none expected: this is not programmer error
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  const std::string id = rs_rtsp_session_get_sessionid(session);

  std::string huge(1 << 20, 'a');
  g_autoptr(RsRTSPSession) huge_found = rs_rtsp_session_pool_find(pool, huge.c_str());
  EXPECT_EQ(huge_found, nullptr);
  g_autoptr(RsRTSPSession) huge_found_owned = rs_rtsp_session_pool_find_owned(pool, huge.c_str(), nullptr);
  EXPECT_EQ(huge_found_owned, nullptr);
  EXPECT_FALSE(rs_rtsp_session_id_is_valid(huge.c_str()));
  for (int byte = 1; byte < 256; byte++) {
    std::string odd = id;
    odd[5] = static_cast<char>(byte);
    g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find(pool, odd.c_str());
    EXPECT_EQ(found, odd == id ? session : nullptr) << byte;
    g_autoptr(RsRTSPSession) longer = rs_rtsp_session_pool_find(pool, (id + static_cast<char>(byte)).c_str());
    EXPECT_EQ(longer, nullptr) << byte;
  }
  g_autoptr(RsRTSPSession) empty = rs_rtsp_session_pool_find(pool, "");
  EXPECT_EQ(empty, nullptr);
  g_autoptr(RsRTSPSession) prefix = rs_rtsp_session_pool_find(pool, id.substr(0, 21).c_str());
  EXPECT_EQ(prefix, nullptr);

  // A session made by hand may carry any id; the header shows it as it is.
  g_autoptr(RsRTSPSession) big = rs_rtsp_session_new(huge.c_str());
  EXPECT_EQ(rs_rtsp_session_get_sessionid(big), huge);
  EXPECT_EQ(header_of(big).size(), huge.size());
  g_clear_object(&big);  // finalized before the criticals are counted

  EXPECT_EQ(criticals.count(), 0);
}

TEST(Hostile, HeaderParse) {
  g_autofree gchar* id = nullptr;
  guint timeout = 0;
  g_autoptr(GError) error = nullptr;
  EXPECT_TRUE(rs_rtsp_session_header_parse(" k3y ;Timeout = 30 ;x=\"a;b\"", &id, &timeout, &error));
  EXPECT_STREQ(id, "k3y");
  EXPECT_EQ(timeout, 30u);
  EXPECT_TRUE(rs_rtsp_session_header_parse("k3y", nullptr, nullptr, nullptr));

  struct {
    const char* value;
    RsRTSPSessionError code;
  } bad[] = {
      {"", RS_RTSP_SESSION_ERROR_INVALID_ID},
      {"a b", RS_RTSP_SESSION_ERROR_INVALID_ID},
      {"a;timeout=4294967296", RS_RTSP_SESSION_ERROR_INVALID_TIMEOUT},
      {"a;timeout=x", RS_RTSP_SESSION_ERROR_INVALID_TIMEOUT},
      {"a;=1", RS_RTSP_SESSION_ERROR_MALFORMED},
  };
  for (const auto& b : bad) {
    g_autofree gchar* untouched = nullptr;
    guint untouched_timeout = 77;
    EXPECT_FALSE(rs_rtsp_session_header_parse(b.value, &untouched, &untouched_timeout, &error)) << b.value;
    EXPECT_TRUE(g_error_matches(error, RS_RTSP_SESSION_ERROR, b.code)) << b.value;
    EXPECT_EQ(untouched, nullptr);
    EXPECT_EQ(untouched_timeout, 77u);
    g_clear_error(&error);
  }
  // Errors are reported without a GError too.
  EXPECT_FALSE(rs_rtsp_session_header_parse("a b", nullptr, nullptr, nullptr));

  g_autoptr(GEnumClass) codes = static_cast<GEnumClass*>(g_type_class_ref(RS_TYPE_RTSP_SESSION_ERROR));
  EXPECT_EQ(codes->n_values, 3u);

  ExpectCriticals criticals;
  EXPECT_FALSE(rs_rtsp_session_header_parse(nullptr, nullptr, nullptr, nullptr));
  EXPECT_FALSE(rs_rtsp_session_id_is_valid(nullptr));  // not an error: just not valid
  EXPECT_EQ(criticals.count(), 1);
}

TEST(Hostile, Paths) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("paths");
  std::string longpath = "/" + std::string(1 << 20, 'p');
  RsRTSPSessionMedia* empty = rs_rtsp_session_manage_media(session, "", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  RsRTSPSessionMedia* root = rs_rtsp_session_manage_media(session, "/", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  RsRTSPSessionMedia* relative = rs_rtsp_session_manage_media(session, "rel", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  RsRTSPSessionMedia* big = rs_rtsp_session_manage_media(session, longpath.c_str(), G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  gint matched = -1;
  EXPECT_EQ(rs_rtsp_session_get_media(session, "", &matched), nullptr);  // length 0 never wins
  EXPECT_EQ(matched, 0);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "/", &matched), root);
  EXPECT_EQ(matched, 1);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "rel/x", &matched), relative);
  EXPECT_EQ(matched, 3);
  EXPECT_EQ(rs_rtsp_session_get_media(session, "other", &matched), nullptr);
  EXPECT_EQ(rs_rtsp_session_get_media(session, (longpath + "/stream=0").c_str(), &matched), big);
  EXPECT_EQ(matched, static_cast<gint>(longpath.size()));
  EXPECT_EQ(rs_rtsp_session_get_media(session, longpath.substr(0, 1000).c_str(), &matched), root);
  EXPECT_TRUE(rs_rtsp_session_media_matches(empty, "", &matched));
  EXPECT_EQ(matched, 0);
}

TEST(Hostile, LastReferenceDroppedInSessionFilter) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("doomed");
  rs_rtsp_session_manage_media(session, "/a", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  rs_rtsp_session_manage_media(session, "/b", G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr)));
  WeakWatch alive(session);
  // The callback drops the caller's only reference on its first call; the
  // filter must finish on a live session.
  g_autolist(RsRTSPSessionMedia) kept = rs_rtsp_session_filter(
      session,
      [](RsRTSPSession*, RsRTSPSessionMedia*, gpointer data) {
        // Clears the caller's pointer: later calls find it NULL.
        g_clear_object(static_cast<RsRTSPSession**>(data));
        return RS_RTSP_FILTER_REF;
      },
      &session);
  EXPECT_EQ(g_list_length(kept), 2u);
  EXPECT_FALSE(alive.alive());  // gone once the filter returned
}

TEST(Hostile, LastReferenceDroppedInPoolFilterAndSignal) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) a = rs_rtsp_session_pool_create(pool);
  g_autoptr(RsRTSPSession) b = rs_rtsp_session_pool_create(pool);
  WeakWatch a_alive(a), b_alive(b);
  struct Held {
    RsRTSPSession** a;  // the test's own a, cleared by the callback
    RsRTSPSession* b;
  } held{&a, b};
  // The filter removes each session and drops the app's reference to it.
  g_autolist(RsRTSPSession) result = rs_rtsp_session_pool_filter(
      pool,
      [](RsRTSPSessionPool*, RsRTSPSession* session, gpointer data) {
        auto* h = static_cast<Held*>(data);
        if (session == *h->a)
          g_clear_object(h->a);
        return RS_RTSP_FILTER_REMOVE;
      },
      &held);
  EXPECT_EQ(result, nullptr);
  EXPECT_FALSE(a_alive.alive());
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 0u);

  // session-removed handler dropping the app's last reference.
  g_autoptr(RsRTSPSession) c = rs_rtsp_session_pool_create(pool);
  WeakWatch c_alive(c);
  // The handler is given the test's own c, and clears it.
  gulong handler = g_signal_connect(pool, "session-removed", G_CALLBACK(+[](RsRTSPSessionPool*, RsRTSPSession* s, RsRTSPSession** owned) {
    EXPECT_NE(rs_rtsp_session_get_sessionid(s), nullptr);  // still whole
    g_clear_object(owned);
  }), &c);
  EXPECT_TRUE(rs_rtsp_session_pool_remove(pool, c));
  EXPECT_FALSE(c_alive.alive());
  g_signal_handler_disconnect(pool, handler);
  g_clear_object(&b);
  EXPECT_FALSE(b_alive.alive());
}

TEST(Hostile, OwnerBinding) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  const std::string id = rs_rtsp_session_get_sessionid(session);
  // Both unowned: equal.
  g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find_owned(pool, id.c_str(), nullptr);
  EXPECT_EQ(found, session);

  int notifies = 0;
  g_signal_connect_swapped(session, "notify::owner", G_CALLBACK(+[](int* n) { (*n)++; }), &notifies);
  g_object_set(session, "owner", "alice", nullptr);
  g_object_set(session, "owner", "alice", nullptr);
  EXPECT_EQ(notifies, 1);
  g_autofree gchar* owner = nullptr;
  g_object_get(session, "owner", &owner, nullptr);
  EXPECT_STREQ(owner, "alice");

  rs_rtsp_session_set_timeout(session, 10);
  g_object_set(session, "extra-timeout", 0u, nullptr);
  rs_rtsp_session_touch(session);
  const gint64 start = g_get_monotonic_time();
  g_usleep(3000);
  for (const char* wrong : {"bob", "alic", "alicee", "alicf", "", static_cast<const char*>(nullptr)}) {
    g_autoptr(RsRTSPSession) refused = rs_rtsp_session_pool_find_owned(pool, id.c_str(), wrong);
    EXPECT_EQ(refused, nullptr) << (wrong ? wrong : "NULL");
  }
  // Not touched by the failed attempts.
  EXPECT_EQ(rs_rtsp_session_next_timeout_usec(session, start + 10 * kSecond), 0);
  g_autoptr(RsRTSPSession) found_by_alice = rs_rtsp_session_pool_find_owned(pool, id.c_str(), "alice");
  EXPECT_EQ(found_by_alice, session);
  EXPECT_GE(rs_rtsp_session_next_timeout_usec(session, start + 10 * kSecond), 2);
  // Plain find ignores the owner, as GStreamer's does.
  g_autoptr(RsRTSPSession) found_plain = rs_rtsp_session_pool_find(pool, id.c_str());
  EXPECT_EQ(found_plain, session);

  g_object_set(session, "owner", nullptr, nullptr);
  EXPECT_EQ(notifies, 2);
  g_autoptr(RsRTSPSession) found_unowned = rs_rtsp_session_pool_find_owned(pool, id.c_str(), nullptr);
  EXPECT_EQ(found_unowned, session);

  ExpectCriticals criticals;
  EXPECT_EQ(rs_rtsp_session_pool_find_owned(nullptr, id.c_str(), "x"), nullptr);
  EXPECT_EQ(rs_rtsp_session_pool_find_owned(pool, nullptr, "x"), nullptr);
  EXPECT_EQ(criticals.count(), 2);
}

namespace {

struct BadIdPool {
  RsRTSPSessionPool parent;
};
struct BadIdPoolClass {
  RsRTSPSessionPoolClass parent_class;
};
G_DEFINE_TYPE(BadIdPool, bad_id_pool, RS_TYPE_RTSP_SESSION_POOL)
void bad_id_pool_class_init(BadIdPoolClass* klass) {
  RS_RTSP_SESSION_POOL_CLASS(klass)->create_session_id = [](RsRTSPSessionPool*) noexcept -> gchar* {
    return g_strdup("has space");
  };
}
void bad_id_pool_init(BadIdPool*) {}

}  // namespace

TEST(Hostile, InvalidIdFromVirtualMethod) {
  g_autoptr(RsRTSPSessionPool) pool = static_cast<RsRTSPSessionPool*>(g_object_new(bad_id_pool_get_type(), nullptr));
  ExpectCriticals criticals;
  g_autoptr(RsRTSPSession) refused = rs_rtsp_session_pool_create(pool);
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(criticals.count(), 1);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 0u);
}

namespace {

struct OtherIdPool {
  RsRTSPSessionPool parent;
};
struct OtherIdPoolClass {
  RsRTSPSessionPoolClass parent_class;
};
G_DEFINE_TYPE(OtherIdPool, other_id_pool, RS_TYPE_RTSP_SESSION_POOL)
void other_id_pool_class_init(OtherIdPoolClass* klass) {
  // Ignores the id it is given.
  RS_RTSP_SESSION_POOL_CLASS(klass)->create_session = [](RsRTSPSessionPool*, const gchar*) noexcept {
    return rs_rtsp_session_new("chosen-elsewhere");
  };
}
void other_id_pool_init(OtherIdPool*) {}

}  // namespace

TEST(Hostile, SessionWithAnotherIdFromVirtualMethod) {
  g_autoptr(RsRTSPSessionPool) pool = static_cast<RsRTSPSessionPool*>(g_object_new(other_id_pool_get_type(), nullptr));
  ExpectCriticals criticals;
  g_autoptr(RsRTSPSession) refused = rs_rtsp_session_pool_create(pool);
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(criticals.count(), 1);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), 0u);
}

// Issue 11, library 5: the pool's filter returns on a busy pool, showing
// each session present at its start once, whatever other threads add.
TEST(Hostile, PoolFilterReturnsWhileAnotherThreadCreates) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  constexpr int kPresent = 20000;
  for (int i = 0; i < kPresent; i++)
    g_object_unref(rs_rtsp_session_pool_create(pool));
  struct Shared {
    std::atomic<bool> started{false};
    std::atomic<bool> stop{false};
    std::atomic<int> created{0};
    int visited = 0;
  } shared;
  std::thread creator([&] {
    while (!shared.started)
      std::this_thread::yield();
    // From the filter's first callback to its end, but bounded: under
    // valgrind this thread can outrun the filter by far (it once made
    // millions of sessions and 2 GB before the filter ended).
    while (!shared.stop && shared.created < kPresent) {
      g_object_unref(rs_rtsp_session_pool_create(pool));
      shared.created++;
      if (shared.created % 64 == 0)
        g_usleep(10);
    }
  });
  GList* none = rs_rtsp_session_pool_filter(
      pool,
      [](RsRTSPSessionPool*, RsRTSPSession*, gpointer data) {
        auto* s = static_cast<Shared*>(data);
        s->visited++;
        s->started = true;
        if (s->visited % 1000 == 0)
          g_usleep(100);  // let the other thread add while the filter runs
        return RS_RTSP_FILTER_KEEP;
      },
      &shared);
  shared.stop = true;
  creator.join();
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(shared.visited, kPresent);  // none of the other thread's sessions
  EXPECT_GT(shared.created.load(), 0);
}

// ... and when its callback creates a session for each one it sees, it shows
// those too, once each, and ends.
TEST(Hostile, PoolFilterWhoseCallbackCreates) {
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  constexpr int kPresent = 20000;
  for (int i = 0; i < kPresent; i++)
    g_object_unref(rs_rtsp_session_pool_create(pool));
  struct Count {
    int visited = 0;
    int created = 0;
  } count;
  GList* none = rs_rtsp_session_pool_filter(
      pool,
      [](RsRTSPSessionPool* p, RsRTSPSession*, gpointer data) {
        auto* c = static_cast<Count*>(data);
        c->visited++;
        if (c->created < kPresent) {
          c->created++;
          g_object_unref(rs_rtsp_session_pool_create(p));
        }
        return RS_RTSP_FILTER_KEEP;
      },
      &count);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(count.created, kPresent);
  EXPECT_EQ(count.visited, 2 * kPresent);
  EXPECT_EQ(rs_rtsp_session_pool_get_n_sessions(pool), guint(2 * kPresent));
}

// Issue 11, library 9: a session filter that removes every media ends, with
// every media gone.
TEST(Hostile, SessionFilterRemovingEveryMedia) {
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_new("many-medias");
  constexpr int kMedias = 10000;
  g_autoptr(GObject) media = G_OBJECT(g_object_new(G_TYPE_OBJECT, nullptr));
  for (int i = 0; i < kMedias; i++) {
    std::string path = "/m" + std::to_string(i);
    rs_rtsp_session_manage_media(session, path.c_str(), g_object_ref(media));
  }
  int visited = 0;
  GList* none = rs_rtsp_session_filter(
      session,
      [](RsRTSPSession*, RsRTSPSessionMedia*, gpointer n) {
        (*static_cast<int*>(n))++;
        return RS_RTSP_FILTER_REMOVE;
      },
      &visited);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(visited, kMedias);
  EXPECT_EQ(rs_rtsp_session_filter(session, nullptr, nullptr), nullptr);
}
