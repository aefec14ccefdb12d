// SPDX-License-Identifier: LGPL-2.1-or-later
// Expiry in GStreamer's own GstRTSPSessionPool and in RsGstSessionPool
// (librtspsession-gst), both holding stock GstRTSPSession objects, side by
// side in one run. Each (pool, size) pair runs in a fresh child process so
// that neither sees the other's heap.
//
//   rs-bench-gst-pool [--sizes 10000,100000,1000000] [--runs 5] [--json FILE]
//
// Each pool holds N long-lived sessions (the default 60 s timeout). For the
// "1 % due" figures N/100 more sessions are added with a 1 s timeout and no
// extra time, and the cleanup runs at real time once they have expired: the
// stock pool has no cleanup at an explicit time, so both pools wait for the
// same real second. find latency is measured on a second thread while the
// first runs cleanup as cohorts of such sessions fall due, 100 ms apart.
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <rtspsession-gst/rtspsession-gst.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

#ifndef RS_BENCH_GST_RTSP_SERVER_VERSION
#define RS_BENCH_GST_RTSP_SERVER_VERSION "?"
#endif

namespace {

// What differs between the two pools; everything else is the stock API.
struct PoolKind {
  const char* name;
  GstRTSPSessionPool* (*pool_new)();
  guint (*cleanup)(GstRTSPSessionPool* pool);
  GSource* (*create_watch)(GstRTSPSessionPool* pool);
  // Tells the pool that a session's timeout was lowered. The stock pool
  // reads every timeout on every scan and needs no word.
  void (*reschedule)(GstRTSPSessionPool* pool, GstRTSPSession* session);
  // Our index judges every new session once more a second after its
  // creation; this does that pass for sessions at least a second old, so
  // that the figures after it are the steady state. Null for the stock pool.
  void (*settle)(GstRTSPSessionPool* pool);
};

const PoolKind kStock = {
    "GstRTSPSessionPool",
    [] { return gst_rtsp_session_pool_new(); },
    [](GstRTSPSessionPool* pool) { return gst_rtsp_session_pool_cleanup(pool); },
    [](GstRTSPSessionPool* pool) { return gst_rtsp_session_pool_create_watch(pool); },
    [](GstRTSPSessionPool*, GstRTSPSession*) {},
    nullptr,
};

const PoolKind kOurs = {
    "RsGstSessionPool",
    [] { return GST_RTSP_SESSION_POOL(rs_gst_session_pool_new()); },
    [](GstRTSPSessionPool* pool) { return rs_gst_session_pool_cleanup(RS_GST_SESSION_POOL(pool)); },
    [](GstRTSPSessionPool* pool) { return rs_gst_session_pool_create_watch(RS_GST_SESSION_POOL(pool)); },
    [](GstRTSPSessionPool* pool, GstRTSPSession* s) { rs_gst_session_pool_reschedule(RS_GST_SESSION_POOL(pool), s); },
    [](GstRTSPSessionPool* pool) { rs_gst_session_pool_next_wakeup(RS_GST_SESSION_POOL(pool), g_get_monotonic_time()); },
};

// What one child measures. Plain data: it crosses a pipe.
struct Result {
  double cleanup_none_us = 0;     // median time of one cleanup, nothing due
  double cleanup_due_us = 0;      // median time of one cleanup, 1 % due
  double cleanup_due_ns = 0;      // the same per expired session, in ns
  double watch_iteration_us = 0;  // median prepare+query+check, nothing due
  double find_p99_us = 0;         // find latency while expiry runs
  double find_max_us = 0;
  double find_p99_paced_us = 0;   // the same as steadily paced clients see it
  double settle_ms = 0;  // ours only: the one-time second look at new sessions
  long finds_measured = 0;
  long expiry_removed = 0;  // sessions the cleanups removed meanwhile
  long anomalies = 0;         // counts that were not what the setup made
};

// Sleeps until a g_get_monotonic_time() instant.
void sleep_until_monotonic(gint64 when) {
  const gint64 left = when - g_get_monotonic_time();
  if (left > 0)
    g_usleep(left);
}

// Mean time of one call of `call`, in µs. One call of ours with nothing due
// is far below the clock's resolution, so the calls are timed in batches that
// double until a batch lasts long enough; a stock call usually does alone.
template <class Call>
double time_one_call_us(Call&& call) {
  constexpr double kMinBatchSeconds = 200e-6;
  for (long calls = 1;; calls *= 2) {
    const auto start = Clock::now();
    for (long i = 0; i < calls; i++)
      call();
    const double seconds = seconds_since(start);
    if (seconds >= kMinBatchSeconds || calls >= (1L << 24))
      return seconds * 1e6 / calls;
  }
}

// The value below which `fraction` of `values` lie (reorders them).
float percentile(std::vector<float>& values, double fraction) {
  auto at = values.begin() + std::ptrdiff_t(double(values.size() - 1) * fraction);
  std::nth_element(values.begin(), at, values.end());
  return *at;
}

// The p99 of find latencies as clients issuing finds at a steady rate would
// see it. The finder in measure() issues its next find only when the last one
// returns, so a find stuck behind a long cleanup counts once however long it
// waits. Each slow find is taken to stand also for the finds that would
// have been issued meanwhile, one per median find time, each waiting what
// was left of it (HdrHistogram's correction for coordinated omission).
float paced_p99(std::vector<float> latencies) {
  const float interval = std::max(percentile(latencies, 0.5), 0.05f);
  const std::size_t measured = latencies.size();
  for (std::size_t i = 0; i < measured; i++)
    for (double waited = latencies[i] - interval; waited > interval; waited -= interval)
      latencies.push_back(float(waited));
  return percentile(latencies, 0.99);
}

// Adds `count` sessions with a 1 s timeout and no extra time. Returns the
// monotonic time by which all of them have expired.
gint64 add_expiring(const PoolKind& kind, GstRTSPSessionPool* pool, std::size_t count) {
  for (std::size_t i = 0; i < count; i++) {
    GstRTSPSession* session = gst_rtsp_session_pool_create(pool);
    g_object_set(session, "extra-timeout", 0u, nullptr);
    gst_rtsp_session_set_timeout(session, 1);
    kind.reschedule(pool, session);
    g_object_unref(session);  // the pool holds the only reference
  }
  // A margin past the last one's deadline, for the millisecond rounding.
  return g_get_monotonic_time() + G_USEC_PER_SEC + 10'000;
}

gboolean keep_watching(GstRTSPSessionPool*, gpointer) {
  return G_SOURCE_CONTINUE;
}

GstRTSPFilterResult remove_session(GstRTSPSessionPool*, GstRTSPSession*, gpointer) {
  return GST_RTSP_FILTER_REMOVE;
}

// The cohorts of the find-latency phase: each is 1 % of the pool, made
// 100 ms after the one before, so that they fall due one after another.
constexpr int kCohorts = 8;
constexpr gint64 kCohortSpacingUs = 100'000;

Result measure(const PoolKind& kind, std::size_t n, int runs) {
  Result r;
  const std::size_t expiring = std::max<std::size_t>(1, n / 100);
  GstRTSPSessionPool* pool = kind.pool_new();
  std::vector<const char*> ids(n);  // owned by the sessions, which the pool keeps
  for (std::size_t i = 0; i < n; i++) {
    GstRTSPSession* session = gst_rtsp_session_pool_create(pool);
    ids[i] = gst_rtsp_session_get_sessionid(session);
    g_object_unref(session);
  }
  sleep_until_monotonic(g_get_monotonic_time() + G_USEC_PER_SEC + 10'000);
  if (kind.settle) {
    const auto start = Clock::now();
    kind.settle(pool);
    r.settle_ms = seconds_since(start) * 1e3;
  }

  // Cleanup with nothing due.
  std::vector<double> times;
  for (int run = 0; run < runs; run++) {
    times.push_back(time_one_call_us([&] {
      if (kind.cleanup(pool) != 0)
        r.anomalies++;
    }));
  }
  r.cleanup_none_us = median(times);

  // One main-loop iteration with the pool's watch attached, nothing due.
  GMainContext* context = g_main_context_new();
  g_main_context_acquire(context);
  GSource* watch = kind.create_watch(pool);
  g_source_set_callback(watch, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(keep_watching)),
                        nullptr, nullptr);
  g_source_attach(watch, context);
  times.clear();
  for (int run = 0; run < runs; run++) {
    times.push_back(time_one_call_us([&] {
      gint priority, timeout;
      GPollFD fds[8];
      g_main_context_prepare(context, &priority);
      const gint n_fds = g_main_context_query(context, priority, &timeout, fds, G_N_ELEMENTS(fds));
      if (g_main_context_check(context, priority, fds, std::min<gint>(n_fds, G_N_ELEMENTS(fds)))) {
        r.anomalies++;  // nothing should be ready
        g_main_context_dispatch(context);
      }
    }));
  }
  r.watch_iteration_us = median(times);
  g_source_destroy(watch);
  g_source_unref(watch);
  g_main_context_release(context);
  g_main_context_unref(context);

  // Cleanup with 1 % due: a fresh 1 % for every run.
  times.clear();
  std::vector<double> per_session;
  for (int run = 0; run < runs; run++) {
    sleep_until_monotonic(add_expiring(kind, pool, expiring));
    const auto start = Clock::now();
    const guint removed = kind.cleanup(pool);
    const double us = seconds_since(start) * 1e6;
    if (removed != expiring)
      r.anomalies++;
    times.push_back(us);
    per_session.push_back(removed ? us * 1e3 / removed : 0);
  }
  r.cleanup_due_us = median(times);
  r.cleanup_due_ns = median(per_session);

  // find latency on another thread while this one runs cleanup as each
  // cohort falls due (a stock cleanup that outlasts the spacing runs straight
  // into the next). Only the long-lived sessions are looked up.
  std::vector<gint64> due_at(kCohorts);
  const gint64 first = g_get_monotonic_time();
  for (int i = 0; i < kCohorts; i++) {
    sleep_until_monotonic(first + i * kCohortSpacingUs);
    due_at[i] = add_expiring(kind, pool, expiring);
  }
  std::atomic<bool> stop{false}, recording{false};
  std::vector<float> latencies;  // µs; the finder's until the join, as is `missing`
  latencies.reserve(1 << 22);
  long missing = 0;
  std::thread finder([&] {
    std::mt19937_64 random(11);
    while (!stop.load(std::memory_order_relaxed)) {
      const char* id = ids[random() % n];
      const auto t0 = Clock::now();
      GstRTSPSession* session = gst_rtsp_session_pool_find(pool, id);
      const auto t1 = Clock::now();
      if (session)
        g_object_unref(session);
      else
        missing++;
      if (recording.load(std::memory_order_relaxed))
        latencies.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
    }
  });
  sleep_until_monotonic(due_at[0]);
  recording = true;
  for (int i = 0; i < kCohorts; i++) {
    sleep_until_monotonic(due_at[i]);
    r.expiry_removed += kind.cleanup(pool);
  }
  recording = false;
  stop = true;
  finder.join();
  r.anomalies += missing;
  if (r.expiry_removed != long(kCohorts * expiring))
    r.anomalies++;
  r.finds_measured = long(latencies.size());
  if (!latencies.empty()) {
    r.find_p99_us = percentile(latencies, 0.99);
    r.find_max_us = *std::max_element(latencies.begin(), latencies.end());
    r.find_p99_paced_us = paced_p99(std::move(latencies));
  }

  if (gst_rtsp_session_pool_get_n_sessions(pool) != n)
    r.anomalies++;  // a long-lived session expired: the run took over a minute
  // Empty the pool before letting it go: finalizing an RsGstSessionPool that
  // still holds sessions crashes (the stock finalize emits session-removed
  // on the finalized object, which our class handler makes GLib do).
  gst_rtsp_session_pool_filter(pool, remove_session, nullptr);
  g_object_unref(pool);
  return r;
}

// Runs measure() in a child and reads the Result back through a pipe.
// The figures the companion library is meant to reach, printed next to the
// measured ones (not asserted). They apply at kTargetSessions.
constexpr std::size_t kTargetSessions = 1'000'000;

struct Metric {
  const char* name;
  const char* unit;
  double Result::*field;
  double min_ratio;  // stock/ours at kTargetSessions; 0: none
  double ours_max;   // ours at kTargetSessions, in `unit`; 0: none
};

const Metric kMetrics[] = {
    {"cleanup, nothing due", "us/call", &Result::cleanup_none_us, 1000, 0},
    {"cleanup, 1% due", "us/call", &Result::cleanup_due_us, 10, 0},
    {"cleanup, 1% due, per expired session", "ns", &Result::cleanup_due_ns, 0, 0},
    {"watch iteration, nothing due", "us", &Result::watch_iteration_us, 0, 0},
    {"find p99 during expiry", "us", &Result::find_p99_us, 0, 1000},
    {"find max during expiry", "us", &Result::find_max_us, 0, 0},
    {"find p99 during expiry, paced clients", "us", &Result::find_p99_paced_us, 0, 0},
};

// Enough digits for both ends of the range: 0.042 and 123456.
std::string figure(double value) {
  char text[32];
  snprintf(text, sizeof text, value >= 100 ? "%.0f" : value >= 1 ? "%.2f" : "%.3f", value);
  return text;
}

std::string target_text(const Metric& m, std::size_t n, double stock, double ours) {
  char text[96];
  if (m.min_ratio > 0)
    snprintf(text, sizeof text, ">=%.0fx at 1M", m.min_ratio);
  else if (m.ours_max > 0)
    snprintf(text, sizeof text, "ours <=%.0f %s at 1M", m.ours_max, m.unit);
  else
    return "";
  std::string target = text;
  if (n == kTargetSessions) {
    const bool met = m.min_ratio > 0 ? ours > 0 && stock / ours >= m.min_ratio : ours <= m.ours_max;
    target += met ? ": met" : ": not met";
  }
  return target;
}

// One pool size's pair of results.
struct Measured {
  std::size_t sessions;
  Result stock, ours;
};

// Writes the results for bench/plot-gst.py.
void write_json(FILE* json, int runs, const std::vector<Measured>& all) {
  fprintf(json, "{\n  \"benchmark\": \"rs-bench-gst-pool\",\n");
  fprintf(json, "  \"stock\": \"%s (gst-rtsp-server %s)\",\n", kStock.name, RS_BENCH_GST_RTSP_SERVER_VERSION);
  fprintf(json, "  \"ours\": \"%s\",\n  \"runs\": %d,\n  \"targets\": [", kOurs.name, runs);
  const char* separator = "\n";
  for (const Metric& m : kMetrics) {
    if (m.min_ratio > 0)
      fprintf(json, "%s    {\"metric\": \"%s\", \"sessions\": %zu, \"min_ratio\": %g}", separator, m.name,
              kTargetSessions, m.min_ratio);
    else if (m.ours_max > 0)
      fprintf(json, "%s    {\"metric\": \"%s\", \"sessions\": %zu, \"ours_max\": %g, \"unit\": \"%s\"}", separator,
              m.name, kTargetSessions, m.ours_max, m.unit);
    else
      continue;
    separator = ",\n";
  }
  fprintf(json, "\n  ],\n  \"results\": [");
  separator = "\n";
  for (const Measured& x : all) {
    for (const Metric& m : kMetrics) {
      const double s = x.stock.*m.field, o = x.ours.*m.field;
      fprintf(json, "%s    {\"metric\": \"%s\", \"unit\": \"%s\", \"sessions\": %zu, \"stock\": %.6f, "
              "\"ours\": %.6f, \"ratio\": %.6f}", separator, m.name, m.unit, x.sessions, s, o, o > 0 ? s / o : 0.0);
      separator = ",\n";
    }
  }
  fprintf(json, "\n  ],\n  \"details\": [");
  separator = "\n";
  for (const Measured& x : all) {
    fprintf(json, "%s    {\"sessions\": %zu, \"ours_second_look_ms\": %.6f, \"finds_measured\": "
            "{\"stock\": %ld, \"ours\": %ld}, \"anomalies\": {\"stock\": %ld, \"ours\": %ld}}",
            separator, x.sessions, x.ours.settle_ms, x.stock.finds_measured, x.ours.finds_measured,
            x.stock.anomalies, x.ours.anomalies);
    separator = ",\n";
  }
  fprintf(json, "\n  ]\n}\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {10000, 100000, 1000000};
  int runs = 5;
  const char* json_path = nullptr;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      for (char* token = strtok(argv[++i], ","); token; token = strtok(nullptr, ","))
        sizes.push_back(std::stoul(token));
    } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = std::max(1, atoi(argv[++i]));
    } else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--sizes N,N,...] [--runs N] [--json FILE]\n", argv[0]);
      return 2;
    }
  }

  printf("| metric | sessions | %s | %s | stock/ours | target |\n", kStock.name, kOurs.name);
  printf("|---|---:|---:|---:|---:|---|\n");
  std::vector<Measured> all;
  for (std::size_t n : sizes) {
    Measured x{n, {}, {}};
    if (!measure_in_child([&] { return measure(kStock, n, runs); }, &x.stock, init_gst) ||
        !measure_in_child([&] { return measure(kOurs, n, runs); }, &x.ours, init_gst)) {
      fprintf(stderr, "a measurement failed at %zu sessions\n", n);
      return 1;
    }
    if (x.stock.anomalies || x.ours.anomalies)
      fprintf(stderr, "warning: at %zu sessions, %ld (stock) and %ld (ours) counts differed from the setup\n", n,
              x.stock.anomalies, x.ours.anomalies);
    for (const Metric& m : kMetrics) {
      const double s = x.stock.*m.field, o = x.ours.*m.field;
      printf("| %s (%s) | %zu | %s | %s | %sx | %s |\n", m.name, m.unit, n, figure(s).c_str(), figure(o).c_str(),
             figure(o > 0 ? s / o : 0.0).c_str(), target_text(m, n, s, o).c_str());
    }
    printf("| ours: second look at new sessions, once (ms) | %zu | - | %s | | |\n", n,
           figure(x.ours.settle_ms).c_str());
    printf("| finds measured during expiry (sessions removed in %d cleanups) | %zu | %ld (%ld) | %ld (%ld) | | |\n",
           kCohorts, n, x.stock.finds_measured, x.stock.expiry_removed, x.ours.finds_measured, x.ours.expiry_removed);
    fflush(stdout);
    all.push_back(x);
  }

  if (json_path) {
    FILE* json = fopen(json_path, "w");
    if (json == nullptr) {
      perror(json_path);
      return 1;
    }
    write_json(json, runs, all);
    fclose(json);
  }
  return 0;
}
