// SPDX-License-Identifier: LGPL-2.1-or-later
// Soak test (not run in CI): a pool of a million sessions under steady churn
// for several minutes. Clients come and go: new sessions are created, live
// ones are kept alive with find (as a server does on each request), and
// abandoned ones expire and are cleaned up. It checks that no live session
// is ever removed or lost, that every removed session had really expired,
// and that memory stays flat.
//
//   rs-soak-pool [--sessions 1000000] [--minutes 5] [--timeout 10] [--churn 20000]
#include <rtspsession/rtspsession.h>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "resident-memory.hh"

namespace {

long rss_kib() { return resident_bytes() / 1024; }

struct Soak {
  RsRTSPSessionPool* pool = nullptr;
  std::vector<std::string> live;            // ids the clients keep alive
  std::unordered_set<std::string> abandoned;  // ids no client touches any more
  long removed_ok = 0;
  long removed_live = 0;     // errors: a live session was removed
  long removed_unexpired = 0;  // errors: removed before its deadline
  gint64 cleanup_now = 0;
};

void on_removed(RsRTSPSessionPool*, RsRTSPSession* session, Soak* soak) {
  const char* id = rs_rtsp_session_get_sessionid(session);
  if (!rs_rtsp_session_is_expired_usec(session, soak->cleanup_now))
    soak->removed_unexpired++;
  if (soak->abandoned.erase(id) == 1)
    soak->removed_ok++;
  else
    soak->removed_live++;
}

}  // namespace

int main(int argc, char** argv) {
  long sessions = 1'000'000, churn_per_second = 20'000;
  double minutes = 5;
  guint timeout = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--sessions"))
      sessions = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--minutes"))
      minutes = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--timeout"))
      timeout = static_cast<guint>(atoi(argv[i + 1]));
    else if (!strcmp(argv[i], "--churn"))
      churn_per_second = atol(argv[i + 1]);
  }

  Soak soak;
  soak.pool = rs_rtsp_session_pool_new();
  g_signal_connect(soak.pool, "session-removed", G_CALLBACK(on_removed), &soak);
  std::mt19937 random(3);

  auto create = [&] {
    RsRTSPSession* s = rs_rtsp_session_pool_create(soak.pool);
    g_object_set(s, "extra-timeout", 0u, nullptr);
    rs_rtsp_session_set_timeout(s, timeout);
    soak.live.emplace_back(rs_rtsp_session_get_sessionid(s));
    g_object_unref(s);
  };
  for (long i = 0; i < sessions; i++)
    create();
  printf("created %ld sessions; RSS %ld MiB\n", sessions, rss_kib() / 1024);

  const gint64 tick = 100'000;  // µs
  const long churn_per_tick = std::max(1L, churn_per_second / 10);
  const gint64 start = g_get_monotonic_time();
  const gint64 end = start + static_cast<gint64>(minutes * 60e6);
  std::size_t touch_cursor = 0;
  long lost = 0, created = sessions, ticks = 0;
  long rss_after_first_minute = 0, rss_max = 0;
  gint64 next_report = start + 10'000'000;

  while (g_get_monotonic_time() < end) {
    const gint64 tick_start = g_get_monotonic_time();
    // Clients leave: their sessions are no longer touched.
    for (long k = 0; k < churn_per_tick && !soak.live.empty(); k++) {
      std::size_t victim = random() % soak.live.size();
      soak.abandoned.insert(std::move(soak.live[victim]));
      soak.live[victim] = std::move(soak.live.back());
      soak.live.pop_back();
      if (touch_cursor > soak.live.size())
        touch_cursor = 0;
    }
    // New clients arrive.
    for (long k = 0; k < churn_per_tick; k++, created++)
      create();
    // Live clients send requests: each is found (and so touched) at least
    // twice per timeout.
    const std::size_t per_tick = soak.live.size() * 2 * tick / (timeout * 1'000'000LL) + 1;
    for (std::size_t k = 0; k < per_tick && !soak.live.empty(); k++) {
      touch_cursor = (touch_cursor + 1) % soak.live.size();
      RsRTSPSession* s = rs_rtsp_session_pool_find(soak.pool, soak.live[touch_cursor].c_str());
      if (s == nullptr)
        lost++;
      else
        g_object_unref(s);
    }
    // The server's expiry timer.
    soak.cleanup_now = g_get_monotonic_time();
    rs_rtsp_session_pool_cleanup_usec(soak.pool, soak.cleanup_now);
    ticks++;

    const long rss = rss_kib();
    rss_max = std::max(rss_max, rss);
    const gint64 now = g_get_monotonic_time();
    if (rss_after_first_minute == 0 && now - start > 60'000'000)
      rss_after_first_minute = rss;
    if (now >= next_report) {
      printf("t=%3llds  sessions %u (live %zu, abandoned %zu)  created %ld  expired %ld  RSS %ld MiB  "
             "heap %zu MiB  errors: lost %ld, live removed %ld, removed early %ld\n",
             static_cast<long long>((now - start) / 1'000'000), rs_rtsp_session_pool_get_n_sessions(soak.pool),
             soak.live.size(), soak.abandoned.size(), created, soak.removed_ok, rss / 1024,
             mallinfo2().uordblks >> 20, lost, soak.removed_live, soak.removed_unexpired);
      fflush(stdout);
      next_report += 10'000'000;
    }
    const gint64 spent = g_get_monotonic_time() - tick_start;
    if (spent < tick)
      g_usleep(tick - spent);
  }

  // Every live session is still there.
  for (const std::string& id : soak.live) {
    RsRTSPSession* s = rs_rtsp_session_pool_find(soak.pool, id.c_str());
    if (s == nullptr)
      lost++;
    else
      g_object_unref(s);
  }
  const long rss_end = rss_kib();
  const double growth = rss_after_first_minute ? double(rss_end - rss_after_first_minute) / rss_after_first_minute : 0;
  printf("\n%ld ticks; %ld sessions created, %ld expired and removed; pool holds %u\n", ticks, created,
         soak.removed_ok, rs_rtsp_session_pool_get_n_sessions(soak.pool));
  printf("RSS after 1 min %ld MiB, at the end %ld MiB (%+.1f %%), peak %ld MiB\n", rss_after_first_minute / 1024,
         rss_end / 1024, growth * 100, rss_max / 1024);
  printf("lost live sessions: %ld; live sessions removed: %ld; removed before expiry: %ld\n", lost,
         soak.removed_live, soak.removed_unexpired);
  const bool ok = lost == 0 && soak.removed_live == 0 && soak.removed_unexpired == 0 &&
                  (rss_after_first_minute == 0 || growth < 0.10);
  printf("%s\n", ok ? "SOAK OK" : "SOAK FAILED");
  g_object_unref(soak.pool);
  return ok ? 0 : 1;
}
