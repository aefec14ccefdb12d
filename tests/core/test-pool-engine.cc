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

// Empties `engine`, dropping the pool's references.
void drain(PoolEngine& engine) {
  for (Session* s : engine.take_all())
    unref(s);
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
  drain(engine);
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
  drain(engine);
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
  drain(engine);
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

namespace {

// The create policy's session factory over CountedSession.
struct Factory {
  int made = 0;
  std::string forced_id;  // when set, sessions get this id instead
  bool refuse = false;
  PoolEngine::MadeSession operator()(const char* id) {
    if (refuse)
      return {};
    made++;
    return {make(forced_id.empty() ? id : forced_id), false};
  }
};

}  // namespace

TEST(PoolEngineCreate, DefaultIdsAreRandomAndValid) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Factory factory;
  auto no_ids = [](std::string&) { ADD_FAILURE() << "asked for a custom id"; return false; };
  auto first = engine.create(false, no_ids, factory);
  auto second = engine.create(false, no_ids, factory);
  ASSERT_NE(first.session, nullptr);
  ASSERT_NE(second.session, nullptr);
  EXPECT_EQ(first.session->id().size(), rs::core::kSessionIdLength);
  EXPECT_TRUE(rs::core::is_valid_session_id(first.session->id()));
  EXPECT_NE(first.session->id(), second.session->id());
  EXPECT_EQ(engine.size(), 2u);
  unref(first.session);
  unref(second.session);
  drain(engine);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngineCreate, CustomIdsRetryOnCollisionAndRefuseInvalidOnes) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Factory factory;
  std::vector<std::string> scheme = {"taken", "taken", "fresh"};
  std::size_t next = 0;
  auto ids = [&](std::string& id) {
    if (next >= scheme.size())
      return false;
    id = scheme[next++];
    return true;
  };
  auto a = engine.create(true, ids, factory);
  ASSERT_NE(a.session, nullptr);
  EXPECT_EQ(a.session->id(), "taken");
  auto b = engine.create(true, ids, factory);  // "taken" again, then "fresh"
  ASSERT_NE(b.session, nullptr);
  EXPECT_EQ(b.session->id(), "fresh");
  EXPECT_EQ(factory.made, 2);  // no object is built for a colliding id

  auto none = engine.create(true, ids, factory);
  EXPECT_EQ(none.session, nullptr);
  EXPECT_EQ(none.failure, PoolEngine::CreateFailure::NoId);

  scheme = {"bad id;with=stuff"};
  next = 0;
  auto invalid = engine.create(true, ids, factory);
  EXPECT_EQ(invalid.session, nullptr);
  EXPECT_EQ(invalid.failure, PoolEngine::CreateFailure::InvalidId);

  auto always_taken = [](std::string& id) { id = "taken"; return true; };
  auto exhausted = engine.create(true, always_taken, factory);
  EXPECT_EQ(exhausted.failure, PoolEngine::CreateFailure::NoUnusedId);
  EXPECT_EQ(engine.size(), 2u);
  unref(a.session);
  unref(b.session);
  drain(engine);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngineCreate, FactoryFailuresAndLimits) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  auto no_ids = [](std::string&) { return false; };
  Factory refusing;
  refusing.refuse = true;
  EXPECT_EQ(engine.create(false, no_ids, refusing).failure, PoolEngine::CreateFailure::NoSession);
  EXPECT_EQ(engine.create(false, no_ids, [](const char*) { return PoolEngine::MadeSession{nullptr, true}; }).failure,
            PoolEngine::CreateFailure::WrongKind);
  Factory liar;
  liar.forced_id = "not-the-id-given";
  EXPECT_EQ(engine.create(false, no_ids, liar).failure, PoolEngine::CreateFailure::WrongId);
  EXPECT_EQ(Counted::alive, 0);  // the policy dropped what it refused

  Counted* pooled = make("pooled");
  PoolEngine other({ref, unref});
  ASSERT_EQ(other.insert(pooled, 0), PoolEngine::InsertResult::Inserted);
  auto reused = engine.create(false, no_ids, [&](const char*) {
    ref(pooled);
    return PoolEngine::MadeSession{pooled, false};
  });
  // The id check comes first: a session from elsewhere has another id.
  EXPECT_EQ(reused.failure, PoolEngine::CreateFailure::WrongId);

  Factory factory;
  EXPECT_EQ(engine.set_max_sessions(1), 0u);
  auto one = engine.create(false, no_ids, factory);
  ASSERT_NE(one.session, nullptr);
  EXPECT_EQ(engine.create(false, no_ids, factory).failure, PoolEngine::CreateFailure::Full);
  EXPECT_EQ(factory.made, 1);  // a full pool builds nothing
  unref(one.session);
  drain(engine);
  drain(other);
  unref(pooled);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngineCreate, AlreadyPooledSessionIsRefused) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  PoolEngine other({ref, unref});
  Counted* pooled = nullptr;
  auto ids = [](std::string& id) { id = "shared"; return true; };
  pooled = make("shared");
  ASSERT_EQ(other.insert(pooled, 0), PoolEngine::InsertResult::Inserted);
  auto result = engine.create(true, ids, [&](const char*) {
    ref(pooled);
    return PoolEngine::MadeSession{pooled, false};
  });
  EXPECT_EQ(result.failure, PoolEngine::CreateFailure::AlreadyPooled);
  EXPECT_EQ(result.id, "shared");
  EXPECT_EQ(engine.size(), 0u);
  drain(other);
  unref(pooled);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(SessionOwner, BindingAndConstantTimeCheck) {
  Counted* s = make("s");
  EXPECT_FALSE(s->owner().has_value());
  EXPECT_TRUE(s->has_owner(nullptr));
  EXPECT_FALSE(s->has_owner("alice"));
  EXPECT_FALSE(s->set_owner(std::nullopt));  // none before, none now
  EXPECT_TRUE(s->set_owner("alice"));
  EXPECT_FALSE(s->set_owner("alice"));
  EXPECT_EQ(s->owner(), "alice");
  EXPECT_TRUE(s->has_owner("alice"));
  EXPECT_FALSE(s->has_owner("alicE"));
  EXPECT_FALSE(s->has_owner("alice2"));
  EXPECT_FALSE(s->has_owner(""));
  EXPECT_FALSE(s->has_owner(nullptr));
  EXPECT_TRUE(s->set_owner(std::nullopt));
  EXPECT_TRUE(s->has_owner(nullptr));
  unref(s);
}

