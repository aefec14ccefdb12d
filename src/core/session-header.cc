// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session-header.hh"

#include <algorithm>
#include <array>

namespace rs::core {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

// RFC 7230 token characters, for parameter names.
bool is_token_char(unsigned char c) noexcept {
  if (c >= '0' && c <= '9')
    return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
    return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); i++) {
    unsigned char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x |= 0x20;
    if (y >= 'A' && y <= 'Z')
      y |= 0x20;
    if (x != y)
      return false;
  }
  return true;
}

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  std::size_t pos() const { return pos_; }
  void advance() { pos_++; }
  void skip_space() {
    while (!done() && is_space(peek()))
      pos_++;
  }
  template <class Pred>
  std::string_view take_while(Pred pred) {
    const std::size_t start = pos_;
    while (!done() && pred(static_cast<unsigned char>(peek())))
      pos_++;
    return text_.substr(start, pos_ - start);
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

ParsedSessionHeader fail(HeaderError error, std::size_t offset) {
  ParsedSessionHeader result;
  result.error = error;
  result.error_offset = offset;
  return result;
}

}  // namespace

namespace {

constexpr std::array<bool, 256> make_id_charset() {
  std::array<bool, 256> allowed{};
  for (int c = '0'; c <= '9'; c++)
    allowed[c] = true;
  for (int c = 'A'; c <= 'Z'; c++)
    allowed[c] = allowed[c + ('a' - 'A')] = true;
  for (char c : {'$', '-', '_', '.', '+'})
    allowed[static_cast<unsigned char>(c)] = true;
  return allowed;
}

// A table, as find() checks every id it is given.
constexpr std::array<bool, 256> kIdCharset = make_id_charset();

}  // namespace

bool is_session_id_char(unsigned char c) noexcept {
  return kIdCharset[c];
}

std::size_t valid_session_id_length(const char* id) noexcept {
  if (id == nullptr)
    return 0;
  for (std::size_t i = 0; i <= kMaxSessionIdLength; i++) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (c == '\0')
      return i;
    if (!is_session_id_char(c))
      return 0;
  }
  return 0;  // 257 id characters and still going
}

bool is_valid_session_id(const char* id) noexcept {
  return valid_session_id_length(id) > 0;
}

bool is_valid_session_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxSessionIdLength)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return is_session_id_char(static_cast<unsigned char>(c)); });
}

ParsedSessionHeader parse_session_header(std::string_view value) noexcept {
  Cursor cursor(value);
  cursor.skip_space();

  const std::size_t id_start = cursor.pos();
  std::string_view id = cursor.take_while(is_session_id_char);
  if (id.empty() || id.size() > kMaxSessionIdLength)
    return fail(HeaderError::InvalidId, id.empty() ? id_start : id_start + kMaxSessionIdLength);
  cursor.skip_space();
  if (!cursor.done() && cursor.peek() != ';')
    return fail(HeaderError::InvalidId, cursor.pos());  // garbage after the id

  ParsedSessionHeader result;
  result.id = id;
  bool timeout_seen = false;
  while (!cursor.done()) {
    cursor.advance();  // the ';'
    cursor.skip_space();
    if (cursor.done() || cursor.peek() == ';')
      continue;  // an empty parameter: "id;" or "id;;timeout=5"

    const std::size_t name_start = cursor.pos();
    std::string_view name = cursor.take_while(is_token_char);
    if (name.empty())
      return fail(HeaderError::Malformed, name_start);
    cursor.skip_space();

    std::string_view param_value;
    bool has_value = false;
    std::size_t value_start = cursor.pos();
    if (!cursor.done() && cursor.peek() == '=') {
      has_value = true;
      cursor.advance();
      cursor.skip_space();
      value_start = cursor.pos();
      if (!cursor.done() && cursor.peek() == '"') {
        // A quoted string, with backslash escapes; only unknown parameters take one.
        cursor.advance();
        bool closed = false;
        while (!cursor.done()) {
          const char c = cursor.peek();
          cursor.advance();
          if (c == '\\') {
            if (cursor.done())
              break;
            cursor.advance();
          } else if (c == '"') {
            closed = true;
            break;
          }
        }
        if (!closed)
          return fail(HeaderError::Malformed, value_start);
        param_value = value.substr(value_start, cursor.pos() - value_start);
      } else {
        param_value = cursor.take_while(is_token_char);
      }
      cursor.skip_space();
    }
    if (!cursor.done() && cursor.peek() != ';')
      return fail(equals_ignoring_case(name, "timeout") ? HeaderError::InvalidTimeout : HeaderError::Malformed,
                  cursor.pos());

    if (equals_ignoring_case(name, "timeout")) {
      if (timeout_seen || !has_value || param_value.empty())
        return fail(HeaderError::InvalidTimeout, value_start);
      std::uint64_t seconds = 0;
      for (char c : param_value) {
        if (c < '0' || c > '9')
          return fail(HeaderError::InvalidTimeout, value_start);
        seconds = seconds * 10 + static_cast<unsigned>(c - '0');
        if (seconds > UINT32_MAX)
          return fail(HeaderError::InvalidTimeout, value_start);
      }
      result.timeout = static_cast<std::uint32_t>(seconds);
      timeout_seen = true;
    }
  }
  return result;
}

bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept {
  const std::size_t length = std::max(a.size(), b.size());
  unsigned difference = a.size() != b.size();
  for (std::size_t i = 0; i < length; i++) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= x ^ y;
  }
  // Keep the compiler from turning the loop into an early exit.
  volatile unsigned result = difference;
  return result == 0;
}

}  // namespace rs::core
