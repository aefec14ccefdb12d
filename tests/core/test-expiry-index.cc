// SPDX-License-Identifier: LGPL-2.1-or-later
// The expiry index with an entry type that is not a session, as the
// GStreamer companion uses it for sessions it does not own.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/pool-model.hh"
#include "core/expiry-index.hh"

using rs::core::ExpiryIndex;
using rs::core::IndexNode;
using rs::core::Micros;

namespace {

constexpr Micros kSecond = 1'000'000;

// A timer: it expires at `last_access + span`, or never while `span` is
// unset; a held timer counts as touched whenever it is judged.
struct Timer {
  std::string name;
  Micros last_access = 0;
  std::optional<Micros> span = 10 * kSecond;
  bool held = false;
  int probes = 0;
  IndexNode node;  // not a base: the traits find it
};

struct TimerTraits {
  static IndexNode& node(Timer& timer) noexcept { return timer.node; }
  static Timer& entry(IndexNode& node) noexcept {
    return *reinterpret_cast<Timer*>(reinterpret_cast<char*>(&node) - offsetof(Timer, node));
  }
  static std::optional<Micros> deadline(Timer& timer, Micros now) noexcept {
    timer.probes++;
    if (!timer.span)
      return std::nullopt;
    return (timer.held ? now : timer.last_access) + *timer.span;
  }
};

using Index = ExpiryIndex<Timer, TimerTraits>;

std::set<std::string> names(const std::vector<Timer*>& timers) {
  std::set<std::string> out;
  for (Timer* timer : timers)
    out.insert(timer->name);
  return out;
}

}  // namespace

TEST(ExpiryIndex, HandsOutOnlyWhatHasExpired) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer a{"a", clock.now()}, b{"b", clock.now() + kSecond}, c{"c", clock.now() + 5 * kSecond};
  EXPECT_TRUE(index.schedule(a, clock.now()));   // the first bucket
  EXPECT_FALSE(index.schedule(b, clock.now()));  // later than the first
  EXPECT_FALSE(index.schedule(c, clock.now()));
  EXPECT_TRUE(index.contains(a));

  std::vector<Timer*> expired;
  index.pop_due(clock.now() + 10 * kSecond - 1, expired);
  EXPECT_TRUE(expired.empty());
  index.pop_due(clock.now() + 11 * kSecond, expired);
  EXPECT_EQ(names(expired), (std::set<std::string>{"a", "b"}));
  EXPECT_FALSE(index.contains(a));
  EXPECT_TRUE(index.contains(c));
  expired.clear();
  index.pop_due(clock.now() + 15 * kSecond, expired);
  EXPECT_EQ(names(expired), std::set<std::string>{"c"});
  EXPECT_TRUE(index.empty());
}

TEST(ExpiryIndex, TouchedEntriesAreProbedAndReindexed) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer a{"a", clock.now()};
  index.schedule(a, clock.now());
  a.last_access += 7 * kSecond;  // a touch the index does not see
  std::vector<Timer*> expired;
  index.pop_due(clock.now() + 10 * kSecond, expired);
  EXPECT_TRUE(expired.empty());
  EXPECT_TRUE(index.contains(a));
  // Re-indexed at its real deadline: the next wake-up follows it.
  auto wakeup = index.next_wakeup(clock.now());
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_GE(*wakeup, clock.now() + 17 * kSecond);
  EXPECT_LT(*wakeup, clock.now() + 17 * kSecond + 1000);
  index.pop_due(clock.now() + 17 * kSecond, expired);
  EXPECT_EQ(names(expired), std::set<std::string>{"a"});
}

TEST(ExpiryIndex, NeverExpiringEntriesLeave) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer forever{"forever", clock.now()};
  forever.span.reset();
  EXPECT_FALSE(index.schedule(forever, clock.now()));
  EXPECT_FALSE(index.contains(forever));
  EXPECT_FALSE(index.next_wakeup(clock.now()).has_value());

  Timer mortal{"mortal", clock.now()};
  index.schedule(mortal, clock.now());
  mortal.span.reset();  // unseen until its bucket is due
  std::vector<Timer*> expired;
  index.pop_due(clock.now() + 100 * kSecond, expired);
  EXPECT_TRUE(expired.empty());
  EXPECT_FALSE(index.contains(mortal));
  EXPECT_TRUE(index.empty());
}

TEST(ExpiryIndex, EarlierDeadlineIsRescheduledByItsCaller) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer a{"a", clock.now()}, b{"b", clock.now()};
  index.schedule(a, clock.now());
  index.schedule(b, clock.now());
  b.span = kSecond;
  // The caller that lowered it says so; the earliest deadline moved earlier.
  EXPECT_TRUE(index.schedule(b, clock.now()));
  std::vector<Timer*> expired;
  index.pop_due(clock.now() + kSecond, expired);
  EXPECT_EQ(names(expired), std::set<std::string>{"b"});
  index.unschedule(a);
  EXPECT_FALSE(index.contains(a));
  EXPECT_TRUE(index.empty());
  index.unschedule(a);  // twice is harmless
}

