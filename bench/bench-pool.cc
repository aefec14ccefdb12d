// SPDX-License-Identifier: LGPL-2.1-or-later
// The same pool workload on GStreamer's GstRTSPSessionPool and on
// RsRTSPSessionPool, side by side in one run. Each (library, size) pair runs
// in a fresh child process so that neither sees the other's heap.
//
//   rs-bench-pool [--sizes 10000,100000,1000000] [--csv FILE]
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
};

// What one child measures.
struct Result {
  double create_ns = 0;          // per session
  double find_touch_ns = 0;      // per find, random order
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
  g_usleep(1'100'000);
  start = Clock::now();
  r.removed_1pct = lib.cleanup(pool);
  r.cleanup_1pct_us = seconds_since(start) * 1e6;

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
    {"cleanup, nothing expired", "us", &Result::cleanup_none_us, true},
    {"cleanup, 1% expired", "us", &Result::cleanup_1pct_us, true},
    {"watch prepare", "us", &Result::watch_prepare_us, true},
    {"heap per session", "bytes", &Result::heap_bytes, true},
    {"RSS per session", "bytes", &Result::rss_bytes, true},
    {"find p99 during cleanup", "us", &Result::find_p99_us, true},
    {"find max during cleanup", "us", &Result::find_max_us, true},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {10000, 100000, 1000000};
  const char* csv_path = nullptr;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      for (char* token = strtok(argv[++i], ","); token; token = strtok(nullptr, ","))
        sizes.push_back(std::stoul(token));
    } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--sizes N,N,...] [--csv FILE]\n", argv[0]);
      return 2;
    }
  }

  FILE* csv = csv_path ? fopen(csv_path, "w") : nullptr;
  if (csv)
    fprintf(csv, "metric,unit,sessions,gst,rs\n");

  printf("| metric | sessions | GstRtspServer | RtspSession | speed-up (gst/rs) |\n");
  printf("|---|---:|---:|---:|---:|\n");
  for (std::size_t n : sizes) {
    Result gst, rs;
    if (!measure_in_child([&] { return measure(kGst, n); }, &gst) || !measure_in_child([&] { return measure(kRs, n); }, &rs)) {
      fprintf(stderr, "a measurement failed at %zu sessions\n", n);
      return 1;
    }
    if (gst.removed_1pct != rs.removed_1pct)
      fprintf(stderr, "warning: 1%% cleanup removed %ld (gst) vs %ld (rs)\n", gst.removed_1pct, rs.removed_1pct);
    for (const Metric& m : kMetrics) {
      const double g = gst.*m.field, r = rs.*m.field;
      printf("| %s (%s) | %zu | %.2f | %.2f | %.1fx |\n", m.name, m.unit, n, g, r, r > 0 ? g / r : 0.0);
      if (csv)
        fprintf(csv, "\"%s\",%s,%zu,%.6f,%.6f\n", m.name, m.unit, n, g, r);
    }
    printf("| finds measured during cleanup | %zu | %ld | %ld | |\n", n, gst.finds_during_cleanup,
           rs.finds_during_cleanup);
    fflush(stdout);
  }
  if (csv)
    fclose(csv);
  return 0;
}
