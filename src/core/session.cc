// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session.hh"

#include <limits>

#include "pool-engine.hh"

namespace rs::core {

Session::~Session() {
  if (PoolLink* link = pool_link_.load(std::memory_order_acquire))
    link->unref();
}

std::optional<std::string> Session::header() const {
  if (!id_.has_value())
    return std::nullopt;
  const std::uint32_t timeout = expiry_.timeout();
  if (timeout == Expiry::kDefaultTimeout && !timeout_always_visible())
    return std::string(id_.view());
  return std::string(id_.view()) + ";timeout=" + std::to_string(timeout);
}

bool Session::set_timeout(std::uint32_t seconds) noexcept {
  const std::uint32_t old = expiry_.timeout();
  if (!expiry_.set_timeout(seconds))
    return false;
  // 0 means never: going to or from 0 changes whether the session is indexed.
  if (seconds < old || old == 0 || seconds == 0)
    deadline_may_be_earlier();
  return true;
}

bool Session::set_extra_timeout(std::uint32_t seconds) noexcept {
  const std::uint32_t old = expiry_.extra_timeout();
  if (!expiry_.set_extra_timeout(seconds))
    return false;
  if (seconds < old)
    deadline_may_be_earlier();
  return true;
}

void Session::attach_pool(PoolLink* link) noexcept {
  link->ref();
  PoolLink* expected = nullptr;
  if (!pool_link_.compare_exchange_strong(expected, link, std::memory_order_acq_rel))
    link->unref();  // already attached; PoolEngine refuses such sessions
}

void Session::deadline_may_be_earlier() noexcept {
  if (PoolLink* link = pool_link_.load(std::memory_order_acquire))
    link->reschedule(this);
}

std::optional<SessionMedia::Channels> SessionMedia::alloc_channels() noexcept {
  const long long first = next_channel_.fetch_add(2, std::memory_order_relaxed);
  if (first > std::numeric_limits<int>::max() - 1)
    return std::nullopt;
  return Channels{static_cast<int>(first), static_cast<int>(first + 1)};
}

}  // namespace rs::core
