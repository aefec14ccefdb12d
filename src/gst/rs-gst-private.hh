// SPDX-License-Identifier: LGPL-2.1-or-later
// What the pool (rs-gst-session-pool.cc) and the server binding
// (rs-gst-binding.cc) share. Not installed.
#pragma once

#include <string>

#include "rtspsession-gst/rtspsession-gst.h"

// The serial number that names a connection, given the first time it is
// asked for; never reused in the process.
guint64 rs_gst_client_serial (GstRTSPClient *client) noexcept;

// The owner key of the connection for policies known when it is accepted:
// "connection:N", "peer:ADDRESS" or "custom:KEY".
std::string rs_gst_session_pool_connection_key (RsGstSessionPool *pool, GstRTSPClient *client);

// The session pool a connection with owner `key` works through: a view of
// `pool` that finds only that owner's sessions and makes new ones in `pool`,
// owned by `key`. Views with one key are shared while alive.
// Returns a new reference.
GstRTSPSessionPool *rs_gst_session_pool_view (RsGstSessionPool *pool, const std::string &key);

// Whether the request in `ctx` may use `session` under the user policy.
bool rs_gst_session_pool_may_use (RsGstSessionPool *pool, GstRTSPSession *session, GstRTSPContext *ctx);

// Attaches, once, the watch that runs the pool's expiry to `context`; the
// watch holds no reference to the pool and goes with it.
void rs_gst_session_pool_attach_once (RsGstSessionPool *pool, GMainContext *context);
