// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filter.hh"
#include "path-match.hh"

namespace rs::core {

// The medias of one session, keyed by the path they were set up for.
//
// Handle is a reference-counting smart pointer with get(): copying it takes a
// reference, destroying it drops one. The registry never destroys a handle
// while holding its lock, because dropping the last reference runs the
// owner's finalizer; removed handles are handed back to the caller instead.
template <class Handle>
class MediaRegistry {
 public:
  using Key = decltype(std::declval<const Handle&>().get());

  struct Match {
    Handle media;
    std::size_t matched = 0;
  };

  void add(std::string_view path, Handle media) {
    // Outside the lock: the handle's copy takes a reference.
    FilterAdditions<Handle>::note(this, [&] { return media; });
    std::lock_guard guard(lock_);
    entries_.push_back(Entry{std::string(path), std::move(media)});
  }

  // Takes `key` out. Returns its handle (empty when it was not here) and
  // whether any media remain.
  std::pair<Handle, bool> remove(Key key) {
    std::lock_guard guard(lock_);
    Handle removed;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->media.get() == key) {
        removed = std::move(it->media);
        entries_.erase(it);
        break;
      }
    }
    return {std::move(removed), !entries_.empty()};
  }

  // The media whose path covers `path` longest; on a tie the newest.
  // Empty when nothing covers at least one character.
  Match best_match(std::string_view path) const {
    std::lock_guard guard(lock_);
    const Entry* best = nullptr;
    std::size_t best_len = 0;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      auto len = match_path(it->path, path);
      // A match of length 0 (an empty media path) never wins, as in the
      // reference: matched == 0 must mean "nothing found".
      if (len && *len > best_len) {
        best = &*it;
        best_len = *len;
      }
    }
    if (best == nullptr)
      return {};
    return {best->media, best_len};
  }

  std::size_t size() const {
    std::lock_guard guard(lock_);
    return entries_.size();
  }

  // Shows each media to `decide` once, newest first, with no lock held, so
  // `decide` may add and remove medias; medias it adds are shown too,
  // medias removed before their turn are not (see filter_each()).
  // `keep_ref` receives each media that `decide` answers Ref to.
  template <class Decide, class KeepRef>
  void filter(Decide&& decide, KeepRef&& keep_ref) {
    filter_each(
        this, snapshot(), [this](const Handle& media) { return contains(media.get()); },
        [&](Handle& media) {
          switch (decide(media)) {
            case FilterDecision::Remove:
              remove(media.get());
              break;
            case FilterDecision::Ref:
              keep_ref(media);
              break;
            case FilterDecision::Keep:
              break;
          }
        });
  }

 private:
  struct Entry {
    std::string path;
    Handle media;
  };

  // Handles to every media, newest first.
  std::vector<Handle> snapshot() const {
    std::lock_guard guard(lock_);
    std::vector<Handle> all;
    all.reserve(entries_.size());
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
      all.push_back(it->media);
    return all;
  }

  bool contains(Key key) const {
    std::lock_guard guard(lock_);
    return std::any_of(entries_.begin(), entries_.end(), [key](const Entry& entry) { return entry.media.get() == key; });
  }

  // lock_ protects entries_. It is a leaf lock: nothing is called out while
  // it is held, and no other lock is taken under it.
  mutable std::mutex lock_;
  std::vector<Entry> entries_;  // oldest first
};

}  // namespace rs::core
