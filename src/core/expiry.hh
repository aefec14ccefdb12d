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
// No lock: the last access is one atomic and the settings (timeout, extra
// timeout, prevent count) are packed into another, so touch() — called on
// every request and RTCP packet — is one clock read and one relaxed store,
// and judging a deadline is two loads. Readers may see a touch and a
// concurrent set_timeout() in either order, which only shifts the deadline
// between two values that were both true a moment ago.
//
// Sixteen bytes in all, because a pool holds a million sessions: the timeout
// keeps its 32 bits, the extra timeout and the prevent count get 16 each.
// Values that do not fit (an extra timeout of 18 hours or more, 65535 nested
// prevents or more) move to a process-wide side table under a mutex. That
// trades speed for memory only for such sessions: their readers take the
// mutex; everyone else never sees it.
class Expiry {
 public:
  static constexpr std::uint32_t kDefaultTimeout = 60;
  static constexpr std::uint32_t kDefaultExtraTimeout = 5;

  Expiry() noexcept;
  ~Expiry();
  Expiry(const Expiry&) = delete;
  Expiry& operator=(const Expiry&) = delete;
  // How many sessions have values in the side table (for tests).
  static std::size_t spill_table_size() noexcept;

  void touch() noexcept { touch_at(monotonic_now()); }
  void touch_at(Micros monotonic) noexcept { last_access_.store(monotonic, std::memory_order_relaxed); }

  // Setters return the value they replaced.
  std::uint32_t set_timeout(std::uint32_t seconds) noexcept;
  std::uint32_t timeout() const noexcept {
    return static_cast<std::uint32_t>(settings_.load(std::memory_order_relaxed));
  }
  std::uint32_t set_extra_timeout(std::uint32_t seconds) noexcept;
  std::uint32_t extra_timeout() const noexcept;

  void prevent() noexcept;
  // Returns false, changing nothing, when there is no prevent() to undo.
  // Returning to zero counts as a touch at that moment.
  bool allow() noexcept;
  // Saturates at UINT32_MAX.
  std::uint32_t prevent_count() const noexcept;
  bool prevented() const noexcept { return field(settings_.load(std::memory_order_acquire), kPreventShift) != 0; }

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
  // settings_: timeout in bits 0-31, extra timeout in 32-47, prevent count
  // in 48-63. A 16-bit field of kSpilled means its value is in the side table.
  static constexpr unsigned kExtraShift = 32;
  static constexpr unsigned kPreventShift = 48;
  static constexpr std::uint64_t kField = 0xffff;
  static constexpr std::uint64_t kSpilled = kField;
  static std::uint64_t field(std::uint64_t word, unsigned shift) noexcept { return (word >> shift) & kField; }
  static std::uint64_t with_field(std::uint64_t word, unsigned shift, std::uint64_t value) noexcept {
    return (word & ~(kField << shift)) | (value << shift);
  }
  static bool any_spilled(std::uint64_t word) noexcept {
    return field(word, kExtraShift) == kSpilled || field(word, kPreventShift) == kSpilled;
  }
  std::uint32_t set_extra_timeout_spilled(std::uint32_t seconds) noexcept;
  // The value of a field seen as kSpilled: from the side table, or from the
  // word if it came back meanwhile. Takes the table's lock.
  std::uint64_t spilled_field(unsigned shift) const noexcept;
  // Sets a field in the word, from `word` its last value seen; returns the
  // word stored. Only under the table's lock (it may change a spill state).
  std::uint64_t store_field(std::uint64_t word, unsigned shift, std::uint64_t value) noexcept;
  void prevent_spilled() noexcept;
  // Returns whether it undid a prevent; sets `retry` when the count is no
  // longer spilled and the caller must take the lock-free way again.
  bool allow_spilled(bool& retry) noexcept;
  Micros span(std::uint64_t word) const noexcept;

  std::atomic<Micros> last_access_;
  std::atomic<std::uint64_t> settings_;
};

}  // namespace rs::core
