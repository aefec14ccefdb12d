// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace rs::core {

// How much of `request_path` the media path covers, or nothing when it does
// not cover it. A media path covers a request path when it is a prefix that
// ends on a component boundary: the paths are equal, or the request path goes
// on with '/'. So "/test" covers "/test" and "/test/stream=0" but not "/testX".
// The media path "/" is the server root and covers every path starting with
// '/', matching 1 character.
std::optional<std::size_t> match_path(std::string_view media_path, std::string_view request_path) noexcept;

}  // namespace rs::core
