// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <unordered_set>

#include "core/compact-id.hh"
#include "core/session-id.hh"

namespace {

std::string new_id() {
  std::string id(rs::core::kSessionIdLength, '\0');
  rs::core::random_session_id(id.data());
  return id;
}

}  // namespace

TEST(SessionId, ShapeIs22Alphanumerics) {
  for (int i = 0; i < 1000; i++) {
    std::string id = new_id();
    ASSERT_EQ(id.size(), 22u);
    for (char c : id)
      ASSERT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << id;
  }
}

TEST(SessionId, UniqueOverAMillion) {
  std::unordered_set<std::string> seen;
  seen.reserve(1'000'000);
  for (int i = 0; i < 1'000'000; i++)
    ASSERT_TRUE(seen.insert(new_id()).second) << "duplicate after " << i;
}

TEST(SessionId, CharactersAreUniform) {
  // Chi-square over the 62 letters of 200k ids (4.4M letters), and per
  // position over the first and last letter. With 61 degrees of freedom the
  // statistic exceeds 110 with probability below 1e-4; a modulo bias of
  // 256 % 62 would push it into the thousands.
  std::array<long, 128> all{};
  std::array<long, 128> first{};
  std::array<long, 128> last{};
  const int ids = 200'000;
  for (int i = 0; i < ids; i++) {
    std::string id = new_id();
    for (char c : id)
      all[static_cast<unsigned char>(c)]++;
    first[static_cast<unsigned char>(id.front())]++;
    last[static_cast<unsigned char>(id.back())]++;
  }
  auto chi_square = [](const std::array<long, 128>& counts, double total) {
    const double expected = total / 62.0;
    double chi = 0;
    int letters = 0;
    for (long count : counts) {
      if (count == 0)
        continue;
      letters++;
      chi += (count - expected) * (count - expected) / expected;
    }
    EXPECT_EQ(letters, 62);
    return chi;
  };
  EXPECT_LT(chi_square(all, ids * 22.0), 110.0);
  EXPECT_LT(chi_square(first, ids), 110.0);
  EXPECT_LT(chi_square(last, ids), 110.0);
}

TEST(SessionId, RandomBytesDiffer) {
  unsigned char a[64], b[64];
  rs::core::random_bytes(a, sizeof a);
  rs::core::random_bytes(b, sizeof b);
  EXPECT_NE(std::string(a, a + 64), std::string(b, b + 64));
  unsigned char big[5000];  // more than one buffer's worth
  rs::core::random_bytes(big, sizeof big);
  int zeros = 0;
  for (unsigned char byte : big)
    zeros += byte == 0;
  EXPECT_LT(zeros, 60);  // about 20 expected
}

TEST(CompactId, InlineHeapAndNone) {
  rs::core::CompactId id;
  EXPECT_FALSE(id.has_value());
  EXPECT_EQ(id.c_str(), nullptr);
  for (std::size_t length : {0u, 1u, 22u, 23u, 24u, 100u, 5000u}) {
    std::string text(length, 'x');
    if (length > 0)
      text.back() = 'y';
    id.assign(text);
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id.view(), text);
    EXPECT_STREQ(id.c_str(), text.c_str());
  }
  id.assign(std::nullopt);
  EXPECT_FALSE(id.has_value());
  EXPECT_TRUE(id.view().empty());
}
