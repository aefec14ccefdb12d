// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pool-engine.hh"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <cstring>
#include <functional>
#include <string_view>

namespace rs::core {

namespace {

constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);

}  // namespace

PoolEngine::PoolEngine(SessionOps ops, std::function<void()> wakeup)
    : ops_(ops), wakeup_(std::move(wakeup)), link_(new PoolLink(*this)) {}

PoolEngine::~PoolEngine() {
  // Waits for any session that is asking this engine to re-index it; the
  // sessions keep the link, which now leads nowhere.
  link_->detach();
  link_->unref();
  // Anything still here is dropped without ceremony; the GObject layer
  // empties the engine with take_all() first.
  for (Session* session : take_all())
    ops_.unref(session);
}

namespace {

constexpr std::size_t kMappedSlotBytes = 4096;

}  // namespace

PoolEngine::SlotArray::SlotArray(std::size_t size) : size_(size) {
  static_assert(kEmpty == 0, "fresh memory is all empty slots");
  const std::size_t bytes = size * sizeof(Slot);
  void* memory;
  if (bytes >= kMappedSlotBytes) {
    memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
      memory = nullptr;
  } else {
    memory = std::calloc(size, sizeof(Slot));
  }
  if (memory == nullptr)
    throw std::bad_alloc();
  slots_ = static_cast<Slot*>(memory);
}

PoolEngine::SlotArray::~SlotArray() {
  if (slots_ == nullptr)
    return;
  if (size_ * sizeof(Slot) >= kMappedSlotBytes)
    munmap(slots_, size_ * sizeof(Slot));
  else
    std::free(slots_);
}

std::size_t PoolEngine::hash_of(std::string_view id) noexcept {
  // Eight bytes at a time, each word mixed in by a multiply, then a
  // finalizer that spreads every input bit over the top bits (which pick
  // the shard) and the middle ones (home slot and tag). Not keyed: the
  // table holds ids the server chose, so a client that picks the ids it
  // asks for cannot lengthen a probe chain; an application's own id
  // scheme still gets a good spread. Cheaper than std::hash's byte-wise
  // loop on the 22-character ids every find hashes.
  constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15;
  std::uint64_t h = id.size() * kMultiplier;
  const char* p = id.data();
  std::size_t left = id.size();
  for (; left >= 8; p += 8, left -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * kMultiplier;
    h ^= h >> 29;
  }
  if (left > 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, left);
    h = (h ^ word) * kMultiplier;
    h ^= h >> 29;
  }
  // splitmix64's finalizer
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9;
  h ^= h >> 27;
  h *= 0x94d049bb133111eb;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
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
  // Allocated before the old array is let go: a failure loses nothing.
  SlotArray fresh(shard.slots.empty() ? 16 : shard.slots.size() * 2);
  SlotArray old = std::exchange(shard.slots, std::move(fresh));
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

