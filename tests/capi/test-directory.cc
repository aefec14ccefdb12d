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

  // Types are registered once, here: GLib's once-guards are invisible to TSan.
  g_type_ensure(RS_TYPE_RTSP_SESSION_POOL);
  g_type_ensure(RS_TYPE_RTSP_SESSION);
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
