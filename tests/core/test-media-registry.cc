// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/media-registry.hh"
#include "core/path-match.hh"

using rs::core::FilterDecision;
using rs::core::match_path;

TEST(PathMatch, ExactAndBelow) {
  EXPECT_EQ(match_path("/test", "/test"), 5u);
  EXPECT_EQ(match_path("/test", "/test/"), 5u);
  EXPECT_EQ(match_path("/test", "/test/stream=0"), 5u);
  EXPECT_EQ(match_path("/a/b", "/a/b/c/d"), 4u);
}

TEST(PathMatch, ComponentBoundary) {
  EXPECT_FALSE(match_path("/test", "/testX"));
  EXPECT_FALSE(match_path("/test", "/tes"));
  EXPECT_FALSE(match_path("/test", "/TEST"));
  EXPECT_FALSE(match_path("/a/b", "/a"));
  EXPECT_FALSE(match_path("/test", ""));
}

TEST(PathMatch, TrailingSlashInMediaPath) {
  EXPECT_EQ(match_path("/test/", "/test/"), 6u);
  EXPECT_FALSE(match_path("/test/", "/test"));
  EXPECT_FALSE(match_path("/test/", "/test/x"));  // as the reference does
  EXPECT_EQ(match_path("/test/", "/test//x"), 6u);
}

TEST(PathMatch, RootCoversEverythingAbsolute) {
  EXPECT_EQ(match_path("/", "/"), 1u);
  EXPECT_EQ(match_path("/", "/a"), 1u);
  EXPECT_EQ(match_path("/", "/a/b/c"), 1u);
  EXPECT_FALSE(match_path("/", "a"));
  EXPECT_FALSE(match_path("/", ""));
}

TEST(PathMatch, EmptyMediaPath) {
  EXPECT_EQ(match_path("", ""), 0u);
  EXPECT_EQ(match_path("", "/a"), 0u);
  EXPECT_FALSE(match_path("", "a"));
}

TEST(PathMatch, EmbeddedNulAndLongPaths) {
  std::string longpath(100000, 'a');
  longpath.insert(0, "/");
  EXPECT_EQ(match_path(longpath, longpath), longpath.size());
  EXPECT_EQ(match_path("/a", longpath), std::nullopt);
  EXPECT_EQ(match_path("/", longpath), 1u);
}

namespace {

// A stand-in for a GObject reference: shared ownership, get() as the key.
struct FakeMedia {
  std::string name;
};
using Handle = std::shared_ptr<FakeMedia>;
using Registry = rs::core::MediaRegistry<Handle>;

Handle make(const std::string& name) { return std::make_shared<FakeMedia>(FakeMedia{name}); }

std::string name_of(const Registry::Match& match) { return match.media ? match.media->name : "-"; }

std::vector<std::string> names_newest_first(Registry& registry) {
  std::vector<std::string> names;
  registry.filter([&](const Handle& media) {
    names.push_back(media->name);
    return FilterDecision::Keep;
  }, [](const Handle&) {});
  return names;
}

}  // namespace

TEST(MediaRegistry, LongestMatchWins) {
  Registry registry;
  registry.add("/", make("root"));
  registry.add("/a/b", make("ab"));
  registry.add("/a", make("a"));
  EXPECT_EQ(name_of(registry.best_match("/a/b/c")), "ab");
  EXPECT_EQ(registry.best_match("/a/b/c").matched, 4u);
  EXPECT_EQ(name_of(registry.best_match("/a/x")), "a");
  EXPECT_EQ(name_of(registry.best_match("/z")), "root");
  EXPECT_EQ(registry.best_match("/z").matched, 1u);
  EXPECT_EQ(name_of(registry.best_match("z")), "-");
  EXPECT_EQ(registry.best_match("z").matched, 0u);
}

TEST(MediaRegistry, TieGoesToNewest) {
  Registry registry;
  registry.add("/a", make("first"));
  registry.add("/a", make("second"));
  EXPECT_EQ(name_of(registry.best_match("/a")), "second");
  registry.add("/a", make("third"));
  EXPECT_EQ(name_of(registry.best_match("/a/stream=1")), "third");
}

TEST(MediaRegistry, EmptyMediaPathNeverWins) {
  Registry registry;
  registry.add("", make("empty"));
  EXPECT_EQ(name_of(registry.best_match("")), "-");
  EXPECT_EQ(name_of(registry.best_match("/x")), "-");
  registry.add("/x", make("x"));
  EXPECT_EQ(name_of(registry.best_match("/x/y")), "x");
}

TEST(MediaRegistry, RemoveHandsBackTheHandle) {
  Registry registry;
  Handle a = make("a");
  Handle b = make("b");
  registry.add("/a", a);
  registry.add("/b", b);
  EXPECT_EQ(a.use_count(), 2);
  auto [removed, remaining] = registry.remove(a.get());
  EXPECT_EQ(removed, a);
  EXPECT_TRUE(remaining);
  removed.reset();
  EXPECT_EQ(a.use_count(), 1);

  auto [again, still_remaining] = registry.remove(a.get());
  EXPECT_FALSE(again);
  EXPECT_TRUE(still_remaining);  // b is still there

  EXPECT_FALSE(registry.remove(b.get()).second);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.remove(b.get()).second);
}

TEST(MediaRegistry, FilterDecisions) {
  Registry registry;
  registry.add("/1", make("1"));
  registry.add("/2", make("2"));
  registry.add("/3", make("3"));
  std::vector<std::string> refs;
  registry.filter([](const Handle& media) {
    if (media->name == "1") return FilterDecision::Remove;
    if (media->name == "2") return FilterDecision::Ref;
    return FilterDecision::Keep;
  }, [&](const Handle& media) { refs.push_back(media->name); });
  EXPECT_EQ(refs, std::vector<std::string>{"2"});
  EXPECT_EQ(names_newest_first(registry), (std::vector<std::string>{"3", "2"}));
}

TEST(MediaRegistry, FilterVisitsAddedAndSkipsRemoved) {
  Registry registry;
  Handle one = make("1");
  registry.add("/1", one);
  registry.add("/2", make("2"));
  registry.add("/3", make("3"));
  std::vector<std::string> visited;
  registry.filter([&](const Handle& media) {
    visited.push_back(media->name);
    if (media->name == "3") {
      registry.remove(one.get());
      registry.add("/4", make("4"));
    }
    return FilterDecision::Keep;
  }, [](const Handle&) {});
  EXPECT_EQ(visited, (std::vector<std::string>{"3", "4", "2"}));
}

TEST(MediaRegistry, FilterVisitsEachOnceEvenWhenItRemovesItself) {
  Registry registry;
  for (int i = 0; i < 5; i++)
    registry.add("/" + std::to_string(i), make(std::to_string(i)));
  int calls = 0;
  registry.filter([&](const Handle& media) {
    calls++;
    registry.remove(media.get());  // the callback itself drops it
    return FilterDecision::Remove;  // and asks again: harmless
  }, [](const Handle&) {});
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(MediaRegistry, FilterOnEmptyRegistry) {
  Registry registry;
  int calls = 0;
  registry.filter([&](const Handle&) { calls++; return FilterDecision::Keep; }, [](const Handle&) {});
  EXPECT_EQ(calls, 0);
}
