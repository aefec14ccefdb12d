// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <atomic>
#include <cstdint>

namespace rs::core {

// Microseconds; the same units and epochs as GLib's g_get_monotonic_time()
// (CLOCK_MONOTONIC) and g_get_real_time() (CLOCK_REALTIME), so values from the
// C API can be compared with ours.
using Micros = std::int64_t;

constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr Micros kMicrosPerMilli = 1'000;

Micros monotonic_now() noexcept;
Micros real_now() noexcept;

// For tests only: while set, monotonic_now() returns *fake (read relaxed).
// Lets model tests drive expiry at explicit times through code paths that
// read the clock themselves (allow_expire, the pool's index).
void set_fake_monotonic_clock(const std::atomic<Micros>* fake) noexcept;

// Overflow-safe arithmetic: hostile or absurd times must not wrap around into
// "expired" or "never expires".
Micros saturating_add(Micros a, Micros b) noexcept;
Micros saturating_sub(Micros a, Micros b) noexcept;

}  // namespace rs::core
