// SPDX-License-Identifier: LGPL-2.1-or-later
#include "clock.hh"

#include <time.h>

#include <limits>

namespace rs::core {
namespace {

Micros read_clock(clockid_t id) noexcept {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<Micros>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

Micros monotonic_now() noexcept { return read_clock(CLOCK_MONOTONIC); }

Micros real_now() noexcept { return read_clock(CLOCK_REALTIME); }

Micros saturating_add(Micros a, Micros b) noexcept {
  Micros r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<Micros>::max() : std::numeric_limits<Micros>::min();
  return r;
}

Micros saturating_sub(Micros a, Micros b) noexcept {
  Micros r;
  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? std::numeric_limits<Micros>::max() : std::numeric_limits<Micros>::min();
  return r;
}

}  // namespace rs::core
