// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "clock.hh"

namespace rs::core {

// When a session expires: last access + timeout + extra timeout, unless expiry
// is prevented or the timeout is 0.
//
// No lock: each field is an independent atomic, so touch() — called on every
// request and RTCP packet — is one clock read and one relaxed store. Readers may see a touch and
// a concurrent set_timeout() in either order, which only shifts the deadline
// between two values that were both true a moment ago.
class Expiry {
 public:
  static constexpr std::uint32_t kDefaultTimeout = 60;
  static constexpr std::uint32_t kDefaultExtraTimeout = 5;

  Expiry() noexcept;

  void touch() noexcept { touch_at(monotonic_now()); }
  void touch_at(Micros monotonic) noexcept { last_access_.store(monotonic, std::memory_order_relaxed); }

  // Setters return the value they replaced.
  std::uint32_t set_timeout(std::uint32_t seconds) noexcept;
  std::uint32_t timeout() const noexcept { return timeout_.load(std::memory_order_relaxed); }
  std::uint32_t set_extra_timeout(std::uint32_t seconds) noexcept;
  std::uint32_t extra_timeout() const noexcept { return extra_timeout_.load(std::memory_order_relaxed); }

  void prevent() noexcept;
  // Returns false, changing nothing, when there is no prevent() to undo.
  // Returning to zero counts as a touch at that moment.
  bool allow() noexcept;
  std::uint32_t prevent_count() const noexcept { return prevent_count_.load(std::memory_order_acquire); }

  // Milliseconds until expiry at monotonic time `now`, in [0, INT32_MAX];
  // -1 when the timeout is 0 (never expires).
  int next_timeout_ms(Micros now) const noexcept;
  bool is_expired(Micros now) const noexcept { return next_timeout_ms(now) == 0; }
  // The same against the wall clock (for the deprecated GTimeVal API). The
  // wall-clock time of the last access is the monotonic one moved by the
  // clocks' current offset; storing it too would cost 8 bytes per session
  // and a second clock read per touch.
  int next_timeout_ms_real(Micros real_now) const noexcept;

  // The first monotonic time at which next_timeout_ms() is 0, judged at
  // `now` (a prevented session counts as touched at `now`); nothing when the
  // timeout is 0.
  std::optional<Micros> expires_at(Micros now) const noexcept;

  Micros last_access() const noexcept { return last_access_.load(std::memory_order_relaxed); }

 private:
  Micros span() const noexcept;

  std::atomic<Micros> last_access_;
  std::atomic<std::uint32_t> timeout_{kDefaultTimeout};
  std::atomic<std::uint32_t> extra_timeout_{kDefaultExtraTimeout};
  std::atomic<std::uint32_t> prevent_count_{0};
};

}  // namespace rs::core
