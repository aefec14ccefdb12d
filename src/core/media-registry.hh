// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
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
    std::lock_guard guard(lock_);
    entries_.push_back(Entry{std::string(path), std::move(media)});
    ++cookie_;
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
        ++cookie_;
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
  // `decide` may add and remove medias; medias added meanwhile are shown too,
  // medias removed meanwhile are not. `keep_ref` receives each media that
  // `decide` answers Ref to.
  template <class Decide, class KeepRef>
  void filter(Decide&& decide, KeepRef&& keep_ref) {
    std::unordered_set<Key> visited;
    // References to everything shown, held to the end: a media freed during
    // the filter could otherwise leave its address to one added later,
    // which would then pass for visited.
    std::vector<Handle> shown;
    for (;;) {
      auto [pending, cookie] = snapshot_unvisited(visited);
      if (pending.empty())
        return;
      for (Handle& media : pending) {
        visited.insert(media.get());
        shown.push_back(media);
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
        if (changed_since(cookie))
          break;  // take a fresh snapshot: the rest may be gone
      }
    }
  }

 private:
  struct Entry {
    std::string path;
    Handle media;
  };

  std::pair<std::vector<Handle>, std::uint64_t> snapshot_unvisited(const std::unordered_set<Key>& visited) const {
    std::lock_guard guard(lock_);
    std::vector<Handle> pending;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
      if (!visited.count(it->media.get()))
        pending.push_back(it->media);
    return {std::move(pending), cookie_};
  }

  bool changed_since(std::uint64_t cookie) const {
    std::lock_guard guard(lock_);
    return cookie_ != cookie;
  }

  // lock_ protects entries_ and cookie_. It is a leaf lock: nothing is called
  // out while it is held, and no other lock is taken under it.
  mutable std::mutex lock_;
  std::vector<Entry> entries_;  // oldest first
  std::uint64_t cookie_ = 0;    // bumped on every change, for filter()
};

}  // namespace rs::core
