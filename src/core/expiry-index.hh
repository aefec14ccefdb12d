// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "clock.hh"

namespace rs::core {

// The links an entry needs to sit in an ExpiryIndex: a circular list per
// deadline bucket. Both null while the entry is not indexed. Guarded by
// whatever lock guards the index the entry is in.
struct IndexNode {
  IndexNode* prev = nullptr;
  IndexNode* next = nullptr;
};

// Entries by deadline, in buckets of a millisecond, so that finding what
// has expired costs what the expired entries cost, not what the number of
// entries costs.
//
// The index does not see touches: an entry's deadline may move later at any
// time without a word (a touch is one store in the entry), so an indexed
// deadline is only ever too early, never too late. When a bucket comes due,
// each of its entries is probed again: the expired ones are handed out, the
// others re-indexed at their real deadline. A deadline that moves earlier
// must be re-indexed by whoever moved it, with schedule().
//
// Traits says what an entry is to the index:
//   static IndexNode& node(Entry&) noexcept;
//   static Entry& entry(IndexNode&) noexcept;
//   // The entry's deadline judged at monotonic time `now`: the first time
//   // at which it has expired, or nothing when it never expires.
//   static std::optional<Micros> deadline(Entry&, Micros now) noexcept;
//
// The index holds no references: its owner keeps its entries alive while
// they are indexed. Not thread-safe: the owner guards it with one lock, the
// same one that guards every entry's IndexNode.
template <class Entry, class Traits>
class ExpiryIndex {
 public:
  ExpiryIndex() = default;
  ~ExpiryIndex() { clear(); }
  ExpiryIndex(const ExpiryIndex&) = delete;
  ExpiryIndex& operator=(const ExpiryIndex&) = delete;

  bool contains(Entry& entry) const noexcept { return Traits::node(entry).prev != nullptr; }
  bool empty() const noexcept { return buckets_.empty(); }

  // Indexes `entry` (again, if it is indexed) at its deadline judged at
  // `now`, which must not be later than the clock; an entry that never
  // expires leaves the index. Returns whether the earliest deadline moved
  // earlier, which is when a sleeping watch must wake.
  bool schedule(Entry& entry, Micros now) {
    unschedule(entry);
    auto deadline = Traits::deadline(entry, now);
    return deadline && link(entry, *deadline);
  }

  void unschedule(Entry& entry) noexcept {
    if (contains(entry))
      unlink(entry);
  }

  // Takes out every bucket due at `now` (any time, even one from the
  // future). Entries expired at `now` are appended to `expired`, no longer
  // indexed; the others are re-indexed at their real deadline (and, when
  // `rescheduled` is given, appended to it), or dropped when they no longer
  // expire at all.
  void pop_due(Micros now, std::vector<Entry*>& expired, std::vector<Entry*>* rescheduled = nullptr) {
    const std::int64_t due = bucket_of(now);
    if (buckets_.empty() || buckets_.begin()->first > due)
      return;
    // An entry that cannot expire yet is judged again at `now` only if
    // `now` is not from the future: an entry prevented from expiring counts
    // as touched when it is judged, and must not be indexed later than the
    // moment it may be allowed again.
    const Micros clock = monotonic_now();
    std::vector<std::pair<Entry*, Micros>> later;  // still due: relinked after the loop
    auto judge = [&](Entry& entry) {
      Traits::node(entry).prev = Traits::node(entry).next = nullptr;
      auto deadline = Traits::deadline(entry, now);
      if (!deadline)
        return;  // out of the index until it can expire again
      if (*deadline <= now) {
        expired.push_back(&entry);
        return;
      }
      if (now > clock && !(deadline = Traits::deadline(entry, clock)))
        return;
      if (bucket_of(*deadline) <= due)
        later.emplace_back(&entry, *deadline);
      else
        link(entry, *deadline);  // into a bucket after `due`: none of those walked
      if (rescheduled)
        rescheduled->push_back(&entry);
    };
    // Each bucket's list is a chain of dependent loads through entries
    // scattered in memory. Walking several due buckets at once, a step of
    // each in turn, keeps several of those loads in flight.
    while (!buckets_.empty() && buckets_.begin()->first <= due) {
      IndexNode* cursor[kChains];
      const IndexNode* end[kChains];
      std::size_t chains = 0;
      std::int64_t last = 0;  // the last bucket walked
      for (auto it = buckets_.begin(); it != buckets_.end() && it->first <= due && chains < kChains; ++it, chains++) {
        end[chains] = &it->second;
        cursor[chains] = it->second.next;
        last = it->first;
      }
      for (bool any = true; any;) {
        any = false;
        for (std::size_t c = 0; c < chains; c++) {
          IndexNode* node = cursor[c];
          if (node == end[c])
            continue;
          any = true;
          cursor[c] = node->next;
          __builtin_prefetch(cursor[c]);
          judge(Traits::entry(*node));
        }
      }
      // By key: judge() may have added buckets, all after `due`.
      buckets_.erase(buckets_.begin(), buckets_.upper_bound(last));
    }
    for (auto [entry, deadline] : later)
      link(*entry, deadline);
  }

