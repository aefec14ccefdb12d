// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <string>

#include "core/session-header.hh"

using rs::core::HeaderError;
using rs::core::is_valid_session_id;
using rs::core::parse_session_header;

TEST(SessionIdValidity, Charset) {
  EXPECT_TRUE(is_valid_session_id("a"));
  EXPECT_TRUE(is_valid_session_id("AZaz09$-_.+"));
  EXPECT_FALSE(is_valid_session_id(static_cast<const char*>(nullptr)));
  EXPECT_FALSE(is_valid_session_id(""));
  for (int c = 1; c < 256; c++) {
    const char id[] = {'a', static_cast<char>(c), 'b', '\0'};
    const bool allowed = isalnum(c) && c < 128 ? true : (c == '$' || c == '-' || c == '_' || c == '.' || c == '+');
    EXPECT_EQ(is_valid_session_id(id), allowed) << "byte " << c;
    EXPECT_EQ(is_valid_session_id(std::string_view(id, 3)), allowed) << "byte " << c;
  }
}

TEST(SessionIdValidity, Length) {
  EXPECT_TRUE(is_valid_session_id(std::string(256, 'x').c_str()));
  EXPECT_FALSE(is_valid_session_id(std::string(257, 'x').c_str()));
  EXPECT_TRUE(is_valid_session_id(std::string_view(std::string(256, 'x'))));
  EXPECT_FALSE(is_valid_session_id(std::string_view(std::string(257, 'x'))));
}

TEST(SessionIdValidity, ReadsAtMost257Bytes) {
  // 257 valid bytes with no terminator after them: reading byte 258 would
  // run off the buffer, which ASan would report.
  std::unique_ptr<char[]> buffer(new char[257]);
  std::fill(buffer.get(), buffer.get() + 257, 'x');
  EXPECT_FALSE(is_valid_session_id(buffer.get()));
}

namespace {

struct Case {
  const char* value;
  HeaderError error;
  const char* id;
  std::uint32_t timeout;
};

}  // namespace

TEST(SessionHeader, Table) {
  const Case cases[] = {
      {"abc123", HeaderError::None, "abc123", 60},
      {"abc123;timeout=30", HeaderError::None, "abc123", 30},
      {"  abc123 ; timeout = 30  ", HeaderError::None, "abc123", 30},
      {"abc;\ttimeout\t=\t7", HeaderError::None, "abc", 7},
      {"abc;TIMEOUT=30", HeaderError::None, "abc", 30},
      {"abc;TimeOut=30", HeaderError::None, "abc", 30},
      {"abc;foo=bar;timeout=5", HeaderError::None, "abc", 5},
      {"abc;foo;timeout=5", HeaderError::None, "abc", 5},
      {"abc;", HeaderError::None, "abc", 60},
      {"abc;;timeout=5;", HeaderError::None, "abc", 5},
      {"abc;foo=\"x;y\\\"z\";timeout=9", HeaderError::None, "abc", 9},
      {"abc;timeout=0", HeaderError::None, "abc", 0},
      {"abc;timeout=4294967295", HeaderError::None, "abc", 4294967295u},
      {"abc;timeout=0004294967295", HeaderError::None, "abc", 4294967295u},
      {"$-_.+", HeaderError::None, "$-_.+", 60},
      {"", HeaderError::InvalidId, nullptr, 0},
      {"   ", HeaderError::InvalidId, nullptr, 0},
      {";timeout=5", HeaderError::InvalidId, nullptr, 0},
      {"abc def", HeaderError::InvalidId, nullptr, 0},
      {"abc,def", HeaderError::InvalidId, nullptr, 0},
      {"ab\"c", HeaderError::InvalidId, nullptr, 0},
      {"abc=5", HeaderError::InvalidId, nullptr, 0},
      {"abc;timeout=", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=-1", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=+1", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=4294967296", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=99999999999999999999999999", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=1.5", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=5;timeout=6", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=5 6", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;timeout=\"5\"", HeaderError::InvalidTimeout, nullptr, 0},
      {"abc;=5", HeaderError::Malformed, nullptr, 0},
      {"abc;foo=\"unterminated", HeaderError::Malformed, nullptr, 0},
      {"abc;foo=\"ends in backslash\\", HeaderError::Malformed, nullptr, 0},
      {"abc;foo bar", HeaderError::Malformed, nullptr, 0},
      {"abc;f\x01o=1", HeaderError::Malformed, nullptr, 0},
  };
  for (const Case& c : cases) {
    auto parsed = parse_session_header(c.value);
    EXPECT_EQ(parsed.error, c.error) << c.value;
    if (c.error == HeaderError::None) {
      EXPECT_EQ(parsed.id, c.id) << c.value;
      EXPECT_EQ(parsed.timeout, c.timeout) << c.value;
    }
  }
}

TEST(SessionHeader, IdLength) {
  EXPECT_EQ(parse_session_header(std::string(256, 'i')).error, HeaderError::None);
  EXPECT_EQ(parse_session_header(std::string(257, 'i')).error, HeaderError::InvalidId);
  EXPECT_EQ(parse_session_header(std::string(256, 'i') + ";timeout=1").timeout, 1u);
}

TEST(SessionHeader, EmbeddedNulIsGarbage) {
  const std::string value("abc\0def", 7);
  EXPECT_EQ(parse_session_header(value).error, HeaderError::InvalidId);
}

TEST(SessionHeader, HugeInputs) {
  std::string huge_param = "abc;x=\"" + std::string(1 << 20, 'q') + "\";timeout=3";
  auto parsed = parse_session_header(huge_param);
  EXPECT_EQ(parsed.error, HeaderError::None);
  EXPECT_EQ(parsed.timeout, 3u);
  EXPECT_EQ(parse_session_header(std::string(1 << 20, 'a')).error, HeaderError::InvalidId);
  EXPECT_EQ(parse_session_header("abc;timeout=" + std::string(1 << 20, '7')).error, HeaderError::InvalidTimeout);
}

TEST(ConstantTime, Equality) {
  using rs::core::equal_in_constant_time;
  EXPECT_TRUE(equal_in_constant_time("", ""));
  EXPECT_TRUE(equal_in_constant_time("alice", "alice"));
  EXPECT_FALSE(equal_in_constant_time("alice", "alicf"));
  EXPECT_FALSE(equal_in_constant_time("alice", "alic"));
  EXPECT_FALSE(equal_in_constant_time("alic", "alice"));
  EXPECT_FALSE(equal_in_constant_time("", "a"));
  EXPECT_FALSE(equal_in_constant_time(std::string_view("a\0", 2), "a"));
}
