// SPDX-License-Identifier: LGPL-2.1-or-later
// What the benchmarks time and run with.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <vector>

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Runs `measure` in a fresh child process, so that no run inherits another's
// heap, and brings back its plain-data result through a pipe. `init`, when
// given, runs first in the child (gst_init for the benchmarks that link
// GStreamer).
template <class Result, class Measure>
bool measure_in_child(Measure&& measure, Result* out, void (*init)() = nullptr) {
  static_assert(std::is_trivially_copyable_v<Result>, "the result crosses a pipe");
  int fds[2];
  if (pipe(fds) != 0)
    return false;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (init)
      init();
    Result r = measure();
    ssize_t written = write(fds[1], &r, sizeof r);
    _exit(written == sizeof r ? 0 : 1);
  }
  close(fds[1]);
  ssize_t got = read(fds[0], out, sizeof *out);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
