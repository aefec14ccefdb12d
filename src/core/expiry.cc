// SPDX-License-Identifier: LGPL-2.1-or-later
#include "expiry.hh"

#include <algorithm>
#include <limits>

namespace rs::core {

namespace {

constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr Micros kMicrosPerMilli = 1'000;

int clamp_ms(Micros micros) noexcept {
  if (micros <= 0)
    return 0;
  return static_cast<int>(std::min<Micros>(micros / kMicrosPerMilli, std::numeric_limits<int>::max()));
}

}  // namespace

Expiry::Expiry() noexcept
    : last_access_monotonic_(monotonic_now()), last_access_real_(real_now()) {}

void Expiry::touch_at(Micros monotonic, Micros real) noexcept {
  last_access_monotonic_.store(monotonic, std::memory_order_relaxed);
  last_access_real_.store(real, std::memory_order_relaxed);
}

bool Expiry::set_timeout(std::uint32_t seconds) noexcept {
  return timeout_.exchange(seconds, std::memory_order_relaxed) != seconds;
}

bool Expiry::set_extra_timeout(std::uint32_t seconds) noexcept {
  return extra_timeout_.exchange(seconds, std::memory_order_relaxed) != seconds;
}

void Expiry::prevent() noexcept {
  prevent_count_.fetch_add(1, std::memory_order_acq_rel);
}

bool Expiry::allow() noexcept {
  std::uint32_t count = prevent_count_.load(std::memory_order_acquire);
  do {
    if (count == 0)
      return false;
  } while (!prevent_count_.compare_exchange_weak(count, count - 1, std::memory_order_acq_rel));
  if (count == 1)
    touch();
  return true;
}

int Expiry::remaining_ms(Micros last_access, Micros now) const noexcept {
  const std::uint32_t timeout = timeout_.load(std::memory_order_relaxed);
  if (timeout == 0)
    return -1;
  // Both terms are below 2^32 seconds, so their sum in microseconds fits in 64 bits.
  const Micros span = (static_cast<Micros>(timeout) + extra_timeout_.load(std::memory_order_relaxed)) *
                      kMicrosPerSecond;
  if (prevent_count() > 0)
    return clamp_ms(span);
  return clamp_ms(saturating_sub(saturating_add(last_access, span), now));
}

int Expiry::next_timeout_ms(Micros now) const noexcept {
  return remaining_ms(last_access_monotonic_.load(std::memory_order_relaxed), now);
}

int Expiry::next_timeout_ms_real(Micros real_now) const noexcept {
  return remaining_ms(last_access_real_.load(std::memory_order_relaxed), real_now);
}

}  // namespace rs::core
