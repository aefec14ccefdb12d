// SPDX-License-Identifier: LGPL-2.1-or-later
// The same pool workload on GStreamer's GstRTSPSessionPool and on
// RsRTSPSessionPool, side by side in one run. Each (library, size) pair runs
// in a fresh child process so that neither sees the other's heap.
//
// Besides the ratio between the libraries, each library is compared with
// its floor: what the same work costs without a pool, on the same sessions
// in the same order (find+touch: ref, touch, unref through an array of the
// sessions' pointers; expiry: the unref and finalize of a session nobody
// else holds). Throughput rows run find+touch and create/remove churn on
// 1, 2, ... threads at once.
//
//   rs-bench-pool [--sizes 10000,100000,1000000] [--threads 1,2,4,8] [--csv FILE]
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <rtspsession/rtspsession.h>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench-util.hh"

namespace {
void init_gst() {
  gst_init(nullptr, nullptr);
}
}  // namespace
#include "resident-memory.hh"

namespace {

// One pool API, two libraries. Both take and return GObjects.
struct Library {
  const char* name;
  GObject* (*pool_new)();
  GObject* (*create)(GObject* pool);
  const char* (*session_id)(GObject* session);
  GObject* (*find)(GObject* pool, const char* id);
  guint (*cleanup)(GObject* pool);
  void (*set_timeout)(GObject* session, guint timeout);
  GSource* (*create_watch)(GObject* pool);
  void (*touch)(GObject* session);
  GObject* (*session_new)(const char* id);
  gboolean (*remove)(GObject* pool, GObject* session);
};

const Library kGst = {
    "GstRtspServer",
    [] { return G_OBJECT(gst_rtsp_session_pool_new()); },
    [](GObject* pool) { return G_OBJECT(gst_rtsp_session_pool_create(GST_RTSP_SESSION_POOL(pool))); },
    [](GObject* s) { return gst_rtsp_session_get_sessionid(GST_RTSP_SESSION(s)); },
    [](GObject* pool, const char* id) { return G_OBJECT(gst_rtsp_session_pool_find(GST_RTSP_SESSION_POOL(pool), id)); },
    [](GObject* pool) { return gst_rtsp_session_pool_cleanup(GST_RTSP_SESSION_POOL(pool)); },
    [](GObject* s, guint t) { gst_rtsp_session_set_timeout(GST_RTSP_SESSION(s), t); },
    [](GObject* pool) { return gst_rtsp_session_pool_create_watch(GST_RTSP_SESSION_POOL(pool)); },
    [](GObject* s) { gst_rtsp_session_touch(GST_RTSP_SESSION(s)); },
    [](const char* id) { return G_OBJECT(gst_rtsp_session_new(id)); },
    [](GObject* pool, GObject* s) {
      return gst_rtsp_session_pool_remove(GST_RTSP_SESSION_POOL(pool), GST_RTSP_SESSION(s));
    },
};

const Library kRs = {
    "RtspSession",
    [] { return G_OBJECT(rs_rtsp_session_pool_new()); },
    [](GObject* pool) { return G_OBJECT(rs_rtsp_session_pool_create(RS_RTSP_SESSION_POOL(pool))); },
    [](GObject* s) { return rs_rtsp_session_get_sessionid(RS_RTSP_SESSION(s)); },
    [](GObject* pool, const char* id) { return G_OBJECT(rs_rtsp_session_pool_find(RS_RTSP_SESSION_POOL(pool), id)); },
    [](GObject* pool) { return rs_rtsp_session_pool_cleanup(RS_RTSP_SESSION_POOL(pool)); },
    [](GObject* s, guint t) { rs_rtsp_session_set_timeout(RS_RTSP_SESSION(s), t); },
    [](GObject* pool) { return rs_rtsp_session_pool_create_watch(RS_RTSP_SESSION_POOL(pool)); },
    [](GObject* s) { rs_rtsp_session_touch(RS_RTSP_SESSION(s)); },
    [](const char* id) { return G_OBJECT(rs_rtsp_session_new(id)); },
    [](GObject* pool, GObject* s) { return rs_rtsp_session_pool_remove(RS_RTSP_SESSION_POOL(pool), RS_RTSP_SESSION(s)); },
};

// What one child measures.
struct Result {
  double create_ns = 0;          // per session
  double find_touch_ns = 0;      // per find, random order
  double find_floor_ns = 0;      // ref + touch + unref through the pointers, same order
  double expiry_ns = 0;          // per session removed by the 1 % cleanup
  double expiry_floor_ns = 0;    // unref + finalize of a session nobody else holds
  double cleanup_none_us = 0;    // median cleanup(), nothing expired
  double cleanup_1pct_us = 0;    // one cleanup() removing 1 % of the sessions
  double watch_prepare_us = 0;   // median g_main_context_prepare() with the watch attached
  double heap_bytes = 0;         // heap growth per session after create
  double rss_bytes = 0;          // resident-set growth per session after create
  double find_p99_us = 0;        // find latency while another thread runs cleanup
  double find_max_us = 0;
  long finds_during_cleanup = 0;
  long removed_1pct = 0;
};

Result measure(const Library& lib, std::size_t n) {
  Result r;
  GObject* pool = lib.pool_new();
  std::vector<GObject*> sessions(n);
  std::vector<const char*> ids(n);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  // Warm up the type system and allocator before the baseline.
  g_object_unref(lib.create(pool));
  malloc_trim(0);

  const std::size_t heap_before = mallinfo2().uordblks;
  const long rss_before = resident_bytes();
  auto start = Clock::now();
  for (std::size_t i = 0; i < n; i++)
    sessions[i] = lib.create(pool);
  r.create_ns = seconds_since(start) * 1e9 / n;
  r.heap_bytes = double(mallinfo2().uordblks - heap_before) / n;
  r.rss_bytes = double(resident_bytes() - rss_before) / n;
  for (std::size_t i = 0; i < n; i++)
    ids[i] = lib.session_id(sessions[i]);
  // The pool holds each session; keep only the ids' owners alive through it.
  for (std::size_t i = 0; i < n; i++)
    g_object_unref(sessions[i]);

  start = Clock::now();
  for (std::size_t i : order)
    g_object_unref(lib.find(pool, ids[i]));
  r.find_touch_ns = seconds_since(start) * 1e9 / n;

  // The floor: the same sessions in the same order, without the table:
  // read the id (as a find compares it), ref, touch, unref. The pointers
  // are valid: the pool holds every session.
  [[maybe_unused]] volatile unsigned char id_byte = 0;  // keeps the reads
  start = Clock::now();
  for (std::size_t i : order) {
    GObject* s = G_OBJECT(g_object_ref(sessions[i]));
    id_byte = static_cast<unsigned char>(lib.session_id(s)[0]);
    lib.touch(s);
    g_object_unref(s);
  }
  r.find_floor_ns = seconds_since(start) * 1e9 / n;

  std::vector<double> times;
  for (int i = 0; i < 5; i++) {
    start = Clock::now();
    guint removed = lib.cleanup(pool);
    times.push_back(seconds_since(start) * 1e6);
    if (removed != 0)
      fprintf(stderr, "%s: unexpected expiry\n", lib.name);
  }
  r.cleanup_none_us = median(times);

  GMainContext* context = g_main_context_new();
  GSource* watch = lib.create_watch(pool);
  g_source_set_callback(watch, [](gpointer) -> gboolean { return G_SOURCE_CONTINUE; }, nullptr, nullptr);
  g_source_attach(watch, context);
  times.clear();
  for (int i = 0; i < 5; i++) {
    gint priority;
    start = Clock::now();
    g_main_context_prepare(context, &priority);
    times.push_back(seconds_since(start) * 1e6);
    gint timeout;
    GPollFD fds[8];
    g_main_context_query(context, priority, &timeout, fds, 8);
    g_main_context_check(context, priority, fds, 0);
  }
  r.watch_prepare_us = median(times);
  g_source_destroy(watch);
  g_source_unref(watch);
  g_main_context_unref(context);

  // 1 % of the sessions get a 1 s timeout and no grace, then age past it.
  const std::size_t expiring = std::max<std::size_t>(1, n / 100);
  for (std::size_t k = 0; k < expiring; k++) {
    GObject* s = lib.find(pool, ids[order[k]]);
    g_object_set(s, "extra-timeout", 0u, nullptr);
    lib.set_timeout(s, 1);
    g_object_unref(s);
  }
  // The expiry floor: as many sessions of the library's own type, held by
  // nobody else, made now and unref'd after the same wait as the pool's, so
  // that both are judged in the same state. (Unref'd right after they were
  // made, the floor's sessions were still in the cache: the floor measured
  // about 280 ns instead of 440 at 1M sessions here.)
  std::vector<GObject*> loose(expiring);
  for (std::size_t k = 0; k < expiring; k++) {
    char id[32];
    snprintf(id, sizeof id, "floor%zu", k);
    loose[k] = lib.session_new(id);
  }
  std::shuffle(loose.begin(), loose.end(), std::mt19937(13));
  g_usleep(1'100'000);
  start = Clock::now();
  for (GObject* s : loose)
    g_object_unref(s);
  r.expiry_floor_ns = seconds_since(start) * 1e9 / expiring;
  start = Clock::now();
  r.removed_1pct = lib.cleanup(pool);
  r.cleanup_1pct_us = seconds_since(start) * 1e6;
  r.expiry_ns = r.removed_1pct ? r.cleanup_1pct_us * 1e3 / r.removed_1pct : 0;

  // find latency on this thread while another thread runs cleanup() every
  // millisecond, as a server's expiry timer might under load.
  std::atomic<bool> stop{false};
  std::thread cleaner([&] {
    while (!stop) {
      lib.cleanup(pool);
      g_usleep(1000);
    }
  });
  std::vector<double> latencies;
  std::mt19937 random(11);
  start = Clock::now();
  while (seconds_since(start) < 1.5 && latencies.size() < 200000) {
    const char* id = ids[order[expiring + random() % (n - expiring)]];
    auto t0 = Clock::now();
    GObject* s = lib.find(pool, id);
    latencies.push_back(seconds_since(t0) * 1e6);
    if (s)
      g_object_unref(s);
  }
  stop = true;
  cleaner.join();
  std::sort(latencies.begin(), latencies.end());
  r.finds_during_cleanup = static_cast<long>(latencies.size());
  r.find_p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  r.find_max_us = latencies.back();

  g_object_unref(pool);
  return r;
}

// Operations per second with `threads` threads at once on one pool of `n`
// sessions: find+touch of random ids, then create/remove churn (one op is a
// create and its remove; the pool stays at n).
struct Throughput {
  double find_mops = 0;
  double churn_mops = 0;
};

template <class Work>
double run_threads(int threads, double seconds, Work&& work) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<long> counts(threads, 0);
  std::vector<std::thread> pool_threads;
  for (int t = 0; t < threads; t++)
    pool_threads.emplace_back([&, t] {
      while (!go)
        std::this_thread::yield();
      counts[t] = work(t, stop);
    });
  auto start = Clock::now();
  go = true;
  g_usleep(static_cast<gulong>(seconds * 1e6));
  stop = true;
  for (auto& th : pool_threads)
    th.join();
  const double elapsed = seconds_since(start);
  return std::accumulate(counts.begin(), counts.end(), 0L) / elapsed / 1e6;
}

