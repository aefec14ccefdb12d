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

std::atomic<const std::atomic<Micros>*> fake_monotonic{nullptr};

}  // namespace

void set_fake_monotonic_clock(const std::atomic<Micros>* fake) noexcept {
  fake_monotonic.store(fake, std::memory_order_release);
}

Micros monotonic_now() noexcept {
  if (const auto* fake = fake_monotonic.load(std::memory_order_relaxed)) [[unlikely]]
    return fake->load(std::memory_order_relaxed);
  return read_clock(CLOCK_MONOTONIC);
}

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
