// SPDX-License-Identifier: LGPL-2.1-or-later
#include "path-match.hh"

namespace rs::core {

std::optional<std::size_t> match_path(std::string_view media_path, std::string_view request_path) noexcept {
  if (media_path == "/") {
    if (request_path.empty() || request_path.front() != '/')
      return std::nullopt;
    return 1;
  }
  if (request_path.substr(0, media_path.size()) != media_path)
    return std::nullopt;
  if (request_path.size() != media_path.size() && request_path[media_path.size()] != '/')
    return std::nullopt;
  return media_path.size();
}

}  // namespace rs::core