Throughput measure_threads(const Library& lib, std::size_t n, int threads) {
  Throughput r;
  GObject* pool = lib.pool_new();
  std::vector<std::string> ids(n);
  for (std::size_t i = 0; i < n; i++) {
    GObject* s = lib.create(pool);
    ids[i] = lib.session_id(s);
    g_object_unref(s);
  }
  r.find_mops = run_threads(threads, 1.0, [&](int t, std::atomic<bool>& stop) {
    std::mt19937_64 random(100 + t);
    long done = 0;
    while (!stop) {
      for (int k = 0; k < 256; k++) {
        GObject* s = lib.find(pool, ids[random() % n].c_str());
        g_object_unref(s);  // find touches
      }
      done += 256;
    }
    return done;
  });
  r.churn_mops = run_threads(threads, 1.0, [&](int, std::atomic<bool>& stop) {
    long done = 0;
    while (!stop) {
      for (int k = 0; k < 64; k++) {
        GObject* s = lib.create(pool);
        lib.remove(pool, s);
        g_object_unref(s);
      }
      done += 64;
    }
    return done;
  });
  g_object_unref(pool);
  return r;
}

// Runs measure() in a child and reads the Result back through a pipe.
struct Metric {
  const char* name;
  const char* unit;
  double Result::*field;
  bool lower_is_better;
};

