// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "clock.hh"
#include "session.hh"

namespace rs::core {

// How the engine takes and drops references on session objects it holds
// (g_object_ref/unref in the GObject layer).
struct SessionOps {
  void (*ref)(Session*) noexcept;
  void (*unref)(Session*) noexcept;
};

// The sessions of a pool: a sharded hash table by id for find, and an
// expiry index of deadline buckets so that expiry work costs what the expired
// sessions cost, not what the pool's size costs.
//
// Touching a session does not reach the engine: it is one atomic store in
// the session. So the index holds, for each session, a deadline that may be
// too early; when its bucket comes due the session's real deadline is read
// and the session rescheduled if it was touched meanwhile. A deadline that
// moves earlier (a lower timeout) is reported by the session through
// report_earlier_deadline(). Sessions with timeout 0 are not indexed at all.
class PoolEngine {
 public:
  explicit PoolEngine(SessionOps ops, std::function<void()> wakeup = {});
  ~PoolEngine();
  PoolEngine(const PoolEngine&) = delete;
  PoolEngine& operator=(const PoolEngine&) = delete;

  enum class InsertResult { Inserted, DuplicateId, Full, AlreadyPooled };
  // Adds `session` (which must have an id and be in no pool), taking a reference.
  // `max_sessions` 0 means no limit.
  InsertResult insert(Session* session, std::uint32_t max_sessions);
  bool contains_id(std::string_view id) const;
  // Starts loading the table slot for `id` into the cache, so that a
  // later insert() or find() of it does not wait for memory. Only a hint.
  void prefetch(std::string_view id) const noexcept;
  // Decides, under the lock that find() holds, whether a session counts as
  // found. Must not call out (it may take a leaf lock of the session's).
  using FindFilter = bool (*)(Session* session, const void* data) noexcept;
  // A new reference to the session with `id` that `accept` (when given)
  // accepts, touched first when `touch`; nullptr otherwise.
  Session* find(std::string_view id, bool touch = false, FindFilter accept = nullptr, const void* data = nullptr) const;
  // Takes `session` out. On success the caller inherits the pool's reference.
  bool remove(Session* session);
  // Takes out every session expired at `now`; the caller inherits the references.
  std::vector<Session*> take_expired(Micros now);
  // Takes out every session, for the pool's destruction.
  std::vector<Session*> take_all();
  // New references to all sessions.
  std::vector<Session*> snapshot() const;
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  // When a watch should look next: nothing when no session can expire, a
  // time <= now when some session has expired at `now`. Reschedules sessions
  // that were touched since they were indexed.
  std::optional<Micros> next_wakeup(Micros now);

  // The deadline of `session`, which is in some pool, may have moved
  // earlier: its pool re-indexes it. Sessions keep no pointer to their pool
  // (8 bytes times a million); the few live engines are asked in turn.
  static void report_earlier_deadline(Session* session);

 private:
  struct Bucket : IndexNode {
    std::int64_t key = 0;
  };

  // A table slot: a session pointer with 16 bits of its id's hash in the
  // unused top bits, so that probing compares tags in the slot array and
  // dereferences a session only on a likely match. Bit 0 marks a tagged
  // slot; a pointer that uses its top bits is stored untagged and always
  // compared by id.
  using Slot = std::uintptr_t;
  static constexpr Slot kEmpty = 0;

  struct alignas(64) Shard {
    mutable std::mutex lock;  // protects slots and count
    std::vector<Slot> slots;  // open addressing, linear probing; size 0 or a power of 2
    std::size_t count = 0;
    // Copies of slots.data() and its mask for prefetch() only, which reads
    // them without the lock: a stale value costs a useless prefetch.
    std::atomic<const Slot*> prefetch_base{nullptr};
    std::atomic<std::size_t> prefetch_mask{0};
  };
  static constexpr std::size_t kShardBits = 6;
  static constexpr std::size_t kShards = std::size_t{1} << kShardBits;

  static std::size_t hash_of(std::string_view id) noexcept;
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
  static void insert_slot(Shard& shard, std::size_t hash, Session* session);
  static void erase_slot(Shard& shard, std::size_t slot) noexcept;
  static void grow(Shard& shard);

  // Index helpers; index_lock_ must be held. link() returns whether the
  // earliest bucket moved earlier.
  bool link(Session* session, Micros expires_at);
  void unlink(Session* session) noexcept;
  // Pops every bucket due at `now`. Sessions expired at `now` go to
  // `expired` (unlinked), touched ones are relinked at their real deadline.
  void pop_due(Micros now, std::vector<Session*>& expired);

  // After a removal from the table: drop the session from the index.
  void unindex(Session* session);
  // Re-indexes `session` if it is in this pool; returns whether it is.
  bool reschedule(Session* session);
  void wake() const;

  const SessionOps ops_;
  const std::function<void()> wakeup_;
  std::atomic<std::size_t> count_{0};
  std::array<Shard, kShards> shards_;

  // Protects buckets_ and the IndexNode of every session in this pool.
  // Never held together with a shard lock. Lock order overall: the
  // registry of live engines, then a shard lock or this lock, then leaf
  // locks (a session's owner lock; the GObject pool's watch list, through
  // the wakeup hook).
  mutable std::mutex index_lock_;
  std::map<std::int64_t, Bucket> buckets_;  // millisecond of expiry -> sessions
};

}  // namespace rs::core
