// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>

namespace rs::core {

// Microseconds; the same units and epochs as GLib's g_get_monotonic_time()
// (CLOCK_MONOTONIC) and g_get_real_time() (CLOCK_REALTIME), so values from the
// C API can be compared with ours.
using Micros = std::int64_t;

Micros monotonic_now() noexcept;
Micros real_now() noexcept;

// Overflow-safe arithmetic: hostile or absurd times must not wrap around into
// "expired" or "never expires".
Micros saturating_add(Micros a, Micros b) noexcept;
Micros saturating_sub(Micros a, Micros b) noexcept;

}  // namespace rs::core
