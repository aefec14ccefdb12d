// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/pool-model.hh"
#include "core/pool-engine.hh"

using rs::core::Micros;
using rs::core::PoolEngine;
using rs::core::Session;

namespace {

constexpr Micros kSecond = 1'000'000;

using Counted = rs::testing::CountedSession;
using rs::testing::FakeClock;
constexpr auto ref = rs::testing::ref_counted;
constexpr auto unref = rs::testing::unref_counted;

Counted* make(const std::string& id) {
  auto* session = new Counted();
  session->set_id(id);
  return session;
}

std::set<std::string> ids_of(const std::vector<Session*>& sessions) {
  std::set<std::string> ids;
  for (Session* session : sessions)
    ids.insert(std::string(session->id()));
  return ids;
}

}  // namespace

TEST(PoolEngine, InsertFindRemove) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Counted* a = make("alpha");
  EXPECT_EQ(engine.insert(a, 0), PoolEngine::InsertResult::Inserted);
  EXPECT_EQ(a->refs, 2);
  EXPECT_EQ(engine.size(), 1u);
  EXPECT_TRUE(engine.contains_id("alpha"));
  EXPECT_FALSE(engine.contains_id("alph"));
  Session* found = engine.find("alpha");
  EXPECT_EQ(found, a);
  EXPECT_EQ(a->refs, 3);
  unref(found);
  EXPECT_EQ(engine.find("beta"), nullptr);

  Counted* twin = make("alpha");
  EXPECT_EQ(engine.insert(twin, 0), PoolEngine::InsertResult::DuplicateId);
  EXPECT_EQ(twin->refs, 1);
  EXPECT_FALSE(twin->in_pool());  // a refused session may still join a pool
  unref(twin);

  EXPECT_TRUE(engine.remove(a));
  EXPECT_EQ(a->refs, 2);  // the pool's reference went to us
  unref(a);
  EXPECT_FALSE(engine.remove(a));
  EXPECT_EQ(engine.size(), 0u);
  EXPECT_EQ(engine.find("alpha"), nullptr);
  unref(a);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, RefusesSessionFromAnotherPool) {
  FakeClock clock(1000 * kSecond);
  PoolEngine first({ref, unref});
  PoolEngine second({ref, unref});
  Counted* s = make("x");
  ASSERT_EQ(first.insert(s, 0), PoolEngine::InsertResult::Inserted);
  EXPECT_EQ(second.insert(s, 0), PoolEngine::InsertResult::AlreadyPooled);
  EXPECT_FALSE(second.remove(s));
  EXPECT_TRUE(first.remove(s));
  // Once out of a pool, a session joins no other: a pool that still holds a
  // pointer to it (a cleanup in progress) can never take it for its own.
  EXPECT_EQ(second.insert(s, 0), PoolEngine::InsertResult::AlreadyPooled);
  EXPECT_EQ(second.size(), 0u);
  unref(s);
  unref(s);
}

TEST(PoolEngine, MaxSessions) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  std::vector<Counted*> made;
  for (int i = 0; i < 3; i++) {
    made.push_back(make("s" + std::to_string(i)));
    EXPECT_EQ(engine.insert(made.back(), 2), i < 2 ? PoolEngine::InsertResult::Inserted : PoolEngine::InsertResult::Full);
  }
  EXPECT_EQ(engine.size(), 2u);
  for (Session* s : engine.take_all())
    unref(s);
  for (Counted* s : made)
    unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, ManyIdsSurviveGrowthAndBackwardShift) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  std::vector<Counted*> made;
  for (int i = 0; i < 20000; i++) {
    made.push_back(make("id" + std::to_string(i * 7919)));
    ASSERT_EQ(engine.insert(made.back(), 0), PoolEngine::InsertResult::Inserted);
  }
  for (int i = 0; i < 20000; i += 2)
    ASSERT_TRUE(engine.remove(made[i]));
  for (int i = 0; i < 20000; i++) {
    Session* found = engine.find(made[i]->id());
    ASSERT_EQ(found, i % 2 ? made[i] : nullptr) << i;
    if (found)
      unref(found);
  }
  EXPECT_EQ(engine.size(), 10000u);
  for (int i = 0; i < 20000; i += 2)
    unref(made[i]);  // the pool's reference from remove()
  for (Session* s : engine.take_all())
    unref(s);
  for (Counted* s : made)
    unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, ExpiryFollowsTouchesWithoutReindexing) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Counted* s = make("s");
  s->touch();
  s->set_extra_timeout(0);
  s->set_timeout(10);
  engine.insert(s, 0);
  const Micros start = clock.now();
  EXPECT_TRUE(engine.take_expired(start + 9 * kSecond).empty());
  clock.advance(8 * kSecond);
  s->touch();  // only an atomic store; the index still says start + 10 s
  EXPECT_TRUE(engine.take_expired(start + 11 * kSecond).empty());
  auto wakeup = engine.next_wakeup(start + 11 * kSecond);
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_GE(*wakeup, start + 18 * kSecond - 999);
  EXPECT_LE(*wakeup, start + 18 * kSecond);
  auto expired = engine.take_expired(start + 18 * kSecond);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], s);
  unref(s);
  unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, EarlierDeadlineIsReported) {
  FakeClock clock(1000 * kSecond);
  int wakes = 0;
  PoolEngine engine({ref, unref}, [&] { wakes++; });
  Counted* s = make("s");
  engine.insert(s, 0);
  EXPECT_EQ(wakes, 1);  // the first bucket
  const Micros start = clock.now();
  EXPECT_LE(*engine.next_wakeup(start), start + 65 * kSecond);
  s->set_timeout(1);
  EXPECT_EQ(wakes, 2);
  EXPECT_LE(*engine.next_wakeup(start), start + 6 * kSecond);
  s->set_extra_timeout(0);
  EXPECT_LE(*engine.next_wakeup(start), start + 1 * kSecond);
  EXPECT_EQ(engine.take_expired(start + kSecond).size(), 1u);
  unref(s);
  unref(s);
}

