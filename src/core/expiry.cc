// SPDX-License-Identifier: LGPL-2.1-or-later
#include "expiry.hh"

#include <algorithm>
#include <limits>

namespace rs::core {

namespace {


int clamp_ms(Micros micros) noexcept {
  if (micros <= 0)
    return 0;
  return static_cast<int>(std::min<Micros>(micros / kMicrosPerMilli, std::numeric_limits<int>::max()));
}

}  // namespace

Expiry::Expiry() noexcept : last_access_(monotonic_now()) {}

std::uint32_t Expiry::set_timeout(std::uint32_t seconds) noexcept {
  return timeout_.exchange(seconds, std::memory_order_relaxed);
}

std::uint32_t Expiry::set_extra_timeout(std::uint32_t seconds) noexcept {
  return extra_timeout_.exchange(seconds, std::memory_order_relaxed);
}

void Expiry::prevent() noexcept {
  prevent_count_.fetch_add(1, std::memory_order_acq_rel);
}

bool Expiry::allow() noexcept {
  std::uint32_t count = prevent_count_.load(std::memory_order_acquire);
  do {
    if (count == 0)
      return false;
    // Touch before the count reaches 0: a reader that sees 0 must see the
    // touch too, not the last access from before prevent().
    if (count == 1)
      touch();
  } while (!prevent_count_.compare_exchange_weak(count, count - 1, std::memory_order_acq_rel));
  return true;
}

Micros Expiry::span() const noexcept {
  // Both terms are below 2^32 seconds, so the sum in microseconds fits in 64 bits.
  return (static_cast<Micros>(timeout_.load(std::memory_order_relaxed)) +
          extra_timeout_.load(std::memory_order_relaxed)) *
         kMicrosPerSecond;
}

int Expiry::next_timeout_ms(Micros now) const noexcept {
  if (timeout_.load(std::memory_order_relaxed) == 0)
    return -1;
  if (prevent_count() > 0)
    return clamp_ms(span());
  return clamp_ms(saturating_sub(saturating_add(last_access(), span()), now));
}

int Expiry::next_timeout_ms_real(Micros real_now) const noexcept {
  const Micros clock_offset = rs::core::real_now() - monotonic_now();
  return next_timeout_ms(saturating_sub(real_now, clock_offset));
}

std::optional<Micros> Expiry::expires_at(Micros now) const noexcept {
  if (timeout_.load(std::memory_order_relaxed) == 0)
    return std::nullopt;
  const Micros base = prevent_count() > 0 ? now : last_access();
  // next_timeout_ms() floors to milliseconds: 0 from 999 µs before the deadline.
  return saturating_sub(saturating_add(base, span()), kMicrosPerMilli - 1);
}

}  // namespace rs::core
