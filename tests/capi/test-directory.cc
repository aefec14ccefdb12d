// SPDX-License-Identifier: LGPL-2.1-or-later
// RsRTSPSessionDirectory from C, for the sanitizers: pools on two threads
// create, find and remove while the directory's thread publishes to a real
// redis-server, which is killed and started again meanwhile.
#include <gtest/gtest.h>
#include <rtspsession/rtspsession.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

class RedisServer {
 public:
  RedisServer() {
    char dir[] = "/tmp/rs-test-redis-XXXXXX";
    dir_ = mkdtemp(dir) ? dir : "";
    socket_ = dir_ + "/redis.sock";
    start();
  }
  ~RedisServer() {
    stop();
    std::string command = "rm -rf " + dir_;
    if (system(command.c_str()) != 0)
      g_printerr("could not remove %s\n", dir_.c_str());
  }
  bool start() {
    const char* argv[] = {"redis-server", "--port", "0", "--unixsocket", socket_.c_str(), "--save", "",
                          "--appendonly", "no", "--dir", dir_.c_str(), nullptr};
    if (!g_spawn_async(nullptr, const_cast<char**>(argv), nullptr,
                       GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL |
                                   G_SPAWN_DO_NOT_REAP_CHILD),
                       nullptr, nullptr, &pid_, nullptr))
      return false;
    for (int i = 0; i < 500 && !g_file_test(socket_.c_str(), G_FILE_TEST_EXISTS); i++)
      g_usleep(10000);
    return g_file_test(socket_.c_str(), G_FILE_TEST_EXISTS);
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
    }
    unlink(socket_.c_str());
  }
  std::string uri() const { return "unix://" + socket_; }

 private:
  std::string dir_;
  std::string socket_;
  GPid pid_ = 0;
};

bool wait_until(RsRTSPSessionDirectory* directory, bool connected, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    if (bool(rs_rtsp_session_directory_is_connected(directory)) == connected)
      return true;
    g_usleep(10000);
  }
  return false;
}

}  // namespace

TEST(Directory, PoolsOnTwoThreadsWhileRedisComesAndGoes) {
  g_autofree gchar* redis_server = g_find_program_in_path("redis-server");
  if (redis_server == nullptr)
    GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  g_autoptr(GError) error = nullptr;
  g_autoptr(RsRTSPSessionDirectory) directory = rs_rtsp_session_directory_new(redis.uri().c_str(), &error);
  ASSERT_NE(directory, nullptr) << error->message;
  g_object_set(directory, "max-sessions", 100000u, nullptr);  // the limits' scripts run too
  ASSERT_TRUE(wait_until(directory, true, 5000));

  // Types are registered and their classes initialized once, here: GLib's
  // once-guards and class locks are invisible to TSan. (Registering alone
  // left the pool's class_init to race between the two threads.)
  g_type_class_unref(g_type_class_ref(RS_TYPE_RTSP_SESSION_POOL));
  g_type_class_unref(g_type_class_ref(RS_TYPE_RTSP_SESSION));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++)
    threads.emplace_back([&, t] {
      g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
      std::string node = "node" + std::to_string(t);
      ASSERT_TRUE(rs_rtsp_session_pool_set_directory(pool, directory, node.c_str(), nullptr));
      std::vector<RsRTSPSession*> held;
      while (!stop) {
        RsRTSPSession* session = rs_rtsp_session_pool_create(pool);
        g_object_set(session, "owner", "someone", nullptr);
        rs_rtsp_session_set_timeout(session, 1 + held.size() % 3);  // re-indexed: published again
        held.push_back(session);
        if (held.size() > 200) {
          for (std::size_t i = 0; i < held.size(); i += 2) {
            g_autoptr(RsRTSPSession) found = rs_rtsp_session_pool_find(pool, rs_rtsp_session_get_sessionid(held[i]));
            EXPECT_NE(found, nullptr);
            rs_rtsp_session_pool_remove(pool, held[i]);
          }
          for (RsRTSPSession* s : held)
            g_object_unref(s);
          held.clear();
          rs_rtsp_session_pool_cleanup_usec(pool, g_get_monotonic_time() + 2 * G_USEC_PER_SEC);
        }
      }
      for (RsRTSPSession* s : held)
        g_object_unref(s);
    });
  for (int round = 0; round < 3; round++) {
    g_usleep(300000);
    redis.stop();
    EXPECT_TRUE(wait_until(directory, false, 5000));
    g_usleep(200000);
    ASSERT_TRUE(redis.start());
    EXPECT_TRUE(wait_until(directory, true, 5000));
  }
  g_usleep(300000);
  stop = true;
  for (auto& t : threads)
    t.join();
  // A lookup still works, and a directory finalized with pools gone is clean.
  g_autoptr(GError) lookup_error = nullptr;
  g_autofree gchar* none = rs_rtsp_session_directory_lookup_sync(directory, "AAAAAAAAAAAAAAAAAAAAAA", nullptr,
                                                                  &lookup_error);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(lookup_error, nullptr);
}

