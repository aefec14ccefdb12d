// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <climits>
#include <limits>
#include <new>
#include <vector>
#include <thread>

#include "core/expiry.hh"
#include "core/session.hh"

using rs::core::Expiry;
using rs::core::Micros;

namespace {

constexpr Micros kSecond = 1'000'000;
constexpr Micros kStart = 1'000 * kSecond;

}  // namespace

TEST(Expiry, DefaultsAreRtspDefaults) {
  Expiry expiry;
  EXPECT_EQ(expiry.timeout(), 60u);
  EXPECT_EQ(expiry.extra_timeout(), 5u);
  EXPECT_EQ(expiry.prevent_count(), 0u);
}

TEST(Expiry, CountsDownTimeoutPlusExtra) {
  Expiry expiry;
  expiry.touch_at(kStart);
  EXPECT_EQ(expiry.next_timeout_ms(kStart), 65'000);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + kSecond), 64'000);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 65 * kSecond - 1), 0);  // floor: 0.999 ms left
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 65 * kSecond - 1000), 1);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 65 * kSecond), 0);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 1000 * kSecond), 0);
}

TEST(Expiry, NowBeforeLastAccessCountsTheWholeSpan) {
  Expiry expiry;
  expiry.touch_at(kStart);
  EXPECT_EQ(expiry.next_timeout_ms(kStart - kSecond), 66'000);
}

TEST(Expiry, TimeoutZeroNeverExpires) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.set_timeout(0);
  EXPECT_EQ(expiry.next_timeout_ms(kStart), -1);
  EXPECT_EQ(expiry.next_timeout_ms(std::numeric_limits<Micros>::max()), -1);
  expiry.prevent();
  EXPECT_EQ(expiry.next_timeout_ms(kStart), -1);
}

TEST(Expiry, HugeTimeoutsSaturateInsteadOfWrapping) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.set_timeout(UINT_MAX);
  expiry.set_extra_timeout(UINT_MAX);
  EXPECT_EQ(expiry.next_timeout_ms(kStart), INT_MAX);
  EXPECT_EQ(expiry.next_timeout_ms(std::numeric_limits<Micros>::min()), INT_MAX);
  // 2^33 s after the touch it has expired; nothing wrapped on the way.
  EXPECT_EQ(expiry.next_timeout_ms(kStart + (Micros{UINT_MAX} * 2 + 1) * kSecond), 0);
  EXPECT_EQ(expiry.next_timeout_ms(std::numeric_limits<Micros>::max()), 0);
}

TEST(Expiry, ExtremeLastAccessDoesNotOverflow) {
  Expiry expiry;
  expiry.touch_at(std::numeric_limits<Micros>::max());
  expiry.set_timeout(UINT_MAX);
  EXPECT_EQ(expiry.next_timeout_ms(0), INT_MAX);
  Expiry early;
  early.touch_at(std::numeric_limits<Micros>::min());
  EXPECT_EQ(early.next_timeout_ms(0), 0);
}

TEST(Expiry, SettersReturnTheReplacedValue) {
  Expiry expiry;
  EXPECT_EQ(expiry.set_timeout(60), 60u);
  EXPECT_EQ(expiry.set_timeout(30), 60u);
  EXPECT_EQ(expiry.set_timeout(30), 30u);
  EXPECT_EQ(expiry.set_extra_timeout(5), 5u);
  EXPECT_EQ(expiry.set_extra_timeout(0), 5u);
  EXPECT_EQ(expiry.timeout(), 30u);
  EXPECT_EQ(expiry.extra_timeout(), 0u);
}

TEST(Session, SettersReportChange) {
  rs::core::Session session;
  EXPECT_FALSE(session.set_timeout(60));
  EXPECT_TRUE(session.set_timeout(30));
  EXPECT_FALSE(session.set_timeout(30));
  EXPECT_FALSE(session.set_extra_timeout(5));
  EXPECT_TRUE(session.set_extra_timeout(0));
}

TEST(Expiry, ExtraTimeoutCountsForExpiry) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.set_timeout(10);
  expiry.set_extra_timeout(0);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 10 * kSecond), 0);
  expiry.set_extra_timeout(3);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 10 * kSecond), 3'000);
}