PoolEngine::InsertResult PoolEngine::insert_hashed(Session* session, std::uint32_t max_sessions, bool drawn_id,
                                                  std::size_t hash) {
  if (!session->join_pool(*link_))
    return InsertResult::AlreadyPooled;
  // Pairs with Session::deadline_may_be_earlier(): either the setter sees
  // the link, or the deadline read below sees the setter's value.
  std::atomic_thread_fence(std::memory_order_seq_cst);

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

  Shard& shard = shard_for(hash);
  {
    std::lock_guard guard(shard.lock);
    if (!drawn_id && find_slot(shard, hash, session->id()) != kNoSlot) {
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

  bool earlier = false;
  {
    std::lock_guard guard(index_lock_);
    // A concurrent remove() may already have taken it out again, or a
    // concurrent reschedule() indexed it. Only a prevented session's
    // deadline depends on the time it is judged at.
    if (session->in_pool() && !index_.contains(*session)) {
      const Micros now = session->expiry().prevented() ? monotonic_now() : session->expiry().last_access();
      earlier = index_.schedule(*session, now);
    }
  }
  if (earlier)
    wake();
  note_added(session);
  return InsertResult::Inserted;
}

void PoolEngine::prefetch_slot(std::size_t hash) const noexcept {
  const Shard& shard = shard_for(hash);
  if (const Slot* base = shard.prefetch_base.load(std::memory_order_relaxed))
    __builtin_prefetch(base + home_of(hash, shard.prefetch_mask.load(std::memory_order_relaxed)));
}

void PoolEngine::note_added(Session* session) {
  FilterAdditions<SessionRef>::note(this, [&] {
    ops_.ref(session);
    return SessionRef(session, ops_);
  });
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

namespace {

bool owned_by(Session* session, const void* owner) noexcept {
  return session->has_owner(static_cast<const char*>(owner));
}

}  // namespace

Session* PoolEngine::find_owned(std::string_view id, const char* owner, bool touch) const {
  // A session with another owner is as if it did not exist, and untouched.
  return find(id, touch, owned_by, owner);
}

std::size_t PoolEngine::slot_holding(const Shard& shard, std::size_t hash, Session* session) noexcept {
  if (shard.slots.empty())
    return kNoSlot;
  // The very slot insert_slot() made for it, on the probe chain of `hash`;
  // `session` is never dereferenced.
  const Slot want = make_slot(session, hash);
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = home_of(hash, mask);; i = (i + 1) & mask) {
    const Slot slot = shard.slots[i];
    if (slot == kEmpty)
      return kNoSlot;
    if (slot == want)
      return i;
  }
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
  index_.unschedule(*session);
}

namespace {

// Starts loading a session object that is about to be used: the core and
// what the layer above keeps right after it (the GObject layer: the
// instance with its reference count). Only a hint.
void prefetch_object(const Session* session) noexcept {
  const char* start = reinterpret_cast<const char*>(session);
  __builtin_prefetch(start);
  __builtin_prefetch(start + 64);
  __builtin_prefetch(start + sizeof(Session) + 32);
}

// How far ahead expiry loads what it needs next: the sessions that far
// ahead, their table slots half as far. The due sessions lie scattered in
// memory, so loading several at once beats waiting for each in turn.
constexpr std::size_t kObjectsAhead = 16;
constexpr std::size_t kSlotsAhead = 8;

}  // namespace

void PoolEngine::set_on_rescheduled(RescheduledFunc func) {
  auto held = func ? std::make_shared<const RescheduledFunc>(std::move(func)) : nullptr;
  std::lock_guard guard(index_lock_);
  on_rescheduled_.swap(held);
}

std::shared_ptr<const PoolEngine::RescheduledFunc> PoolEngine::hold_rescheduled(
    const std::vector<Session*>& sessions) const {
  if (!on_rescheduled_ || sessions.empty())
    return nullptr;
  for (Session* session : sessions)
    ops_.ref(session);
  return on_rescheduled_;
}

void PoolEngine::tell_rescheduled(const std::shared_ptr<const RescheduledFunc>& func,
                                  std::vector<Session*>&& sessions) {
  if (func)
    (*func)(std::move(sessions));
}

std::vector<Session*> PoolEngine::take_expired(Micros now) {
  std::vector<Session*> candidates;
  std::vector<std::size_t> hashes;  // of the candidates' ids
  std::vector<Session*> rescheduled;
  std::shared_ptr<const RescheduledFunc> tell;
  {
    std::lock_guard guard(index_lock_);
    index_.pop_due(now, candidates, on_rescheduled_ ? &rescheduled : nullptr);
    tell = hold_rescheduled(rescheduled);
    // No reference is taken on the candidates: once this lock is let go, a
    // concurrent remove() may finalize one, so from here on a candidate is
    // only a pointer and a hash until its slot is found under the shard's
    // lock (the table's reference keeps it alive there). The ids are read
    // now, while remove() would still be waiting for this lock to unindex.
    hashes.reserve(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); i++) {
      if (i + kObjectsAhead < candidates.size())
        prefetch_object(candidates[i + kObjectsAhead]);
      hashes.push_back(hash_of(candidates[i]->id()));
    }
  }

  std::vector<Session*> removed;
  std::vector<Session*> to_relink;
  for (std::size_t i = 0; i < std::min(kSlotsAhead, candidates.size()); i++)
    prefetch_slot(hashes[i]);
  for (std::size_t i = 0; i < candidates.size(); i++) {
    Session* session = candidates[i];
    if (i + kSlotsAhead < candidates.size()) {
      // Its table slot and its expiry, while this one is removed. Only
      // hints: a prefetch of memory since freed does no harm.
      prefetch_slot(hashes[i + kSlotsAhead]);
      __builtin_prefetch(&candidates[i + kSlotsAhead]->expiry());
    }
    const std::size_t hash = hashes[i];
    Shard& shard = shard_for(hash);
    bool taken = false;
    {
      std::lock_guard guard(shard.lock);
      // Found by pointer and hash alone: `session` may be gone. Should its
      // memory hold a new session of this pool by now, that one is judged
      // like any other, which is harmless.
      const std::size_t slot = slot_holding(shard, hash, session);
      if (slot != kNoSlot) {
        // Re-check under the lock: find() touches under it too.
        if (session->expiry().is_expired(now)) {
          erase_slot(shard, slot);
          shard.count--;
          session->leave_pool();
          taken = true;
        } else {
          ops_.ref(session);  // alive past this lock, to be indexed again
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
      index_.unschedule(*session);
    // Touched meanwhile. Judged at the clock's time if `now` is later, as
    // the index itself does.
    const Micros index_now = std::min(now, monotonic_now());
    std::vector<Session*> relinked;
    for (Session* session : to_relink)
      if (session->in_pool() && !index_.contains(*session)) {
        index_.schedule(*session, index_now);
        relinked.push_back(session);
      }
    if (on_rescheduled_ && !relinked.empty()) {
      for (Session* session : relinked)
        ops_.ref(session);
      rescheduled.insert(rescheduled.end(), relinked.begin(), relinked.end());
      tell = on_rescheduled_;
    }
  }
  // Outside every lock: a session removed by someone else meanwhile may be
  // finalized here. The removed ones keep the pool's reference, which goes
  // to the caller.
  for (Session* session : to_relink)
    ops_.unref(session);
  tell_rescheduled(tell, std::move(rescheduled));
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
  index_.clear();
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
  std::vector<Session*> rescheduled;
  std::shared_ptr<const RescheduledFunc> tell;
  std::optional<Micros> wakeup;
  {
    std::lock_guard guard(index_lock_);
    wakeup = index_.next_wakeup(now, on_rescheduled_ ? &rescheduled : nullptr);
    tell = hold_rescheduled(rescheduled);
  }
  tell_rescheduled(tell, std::move(rescheduled));
  return wakeup;
}

void PoolEngine::reschedule(Session& session) {
  const std::size_t hash = hash_of(session.id());
  Shard& shard = shard_for(hash);
  {
    std::lock_guard guard(shard.lock);
    if (slot_of(shard, hash, &session) == kNoSlot)
      return;
  }
  bool earlier = false;
  std::shared_ptr<const RescheduledFunc> tell;
  {
    std::lock_guard guard(index_lock_);
    // Removed meanwhile: remove() unindexes after leave_pool(), and a
    // session never joins another pool after leaving this one.
    if (!session.in_pool())
      return;
    earlier = index_.schedule(session, monotonic_now());
    if (on_rescheduled_) {
      ops_.ref(&session);
      tell = on_rescheduled_;
    }
  }
  if (earlier)
    wake();
  if (tell)
    (*tell)({&session});
}

void PoolEngine::wake() const {
  if (wakeup_)
    wakeup_();
}

}  // namespace rs::core
