// SPDX-License-Identifier: LGPL-2.1-or-later
// The pool engine against a naive list: both get the same operations at
// explicit times, and after each one they must agree on which sessions exist
// and which have expired. Used by the randomized model test and by the
// pool-operations fuzzer.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/pool-engine.hh"

namespace rs::testing {

using rs::core::Micros;
using rs::core::PoolEngine;
using rs::core::Session;

// A session with a plain reference count, standing in for the GObject.
struct CountedSession : Session {
  int refs = 1;
  static inline int alive = 0;
  CountedSession() { alive++; }
  ~CountedSession() { alive--; }
};

inline void ref_counted(Session* s) noexcept { static_cast<CountedSession*>(s)->refs++; }
// Out of line: inlined, GCC takes a second unref for a use after free.
[[gnu::noinline]] inline void unref_counted(Session* s) noexcept {
  auto* counted = static_cast<CountedSession*>(s);
  if (--counted->refs == 0)
    delete counted;
}

// Makes rs::core::monotonic_now() return a time the test controls.
class FakeClock {
 public:
  explicit FakeClock(Micros start) : now_(start) { rs::core::set_fake_monotonic_clock(&now_); }
  ~FakeClock() { rs::core::set_fake_monotonic_clock(nullptr); }
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;
  Micros now() const { return now_.load(); }
  void advance(Micros by) { now_ += by; }

 private:
  std::atomic<Micros> now_;
};

class PoolModel {
 public:
  enum class Op : std::uint8_t { Create, Find, SetTimeout, SetExtra, Prevent, Allow, Remove, Advance, Cleanup, Wakeup };
  static constexpr int kOps = 10;
  static constexpr Micros kSecond = 1'000'000;

  PoolModel() : clock_(5000 * kSecond), engine_({ref_counted, unref_counted}) {}
  ~PoolModel() {
    for (Session* s : engine_.take_all())
      unref_counted(s);
    for (CountedSession* s : model_)
      unref_counted(s);
  }

  // Applies one operation; `a` and `b` pick its target and arguments.
  // Returns a description of the first disagreement, or "".
  std::string apply(Op op, std::uint32_t a, std::uint32_t b) {
    static const std::uint32_t timeouts[] = {0, 1, 2, 3, 5, 60};
    static const std::uint32_t extras[] = {0, 1, 5};
    CountedSession* s = model_.empty() ? nullptr : model_[a % model_.size()];
    switch (op) {
      case Op::Create: {
        auto* fresh = new CountedSession();
        fresh->set_id("m" + std::to_string(next_id_++));
        fresh->set_timeout(timeouts[a % 6]);
        fresh->set_extra_timeout(extras[b % 3]);
        fresh->touch();
        if (engine_.insert(fresh, 0) != PoolEngine::InsertResult::Inserted)
          return "insert refused a fresh id";
        model_.push_back(fresh);
        break;
      }
      case Op::Find: {
        const std::string id = s && b % 4 ? std::string(s->id()) : "absent" + std::to_string(b % 10);
        Session* found = engine_.find(id);
        if (found != (s && id == s->id() ? s : nullptr))
          return "find of " + id + " disagrees";
        if (found) {
          found->touch();
          unref_counted(found);
        }
        break;
      }
      case Op::SetTimeout:
        if (s)
          s->set_timeout(timeouts[b % 6]);
        break;
      case Op::SetExtra:
        if (s)
          s->set_extra_timeout(extras[b % 3]);
        break;
      case Op::Prevent:
        if (s)
          s->prevent_expire();
        break;
      case Op::Allow:
        if (s && s->expiry().prevent_count() > 0)
          s->allow_expire();
        break;
      case Op::Remove:
        if (s) {
          if (!engine_.remove(s))
            return "remove of a member failed";
          unref_counted(s);  // the pool's
          drop(s);
        }
        break;
      case Op::Advance:
        clock_.advance(static_cast<Micros>(b % (3 * kSecond)));
        break;
      case Op::Cleanup: {
        // Sometimes judge a little ahead of the clock, as cleanup_usec allows.
        const Micros now = clock_.now() + (a % 3 == 0 ? static_cast<Micros>(b % kSecond) : 0);
        const std::set<std::string> expected = expired_at(now);
        std::set<std::string> taken_ids;
        std::vector<Session*> taken = engine_.take_expired(now);
        for (Session* gone : taken)
          taken_ids.insert(std::string(gone->id()));
        for (Session* gone : taken) {
          if (engine_.find(gone->id()) != nullptr)
            return "a cleaned-up session is still found";
          unref_counted(gone);  // the pool's
          drop(gone);
        }
        if (taken_ids != expected)
          return "cleanup removed " + std::to_string(taken_ids.size()) + " sessions, the model " +
                 std::to_string(expected.size());
        break;
      }
      case Op::Wakeup:
        if (auto problem = check_wakeup(); !problem.empty())
          return problem;
        break;
    }
    if (engine_.size() != model_.size())
      return "size " + std::to_string(engine_.size()) + " vs model " + std::to_string(model_.size());
    return "";
  }

 private:
  std::set<std::string> expired_at(Micros now) const {
    std::set<std::string> ids;
    for (CountedSession* s : model_)
      if (s->expiry().next_timeout_ms(now) == 0)
        ids.insert(std::string(s->id()));
    return ids;
  }

  void drop(Session* s) {
    auto it = std::find(model_.begin(), model_.end(), s);
    model_.erase(it);
    unref_counted(s);  // ours
  }

  // The watch's wakeup is never late, and early only within the bucket's
  // millisecond; a prevented session only bounds it from below, since it
  // cannot expire before it is allowed and allowing counts as a touch.
  std::string check_wakeup() {
    const Micros now = clock_.now();
    const auto wakeup = engine_.next_wakeup(now);
    std::optional<Micros> earliest;
    bool any_prevented = false;
    for (CountedSession* m : model_) {
      if (m->expiry().timeout() != 0 && m->expiry().prevent_count() > 0)
        any_prevented = true;
      else if (auto at = m->expiry().expires_at(now))
        earliest = earliest ? std::min(*earliest, *at) : *at;
    }
    if (!expired_at(now).empty())
      return wakeup && *wakeup <= now ? "" : "an expired session does not wake the watch";
    if (!earliest) {
      if (any_prevented)
        return !wakeup || *wakeup > now ? "" : "the watch wakes for prevented sessions only";
      return wakeup ? "the watch wakes with nothing to expire" : "";
    }
    if (!wakeup)
      return "the watch sleeps forever";
    if (*wakeup > *earliest + 999)
      return "the watch wakes late";
    if (*wakeup <= now)
      return "the watch wakes with nothing expired";
    return "";
  }

  FakeClock clock_;
  PoolEngine engine_;
  std::vector<CountedSession*> model_;  // each also holds a reference of ours
  int next_id_ = 0;
};

}  // namespace rs::testing