TEST(Expiry, PreventHoldsForAnyNow) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.prevent();
  expiry.prevent();
  EXPECT_EQ(expiry.prevent_count(), 2u);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 1'000'000 * kSecond), 65'000);
  EXPECT_EQ(expiry.next_timeout_ms(std::numeric_limits<Micros>::max()), 65'000);
  EXPECT_TRUE(expiry.allow());
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 1'000'000 * kSecond), 65'000);  // still one left
  EXPECT_TRUE(expiry.allow());
  EXPECT_EQ(expiry.prevent_count(), 0u);
}

TEST(Expiry, LastAllowCountsAsTouch) {
  Expiry expiry;
  expiry.touch_at(kStart);  // long ago on the real monotonic clock
  expiry.prevent();
  EXPECT_TRUE(expiry.allow());
  Micros now = rs::core::monotonic_now();
  EXPECT_GE(expiry.last_access(), now - kSecond);
  EXPECT_GT(expiry.next_timeout_ms(now), 60'000);
}

TEST(Expiry, UnbalancedAllowIsRefused) {
  Expiry expiry;
  expiry.touch_at(kStart);
  EXPECT_FALSE(expiry.allow());
  EXPECT_EQ(expiry.prevent_count(), 0u);
  EXPECT_EQ(expiry.last_access(), kStart);  // not a touch either
  expiry.prevent();
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 100 * kSecond), 65'000);
}

// The settings word holds 16 bits of extra timeout and of prevent count;
// larger values live in a side table. Every field keeps its exact value
// through the move and back, and the others are untouched by it.
TEST(Expiry, LargeExtraTimeoutKeepsItsValue) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.set_timeout(7);
  for (std::uint32_t extra : {65534u, 65535u, 65536u, 100'000u, UINT_MAX, 3u, 65535u, 0u}) {
    expiry.set_extra_timeout(extra);
    EXPECT_EQ(expiry.extra_timeout(), extra);
    EXPECT_EQ(expiry.timeout(), 7u);
    EXPECT_EQ(expiry.prevent_count(), 0u);
    const Micros span = (Micros{7} + extra) * kSecond;
    EXPECT_EQ(expiry.expires_at(kStart), kStart + span - 999);
  }
  EXPECT_EQ(expiry.set_extra_timeout(UINT_MAX), 0u);
  EXPECT_EQ(expiry.set_extra_timeout(9), UINT_MAX);  // the old value comes back from the table
  EXPECT_EQ(expiry.extra_timeout(), 9u);
}

TEST(Expiry, DeepPreventsCountExactly) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.set_extra_timeout(70'000);  // both fields in the table at once
  constexpr std::uint32_t kDepth = 70'000;
  for (std::uint32_t i = 0; i < kDepth; i++)
    expiry.prevent();
  EXPECT_EQ(expiry.prevent_count(), kDepth);
  EXPECT_TRUE(expiry.prevented());
  expiry.set_timeout(1);
  EXPECT_EQ(expiry.timeout(), 1u);
  EXPECT_EQ(expiry.extra_timeout(), 70'000u);
  for (std::uint32_t i = 0; i < kDepth - 1; i++)
    ASSERT_TRUE(expiry.allow()) << i;
  EXPECT_EQ(expiry.prevent_count(), 1u);
  EXPECT_EQ(expiry.last_access(), kStart);  // no touch until the last allow
  expiry.set_extra_timeout(2);
  EXPECT_TRUE(expiry.allow());
  EXPECT_FALSE(expiry.allow());
  EXPECT_EQ(expiry.prevent_count(), 0u);
  EXPECT_FALSE(expiry.prevented());
  EXPECT_GT(expiry.last_access(), kStart);
  EXPECT_EQ(expiry.extra_timeout(), 2u);
}

// Prevents and allows racing at the border leave no entry in the side
// table once the count is back below it (an entry left behind would never
// be freed: a destroyed session only looks at the table when its word says
// it has values there).
TEST(Expiry, BorderRacesLeaveNoTableEntries) {
  ASSERT_EQ(Expiry::spill_table_size(), 0u);
  for (int round = 0; round < 100; round++) {
    Expiry expiry;
    for (int i = 0; i < 0xfffd; i++)
      expiry.prevent();
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++)
      threads.emplace_back([&] {
        for (int i = 0; i < 200; i++) {
          expiry.prevent();
          expiry.allow();
        }
      });
    for (auto& thread : threads)
      thread.join();
    EXPECT_EQ(expiry.prevent_count(), 0xfffdu);
    EXPECT_EQ(Expiry::spill_table_size(), 0u) << "round " << round;
  }
}

