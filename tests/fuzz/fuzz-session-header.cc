// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: Session: header parsing and id validation on arbitrary
// bytes. Checks, besides memory safety, that what parses is consistent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/session-header.hh"

using rs::core::HeaderError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const auto parsed = rs::core::parse_session_header(input);
  if (parsed.error == HeaderError::None) {
    // The id is valid and lies inside the input.
    if (!rs::core::is_valid_session_id(parsed.id))
      __builtin_trap();
    if (parsed.id.data() < input.data() || parsed.id.data() + parsed.id.size() > input.data() + input.size())
      __builtin_trap();
    // What parsed prints back to a header that parses the same.
    const std::string canonical = std::string(parsed.id) + ";timeout=" + std::to_string(parsed.timeout);
    const auto again = rs::core::parse_session_header(canonical);
    if (again.error != HeaderError::None || again.id != parsed.id || again.timeout != parsed.timeout)
      __builtin_trap();
  } else if (parsed.error_offset > size) {
    __builtin_trap();
  }

  // The bounded C-string check agrees with the length-aware one.
  const std::string terminated(input);
  const bool has_nul = input.find('\0') != std::string_view::npos;
  if (!has_nul && rs::core::is_valid_session_id(terminated.c_str()) != rs::core::is_valid_session_id(input))
    __builtin_trap();

  // Comparison in constant time is still a comparison.
  const std::size_t half = size / 2;
  if (rs::core::equal_in_constant_time(input.substr(0, half), input.substr(half)) !=
      (input.substr(0, half) == input.substr(half)))
    __builtin_trap();
  return 0;
}
