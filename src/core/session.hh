// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "compact-id.hh"
#include "expiry.hh"

namespace rs::core {

// A node of the pool's expiry index: a circular list per deadline bucket.
// Guarded by the index lock of the pool the session is in; both null while
// the session is not indexed.
struct IndexNode {
  IndexNode* prev = nullptr;
  IndexNode* next = nullptr;
};

// What a session is apart from its medias: its id, its expiry and how it
// presents itself in the Session: header, plus its place in a pool.
//
// Kept small on purpose: a pool holds a million of them. Expiry is a base,
// not a member, so that the flags below can live in its tail padding.
class Session : public IndexNode, private Expiry {
 public:
  Session() = default;
  ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The id is set once, before the session is shared between threads.
  void set_id(std::optional<std::string_view> id) { id_.assign(id); }
  const char* id_c_str() const noexcept { return id_.c_str(); }
  std::string_view id() const noexcept { return id_.view(); }
  bool has_id() const noexcept { return id_.has_value(); }

  bool set_timeout_always_visible(bool visible) noexcept {
    return timeout_always_visible_.exchange(visible, std::memory_order_relaxed) != visible;
  }
  bool timeout_always_visible() const noexcept { return timeout_always_visible_.load(std::memory_order_relaxed); }

  // "<id>;timeout=<T>" when the timeout is not RTSP's default of 60 s or is
  // always to be shown, else "<id>". Nothing without an id.
  std::optional<std::string> header() const;

  const Expiry& expiry() const noexcept { return *this; }
  void touch() noexcept { Expiry::touch(); }
  void touch_at(Micros monotonic) noexcept { Expiry::touch_at(monotonic); }
  void prevent_expire() noexcept { prevent(); }
  // Returns false, changing nothing, when there is no prevent to undo. The
  // pool needs no word: the session expires later than the pool last saw.
  bool allow_expire() noexcept { return allow(); }
  // Setters return whether the value changed. When the deadline may have
  // moved earlier, they tell the session's pool so it can reschedule.
  bool set_timeout(std::uint32_t seconds) noexcept;
  bool set_extra_timeout(std::uint32_t seconds) noexcept;

 private:
  void deadline_may_be_earlier() noexcept;

 public:
  // Pool membership, maintained by PoolEngine. A session joins at most one
  // pool, once, and does not come back after leaving it (no API adds an
  // existing session to a pool), so a pool that holds a pointer to a
  // session it has dropped can never mistake it for one of its own.
  bool join_pool() noexcept {
    auto expected = PoolState::Never;
    return pool_state_.compare_exchange_strong(expected, PoolState::Member, std::memory_order_acq_rel);
  }
  void cancel_join() noexcept { pool_state_.store(PoolState::Never, std::memory_order_release); }
  void leave_pool() noexcept { pool_state_.store(PoolState::Left, std::memory_order_release); }
  bool in_pool() const noexcept { return pool_state_.load(std::memory_order_acquire) == PoolState::Member; }

 private:
  enum class PoolState : std::uint8_t { Never, Member, Left };
  std::atomic<PoolState> pool_state_{PoolState::Never};

 private:
  std::atomic<bool> timeout_always_visible_{false};
  CompactId id_;
};

// The state a session keeps for one media it set up.
class SessionMedia {
 public:
  struct Channels {
    int min;
    int max;
  };

  explicit SessionMedia(std::string path) : path_(std::move(path)) {}

  const std::string& path() const noexcept { return path_; }

  // RsRTSPState values; INIT (1) at first.
  void set_rtsp_state(int state) noexcept { rtsp_state_.store(state, std::memory_order_relaxed); }
  int rtsp_state() const noexcept { return rtsp_state_.load(std::memory_order_relaxed); }

  // The next free pair of interleaved channels: 0-1, 2-3, ... Nothing once
  // the channel numbers are used up.
  std::optional<Channels> alloc_channels() noexcept;

 private:
  const std::string path_;
  std::atomic<int> rtsp_state_{1};
  std::atomic<long long> next_channel_{0};
};

}  // namespace rs::core
