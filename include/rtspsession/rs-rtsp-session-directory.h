/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <gio/gio.h>

#include "rs-version-macros.h"
#include "rs-rtsp-session-pool.h"

G_BEGIN_DECLS

/**
 * RS_RTSP_SESSION_DIRECTORY_ERROR:
 *
 * The error domain of #RsRTSPSessionDirectory.
 *
 * Since: 1.0
 */
#define RS_RTSP_SESSION_DIRECTORY_ERROR (rs_rtsp_session_directory_error_quark ())

/**
 * RsRTSPSessionDirectoryError:
 * @RS_RTSP_SESSION_DIRECTORY_ERROR_INVALID_URI: the Redis URI is not one of
 *   `redis://host[:port][/db]` or `unix:///path[?db=N]`
 * @RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE: Redis cannot be reached now
 * @RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED: Redis answered with an error, or
 *   a call was given a bad argument
 * @RS_RTSP_SESSION_DIRECTORY_ERROR_LIMIT: a limit of the cluster says no:
 *   #RsRTSPSessionDirectory:max-sessions or
 *   #RsRTSPSessionDirectory:max-sessions-per-owner
 *
 * Errors of #RsRTSPSessionDirectory.
 *
 * Since: 1.0
 */
typedef enum
{
  RS_RTSP_SESSION_DIRECTORY_ERROR_INVALID_URI,
  RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE,
  RS_RTSP_SESSION_DIRECTORY_ERROR_FAILED,
  RS_RTSP_SESSION_DIRECTORY_ERROR_LIMIT,
} RsRTSPSessionDirectoryError;

/**
 * RsRTSPSessionDirectoryPolicy:
 * @RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW: a reservation Redis cannot answer
 *   succeeds: the cluster's limits give way to availability
 * @RS_RTSP_SESSION_DIRECTORY_POLICY_REFUSE: it fails with
 *   %RS_RTSP_SESSION_DIRECTORY_ERROR_UNAVAILABLE: the limits hold, and no
 *   session is made while Redis is away
 *
 * What rs_rtsp_session_directory_reserve_async() answers when Redis cannot
 * be reached.
 *
 * Since: 1.0
 */
typedef enum
{
  RS_RTSP_SESSION_DIRECTORY_POLICY_ALLOW,
  RS_RTSP_SESSION_DIRECTORY_POLICY_REFUSE,
} RsRTSPSessionDirectoryPolicy;

RS_AVAILABLE_IN_ALL
GType rs_rtsp_session_directory_policy_get_type (void);
#define RS_TYPE_RTSP_SESSION_DIRECTORY_POLICY (rs_rtsp_session_directory_policy_get_type ())

RS_AVAILABLE_IN_ALL
GQuark rs_rtsp_session_directory_error_quark (void);

#define RS_TYPE_RTSP_SESSION_DIRECTORY (rs_rtsp_session_directory_get_type ())

RS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (RsRTSPSessionDirectory, rs_rtsp_session_directory, RS, RTSP_SESSION_DIRECTORY, GObject)

RS_AVAILABLE_IN_ALL
RsRTSPSessionDirectory *rs_rtsp_session_directory_new (const gchar *uri,
                                                       GError     **error);

RS_AVAILABLE_IN_ALL
const gchar *rs_rtsp_session_directory_get_uri (RsRTSPSessionDirectory *directory);

RS_AVAILABLE_IN_ALL
gboolean rs_rtsp_session_directory_is_connected (RsRTSPSessionDirectory *directory);

RS_AVAILABLE_IN_ALL
void rs_rtsp_session_directory_lookup_async (RsRTSPSessionDirectory *directory,
                                             const gchar            *session_id,
                                             GCancellable           *cancellable,
                                             GAsyncReadyCallback     callback,
                                             gpointer                user_data);

RS_AVAILABLE_IN_ALL
gchar *rs_rtsp_session_directory_lookup_finish (RsRTSPSessionDirectory *directory,
                                                GAsyncResult           *result,
                                                GError                **error);

RS_AVAILABLE_IN_ALL
gchar *rs_rtsp_session_directory_lookup_sync (RsRTSPSessionDirectory *directory,
                                              const gchar            *session_id,
                                              GCancellable           *cancellable,
                                              GError                **error);

RS_AVAILABLE_IN_ALL
void rs_rtsp_session_directory_list_nodes_async (RsRTSPSessionDirectory *directory,
                                                 GCancellable           *cancellable,
                                                 GAsyncReadyCallback     callback,
                                                 gpointer                user_data);

RS_AVAILABLE_IN_ALL
GVariant *rs_rtsp_session_directory_list_nodes_finish (RsRTSPSessionDirectory *directory,
                                                       GAsyncResult           *result,
                                                       GError                **error);

RS_AVAILABLE_IN_ALL
GVariant *rs_rtsp_session_directory_list_nodes_sync (RsRTSPSessionDirectory *directory,
                                                     GCancellable           *cancellable,
                                                     GError                **error);

RS_AVAILABLE_IN_ALL
void rs_rtsp_session_directory_reserve_async (RsRTSPSessionDirectory *directory,
                                              const gchar            *owner,
                                              GCancellable           *cancellable,
                                              GAsyncReadyCallback     callback,
                                              gpointer                user_data);

RS_AVAILABLE_IN_ALL
gboolean rs_rtsp_session_directory_reserve_finish (RsRTSPSessionDirectory *directory,
                                                   GAsyncResult           *result,
                                                   GError                **error);

RS_AVAILABLE_IN_ALL
gboolean rs_rtsp_session_pool_set_directory (RsRTSPSessionPool      *pool,
                                             RsRTSPSessionDirectory *directory,
                                             const gchar            *node,
                                             GError                **error);

G_END_DECLS