TEST(ExpiryIndex, FutureJudgementDoesNotPushHeldEntriesLater) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer held{"held", clock.now()};
  held.held = true;
  index.schedule(held, clock.now());
  std::vector<Timer*> expired;
  // Judged a day from now a held entry has not expired, but it is indexed
  // from the clock's time, not from that day: it may be let go any moment.
  index.pop_due(clock.now() + 86400 * kSecond, expired);
  EXPECT_TRUE(expired.empty());
  auto wakeup = index.next_wakeup(clock.now());
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_LE(*wakeup, clock.now() + 10 * kSecond + 1000);
}

TEST(ExpiryIndex, NextWakeupLeavesExpiredEntriesIndexed) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  Timer a{"a", clock.now() - 20 * kSecond};
  index.schedule(a, clock.now());
  EXPECT_EQ(index.next_wakeup(clock.now()), clock.now());
  EXPECT_TRUE(index.contains(a));
  std::vector<Timer*> expired;
  index.pop_due(clock.now(), expired);
  EXPECT_EQ(names(expired), std::set<std::string>{"a"});
}

TEST(ExpiryIndex, ManyEntriesCostWhatIsDue) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  std::vector<Timer> timers(10000);
  for (std::size_t i = 0; i < timers.size(); i++) {
    timers[i].name = std::to_string(i);
    timers[i].last_access = clock.now() + static_cast<Micros>(i) * kSecond;
    index.schedule(timers[i], clock.now());
  }
  for (Timer& timer : timers)
    timer.probes = 0;
  std::vector<Timer*> expired;
  index.pop_due(clock.now() + 12 * kSecond, expired);
  EXPECT_EQ(expired.size(), 3u);  // deadlines at +10, +11, +12 s
  int probes = 0;
  for (Timer& timer : timers)
    probes += timer.probes;
  EXPECT_EQ(probes, 3);  // nothing that was not due was looked at
  index.clear();
  for (Timer& timer : timers)
    EXPECT_FALSE(index.contains(timer));
}

// More due buckets than are walked at once (16), several entries in each,
// some touched into buckets that are still due, some past `due`, some
// never to expire: each is judged once per pass and ends up exactly where
// its real deadline says.
TEST(ExpiryIndex, ManyDueBucketsAtOnce) {
  rs::testing::FakeClock clock(1000 * kSecond);
  Index index;
  constexpr Micros kMilli = 1000;
  constexpr int kBuckets = 50;
  constexpr int kPerBucket = 7;
  std::vector<Timer> timers(kBuckets * kPerBucket);
  for (int b = 0; b < kBuckets; b++)
    for (int k = 0; k < kPerBucket; k++) {
      Timer& timer = timers[b * kPerBucket + k];
      timer.name = std::to_string(b) + "." + std::to_string(k);
      timer.last_access = clock.now() + b * kMilli;
      index.schedule(timer, clock.now());
    }
  // Deadlines run from +10 s to +10.049 s; judged at +10.030 s.
  const Micros now = clock.now() + 10 * kSecond + 30 * kMilli;
  std::set<std::string> want_expired, want_left, want_indexed;
  for (std::size_t i = 0; i < timers.size(); i++) {
    Timer& timer = timers[i];
    if (timer.last_access + 10 * kSecond > now)
      want_indexed.insert(timer.name);  // its bucket is not due: not even looked at
    switch (i % 5) {
      case 1:
        timer.last_access += 5 * kMilli;  // touched, maybe still due
        break;
      case 2:
        timer.last_access += 1 * kSecond;  // touched well past `now`
        break;
      case 3:
        timer.span.reset();  // never expires now
        break;
      default:
        break;
    }
    if (!timer.span)
      continue;
    if (timer.last_access + *timer.span <= now) {
      want_expired.insert(timer.name);
    } else {
      want_left.insert(timer.name);
      want_indexed.insert(timer.name);
    }
  }
  for (Timer& timer : timers)
    timer.probes = 0;
  clock.advance(now - clock.now());  // `now` from the clock: one probe per judgement
  std::vector<Timer*> expired;
  index.pop_due(now, expired);
  EXPECT_EQ(names(expired), want_expired);
  EXPECT_EQ(expired.size(), want_expired.size());  // none twice
  for (Timer& timer : timers) {
    EXPECT_LE(timer.probes, 1) << timer.name;  // judged once at most: no bucket walked twice
    EXPECT_EQ(index.contains(timer), want_indexed.count(timer.name) == 1) << timer.name;
  }
  // What is left comes out, each at its own deadline.
  expired.clear();
  index.pop_due(now + 2 * kSecond, expired);
  EXPECT_EQ(names(expired), want_left);
  EXPECT_TRUE(index.empty());
}
