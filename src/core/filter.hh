// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <iterator>
#include <utility>
#include <vector>

namespace rs::core {

// What a filter callback decides for one element; the values are those of
// the public RsRTSPFilterResult.
enum class FilterDecision { Remove = 0, Keep = 1, Ref = 2 };

// What the callbacks of a running filter add to the container it walks.
//
// A filter shows each element present when it starts once, and also the
// elements its own callbacks add (a callback that makes a session in the
// pool it filters sees that session too), but not what other threads add
// meanwhile: a filter on a busy pool must end. A container calls
// FilterAdditions<Handle>::note() for every element it adds; the filters
// running on the calling thread, innermost first, collect the ones added
// to the container they walk. Callbacks run synchronously on the filter's
// thread, so "added on this thread while the filter runs" is exactly
// "added by the filter's callbacks".
template <class Handle>
class FilterAdditions {
 public:
  explicit FilterAdditions(const void* container) noexcept : container_(container), outer_(innermost_) {
    innermost_ = this;
  }
  ~FilterAdditions() { innermost_ = outer_; }
  FilterAdditions(const FilterAdditions&) = delete;
  FilterAdditions& operator=(const FilterAdditions&) = delete;

  // `make_handle()` makes a handle to the element just added to
  // `container`; it is called only when a filter on this thread walks it.
  template <class MakeHandle>
  static void note(const void* container, MakeHandle&& make_handle) {
    for (FilterAdditions* filter = innermost_; filter != nullptr; filter = filter->outer_)
      if (filter->container_ == container)
        filter->added_.push_back(make_handle());
  }

  std::vector<Handle> take() noexcept { return std::exchange(added_, {}); }

 private:
  static inline thread_local FilterAdditions* innermost_ = nullptr;

  const void* const container_;
  FilterAdditions* const outer_;
  std::vector<Handle> added_;
};

// The one filter algorithm: shows `decide` each element of `at_start` (the
// container's elements when the filter starts, in the order to show them,
// as handles that keep them alive) that `present` still finds in the
// container, and each element the callbacks add, right after the callback
// that added it, newest first. Each element is shown at most once, since
// none is both in `at_start` and added later; the cost is
// O(elements + added). No lock may be held: `decide` calls out.
template <class Handle, class Present, class Decide>
void filter_each(const void* container, std::vector<Handle> at_start, Present&& present, Decide&& decide) {
  FilterAdditions<Handle> additions(container);
  // A stack: the next element to show is at the back.
  std::vector<Handle> pending;
  pending.reserve(at_start.size());
  pending.insert(pending.end(), std::make_move_iterator(at_start.rbegin()), std::make_move_iterator(at_start.rend()));
  at_start.clear();
  while (!pending.empty()) {
    Handle element = std::move(pending.back());
    pending.pop_back();
    if (!present(element))
      continue;
    decide(element);
    std::vector<Handle> added = additions.take();
    pending.insert(pending.end(), std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()));
  }
}

}  // namespace rs::core