TEST(SessionOwner, FindOwnedIgnoresOthersAndDoesNotTouch) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Counted* s = make("s");
  s->set_owner("alice");  // extras made before joining: the pool link goes into them
  engine.insert(s, 0);
  const Micros touched = s->expiry().last_access();
  clock.advance(kSecond);
  EXPECT_EQ(engine.find_owned("s", "mallory"), nullptr);
  EXPECT_EQ(s->expiry().last_access(), touched);
  Session* found = engine.find_owned("s", "alice");
  EXPECT_EQ(found, s);
  EXPECT_EQ(s->expiry().last_access(), clock.now());
  unref(found);
  // A lowered deadline still reaches the pool through the extras.
  s->set_extra_timeout(0);
  s->set_timeout(1);
  EXPECT_EQ(engine.take_expired(clock.now() + kSecond).size(), 1u);
  unref(s);
  unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(SessionOwner, ExtrasMadeAfterJoiningKeepThePoolLink) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  Counted* s = make("s");
  engine.insert(s, 0);
  s->set_owner("bob");  // moves the link into the new extras
  s->set_extra_timeout(0);
  s->set_timeout(2);
  EXPECT_EQ(engine.take_expired(clock.now() + 2 * kSecond).size(), 1u);
  unref(s);
  unref(s);
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, LoweredDeadlineReachesItsPoolAmongManyPools) {
  FakeClock clock(1000 * kSecond);
  std::vector<std::unique_ptr<PoolEngine>> engines;
  for (int i = 0; i < 1000; i++)
    engines.push_back(std::make_unique<PoolEngine>(rs::core::SessionOps{ref, unref}));
  Counted* s = make("s");
  engines[500]->insert(s, 0);
  s->set_extra_timeout(0);
  s->set_timeout(1);
  for (int i = 0; i < 1000; i++)
    EXPECT_EQ(engines[i]->take_expired(clock.now() + kSecond).size(), i == 500 ? 1u : 0u);
  unref(s);
  unref(s);
  engines.clear();
  EXPECT_EQ(Counted::alive, 0);
}

TEST(PoolEngine, FilterShowsWhatItsCallbackCreates) {
  FakeClock clock(1000 * kSecond);
  PoolEngine engine({ref, unref});
  for (const char* id : {"a", "b"})
    engine.insert(make(id), 0);
  for (Session* s : engine.snapshot()) {
    unref(s);  // make()'s
    unref(s);  // snapshot's
  }
  std::set<std::string> shown, kept, removed;
  engine.filter(
      [&](Session* s) {
        shown.insert(std::string(s->id()));
        if (s->id() == "a") {
          Counted* c = make("c");
          engine.insert(c, 0);
          unref(c);
          Session* b = engine.find("b");
          EXPECT_TRUE(engine.remove(b));  // b is never shown
          unref(b);  // the pool's
          unref(b);  // find's
        }
        return s->id() == "c" ? rs::core::FilterDecision::Remove : rs::core::FilterDecision::Ref;
      },
      [&](Session* s) { kept.insert(std::string(s->id())); },
      [&](Session* s) {
        removed.insert(std::string(s->id()));
        unref(s);
      });
  EXPECT_EQ(shown, (std::set<std::string>{"a", "c"}));
  EXPECT_EQ(kept, std::set<std::string>{"a"});
  EXPECT_EQ(removed, std::set<std::string>{"c"});
  drain(engine);
  EXPECT_EQ(Counted::alive, 0);
}
