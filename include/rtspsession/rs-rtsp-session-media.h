/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <glib-object.h>

#include "rs-version-macros.h"
#include "rs-rtsp-types.h"

G_BEGIN_DECLS

#define RS_TYPE_RTSP_SESSION_MEDIA (rs_rtsp_session_media_get_type ())

RS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (RsRTSPSessionMedia, rs_rtsp_session_media, RS, RTSP_SESSION_MEDIA, GObject)

/**
 * RsRTSPSessionMediaClass:
 * @parent_class: the parent class
 *
 * The class of #RsRTSPSessionMedia.
 *
 * Since: 1.0
 */
struct _RsRTSPSessionMediaClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _rs_reserved[8];
};

RS_AVAILABLE_IN_ALL
RsRTSPSessionMedia *rs_rtsp_session_media_new            (const gchar        *path,
                                                          GObject            *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_media_matches        (RsRTSPSessionMedia *media,
                                                          const gchar        *path,
                                                          gint               *matched) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
GObject            *rs_rtsp_session_media_get_media      (RsRTSPSessionMedia *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
const gchar        *rs_rtsp_session_media_get_path       (RsRTSPSessionMedia *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void                rs_rtsp_session_media_set_rtsp_state (RsRTSPSessionMedia *media,
                                                          RsRTSPState         state) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
RsRTSPState         rs_rtsp_session_media_get_rtsp_state (RsRTSPSessionMedia *media) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
gboolean            rs_rtsp_session_media_alloc_channels (RsRTSPSessionMedia *media,
                                                          RsRTSPRange        *range) RS_NOEXCEPT;

G_END_DECLS
