// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pool-engine.hh"

#include <algorithm>
#include <shared_mutex>
#include <functional>
#include <string_view>

namespace rs::core {

namespace {

constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);

std::int64_t bucket_of(Micros expires_at) noexcept {
  // Floor division, so that negative times bucket correctly too.
  std::int64_t bucket = expires_at / kMicrosPerMilli;
  if (expires_at % kMicrosPerMilli < 0)
    bucket--;
  return bucket;
}

// The time to index a prevented session from: it cannot expire before it is
// allowed, which happens at the real time or later, so a caller's `now` from
// the future (cleanup_usec allows any) must not push its slot later.
Micros index_time(Micros now) noexcept {
  return std::min(now, monotonic_now());
}

}  // namespace

namespace {

// Every live engine, for report_earlier_deadline(). Lock order: this lock,
// then an engine's shard lock or index lock.
std::shared_mutex engines_lock;
std::vector<PoolEngine*>& live_engines() {
  static std::vector<PoolEngine*> engines;
  return engines;
}

}  // namespace

PoolEngine::PoolEngine(SessionOps ops, std::function<void()> wakeup) : ops_(ops), wakeup_(std::move(wakeup)) {
  std::unique_lock guard(engines_lock);
  live_engines().push_back(this);
}

PoolEngine::~PoolEngine() {
  {
    // Waits for any report_earlier_deadline() that is asking this engine.
    std::unique_lock guard(engines_lock);
    auto& engines = live_engines();
    engines.erase(std::find(engines.begin(), engines.end(), this));
  }
  // Anything still here is dropped without ceremony; the GObject layer
  // empties the engine with take_all() first.
  for (Session* session : take_all())
    ops_.unref(session);
}

std::size_t PoolEngine::hash_of(std::string_view id) noexcept {
  return std::hash<std::string_view>{}(id);
}

namespace {

constexpr unsigned kTagShift = 48;
// The home slot and the tag both come from the hash bits above this one (the
// top bits choose the shard). A tag thus holds the home slot of any table of
// up to 2^16 slots, and the table grows and erases without rehashing ids.
constexpr unsigned kHomeShift = 24;
constexpr std::size_t kTagMask = 0xffff;

std::uintptr_t tag_of(std::size_t hash) noexcept {
  return (hash >> kHomeShift) & kTagMask;
}

std::size_t home_of(std::size_t hash, std::size_t mask) noexcept {
  return (hash >> kHomeShift) & mask;
}

}  // namespace

PoolEngine::Slot PoolEngine::make_slot(Session* session, std::size_t hash) noexcept {
  const auto pointer = reinterpret_cast<std::uintptr_t>(session);
  if ((pointer >> kTagShift) != 0 || (pointer & 1) != 0)
    return pointer;  // untagged
  return pointer | (tag_of(hash) << kTagShift) | 1;
}

Session* PoolEngine::session_of(Slot slot) noexcept {
  if (slot & 1)
    slot &= (std::uintptr_t{1} << kTagShift) - 2;
  return reinterpret_cast<Session*>(slot);
}

bool PoolEngine::may_match(Slot slot, std::size_t hash) noexcept {
  return !(slot & 1) || (slot >> kTagShift) == tag_of(hash);
}

std::size_t PoolEngine::find_slot(const Shard& shard, std::size_t hash, std::string_view id) noexcept {
  if (shard.slots.empty())
    return kNoSlot;
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = home_of(hash, mask);; i = (i + 1) & mask) {
    const Slot slot = shard.slots[i];
    if (slot == kEmpty)
      return kNoSlot;
    if (may_match(slot, hash) && session_of(slot)->id() == id)
      return i;
  }
}

void PoolEngine::grow(Shard& shard) {
  std::vector<Slot> old = std::move(shard.slots);
  shard.slots.assign(old.empty() ? 16 : old.size() * 2, kEmpty);
  const std::size_t mask = shard.slots.size() - 1;
  shard.prefetch_base.store(shard.slots.data(), std::memory_order_relaxed);
  shard.prefetch_mask.store(mask, std::memory_order_relaxed);
  for (Slot slot : old) {
    if (slot == kEmpty)
      continue;
    std::size_t i = home_of_slot(slot, mask);
    while (shard.slots[i] != kEmpty)
      i = (i + 1) & mask;
    shard.slots[i] = slot;
  }
}

