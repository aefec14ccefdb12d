// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.hh"
#include "expiry-index.hh"
#include "filter.hh"
#include "session-header.hh"
#include "session-id.hh"
#include "session.hh"

namespace rs::core {

// How the engine takes and drops references on session objects it holds
// (g_object_ref/unref in the GObject layer).
struct SessionOps {
  void (*ref)(Session*) noexcept;
  void (*unref)(Session*) noexcept;
};

// A reference to a session, dropped when this goes.
class SessionRef {
 public:
  SessionRef(Session* session, const SessionOps& ops) noexcept : session_(session), ops_(&ops) {}
  SessionRef(SessionRef&& other) noexcept : session_(std::exchange(other.session_, nullptr)), ops_(other.ops_) {}
  SessionRef& operator=(SessionRef&& other) noexcept {
    std::swap(session_, other.session_);
    std::swap(ops_, other.ops_);
    return *this;
  }
  ~SessionRef() {
    if (session_)
      ops_->unref(session_);
  }
  Session* get() const noexcept { return session_; }

 private:
  Session* session_;
  const SessionOps* ops_;
};

// How rs::core::Session sits in an ExpiryIndex.
struct SessionIndexTraits {
  static IndexNode& node(Session& session) noexcept { return session; }
  static Session& entry(IndexNode& node) noexcept { return static_cast<Session&>(node); }
  static std::optional<Micros> deadline(Session& session, Micros now) noexcept {
    return session.expiry().expires_at(now);
  }
};

// The sessions of a pool: a sharded hash table by id for find, and an
// ExpiryIndex so that expiry work costs what the expired sessions cost, not
// what the pool's size costs.
//
// Touching a session does not reach the engine: it is one atomic store in
// the session. A deadline that moves earlier (a lower timeout) is reported
// by the session through its PoolLink, which leads straight here. Sessions
// with timeout 0 are not indexed at all.
class PoolEngine : private PoolLink::Pool {
 public:
  explicit PoolEngine(SessionOps ops, std::function<void()> wakeup = {});
  ~PoolEngine();
  PoolEngine(const PoolEngine&) = delete;
  PoolEngine& operator=(const PoolEngine&) = delete;

  // Sessions' own limit on how many the pool holds; 0 for none. Returns the
  // value it replaced.
  std::uint32_t set_max_sessions(std::uint32_t max) noexcept {
    return max_sessions_.exchange(max, std::memory_order_relaxed);
  }
  std::uint32_t max_sessions() const noexcept { return max_sessions_.load(std::memory_order_relaxed); }

  enum class InsertResult { Inserted, DuplicateId, Full, AlreadyPooled };
  // Adds `session` (which must have an id and be in no pool), taking a reference.
  // `max_sessions` 0 means no limit.
  InsertResult insert(Session* session, std::uint32_t max_sessions) {
    return insert_hashed(session, max_sessions, false, hash_of(session->id()));
  }
  bool contains_id(std::string_view id) const;
  // Starts loading the table slot for the id with hash `hash` into the
  // cache, so that a later insert or find of it does not wait for memory.
  // Only a hint.
  void prefetch_slot(std::size_t hash) const noexcept;

  // The create policy: a new session in the pool, within max_sessions(),
  // with an id nobody else has.
  //
  // `make_id(std::string& id) -> bool` is an application's id scheme; the
  // engine checks each id it makes and draws again on a collision. Without
  // one (`custom_ids` false) the engine draws random ids itself, which
  // cannot collide in practice (130 bits) and need no check.
  // `make_session(const char* id) -> MadeSession` makes the session object
  // for an id, with a reference for the caller.
  enum class CreateFailure { Full, NoId, InvalidId, NoSession, WrongKind, WrongId, AlreadyPooled, NoUnusedId };
  struct MadeSession {
    Session* session = nullptr;
    bool wrong_kind = false;  // an object was made, but it is no session of ours (already dropped)
  };
  struct Created {
    Session* session = nullptr;  // with a reference for the caller; nullptr on failure
    CreateFailure failure = CreateFailure::NoSession;
    std::string id;  // on failure, the id it failed with (if any)
  };
  static constexpr int kMaxIdAttempts = 100;
  template <class MakeId, class MakeSession>
  Created create(bool custom_ids, MakeId&& make_id, MakeSession&& make_session);

  // Decides, under the lock that find() holds, whether a session counts as
  // found. Must not call out (it may take a leaf lock of the session's).
  using FindFilter = bool (*)(Session* session, const void* data) noexcept;
  // A new reference to the session with `id` that `accept` (when given)
  // accepts, touched first when `touch`; nullptr otherwise.
  Session* find(std::string_view id, bool touch = false, FindFilter accept = nullptr, const void* data = nullptr) const;
  // The same, for the session whose owner is `owner` (see Session::has_owner()).
  Session* find_owned(std::string_view id, const char* owner, bool touch = true) const;
  // Takes `session` out. On success the caller inherits the pool's reference.
  bool remove(Session* session);
  // Takes out every session expired at `now`; the caller inherits the references.
  std::vector<Session*> take_expired(Micros now);
  // Takes out every session, for the pool's destruction.
  std::vector<Session*> take_all();
  // New references to all sessions.
  std::vector<Session*> snapshot() const;
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  // Shows `decide(Session*) -> FilterDecision` every session, with no lock
  // held, by the one filter algorithm (see filter_each()): each session in
  // the pool when it starts and each one the callbacks create, once.
  // Sessions it answers Remove to are taken out and given to
  // `removed(Session*)`, which inherits the pool's reference; those it
  // answers Ref to are given to `keep_ref(Session*)`.
  template <class Decide, class KeepRef, class Removed>
  void filter(Decide&& decide, KeepRef&& keep_ref, Removed&& removed);

