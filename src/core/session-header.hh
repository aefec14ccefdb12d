// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rs::core {

// RFC 7826 §20.2.3: session-id = 1*256( ALPHA / DIGIT / safe ),
// safe = "$" / "-" / "_" / "." / "+".
constexpr std::size_t kMaxSessionIdLength = 256;

bool is_session_id_char(unsigned char c) noexcept;

// Whether the NUL-terminated `id` is a valid session id. Reads at most
// kMaxSessionIdLength + 1 bytes, however long the input is.
bool is_valid_session_id(const char* id) noexcept;
// The length of `id` when it is a valid id, else 0; reads at most 257 bytes.
std::size_t valid_session_id_length(const char* id) noexcept;
bool is_valid_session_id(std::string_view id) noexcept;

enum class HeaderError {
  None,
  InvalidId,       // empty, too long, a character outside the id's charset
  InvalidTimeout,  // not digits, or more than fits in 32 bits
  Malformed,       // a parameter without a name, an unterminated quote, ...
};

struct ParsedSessionHeader {
  HeaderError error = HeaderError::None;
  std::string_view id;            // points into the parsed value
  std::uint32_t timeout = 60;     // RTSP's default when absent
  std::size_t error_offset = 0;   // where parsing stopped, on error
};

// Parses the value of a Session: header, "id[;timeout=N][;other=params]".
// Lenient where clients are sloppy: white space around the value, ';' and
// '=', parameter names in any case, unknown and empty parameters. Strict
// about the id (charset, length, nothing after it but parameters) and about
// the timeout (digits that fit in 32 bits, given once).
ParsedSessionHeader parse_session_header(std::string_view value) noexcept;

// Compares in time that depends on the lengths only, not on the contents,
// so that a timing side channel does not reveal how much of a secret matched.
bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept;

}  // namespace rs::core
