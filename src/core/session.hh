// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <string_view>

#include "compact-id.hh"
#include "expiry-index.hh"
#include "expiry.hh"

namespace rs::core {

class Session;

// What a session knows of the pool it is in: a handle that outlives the
// pool, through which a session whose deadline moved earlier asks the pool
// to re-index it. Sessions hold a reference to it for as long as they live
// (sessions never change pools), the pool detaches it when it goes away.
class PoolLink {
 public:
  // Implemented by the pool.
  class Pool {
   public:
    virtual void reschedule(Session& session) = 0;

   protected:
    ~Pool() = default;
  };

  explicit PoolLink(Pool& pool) noexcept : pool_(&pool) {}
  PoolLink(const PoolLink&) = delete;
  PoolLink& operator=(const PoolLink&) = delete;

  void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete this;
  }
  // The pool is going away: waits for any reschedule() in progress.
  void detach() noexcept;
  // Asks the pool, if it is still there, to re-index `session`.
  void reschedule(Session& session) noexcept;

 private:
  ~PoolLink() = default;

  std::atomic<std::uint32_t> refs_{1};
  std::shared_mutex lock_;  // protects pool_; taken before any lock of the pool's
  Pool* pool_;
};

// What a session is apart from its medias: its id, its expiry, how it
// presents itself in the Session: header and who owns it, plus its place in
// a pool.
//
// Kept small on purpose: a pool holds a million of them. 64 bytes: the
// index links (16), the expiry (16), a flags byte with the 23-byte id, and
// one word for the pool link or the extras, which hold what only some
// sessions need, allocated on first use.
class Session : public IndexNode, private Expiry {
 public:
  // What the layer above keeps in a session (the GObject layer: its
  // medias), made on first use and destroyed with the session.
  class Attachment {
   public:
    virtual ~Attachment() = default;
  };

  Session() = default;
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The id is set once, before the session is shared between threads.
  void set_id(std::optional<std::string_view> id) { id_.assign(id); }
  const char* id_c_str() const noexcept { return id_.c_str(); }
  std::string_view id() const noexcept { return id_.view(); }
  bool has_id() const noexcept { return id_.has_value(); }

  bool set_timeout_always_visible(bool visible) noexcept {
    const std::uint8_t old = visible ? flags_.fetch_or(kAlwaysVisible, std::memory_order_relaxed)
                                     : flags_.fetch_and(static_cast<std::uint8_t>(~kAlwaysVisible), std::memory_order_relaxed);
    return ((old & kAlwaysVisible) != 0) != visible;
  }
  bool timeout_always_visible() const noexcept { return (flags_.load(std::memory_order_relaxed) & kAlwaysVisible) != 0; }

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
  // moved earlier, they ask the session's pool to re-index it (O(1)).
  bool set_timeout(std::uint32_t seconds) noexcept;
  bool set_extra_timeout(std::uint32_t seconds) noexcept;

  // The owner: who may use the session (an authenticated user, a
  // connection). Nothing by default. set_owner() returns whether it changed.
  bool set_owner(std::optional<std::string_view> owner);
  std::optional<std::string> owner() const;
  // Whether the owner equals `owner` (nullptr for none; no owner equals
  // none), compared in constant time. Takes only a leaf lock.
  bool has_owner(const char* owner) const noexcept;

  // The attachment, or nullptr. attach() keeps `fresh` unless another thread
  // attached first, and returns the one that stays.
  Attachment* attachment() const noexcept;
  Attachment* attach(std::unique_ptr<Attachment> fresh);

 private:
  struct Extras;
  void deadline_may_be_earlier() noexcept;
  Extras* extras(bool create);
  PoolLink* pool_link() const noexcept;
  void set_pool_link(PoolLink* link) noexcept;

 public:
  // Pool membership, maintained by PoolEngine. A session joins at most one
  // pool, once, and does not come back after leaving it (no API adds an
  // existing session to a pool), so a pool that holds a pointer to a
  // session it has dropped can never mistake it for one of its own. Joining
  // takes a reference to the pool's link, kept unless the join is cancelled.
  bool join_pool(PoolLink& link) noexcept {
    std::uint8_t flags = flags_.load(std::memory_order_relaxed);
    do {
      if (pool_state(flags) != PoolState::Never)
        return false;
    } while (!flags_.compare_exchange_weak(flags, with_pool_state(flags, PoolState::Member), std::memory_order_acq_rel));
    link.ref();
    set_pool_link(&link);
    return true;
  }
  void cancel_join() noexcept {
    PoolLink* link = pool_link();
    set_pool_link(nullptr);
    set_pool_state(PoolState::Never);
    link->unref();
  }
  void leave_pool() noexcept { set_pool_state(PoolState::Left); }
  bool in_pool() const noexcept { return pool_state(flags_.load(std::memory_order_acquire)) == PoolState::Member; }

 private:
  enum class PoolState : std::uint8_t { Never, Member, Left };
  static constexpr std::uint8_t kPoolStateMask = 0x3;
  static constexpr std::uint8_t kAlwaysVisible = 0x4;
  static PoolState pool_state(std::uint8_t flags) noexcept { return static_cast<PoolState>(flags & kPoolStateMask); }
  static std::uint8_t with_pool_state(std::uint8_t flags, PoolState state) noexcept {
    return static_cast<std::uint8_t>((flags & ~kPoolStateMask) | static_cast<std::uint8_t>(state));
  }
  void set_pool_state(PoolState state) noexcept {
    std::uint8_t flags = flags_.load(std::memory_order_relaxed);
    while (!flags_.compare_exchange_weak(flags, with_pool_state(flags, state), std::memory_order_release))
      ;
  }

  // The pool state (bits 0-1) and whether the timeout is always shown (bit
  // 2), in one byte: with the 23-byte id it fills the word before the link.
  std::atomic<std::uint8_t> flags_{0};
  CompactId id_;
  // Either nothing, or a PoolLink* with bit 0 set (a pooled session without
  // extras), or an Extras* (which holds the pool link, if any). One word
  // for both, since a pool holds a million sessions and most have no extras.
  std::atomic<std::uintptr_t> link_or_extras_{0};
};

// The state a session keeps for one media it set up.
class SessionMedia {
 public:
  struct Channels {
    int min;
    int max;
  };

  SessionMedia() = default;
  explicit SessionMedia(std::string path) : path_(std::move(path)) {}

  // The path is set once, before the session media is shared between threads.
  void set_path(std::string path) { path_ = std::move(path); }
  const std::string& path() const noexcept { return path_; }

  // RsRTSPState values; INIT (1) at first.
  void set_rtsp_state(int state) noexcept { rtsp_state_.store(state, std::memory_order_relaxed); }
  int rtsp_state() const noexcept { return rtsp_state_.load(std::memory_order_relaxed); }

  // The next free pair of interleaved channels: 0-1, 2-3, ... Nothing once
  // the channel numbers are used up.
  std::optional<Channels> alloc_channels() noexcept;

 private:
  std::string path_;
  std::atomic<int> rtsp_state_{1};
  std::atomic<long long> next_channel_{0};
};

}  // namespace rs::core
