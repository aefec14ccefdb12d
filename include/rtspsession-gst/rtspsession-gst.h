/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * librtspsession-gst: librtspsession's session ids, expiry engine and
 * session binding for servers built on GStreamer's gst-rtsp-server.
 */
#pragma once

#include <gst/rtsp-server/rtsp-server.h>

G_BEGIN_DECLS

#define _RS_GST_EXTERN __attribute__((visibility("default"))) extern

/* Present since the first release. */
#define RS_GST_AVAILABLE_IN_1_0 _RS_GST_EXTERN

/**
 * RsGstOwnerPolicy:
 * @RS_GST_OWNER_CONNECTION: a session belongs to the connection that made it
 *   with SETUP; no other connection can reach it.
 * @RS_GST_OWNER_PEER_ADDRESS: a session belongs to the IP address of the
 *   connection that made it; any connection from that address can reach it.
 * @RS_GST_OWNER_USER: a session belongs to the user named by the
 *   %RS_GST_TOKEN_USER field of the #GstRTSPToken its SETUP was authorized
 *   with, and to the connection that made it (only to that connection, when
 *   the token names no user). Requests of others get 454 Session Not Found
 *   and cannot control the session, but GStreamer's own lookup, which runs
 *   before the request's user is known, still refreshes it.
 * @RS_GST_OWNER_CUSTOM: a session belongs to the key the function set with
 *   rs_gst_session_pool_set_owner_func() returns for the connection that made
 *   it; connections with the same key share sessions.
 *
 * Who may use a session of a pool bound to a server with
 * rs_gst_server_bind_sessions(). A policy applies to the connections accepted
 * after it is set.
 *
 * Since: 1.0
 */
typedef enum {
  RS_GST_OWNER_CONNECTION,
  RS_GST_OWNER_PEER_ADDRESS,
  RS_GST_OWNER_USER,
  RS_GST_OWNER_CUSTOM,
} RsGstOwnerPolicy;

RS_GST_AVAILABLE_IN_1_0
GType rs_gst_owner_policy_get_type (void);
#define RS_GST_TYPE_OWNER_POLICY (rs_gst_owner_policy_get_type ())

/**
 * RS_GST_TOKEN_USER:
 *
 * The #GstRTSPToken field (a string) that names the authenticated user, for
 * %RS_GST_OWNER_USER. The application puts it in the tokens it gives
 * #GstRTSPAuth.
 *
 * Since: 1.0
 */
#define RS_GST_TOKEN_USER "rtspsession.user"

/**
 * RsGstSessionPool:
 *
 * A #GstRTSPSessionPool for gst-rtsp-server with librtspsession's session
 * ids and expiry index, holding #GstRTSPSession objects. Give it to a
 * server with rs_gst_server_bind_sessions().
 *
 * Since: 1.0
 */
#define RS_GST_TYPE_SESSION_POOL (rs_gst_session_pool_get_type ())
RS_GST_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (RsGstSessionPool, rs_gst_session_pool, RS_GST, SESSION_POOL, GstRTSPSessionPool)

/**
 * RsGstOwnerFunc:
 * @pool: the pool
 * @client: a connection that has just been accepted
 * @user_data: the data given to rs_gst_session_pool_set_owner_func()
 *
 * Names the owner of the sessions @client makes. Connections with equal keys
 * can reach each other's sessions.
 *
 * Returns: (transfer full) (nullable): the owner key, or %NULL for the
 *   connection itself
 *
 * Since: 1.0
 */
typedef gchar *(*RsGstOwnerFunc) (RsGstSessionPool *pool, GstRTSPClient *client, gpointer user_data);

RS_GST_AVAILABLE_IN_1_0
RsGstSessionPool *rs_gst_session_pool_new (void);

RS_GST_AVAILABLE_IN_1_0
guint rs_gst_session_pool_cleanup (RsGstSessionPool *pool);
RS_GST_AVAILABLE_IN_1_0
guint rs_gst_session_pool_cleanup_at (RsGstSessionPool *pool, gint64 now);
RS_GST_AVAILABLE_IN_1_0
gint64 rs_gst_session_pool_next_wakeup (RsGstSessionPool *pool, gint64 now);
RS_GST_AVAILABLE_IN_1_0
void rs_gst_session_pool_reschedule (RsGstSessionPool *pool, GstRTSPSession *session);

RS_GST_AVAILABLE_IN_1_0
GSource *rs_gst_session_pool_create_watch (RsGstSessionPool *pool);
RS_GST_AVAILABLE_IN_1_0
guint rs_gst_session_pool_attach (RsGstSessionPool *pool, GMainContext *context);

RS_GST_AVAILABLE_IN_1_0
void rs_gst_session_pool_set_owner_policy (RsGstSessionPool *pool, RsGstOwnerPolicy policy);
RS_GST_AVAILABLE_IN_1_0
RsGstOwnerPolicy rs_gst_session_pool_get_owner_policy (RsGstSessionPool *pool);
RS_GST_AVAILABLE_IN_1_0
void rs_gst_session_pool_set_owner_func (RsGstSessionPool *pool, RsGstOwnerFunc func,
                                         gpointer user_data, GDestroyNotify notify);
RS_GST_AVAILABLE_IN_1_0
gchar *rs_gst_session_pool_get_owner (RsGstSessionPool *pool, GstRTSPSession *session);

RS_GST_AVAILABLE_IN_1_0
RsGstSessionPool *rs_gst_server_bind_sessions (GstRTSPServer *server);

G_END_DECLS
