// SPDX-License-Identifier: LGPL-2.1-or-later
// What a session directory on Redis costs a pool: create and find with no
// directory, with one on a Redis that keeps up, on a Redis that sleeps
// (DEBUG SLEEP, for the whole measurement) and on a Redis that is gone.
// Each case runs in a fresh child process with its own redis-server on a
// unix socket.
//
//   rs-bench-directory [--sessions 100000]
#include <rtspsession/rtspsession.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench-util.hh"

namespace {

struct Result {
  double create_ns = 0;
  double find_ns = 0;
  double find_p99_us = 0;
  double find_max_us = 0;
  double published = 0;  // entries in Redis at the end, when it is up
};

enum class Mode { None, Up, Slow, Down };
const char* const kModeNames[] = {"no directory", "Redis up", "Redis asleep (DEBUG SLEEP)", "Redis gone"};

std::string run(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[256];
    while (fgets(buffer, sizeof buffer, pipe))
      out += buffer;
    pclose(pipe);
  }
  return out;
}

Result measure(Mode mode, std::size_t n) {
  Result r;
  char dir[] = "/tmp/rs-bench-redis-XXXXXX";
  if (!mkdtemp(dir))
    return r;
  const std::string socket = std::string(dir) + "/redis.sock";
  const std::string cli = "redis-cli -s " + socket + " ";
  GPid redis = 0;
  if (mode == Mode::Up || mode == Mode::Slow) {
    const char* argv[] = {"redis-server", "--port", "0", "--unixsocket", socket.c_str(), "--save", "",
                          "--appendonly", "no", "--dir", dir, "--enable-debug-command", "local", nullptr};
    g_spawn_async(nullptr, const_cast<char**>(argv), nullptr,
                  GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL),
                  nullptr, nullptr, &redis, nullptr);
    for (int i = 0; i < 500 && run(cli + "PING 2>/dev/null").rfind("PONG", 0) != 0; i++)
      g_usleep(10000);
  }
  RsRTSPSessionPool* pool = rs_rtsp_session_pool_new();
  RsRTSPSessionDirectory* directory = nullptr;
  if (mode != Mode::None) {
    directory = rs_rtsp_session_directory_new(("unix://" + socket).c_str(), nullptr);
    rs_rtsp_session_pool_set_directory(pool, directory, "bench", nullptr);
    for (int i = 0; i < 500 && mode != Mode::Down && !rs_rtsp_session_directory_is_connected(directory); i++)
      g_usleep(10000);
  }
  if (mode == Mode::Slow)
    run(cli + "DEBUG SLEEP 30 >/dev/null 2>&1 &");  // Redis answers nothing for 30 s
  g_usleep(200000);

  std::vector<RsRTSPSession*> sessions(n);
  auto start = Clock::now();
  for (std::size_t i = 0; i < n; i++)
    sessions[i] = rs_rtsp_session_pool_create(pool);
  r.create_ns = seconds_since(start) * 1e9 / n;
  std::vector<std::string> ids(n);
  for (std::size_t i = 0; i < n; i++) {
    ids[i] = rs_rtsp_session_get_sessionid(sessions[i]);
    g_object_unref(sessions[i]);
  }

  std::mt19937 random(5);
  std::vector<double> latencies;
  start = Clock::now();
  while (seconds_since(start) < 1.0 && latencies.size() < 2000000) {
    const std::string& id = ids[random() % n];
    auto t0 = Clock::now();
    RsRTSPSession* s = rs_rtsp_session_pool_find(pool, id.c_str());
    latencies.push_back(seconds_since(t0) * 1e6);
    g_object_unref(s);
  }
  std::sort(latencies.begin(), latencies.end());
  double total = 0;
  for (double l : latencies)
    total += l;
  r.find_ns = total * 1e3 / latencies.size();
  r.find_p99_us = latencies[latencies.size() * 99 / 100];
  r.find_max_us = latencies.back();

  if (mode == Mode::Up) {
    // Everything published: the directory keeps up.
    for (int i = 0; i < 1000; i++) {
      r.published = atof(run(cli + "DBSIZE").c_str()) - 2;  // less the node's two keys
      if (r.published >= n)
        break;
      g_usleep(10000);
    }
  }
  if (redis) {
    kill(redis, SIGKILL);
    waitpid(redis, nullptr, 0);
  }
  g_object_unref(pool);
  if (directory)
    g_object_unref(directory);
  run(std::string("rm -rf ") + dir);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 100000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sessions") && i + 1 < argc)
      n = std::stoul(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--sessions N]\n", argv[0]);
      return 2;
    }
  }
  printf("| %zu sessions | create (ns) | find mean (ns) | find p99 (us) | find max (us) | published |\n", n);
  printf("|---|---:|---:|---:|---:|---:|\n");
  for (Mode mode : {Mode::None, Mode::Up, Mode::Slow, Mode::Down}) {
    Result r;
    if (!measure_in_child([&] { return measure(mode, n); }, &r)) {
      fprintf(stderr, "%s: the measurement failed\n", kModeNames[int(mode)]);
      return 1;
    }
    printf("| %s | %.0f | %.0f | %.2f | %.1f | %s |\n", kModeNames[int(mode)], r.create_ns, r.find_ns, r.find_p99_us,
           r.find_max_us, mode == Mode::Up ? std::to_string(long(r.published)).c_str() : "-");
  }
  return 0;
}