std::size_t PoolEngine::home_of_slot(Slot slot, std::size_t mask) noexcept {
  if ((slot & 1) && mask <= kTagMask)
    return (slot >> kTagShift) & mask;
  return home_of(hash_of(session_of(slot)->id()), mask);
}

void PoolEngine::insert_slot(Shard& shard, std::size_t hash, Session* session) {
  const std::size_t mask = shard.slots.size() - 1;
  std::size_t i = home_of(hash, mask);
  while (shard.slots[i] != kEmpty)
    i = (i + 1) & mask;
  shard.slots[i] = make_slot(session, hash);
}

void PoolEngine::erase_slot(Shard& shard, std::size_t slot) noexcept {
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  const std::size_t mask = shard.slots.size() - 1;
  std::size_t hole = slot;
  for (std::size_t i = (slot + 1) & mask; shard.slots[i] != kEmpty; i = (i + 1) & mask) {
    const std::size_t home = home_of_slot(shard.slots[i], mask);
    // Move the entry into the hole unless its home lies cyclically in (hole, i].
    const bool home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!home_after_hole) {
      shard.slots[hole] = shard.slots[i];
      hole = i;
    }
  }
  shard.slots[hole] = kEmpty;
}

PoolEngine::InsertResult PoolEngine::insert(Session* session, std::uint32_t max_sessions) {
  if (!session->join_pool())
    return InsertResult::AlreadyPooled;

  if (max_sessions != 0) {
    std::size_t count = count_.load(std::memory_order_relaxed);
    do {
      if (count >= max_sessions) {
        session->cancel_join();
        return InsertResult::Full;
      }
    } while (!count_.compare_exchange_weak(count, count + 1, std::memory_order_relaxed));
  } else {
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  const std::size_t hash = hash_of(session->id());
  Shard& shard = shard_for(hash);
  {
    std::lock_guard guard(shard.lock);
    if (find_slot(shard, hash, session->id()) != kNoSlot) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      session->cancel_join();
      return InsertResult::DuplicateId;
    }
    if ((shard.count + 1) * 4 > shard.slots.size() * 3)
      grow(shard);
    ops_.ref(session);
    insert_slot(shard, hash, session);
    shard.count++;
  }

  bool earlier;
  {
    std::lock_guard guard(index_lock_);
    // A concurrent remove() may already have taken it out again. Only a
    // prevented session's slot depends on the time it is judged at.
    const Micros now = session->expiry().prevent_count() > 0 ? monotonic_now() : session->expiry().last_access();
    auto expires_at = session->expiry().expires_at(now);
    earlier = session->in_pool() && session->prev == nullptr && expires_at &&
              link(session, *expires_at);
  }
  if (earlier)
    wake();
  return InsertResult::Inserted;
}

void PoolEngine::prefetch(std::string_view id) const noexcept {
  const std::size_t hash = hash_of(id);
  const Shard& shard = shard_for(hash);
  if (const Slot* base = shard.prefetch_base.load(std::memory_order_relaxed))
    __builtin_prefetch(base + home_of(hash, shard.prefetch_mask.load(std::memory_order_relaxed)));
}

bool PoolEngine::contains_id(std::string_view id) const {
  const std::size_t hash = hash_of(id);
  Shard& shard = shard_for(hash);
  std::lock_guard guard(shard.lock);
  return find_slot(shard, hash, id) != kNoSlot;
}

Session* PoolEngine::find(std::string_view id, bool touch, FindFilter accept, const void* data) const {
  const std::size_t hash = hash_of(id);
  Shard& shard = shard_for(hash);
  std::lock_guard guard(shard.lock);
  const std::size_t slot = find_slot(shard, hash, id);
  if (slot == kNoSlot)
    return nullptr;
  Session* session = session_of(shard.slots[slot]);
  if (accept != nullptr && !accept(session, data))
    return nullptr;
  // Under the lock, so that take_expired()'s re-check sees the touch.
  if (touch)
    session->touch();
  ops_.ref(session);
  return session;
}

