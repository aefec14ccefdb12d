// SPDX-License-Identifier: LGPL-2.1-or-later
// The one filter algorithm, on a container of plain ints.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/filter.hh"

using rs::core::filter_each;
using rs::core::FilterAdditions;

namespace {

using Handle = std::shared_ptr<int>;

struct Bag {
  std::vector<Handle> items;
  void add(int value) {
    auto item = std::make_shared<int>(value);
    FilterAdditions<Handle>::note(this, [&] { return item; });
    items.push_back(item);
  }
  bool contains(const Handle& item) const { return std::find(items.begin(), items.end(), item) != items.end(); }
  void remove(int value) {
    items.erase(std::remove_if(items.begin(), items.end(), [&](const Handle& h) { return *h == value; }), items.end());
  }
  void filter(const std::function<void(int)>& decide) {
    filter_each(this, items, [this](const Handle& h) { return contains(h); }, [&](Handle& h) { decide(*h); });
  }
};

}  // namespace

TEST(Filter, ShowsEachOnceAndWhatItsCallbacksAdd) {
  Bag bag;
  for (int i = 0; i < 3; i++)
    bag.add(i);
  std::vector<int> shown;
  bag.filter([&](int value) {
    shown.push_back(value);
    if (value == 0) {
      bag.add(10);
      bag.add(11);
    }
    if (value == 11)
      bag.add(12);
  });
  // Additions right after the callback that made them, newest first.
  EXPECT_EQ(shown, (std::vector<int>{0, 11, 12, 10, 1, 2}));
}

TEST(Filter, SkipsWhatIsRemovedBeforeItsTurn) {
  Bag bag;
  for (int i = 0; i < 4; i++)
    bag.add(i);
  std::vector<int> shown;
  bag.filter([&](int value) {
    shown.push_back(value);
    bag.remove(value);      // itself: shown once all the same
    bag.remove(value + 1);  // the next: never shown
  });
  EXPECT_EQ(shown, (std::vector<int>{0, 2}));
}

TEST(Filter, AdditionsOutsideTheFilterOrOtherContainersAreNotShown) {
  Bag bag, other;
  bag.add(1);
  std::vector<int> shown;
  bag.filter([&](int value) {
    shown.push_back(value);
    other.add(100);  // another container
  });
  EXPECT_EQ(shown, std::vector<int>{1});
  bag.add(2);  // no filter running: nothing collected, nothing leaks
  shown.clear();
  bag.filter([&](int value) { shown.push_back(value); });
  EXPECT_EQ(shown, (std::vector<int>{1, 2}));
}

TEST(Filter, NestedFiltersEachSeeTheirAdditions) {
  Bag bag;
  bag.add(1);
  std::vector<int> outer, inner;
  bag.filter([&](int value) {
    outer.push_back(value);
    if (value == 1)
      bag.filter([&](int v) {
        inner.push_back(v);
        if (v == 1)
          bag.add(2);
      });
  });
  EXPECT_EQ(inner, (std::vector<int>{1, 2}));
  EXPECT_EQ(outer, (std::vector<int>{1, 2}));  // added by its callback, transitively
}
