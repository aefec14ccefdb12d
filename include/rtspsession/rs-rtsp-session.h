/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <glib-object.h>

#include "rs-version-macros.h"
#include "rs-rtsp-types.h"
#include "rs-rtsp-session-media.h"

G_BEGIN_DECLS

#define RS_TYPE_RTSP_SESSION (rs_rtsp_session_get_type ())

RS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (RsRTSPSession, rs_rtsp_session, RS, RTSP_SESSION, GObject)

/**
 * RsRTSPSessionClass:
 * @parent_class: the parent class
 *
 * The class of #RsRTSPSession. It has no virtual methods yet; subclasses
 * add state and behaviour of their own.
 *
 * Since: 1.0
 */
struct _RsRTSPSessionClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _rs_reserved[8];
};

/**
 * RsRTSPSessionFilterFunc:
 * @sess: the session being filtered
 * @media: a media of @sess
 * @user_data: (closure): the data passed to rs_rtsp_session_filter()
 *
 * Decides what rs_rtsp_session_filter() does with @media. It is called with
 * no lock held, so it may call any method of @sess.
 *
 * Returns: what to do with @media
 *
 * Since: 1.0
 */
typedef RsRTSPFilterResult (*RsRTSPSessionFilterFunc) (RsRTSPSession      *sess,
                                                       RsRTSPSessionMedia *media,
                                                       gpointer            user_data);

RS_AVAILABLE_IN_ALL
RsRTSPSession      *rs_rtsp_session_new               (const gchar   *sessionid) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
const gchar        *rs_rtsp_session_get_sessionid     (RsRTSPSession *session) RS_NOEXCEPT;

RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_id_is_valid       (const gchar   *sessionid) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_header_parse      (const gchar   *value,
                                                       gchar        **sessionid,
                                                       guint         *timeout,
                                                       GError       **error) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gchar              *rs_rtsp_session_get_header        (RsRTSPSession *session) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void                rs_rtsp_session_set_timeout       (RsRTSPSession *session,
                                                       guint          timeout) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
guint               rs_rtsp_session_get_timeout       (RsRTSPSession *session) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void                rs_rtsp_session_touch             (RsRTSPSession *session) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void                rs_rtsp_session_prevent_expire    (RsRTSPSession *session) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void                rs_rtsp_session_allow_expire      (RsRTSPSession *session) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gint                rs_rtsp_session_next_timeout_usec (RsRTSPSession *session,
                                                       gint64         now) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_is_expired_usec   (RsRTSPSession *session,
                                                       gint64         now) RS_NOEXCEPT;

G_GNUC_BEGIN_IGNORE_DEPRECATIONS
RS_DEPRECATED_IN_1_0_FOR (rs_rtsp_session_next_timeout_usec)
gint                rs_rtsp_session_next_timeout      (RsRTSPSession *session,
                                                       GTimeVal      *now) RS_NOEXCEPT;
RS_DEPRECATED_IN_1_0_FOR (rs_rtsp_session_is_expired_usec)
gboolean            rs_rtsp_session_is_expired        (RsRTSPSession *session,
                                                       GTimeVal      *now) RS_NOEXCEPT;
G_GNUC_END_IGNORE_DEPRECATIONS

RS_AVAILABLE_IN_ALL
RsRTSPSessionMedia *rs_rtsp_session_manage_media      (RsRTSPSession      *sess,
                                                       const gchar        *path,
                                                       GObject            *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_release_media     (RsRTSPSession      *sess,
                                                       RsRTSPSessionMedia *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPSessionMedia *rs_rtsp_session_get_media         (RsRTSPSession      *sess,
                                                       const gchar        *path,
                                                       gint               *matched) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPSessionMedia *rs_rtsp_session_dup_media         (RsRTSPSession      *sess,
                                                       const gchar        *path,
                                                       gint               *matched) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
GList              *rs_rtsp_session_filter            (RsRTSPSession           *sess,
                                                       RsRTSPSessionFilterFunc  func,
                                                       gpointer                 user_data) RS_NOEXCEPT;

G_END_DECLS