std::size_t PoolEngine::slot_of(const Shard& shard, std::size_t hash, const Session* session) noexcept {
  const std::size_t slot = find_slot(shard, hash, session->id());
  // Another object with the same id is another session.
  return slot != kNoSlot && session_of(shard.slots[slot]) == session ? slot : kNoSlot;
}

bool PoolEngine::remove(Session* session) {
  const std::size_t hash = hash_of(session->id());
  Shard& shard = shard_for(hash);
  {
    std::lock_guard guard(shard.lock);
    const std::size_t slot = slot_of(shard, hash, session);
    if (slot == kNoSlot)
      return false;
    erase_slot(shard, slot);
    shard.count--;
    session->leave_pool();
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
  unindex(session);
  return true;
}

void PoolEngine::unindex(Session* session) {
  std::lock_guard guard(index_lock_);
  if (session->prev != nullptr)
    unlink(session);
}

bool PoolEngine::link(Session* session, Micros expires_at) {
  const std::int64_t key = bucket_of(expires_at);
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.key = key;
    bucket.prev = bucket.next = &bucket;
  }
  session->prev = bucket.prev;
  session->next = &bucket;
  bucket.prev->next = session;
  bucket.prev = session;
  return inserted && it == buckets_.begin();
}

void PoolEngine::unlink(Session* session) noexcept {
  IndexNode* before = session->prev;
  IndexNode* after = session->next;
  before->next = after;
  after->prev = before;
  session->prev = session->next = nullptr;
  // A node that points at itself is the sentinel of a now empty bucket.
  if (before->next == before)
    buckets_.erase(static_cast<Bucket*>(before)->key);
}

void PoolEngine::pop_due(Micros now, std::vector<Session*>& expired) {
  const std::int64_t due = bucket_of(now);
  std::vector<std::pair<Session*, Micros>> later;  // due bucket, not yet expired
  while (!buckets_.empty() && buckets_.begin()->first <= due) {
    Bucket& bucket = buckets_.begin()->second;
    for (IndexNode* node = bucket.next; node != &bucket;) {
      auto* session = static_cast<Session*>(node);
      node = node->next;
      // The list is scattered in memory: start loading the next session
      // while this one is judged.
      __builtin_prefetch(node);
      session->prev = session->next = nullptr;
      if (session->expiry().timeout() == 0)
        continue;  // out of the index until its timeout changes
      if (session->expiry().is_expired(now)) {
        expired.push_back(session);
        continue;
      }
      auto expires_at = session->expiry().expires_at(index_time(now));
      if (!expires_at)
        continue;
      if (bucket_of(*expires_at) <= due)
        later.emplace_back(session, *expires_at);
      else
        link(session, *expires_at);
    }
    buckets_.erase(buckets_.begin());
  }
  for (auto [session, expires_at] : later)
    link(session, expires_at);
}

