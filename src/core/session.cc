// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session.hh"

#include <limits>

namespace rs::core {

std::optional<std::string> Session::header() const {
  if (!id_)
    return std::nullopt;
  const std::uint32_t timeout = expiry.timeout();
  if (timeout == Expiry::kDefaultTimeout && !timeout_always_visible())
    return *id_;
  return *id_ + ";timeout=" + std::to_string(timeout);
}

std::optional<SessionMedia::Channels> SessionMedia::alloc_channels() noexcept {
  const long long first = next_channel_.fetch_add(2, std::memory_order_relaxed);
  if (first > std::numeric_limits<int>::max() - 1)
    return std::nullopt;
  return Channels{static_cast<int>(first), static_cast<int>(first + 1)};
}

}  // namespace rs::core
