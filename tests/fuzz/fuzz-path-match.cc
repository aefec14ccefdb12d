// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: path matching and the media registry's longest match
// against a plain reference written independently of the library.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/media-registry.hh"
#include "core/path-match.hh"

namespace {

// The rule, stated as directly as possible: the root "/" covers every path
// starting with '/', with length 1; otherwise the media path must be a
// prefix that ends where the request path ends or has a '/'.
std::optional<std::size_t> reference_match(const std::string& media, const std::string& request) {
  if (media == "/")
    return !request.empty() && request[0] == '/' ? std::optional<std::size_t>(1) : std::nullopt;
  if (request.size() < media.size() || request.compare(0, media.size(), media) != 0)
    return std::nullopt;
  if (request.size() == media.size() || request[media.size()] == '/')
    return media.size();
  return std::nullopt;
}

struct Media {
  int index;
};
using Handle = std::shared_ptr<Media>;

}  // namespace

// Input: NUL-separated strings; the last is the request path, the others
// are media paths managed in order.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < size; i++) {
    if (data[i] == '\0') {
      if (parts.size() == 32)
        break;
      parts.emplace_back();
    } else {
      parts.back().push_back(static_cast<char>(data[i]));
    }
  }
  const std::string request = parts.back();
  parts.pop_back();

  rs::core::MediaRegistry<Handle> registry;
  std::optional<int> best;
  std::size_t best_length = 0;
  for (std::size_t i = 0; i < parts.size(); i++) {
    const auto ours = rs::core::match_path(parts[i], request);
    const auto theirs = reference_match(parts[i], request);
    if (ours != theirs)
      __builtin_trap();
    registry.add(parts[i], std::make_shared<Media>(Media{static_cast<int>(i)}));
    // Longest wins, newest on a tie, and a zero-length match never wins.
    if (theirs && *theirs > 0 && *theirs >= best_length) {
      best = static_cast<int>(i);
      best_length = *theirs;
    }
  }
  const auto match = registry.best_match(request);
  if ((match.media ? std::optional<int>(match.media->index) : std::nullopt) != best)
    __builtin_trap();
  if (match.matched != (best ? best_length : 0))
    __builtin_trap();
  return 0;
}
