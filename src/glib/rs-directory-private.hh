// SPDX-License-Identifier: LGPL-2.1-or-later
// Between the pool and the session directory; not installed.
#pragma once

#include <memory>
#include <vector>

#include "rs-rtsp-session-pool.h"
#include "rs-rtsp-session.h"

// What a pool tells the directory it publishes to. Every call only queues
// work for the directory's own thread: none waits for Redis. Thread-safe.
class RsDirectoryPublisher
{
public:
  virtual ~RsDirectoryPublisher () = default;
  // `session` is in the pool (new, or its deadline was judged again): its
  // entry is (re)written with its current owner, timeout and deadline.
  virtual void published (RsRTSPSession *session) noexcept = 0;
  // The session with this id left the pool.
  virtual void removed (const char *id) noexcept = 0;
};

// The pool's side, implemented in rs-rtsp-session-pool.cc.
void rs_rtsp_session_pool_attach_publisher (RsRTSPSessionPool *pool,
                                            std::shared_ptr<RsDirectoryPublisher> publisher) noexcept;
// New references to every session of `pool`.
std::vector<RsRTSPSession *> rs_rtsp_session_pool_snapshot (RsRTSPSessionPool *pool) noexcept;