std::vector<Session*> PoolEngine::take_expired(Micros now) {
  std::vector<Session*> candidates;
  {
    std::lock_guard guard(index_lock_);
    pop_due(now, candidates);
    for (Session* session : candidates)
      ops_.ref(session);  // keep it alive past a concurrent remove()
  }

  std::vector<Session*> removed;
  std::vector<Session*> to_relink;
  for (std::size_t i = 0; i < candidates.size(); i++) {
    Session* session = candidates[i];
    if (i + 1 < candidates.size())
      prefetch(candidates[i + 1]->id());  // its table slot, while this one is removed
    const std::size_t hash = hash_of(session->id());
    Shard& shard = shard_for(hash);
    bool taken = false;
    {
      std::lock_guard guard(shard.lock);
      const std::size_t slot = slot_of(shard, hash, session);
      if (slot != kNoSlot) {
        // Re-check under the lock: find() touches under it too.
        if (session->expiry().is_expired(now)) {
          erase_slot(shard, slot);
          shard.count--;
          session->leave_pool();
          taken = true;
        } else {
          to_relink.push_back(session);
        }
      }
    }
    if (taken) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      removed.push_back(session);
    }
  }

  if (!removed.empty() || !to_relink.empty()) {
    std::lock_guard guard(index_lock_);
    // A reschedule() may have indexed a removed session again meanwhile.
    for (Session* session : removed)
      if (session->prev != nullptr)
        unlink(session);
    for (Session* session : to_relink) {
      if (session->prev != nullptr || !session->in_pool())
        continue;
      if (auto expires_at = session->expiry().expires_at(index_time(now)))
        link(session, *expires_at);
    }
  }
  // Drop the temporary references outside every lock: a session removed by
  // someone else meanwhile may be finalized here. The removed ones keep the
  // pool's reference, which goes to the caller.
  for (Session* session : candidates)
    ops_.unref(session);
  return removed;
}

std::vector<Session*> PoolEngine::take_all() {
  std::vector<Session*> all;
  all.reserve(size());
  for (Shard& shard : shards_) {
    std::lock_guard guard(shard.lock);
    for (Slot& slot : shard.slots) {
      if (slot != kEmpty) {
        Session* session = session_of(slot);
        session->leave_pool();
        all.push_back(session);
        slot = kEmpty;
      }
    }
    count_.fetch_sub(shard.count, std::memory_order_relaxed);
    shard.count = 0;
  }
  std::lock_guard guard(index_lock_);
  for (auto& [key, bucket] : buckets_) {
    for (IndexNode* node = bucket.next; node != &bucket;) {
      IndexNode* next = node->next;
      node->prev = node->next = nullptr;
      node = next;
    }
  }
  buckets_.clear();
  return all;
}

std::vector<Session*> PoolEngine::snapshot() const {
  std::vector<Session*> all;
  all.reserve(size());
  for (const Shard& shard : shards_) {
    std::lock_guard guard(shard.lock);
    for (Slot slot : shard.slots) {
      if (slot != kEmpty) {
        Session* session = session_of(slot);
        ops_.ref(session);
        all.push_back(session);
      }
    }
  }
  return all;
}

std::optional<Micros> PoolEngine::next_wakeup(Micros now) {
  std::lock_guard guard(index_lock_);
  std::vector<Session*> expired;
  pop_due(now, expired);
  // Leave them indexed where they were due, for cleanup to find.
  bool any_expired = false;
  for (Session* session : expired) {
    // A concurrent set_timeout(0) may have made it never expire after all.
    if (auto expires_at = session->expiry().expires_at(index_time(now))) {
      link(session, *expires_at);
      any_expired = true;
    }
  }
  if (any_expired)
    return now;
  if (buckets_.empty())
    return std::nullopt;
  // By the end of the earliest bucket, its sessions have all expired unless touched.
  return buckets_.begin()->first * kMicrosPerMilli + (kMicrosPerMilli - 1);
}

void PoolEngine::report_earlier_deadline(Session* session) {
  std::shared_lock guard(engines_lock);
  for (PoolEngine* engine : live_engines())
    if (engine->reschedule(session))
      return;
}

bool PoolEngine::reschedule(Session* session) {
  const std::size_t hash = hash_of(session->id());
  Shard& shard = shard_for(hash);
  {
    std::lock_guard guard(shard.lock);
    if (slot_of(shard, hash, session) == kNoSlot)
      return false;
  }
  bool earlier = false;
  {
    std::lock_guard guard(index_lock_);
    // Removed meanwhile: remove() unindexes after leave_pool(), and a
    // session never joins another pool after leaving this one.
    if (!session->in_pool())
      return true;
    if (session->prev != nullptr)
      unlink(session);
    if (auto expires_at = session->expiry().expires_at(monotonic_now()))
      earlier = link(session, *expires_at);
  }
  if (earlier)
    wake();
  return true;
}

void PoolEngine::wake() const {
  if (wakeup_)
    wakeup_();
}

}  // namespace rs::core
