/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <glib-object.h>

#include "rs-version-macros.h"
#include "rs-rtsp-types.h"
#include "rs-rtsp-session.h"

G_BEGIN_DECLS

#define RS_TYPE_RTSP_SESSION_POOL (rs_rtsp_session_pool_get_type ())

RS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (RsRTSPSessionPool, rs_rtsp_session_pool, RS, RTSP_SESSION_POOL, GObject)

/**
 * RsRTSPSessionPoolClass:
 * @parent_class: the parent class
 * @create_session_id: makes the id for a new session. The default draws 22
 *   characters of `[A-Za-z0-9]` from the operating system's cryptographic
 *   random source. Return %NULL to make rs_rtsp_session_pool_create() fail.
 * @create_session: makes the session object for a new id. The default makes
 *   a plain #RsRTSPSession; override it to make a subclass.
 * @session_removed: the class handler of #RsRTSPSessionPool::session-removed
 *
 * The class of #RsRTSPSessionPool.
 *
 * Since: 1.0
 */
struct _RsRTSPSessionPoolClass
{
  GObjectClass parent_class;

  gchar         *(*create_session_id) (RsRTSPSessionPool *pool);
  RsRTSPSession *(*create_session)    (RsRTSPSessionPool *pool,
                                       const gchar       *id);

  /* signals */
  void           (*session_removed)   (RsRTSPSessionPool *pool,
                                       RsRTSPSession     *session);

  /*< private >*/
  gpointer _rs_reserved[8];
};

/**
 * RsRTSPSessionPoolClass::create_session_id:
 * @pool: the pool
 *
 * Makes the id for a new session of @pool. Ids must be unguessable: a
 * client that knows another client's id can take over its session.
 *
 * Returns: (transfer full) (nullable): a new session id, or %NULL to make
 *   rs_rtsp_session_pool_create() fail
 *
 * Since: 1.0
 */

/**
 * RsRTSPSessionPoolClass::create_session:
 * @pool: the pool
 * @id: the id for the session
 *
 * Makes the session object for a new session of @pool with the id @id.
 *
 * Returns: (transfer full) (nullable): a new session with the id @id, or
 *   %NULL to make rs_rtsp_session_pool_create() fail
 *
 * Since: 1.0
 */

/**
 * RsRTSPSessionPoolClass::session_removed:
 * @pool: the pool
 * @session: the session that left the pool
 *
 * The class handler of #RsRTSPSessionPool::session-removed.
 *
 * Since: 1.0
 */

/**
 * RsRTSPSessionPoolFilterFunc:
 * @pool: the pool being filtered
 * @session: a session of @pool
 * @user_data: (closure): the data passed to rs_rtsp_session_pool_filter()
 *
 * Decides what rs_rtsp_session_pool_filter() does with @session. It is called
 * with no lock held, so it may call any method of @pool or @session.
 *
 * Returns: what to do with @session
 *
 * Since: 1.0
 */
typedef RsRTSPFilterResult (*RsRTSPSessionPoolFilterFunc) (RsRTSPSessionPool *pool,
                                                           RsRTSPSession     *session,
                                                           gpointer           user_data);

/**
 * RsRTSPSessionPoolFunc:
 * @pool: the pool
 * @user_data: (closure): the data given to g_source_set_callback()
 *
 * Called by the source of rs_rtsp_session_pool_create_watch() when a session
 * of @pool has expired; usually it calls rs_rtsp_session_pool_cleanup().
 *
 * Returns: %FALSE to remove the source, %TRUE to keep watching
 *
 * Since: 1.0
 */
typedef gboolean (*RsRTSPSessionPoolFunc) (RsRTSPSessionPool *pool,
                                           gpointer           user_data);

RS_AVAILABLE_IN_ALL
RsRTSPSessionPool *rs_rtsp_session_pool_new              (void) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void               rs_rtsp_session_pool_set_max_sessions (RsRTSPSessionPool *pool,
                                                          guint              max) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
guint              rs_rtsp_session_pool_get_max_sessions (RsRTSPSessionPool *pool) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
guint              rs_rtsp_session_pool_get_n_sessions   (RsRTSPSessionPool *pool) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPSession     *rs_rtsp_session_pool_create           (RsRTSPSessionPool *pool) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPSession     *rs_rtsp_session_pool_find             (RsRTSPSessionPool *pool,
                                                          const gchar       *sessionid) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPSession     *rs_rtsp_session_pool_find_owned       (RsRTSPSessionPool *pool,
                                                          const gchar       *sessionid,
                                                          const gchar       *owner) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean           rs_rtsp_session_pool_remove           (RsRTSPSessionPool *pool,
                                                          RsRTSPSession     *sess) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
guint              rs_rtsp_session_pool_cleanup          (RsRTSPSessionPool *pool) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
guint              rs_rtsp_session_pool_cleanup_usec     (RsRTSPSessionPool *pool,
                                                          gint64             now) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
GList             *rs_rtsp_session_pool_filter           (RsRTSPSessionPool           *pool,
                                                          RsRTSPSessionPoolFilterFunc  func,
                                                          gpointer                     user_data) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
GSource           *rs_rtsp_session_pool_create_watch     (RsRTSPSessionPool *pool) RS_NOEXCEPT;

G_END_DECLS