  // When a watch should look next: nothing when no session can expire, a
  // time <= now when some session has expired at `now`. Reschedules sessions
  // that were touched since they were indexed.
  std::optional<Micros> next_wakeup(Micros now);

  // Told of the sessions the index judged again and found alive at a later
  // deadline (touched since they were indexed), and of those whose
  // deadline moved earlier: what a copy of the pool elsewhere must refresh.
  // Never per touch. Called with no lock held, from whichever thread runs
  // expiry; each session comes with a reference for the callee.
  using RescheduledFunc = std::function<void(std::vector<Session*>&&)>;
  void set_on_rescheduled(RescheduledFunc func);

 private:

  // A table slot: a session pointer with 16 bits of its id's hash in the
  // unused top bits, so that probing compares tags in the slot array and
  // dereferences a session only on a likely match. Bit 0 marks a tagged
  // slot; a pointer that uses its top bits is stored untagged and always
  // compared by id.
  using Slot = std::uintptr_t;
  static constexpr Slot kEmpty = 0;

  // A shard's slots, all kEmpty at first. Arrays of a page or more are
  // mapped from the system and unmapped when the shard grows past them, so
  // a grown table leaves no holes in the heap: with many shards growing by
  // doubling, the arrays they outgrew held the heap larger (7 bytes per
  // session at 1M sessions, with 1024 shards).
  class SlotArray {
   public:
    SlotArray() noexcept = default;
    explicit SlotArray(std::size_t size);
    SlotArray(SlotArray&& other) noexcept
        : slots_(std::exchange(other.slots_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    SlotArray& operator=(SlotArray&& other) noexcept {
      std::swap(slots_, other.slots_);
      std::swap(size_, other.size_);
      return *this;
    }
    ~SlotArray();
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    const Slot* data() const noexcept { return slots_; }
    Slot& operator[](std::size_t i) noexcept { return slots_[i]; }
    const Slot& operator[](std::size_t i) const noexcept { return slots_[i]; }
    Slot* begin() noexcept { return slots_; }
    Slot* end() noexcept { return slots_ + size_; }
    const Slot* begin() const noexcept { return slots_; }
    const Slot* end() const noexcept { return slots_ + size_; }

   private:
    Slot* slots_ = nullptr;
    std::size_t size_ = 0;
  };

  struct alignas(64) Shard {
    mutable std::mutex lock;  // protects slots and count
    SlotArray slots;  // open addressing, linear probing; size 0 or a power of 2
    std::size_t count = 0;
    // Copies of slots.data() and its mask for prefetch_slot() only, which reads
    // them without the lock: a stale value costs a useless prefetch.
    std::atomic<const Slot*> prefetch_base{nullptr};
    std::atomic<std::size_t> prefetch_mask{0};
  };
  // 256 shards, 32 KiB per pool: memory traded for threads. With 64, two
  // threads finding at once kept taking the same shard lock's cache line
  // from each other's core: find+touch at 1M sessions on 2 threads went from
  // 1.72 to 1.97 Mops/s here (bench/bench-pool.cc); at 100k, from 3.0-4.2
  // to about 5.7. 1024 shards gained about 4 % more on two threads at 1M,
  // but their locks no longer fit the L1 cache: one thread's finds at 100k
  // slowed by about 7 %, and creates at 1M by about 10 %.
  static constexpr std::size_t kShardBits = 8;
  static constexpr std::size_t kShards = std::size_t{1} << kShardBits;

  static std::size_t hash_of(std::string_view id) noexcept;
  // insert(), with `hash` the hash of the session's id. `drawn_id`: the id
  // is one of the engine's own random ids, which cannot collide in practice
  // (130 bits), so the table is not searched for it first; that search is
  // the longest probe there is (to an empty slot), about 50 ns of a create
  // at 1M sessions here.
  InsertResult insert_hashed(Session* session, std::uint32_t max_sessions, bool drawn_id, std::size_t hash);
  Shard& shard_for(std::size_t hash) const noexcept {
    return const_cast<Shard&>(shards_[hash >> (sizeof(std::size_t) * 8 - kShardBits)]);
  }
  static Slot make_slot(Session* session, std::size_t hash) noexcept;
  static Session* session_of(Slot slot) noexcept;
  static bool may_match(Slot slot, std::size_t hash) noexcept;
  static std::size_t home_of_slot(Slot slot, std::size_t mask) noexcept;
  // Shard helpers; the shard's lock must be held.
  static std::size_t find_slot(const Shard& shard, std::size_t hash, std::string_view id) noexcept;
  // The slot of this very session object, or kNoSlot.
  static std::size_t slot_of(const Shard& shard, std::size_t hash, const Session* session) noexcept;
  // The same, for a session that may no longer exist: `hash` is its id's.
  static std::size_t slot_holding(const Shard& shard, std::size_t hash, Session* session) noexcept;
  static void insert_slot(Shard& shard, std::size_t hash, Session* session);
  static void erase_slot(Shard& shard, std::size_t slot) noexcept;
  static void grow(Shard& shard);

  // After a removal from the table: drop the session from the index.
  void unindex(Session* session);
  // PoolLink::Pool: re-indexes `session` if it is in this pool.
  void reschedule(Session& session) override;
  void wake() const;
  // A filter running on this thread may want to see `session`, just added.
  void note_added(Session* session);

  const SessionOps ops_;
  const std::function<void()> wakeup_;
  // Held by every session that ever joined; detached when the engine goes.
  PoolLink* const link_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint32_t> max_sessions_{0};
  std::array<Shard, kShards> shards_;

  // Protects index_ and the IndexNode of every session in this pool.
  // Never held together with a shard lock. Lock order overall: a session's
  // PoolLink lock, then a shard lock or this lock, then leaf locks (a
  // session's owner lock; the GObject pool's watch list, through the
  // wakeup hook).
  mutable std::mutex index_lock_;
  ExpiryIndex<Session, SessionIndexTraits> index_;
  std::shared_ptr<const RescheduledFunc> on_rescheduled_;  // guarded by index_lock_

  // Takes the callback and references to `sessions` for it, under
  // index_lock_; nothing when no one listens.
  std::shared_ptr<const RescheduledFunc> hold_rescheduled(const std::vector<Session*>& sessions) const;
  static void tell_rescheduled(const std::shared_ptr<const RescheduledFunc>& func, std::vector<Session*>&& sessions);
};

template <class MakeId, class MakeSession>
PoolEngine::Created PoolEngine::create(bool custom_ids, MakeId&& make_id, MakeSession&& make_session) {
  Created created;
  for (int attempt = 0; attempt < kMaxIdAttempts; attempt++) {
    const std::uint32_t max = max_sessions();
    if (max != 0 && size() >= max) {
      created.failure = CreateFailure::Full;
      return created;
    }
    char drawn[kSessionIdLength + 1];
    std::string made;
    const char* id;
    std::string_view id_view;
    if (custom_ids) {
      if (!make_id(made)) {
        created.failure = CreateFailure::NoId;
        return created;
      }
      if (!is_valid_session_id(made)) {
        // find() could never find it again.
        created.failure = CreateFailure::InvalidId;
        created.id = std::move(made);
        return created;
      }
      if (contains_id(made))
        continue;
      id = made.c_str();
      id_view = made;
    } else {
      random_session_id(drawn);
      drawn[kSessionIdLength] = '\0';
      id = drawn;
      id_view = std::string_view(drawn, kSessionIdLength);
    }

    // The table slot loads while the session object is built.
    const std::size_t hash = hash_of(id_view);
    prefetch_slot(hash);
    MadeSession result = make_session(static_cast<const char*>(id));
    if (result.session == nullptr) {
      created.failure = result.wrong_kind ? CreateFailure::WrongKind : CreateFailure::NoSession;
      created.id = id;
      return created;
    }
    Session* session = result.session;
    if (!session->has_id() || session->id() != id_view) {
      // Another id would be one the id scheme did not vouch for.
      created.failure = CreateFailure::WrongId;
      created.id = id;
      ops_.unref(session);
      return created;
    }
    switch (insert_hashed(session, max, !custom_ids, hash)) {
      case InsertResult::Inserted:
        created.session = session;
        return created;
      case InsertResult::DuplicateId:
        ops_.unref(session);
        continue;
      case InsertResult::Full:
        ops_.unref(session);
        created.failure = CreateFailure::Full;
        return created;
      case InsertResult::AlreadyPooled:
        ops_.unref(session);
        created.failure = CreateFailure::AlreadyPooled;
        created.id = id;
        return created;
    }
  }
  created.failure = CreateFailure::NoUnusedId;
  return created;
}

template <class Decide, class KeepRef, class Removed>
void PoolEngine::filter(Decide&& decide, KeepRef&& keep_ref, Removed&& removed) {
  std::vector<SessionRef> at_start;
  {
    std::vector<Session*> all = snapshot();
    at_start.reserve(all.size());
    for (Session* session : all)
      at_start.emplace_back(session, ops_);
  }
  filter_each(
      this, std::move(at_start),
      // Removed by an earlier callback, or by another thread: not shown.
      [](const SessionRef& held) { return held.get()->in_pool(); },
      [&](const SessionRef& held) {
        Session* session = held.get();
        switch (decide(session)) {
          case FilterDecision::Remove:
            if (remove(session))
              removed(session);
            break;
          case FilterDecision::Ref:
            keep_ref(session);
            break;
          case FilterDecision::Keep:
            break;
        }
      });
}

}  // namespace rs::core