TEST(Directory, DirectoriesMadeAndDroppedWhileConnecting) {
  for (int i = 0; i < 50; i++) {
    g_autoptr(GError) error = nullptr;
    RsRTSPSessionDirectory* directory = rs_rtsp_session_directory_new("redis://127.0.0.1:1", &error);
    ASSERT_NE(directory, nullptr);
    g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
    ASSERT_TRUE(rs_rtsp_session_pool_set_directory(pool, directory, "n", nullptr));
    g_object_unref(directory);  // the pool keeps it
    g_object_unref(rs_rtsp_session_pool_create(pool));
  }
}

namespace {

// Runs the context until `*done`, at most 5 s.
void iterate_until(const bool* done) {
  const gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (!*done && g_get_monotonic_time() < until)
    if (!g_main_context_iteration(nullptr, FALSE))
      g_usleep(1000);
}

struct Reply {
  bool done = false;
  gboolean ok = FALSE;
  gchar* node = nullptr;
  GVariant* nodes = nullptr;
  GError* error = nullptr;
  ~Reply() {
    g_free(node);
    if (nodes)
      g_variant_unref(nodes);
    g_clear_error(&error);
  }
};

}  // namespace

TEST(Directory, TheCApiEndToEnd) {
  g_autofree gchar* redis_server = g_find_program_in_path("redis-server");
  if (redis_server == nullptr)
    GTEST_SKIP() << "redis-server is not installed";
  g_autoptr(GError) error = nullptr;
  EXPECT_EQ(rs_rtsp_session_directory_new("http://nowhere", &error), nullptr);
  EXPECT_TRUE(g_error_matches(error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_INVALID_URI));
  g_clear_error(&error);

  RedisServer redis;
  g_autoptr(RsRTSPSessionDirectory) directory = rs_rtsp_session_directory_new(redis.uri().c_str(), &error);
  ASSERT_NE(directory, nullptr);
  EXPECT_STREQ(rs_rtsp_session_directory_get_uri(directory), redis.uri().c_str());
  g_object_set(directory, "max-sessions", 1u, "unreachable-policy", RS_RTSP_SESSION_DIRECTORY_POLICY_REFUSE, nullptr);
  ASSERT_TRUE(wait_until(directory, true, 5000));
  g_autoptr(RsRTSPSessionPool) pool = rs_rtsp_session_pool_new();
  ASSERT_TRUE(rs_rtsp_session_pool_set_directory(pool, directory, "c-node", &error));
  EXPECT_FALSE(rs_rtsp_session_pool_set_directory(pool, directory, "again", &error));
  g_clear_error(&error);

  // reserve, then create: the one place is taken; a second reservation is refused.
  Reply first;
  rs_rtsp_session_directory_reserve_async(
      directory, "alice", nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* r = static_cast<Reply*>(data);
        r->ok = rs_rtsp_session_directory_reserve_finish(RS_RTSP_SESSION_DIRECTORY(source), result, &r->error);
        r->done = true;
      },
      &first);
  iterate_until(&first.done);
  ASSERT_TRUE(first.ok);
  g_autoptr(RsRTSPSession) session = rs_rtsp_session_pool_create(pool);
  g_object_set(session, "owner", "alice", nullptr);
  Reply second;
  rs_rtsp_session_directory_reserve_async(
      directory, "bob", nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* r = static_cast<Reply*>(data);
        r->ok = rs_rtsp_session_directory_reserve_finish(RS_RTSP_SESSION_DIRECTORY(source), result, &r->error);
        r->done = true;
      },
      &second);
  iterate_until(&second.done);
  EXPECT_FALSE(second.ok);
  EXPECT_TRUE(g_error_matches(second.error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_LIMIT));

  // lookup, async and blocking.
  const gchar* id = rs_rtsp_session_get_sessionid(session);
  Reply found;
  for (int i = 0; i < 100 && found.node == nullptr; i++) {
    found.done = false;
    rs_rtsp_session_directory_lookup_async(
        directory, id, nullptr,
        [](GObject* source, GAsyncResult* result, gpointer data) {
          auto* r = static_cast<Reply*>(data);
          r->node = rs_rtsp_session_directory_lookup_finish(RS_RTSP_SESSION_DIRECTORY(source), result, &r->error);
          r->done = true;
        },
        &found);
    iterate_until(&found.done);
    if (found.node == nullptr)
      g_usleep(20000);
  }
  EXPECT_STREQ(found.node, "c-node");
  g_autofree gchar* blocking = rs_rtsp_session_directory_lookup_sync(directory, id, nullptr, &error);
  EXPECT_STREQ(blocking, "c-node");

  // The node list, async and blocking, with its count after a heartbeat.
  Reply listed;
  rs_rtsp_session_directory_list_nodes_async(
      directory, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* r = static_cast<Reply*>(data);
        r->nodes = rs_rtsp_session_directory_list_nodes_finish(RS_RTSP_SESSION_DIRECTORY(source), result, &r->error);
        r->done = true;
      },
      &listed);
  iterate_until(&listed.done);
  ASSERT_NE(listed.nodes, nullptr);
  EXPECT_TRUE(g_variant_is_of_type(listed.nodes, G_VARIANT_TYPE("a{su}")));
  guint count = 0;
  for (int i = 0; i < 40 && count != 1; i++) {
    g_autoptr(GVariant) nodes = rs_rtsp_session_directory_list_nodes_sync(directory, nullptr, &error);
    ASSERT_NE(nodes, nullptr);
    if (!g_variant_lookup(nodes, "c-node", "u", &count))
      count = 0;
    g_usleep(100000);
  }
  EXPECT_EQ(count, 1u);

  // Redis gone: the refuse policy holds, lookups fail fast.
  redis.stop();
  ASSERT_TRUE(wait_until(directory, false, 5000));
  Reply away;
  rs_rtsp_session_directory_reserve_async(
      directory, nullptr, nullptr,
      [](GObject* source, GAsyncResult* result, gpointer data) {
        auto* r = static_cast<Reply*>(data);
        r->ok = rs_rtsp_session_directory_reserve_finish(RS_RTSP_SESSION_DIRECTORY(source), result, &r->error);
        r->done = true;
      },
      &away);
  iterate_until(&away.done);
  EXPECT_FALSE(away.ok);
  EXPECT_TRUE(g_error_matches(away.error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE));
  g_autofree gchar* none = rs_rtsp_session_directory_lookup_sync(directory, id, nullptr, &error);
  EXPECT_EQ(none, nullptr);
  EXPECT_TRUE(g_error_matches(error, RS_RTSP_SESSION_DIRECTORY_ERROR, RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE));
}
