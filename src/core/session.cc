// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session.hh"

#include <limits>

#include "pool-engine.hh"

namespace rs::core {

// A GObject session is this plus 32 bytes: 96 in all, GSlice's 96-byte class.
static_assert(sizeof(Session) <= 64, "Session grew: a pool holds a million of them");

std::optional<std::string> Session::header() const {
  if (!id_.has_value())
    return std::nullopt;
  const std::uint32_t timeout = expiry().timeout();
  if (timeout == Expiry::kDefaultTimeout && !timeout_always_visible())
    return std::string(id_.view());
  return std::string(id_.view()) + ";timeout=" + std::to_string(timeout);
}

bool Session::set_timeout(std::uint32_t seconds) noexcept {
  // The value the exchange replaced, not one read before it: a racing
  // setter must not make both of them skip the report.
  const std::uint32_t old = Expiry::set_timeout(seconds);
  if (old == seconds)
    return false;
  // 0 means never: going to or from 0 changes whether the session is indexed.
  if (seconds < old || old == 0 || seconds == 0)
    deadline_may_be_earlier();
  return true;
}

bool Session::set_extra_timeout(std::uint32_t seconds) noexcept {
  const std::uint32_t old = Expiry::set_extra_timeout(seconds);
  if (old == seconds)
    return false;
  if (seconds < old)
    deadline_may_be_earlier();
  return true;
}

void Session::deadline_may_be_earlier() noexcept {
  if (in_pool())
    PoolEngine::report_earlier_deadline(this);
}

std::optional<SessionMedia::Channels> SessionMedia::alloc_channels() noexcept {
  const long long first = next_channel_.fetch_add(2, std::memory_order_relaxed);
  if (first > std::numeric_limits<int>::max() - 1)
    return std::nullopt;
  return Channels{static_cast<int>(first), static_cast<int>(first + 1)};
}

}  // namespace rs::core