const Metric kMetrics[] = {
    {"create", "ns/session", &Result::create_ns, true},
    {"find+touch", "ns/find", &Result::find_touch_ns, true},
    {"find+touch floor", "ns/find", &Result::find_floor_ns, true},
    {"cleanup, nothing expired", "us", &Result::cleanup_none_us, true},
    {"cleanup, 1% expired", "us", &Result::cleanup_1pct_us, true},
    {"expiry per expired session", "ns", &Result::expiry_ns, true},
    {"expiry floor", "ns", &Result::expiry_floor_ns, true},
    {"watch prepare", "us", &Result::watch_prepare_us, true},
    {"heap per session", "bytes", &Result::heap_bytes, true},
    {"RSS per session", "bytes", &Result::rss_bytes, true},
    {"find p99 during cleanup", "us", &Result::find_p99_us, true},
    {"find max during cleanup", "us", &Result::find_max_us, true},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {10000, 100000, 1000000};
  // 1 and 2 threads, and 4 and 8 where the machine has the cores.
  std::vector<int> thread_counts;
  for (int t : {1, 2, 4, 8})
    if (t <= 2 || t <= static_cast<int>(std::thread::hardware_concurrency()))
      thread_counts.push_back(t);
  const char* csv_path = nullptr;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      for (char* token = strtok(argv[++i], ","); token; token = strtok(nullptr, ","))
        sizes.push_back(std::stoul(token));
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      thread_counts.clear();
      for (char* token = strtok(argv[++i], ","); token; token = strtok(nullptr, ","))
        thread_counts.push_back(std::max(1, atoi(token)));
    } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--sizes N,N,...] [--threads T,T,...] [--csv FILE]\n", argv[0]);
      return 2;
    }
  }

  FILE* csv = csv_path ? fopen(csv_path, "w") : nullptr;
  if (csv)
    fprintf(csv, "metric,unit,sessions,threads,gst,rs\n");

  printf("| metric | sessions | GstRtspServer | RtspSession | speed-up (gst/rs) |\n");
  printf("|---|---:|---:|---:|---:|\n");
  for (std::size_t n : sizes) {
    Result gst, rs;
    if (!measure_in_child([&] { return measure(kGst, n); }, &gst, init_gst) || !measure_in_child([&] { return measure(kRs, n); }, &rs, init_gst)) {
      fprintf(stderr, "a measurement failed at %zu sessions\n", n);
      return 1;
    }
    if (gst.removed_1pct != rs.removed_1pct)
      fprintf(stderr, "warning: 1%% cleanup removed %ld (gst) vs %ld (rs)\n", gst.removed_1pct, rs.removed_1pct);
    for (const Metric& m : kMetrics) {
      const double g = gst.*m.field, r = rs.*m.field;
      printf("| %s (%s) | %zu | %.2f | %.2f | %.1fx |\n", m.name, m.unit, n, g, r, r > 0 ? g / r : 0.0);
      if (csv)
        fprintf(csv, "\"%s\",%s,%zu,0,%.6f,%.6f\n", m.name, m.unit, n, g, r);
    }
    printf("| finds measured during cleanup | %zu | %ld | %ld | |\n", n, gst.finds_during_cleanup,
           rs.finds_during_cleanup);
    // Each against its own floor (cost / floor; lower is better, 1 is the floor).
    printf("| find+touch / its floor | %zu | %.2f | %.2f | |\n", n, gst.find_touch_ns / gst.find_floor_ns,
           rs.find_touch_ns / rs.find_floor_ns);
    printf("| expiry per session / its floor | %zu | %.2f | %.2f | |\n", n, gst.expiry_ns / gst.expiry_floor_ns,
           rs.expiry_ns / rs.expiry_floor_ns);
    fflush(stdout);
  }

  // Throughput across threads, at the largest size.
  const std::size_t n = sizes.back();
  printf("\n| throughput (%zu sessions) | threads | GstRtspServer | RtspSession | speed-up (rs/gst) |\n", n);
  printf("|---|---:|---:|---:|---:|\n");
  for (int threads : thread_counts) {
    Throughput gst, rs;
    if (!measure_in_child([&] { return measure_threads(kGst, n, threads); }, &gst, init_gst) ||
        !measure_in_child([&] { return measure_threads(kRs, n, threads); }, &rs, init_gst)) {
      fprintf(stderr, "a throughput measurement failed with %d threads\n", threads);
      return 1;
    }
    printf("| find+touch (Mops/s) | %d | %.2f | %.2f | %.1fx |\n", threads, gst.find_mops, rs.find_mops,
           rs.find_mops / gst.find_mops);
    printf("| create/remove churn (Mops/s) | %d | %.2f | %.2f | %.1fx |\n", threads, gst.churn_mops, rs.churn_mops,
           rs.churn_mops / gst.churn_mops);
    if (csv) {
      fprintf(csv, "\"find+touch throughput\",Mops/s,%zu,%d,%.6f,%.6f\n", n, threads, gst.find_mops, rs.find_mops);
      fprintf(csv, "\"create/remove churn throughput\",Mops/s,%zu,%d,%.6f,%.6f\n", n, threads, gst.churn_mops,
              rs.churn_mops);
    }
    fflush(stdout);
  }
  if (csv)
    fclose(csv);
  return 0;
}