  // When to look next: nothing when no entry can expire, a time <= `now`
  // when some entry has expired at `now` (it stays indexed, for the owner's
  // expiry to take out). Re-indexes entries touched since they were indexed.
  std::optional<Micros> next_wakeup(Micros now, std::vector<Entry*>* rescheduled = nullptr) {
    std::vector<Entry*> expired;
    pop_due(now, expired, rescheduled);
    bool any_expired = false;
    for (Entry* entry : expired) {
      // Put back where it was due; a concurrent change may have made it
      // never expire after all.
      if (auto deadline = Traits::deadline(*entry, std::min(now, monotonic_now()))) {
        link(*entry, *deadline);
        any_expired = true;
      }
    }
    if (any_expired)
      return now;
    if (buckets_.empty())
      return std::nullopt;
    // By the end of the earliest bucket its entries have all expired, unless touched.
    return buckets_.begin()->first * kMicrosPerMilli + (kMicrosPerMilli - 1);
  }

  // Unindexes every entry.
  void clear() noexcept {
    for (auto& [key, bucket] : buckets_) {
      for (IndexNode* node = bucket.next; node != &bucket;) {
        IndexNode* next = node->next;
        node->prev = node->next = nullptr;
        node = next;
      }
    }
    buckets_.clear();
  }

 private:
  struct Bucket : IndexNode {
    std::int64_t key = 0;
  };
  static constexpr std::size_t kChains = 16;  // due buckets walked at once

  static std::int64_t bucket_of(Micros time) noexcept {
    // Floor division, so that negative times bucket correctly too.
    std::int64_t bucket = time / kMicrosPerMilli;
    if (time % kMicrosPerMilli < 0)
      bucket--;
    return bucket;
  }

  // Returns whether the earliest bucket moved earlier.
  bool link(Entry& entry, Micros deadline) {
    const std::int64_t key = bucket_of(deadline);
    auto [it, inserted] = buckets_.try_emplace(key);
    Bucket& bucket = it->second;
    if (inserted) {
      bucket.key = key;
      bucket.prev = bucket.next = &bucket;
    }
    IndexNode& node = Traits::node(entry);
    node.prev = bucket.prev;
    node.next = &bucket;
    bucket.prev->next = &node;
    bucket.prev = &node;
    return inserted && it == buckets_.begin();
  }

  void unlink(Entry& entry) noexcept {
    IndexNode& node = Traits::node(entry);
    IndexNode* before = node.prev;
    IndexNode* after = node.next;
    before->next = after;
    after->prev = before;
    node.prev = node.next = nullptr;
    // A node that points at itself is the sentinel of a now empty bucket.
    if (before->next == before)
      buckets_.erase(static_cast<Bucket*>(before)->key);
  }

  std::map<std::int64_t, Bucket> buckets_;  // millisecond of the deadline -> entries
};

}  // namespace rs::core
