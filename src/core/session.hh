// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "expiry.hh"

namespace rs::core {

// What a session is apart from its medias: its id, its expiry and how it
// presents itself in the Session: header.
class Session {
 public:
  // The id is set once, before the session is shared between threads.
  void set_id(std::optional<std::string> id) { id_ = std::move(id); }
  const std::optional<std::string>& id() const noexcept { return id_; }

  bool set_timeout_always_visible(bool visible) noexcept {
    return timeout_always_visible_.exchange(visible, std::memory_order_relaxed) != visible;
  }
  bool timeout_always_visible() const noexcept { return timeout_always_visible_.load(std::memory_order_relaxed); }

  // "<id>;timeout=<T>" when the timeout is not RTSP's default of 60 s or is
  // always to be shown, else "<id>". Nothing without an id.
  std::optional<std::string> header() const;

  Expiry expiry;

 private:
  std::optional<std::string> id_;
  std::atomic<bool> timeout_always_visible_{false};
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
