// SPDX-License-Identifier: LGPL-2.1-or-later
// Between the pool and the session directory; not installed.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "core/pool-engine.hh"
#include "rs-rtsp-session-pool.h"
#include "rs-rtsp-session.h"

// What a pool tells the directory it publishes to. Every call only queues
// work for the directory's own thread: none waits for Redis. Thread-safe.
class RsDirectoryPublisher
{
public:
  virtual ~RsDirectoryPublisher () = default;
  // `session` is in the pool (just created when `created`, else its
  // deadline was judged again): its entry is (re)written with its current
  // owner, timeout and deadline.
  virtual void published (RsRTSPSession *session, bool created) noexcept = 0;
  // `session` left the pool.
  virtual void removed (RsRTSPSession *session) noexcept = 0;
};

// What the directory may ask of a pool from its own thread without holding
// the pool itself (whose last reference must never drop there): until the
// pool is disposed, its sessions and their number.
class RsPoolHandle
{
public:
  // New references to every session; nothing once the pool is disposed.
  std::vector<RsRTSPSession *> snapshot ();
  std::size_t size ();
  // Called by the pool's dispose.
  void detach () noexcept;

  std::mutex lock;  // guards engine
  rs::core::PoolEngine *engine = nullptr;
};

// The pool's side, implemented in rs-rtsp-session-pool.cc. Returns the
// pool's handle.
std::shared_ptr<RsPoolHandle> rs_rtsp_session_pool_attach_publisher (
  RsRTSPSessionPool *pool, std::shared_ptr<RsDirectoryPublisher> publisher) noexcept;