TEST(PoolEngine, TimeoutZeroIsNeverIndexed) {
  FakeClock clock(1000 * kSecond);
  int wakes = 0;
  PoolEngine engine({ref, unref}, [&] { wakes++; });
  Counted* forever = make("forever");
  forever->set_timeout(0);
  engine.insert(forever, 0);
  EXPECT_EQ(wakes, 0);
  EXPECT_FALSE(engine.next_wakeup(clock.now()).has_value());
  EXPECT_TRUE(engine.take_expired(clock.now() + 1'000'000 * kSecond).empty());

  Counted* mortal = make("mortal");
  engine.insert(mortal, 0);
  mortal->set_timeout(0);  // leaves the index at once
  EXPECT_FALSE(engine.next_wakeup(clock.now() + 100 * kSecond).has_value());
  forever->set_timeout(3);
  EXPECT_TRUE(engine.next_wakeup(clock.now()).has_value());
  EXPECT_EQ(ids_of(engine.take_expired(clock.now() + 8 * kSecond)), std::set<std::string>{"forever"});
  unref(forever);
  unref(forever);
  for (Session* s : engine.take_all())
    unref(s);
  unref(mortal);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, PreventedSessionsWaitForAllow) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Counted* s = make("s");
  s->set_extra_timeout(0);
  s->set_timeout(1);
  engine.insert(s, 0);
  s->prevent_expire();
  clock.advance(100 * kSecond);
  EXPECT_TRUE(engine.take_expired(clock.now()).empty());
  s->allow_expire();  // counts as a touch now
  EXPECT_TRUE(engine.take_expired(clock.now() + kSecond / 2).empty());
  EXPECT_EQ(engine.take_expired(clock.now() + kSecond).size(), 1u);
  unref(s);
  unref(s);
}

TEST(PoolEngine, SessionOutlivesEngine) {
  Counted* s;
  {
    FakeClock clock(1000 * kSecond);
    PoolEngine engine({ref, unref});
    s = make("s");
    engine.insert(s, 0);
    for (Session* taken : engine.take_all())
      unref(taken);
  }
  s->set_timeout(1);  // its pool is gone: nothing to tell, nothing to crash
  unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

// The engine against a plain list, driven by one random sequence of
// operations at explicit times.
class PoolModelTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(PoolModelTest, AgreesWithNaiveList) {
  std::mt19937 random(GetParam());
  {
    rs::testing::PoolModel model;
    // Weights: creates, finds and cleanups dominate, as in a server.
    const rs::testing::PoolModel::Op ops[] = {
        rs::testing::PoolModel::Op::Create,  rs::testing::PoolModel::Op::Create,  rs::testing::PoolModel::Op::Create,
        rs::testing::PoolModel::Op::Find,    rs::testing::PoolModel::Op::Find,    rs::testing::PoolModel::Op::Find,
        rs::testing::PoolModel::Op::SetTimeout, rs::testing::PoolModel::Op::SetTimeout,
        rs::testing::PoolModel::Op::SetExtra, rs::testing::PoolModel::Op::Prevent, rs::testing::PoolModel::Op::Allow,
        rs::testing::PoolModel::Op::Remove,  rs::testing::PoolModel::Op::Advance, rs::testing::PoolModel::Op::Advance,
        rs::testing::PoolModel::Op::Advance, rs::testing::PoolModel::Op::Cleanup, rs::testing::PoolModel::Op::Cleanup,
        rs::testing::PoolModel::Op::Wakeup,
    };
    for (int step = 0; step < 10000; step++) {
      const auto op = ops[random() % std::size(ops)];
      const std::string problem = model.apply(op, random(), random());
      ASSERT_EQ(problem, "") << "step " << step;
    }
  }
  EXPECT_EQ(rs::testing::CountedSession::alive, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PoolModelTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 42u, 1234u, 98765u));