// A session destroyed with values in the table leaves nothing behind for
// the next session at the same address.
TEST(Expiry, TableEntryGoesWithTheSession) {
  alignas(Expiry) unsigned char memory[sizeof(Expiry)];
  auto* first = new (memory) Expiry();
  first->set_extra_timeout(UINT_MAX);
  for (int i = 0; i < 70'000; i++)
    first->prevent();
  first->~Expiry();
  auto* second = new (memory) Expiry();
  EXPECT_EQ(second->extra_timeout(), 5u);
  EXPECT_EQ(second->prevent_count(), 0u);
  second->set_extra_timeout(65535);
  EXPECT_EQ(second->extra_timeout(), 65535u);
  EXPECT_EQ(second->prevent_count(), 0u);  // not the first one's 70000
  second->~Expiry();
}

TEST(Expiry, RealClockFollowsMonotonicLastAccess) {
  Expiry expiry;
  expiry.touch();
  const Micros real = rs::core::real_now();
  EXPECT_GT(expiry.next_timeout_ms_real(real), 64'000);
  EXPECT_LE(expiry.next_timeout_ms_real(real), 65'000);
  EXPECT_EQ(expiry.next_timeout_ms_real(real + 100 * kSecond), 0);
  EXPECT_EQ(expiry.next_timeout_ms_real(std::numeric_limits<Micros>::min()), INT_MAX);
}

TEST(Expiry, ExpiresAtMatchesNextTimeout) {
  Expiry expiry;
  expiry.touch_at(kStart);
  auto at = expiry.expires_at(kStart);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(expiry.next_timeout_ms(*at - 1), 1);
  EXPECT_EQ(expiry.next_timeout_ms(*at), 0);
  expiry.prevent();
  EXPECT_EQ(expiry.expires_at(kStart + 100 * kSecond), kStart + 165 * kSecond - 999);
  expiry.allow();
  expiry.set_timeout(0);
  EXPECT_FALSE(expiry.expires_at(kStart).has_value());
}

TEST(Expiry, TouchMovesDeadline) {
  Expiry expiry;
  expiry.touch_at(kStart);
  expiry.touch_at(kStart + 30 * kSecond);
  EXPECT_EQ(expiry.next_timeout_ms(kStart + 65 * kSecond), 30'000);
  expiry.touch();
  Micros now = rs::core::monotonic_now();
  EXPECT_LE(expiry.next_timeout_ms(now), 65'000);
  EXPECT_GT(expiry.next_timeout_ms(now), 64'000);
}

TEST(SessionHeader, Formats) {
  rs::core::Session session;
  EXPECT_FALSE(session.header().has_value());
  session.set_id(std::string_view("abc123"));
  EXPECT_EQ(session.header(), "abc123");
  session.set_timeout(30);
  EXPECT_EQ(session.header(), "abc123;timeout=30");
  session.set_timeout(0);
  EXPECT_EQ(session.header(), "abc123;timeout=0");
  session.set_timeout(UINT_MAX);
  EXPECT_EQ(session.header(), "abc123;timeout=4294967295");
  session.set_timeout(60);
  EXPECT_EQ(session.header(), "abc123");
  EXPECT_TRUE(session.set_timeout_always_visible(true));
  EXPECT_FALSE(session.set_timeout_always_visible(true));
  EXPECT_EQ(session.header(), "abc123;timeout=60");
}

TEST(SessionMedia, ChannelsComeInPairs) {
  rs::core::SessionMedia media("/test");
  EXPECT_EQ(media.path(), "/test");
  EXPECT_EQ(media.rtsp_state(), 1);
  for (int i = 0; i < 4; i++) {
    auto channels = media.alloc_channels();
    ASSERT_TRUE(channels.has_value());
    EXPECT_EQ(channels->min, 2 * i);
    EXPECT_EQ(channels->max, 2 * i + 1);
  }
  media.set_rtsp_state(4);
  EXPECT_EQ(media.rtsp_state(), 4);
}
