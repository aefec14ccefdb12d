// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-session-media.h"

#include <limits>

#include "core/path-match.hh"
#include "core/session.hh"
#include "rs-cxx-private.hh"

/**
 * RsRTSPSessionMedia:
 *
 * A media that a session has set up, with the path it was set up for, its
 * RTSP state and its interleaved channels.
 *
 * The media itself can be any #GObject — a #GstRTSPMedia in a GStreamer
 * server, or an object of the application's own.
 *
 * Since: 1.0
 */

namespace {

// The path and media are set in new(), never changed afterwards: readable
// from any thread.
struct RsRTSPSessionMediaPrivate
{
  rs::core::SessionMedia state;
  GObject *media = nullptr;

  ~RsRTSPSessionMediaPrivate () { g_clear_object (&media); }
};

}  // namespace

// A session media made with g_object_new() has an empty path and no media
// until rs_rtsp_session_media_new() fills them in.
RS_DEFINE_TYPE_WITH_CXX_PRIVATE (RsRTSPSessionMedia, rs_rtsp_session_media, G_TYPE_OBJECT, RsRTSPSessionMediaPrivate)

static void
rs_rtsp_session_media_class_init (RsRTSPSessionMediaClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rs_rtsp_session_media_finalize;
}

/**
 * rs_rtsp_session_media_new:
 * @path: the path the media was set up for, such as `/tone`
 * @media: (transfer full): the media
 *
 * Makes a session media for @media, set up for @path. Servers usually call
 * rs_rtsp_session_manage_media() instead, which makes one and adds it to a
 * session.
 *
 * Returns: (transfer full): a new #RsRTSPSessionMedia
 *
 * Since: 1.0
 */
RsRTSPSessionMedia *
rs_rtsp_session_media_new (const gchar *path, GObject *media) noexcept
{
  g_return_val_if_fail (path != nullptr, nullptr);
  g_return_val_if_fail (G_IS_OBJECT (media), nullptr);

  auto *self = static_cast<RsRTSPSessionMedia *> (g_object_new (RS_TYPE_RTSP_SESSION_MEDIA, nullptr));
  auto &priv = get_priv (self);
  priv.state.set_path (path);
  priv.media = media;
  return self;
}

/**
 * rs_rtsp_session_media_matches:
 * @media: a #RsRTSPSessionMedia
 * @path: a request path
 * @matched: (out) (optional): how many characters of @path the media's path
 *   covers; 0 when it does not cover @path
 *
 * Whether @path is the media's path, or a path below it: the media's path is
 * a prefix of @path that ends where a path component ends. A media set up for
 * `/test` matches `/test` and `/test/stream=0` but not `/testX`; one set up
 * for `/` matches every path that starts with `/`.
 *
 * Returns: %TRUE when @media covers @path
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_media_matches (RsRTSPSessionMedia *media, const gchar *path, gint *matched) noexcept
{
  if (matched != nullptr)
    *matched = 0;
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), FALSE);
  g_return_val_if_fail (path != nullptr, FALSE);

  auto length = rs::core::match_path (get_priv (media).state.path (), path);
  if (!length)
    return FALSE;
  if (matched != nullptr)
    *matched = static_cast<gint> (std::min<std::size_t> (*length, std::numeric_limits<gint>::max ()));
  return TRUE;
}

/**
 * rs_rtsp_session_media_get_media:
 * @media: a #RsRTSPSessionMedia
 *
 * The media that was set up.
 *
 * Returns: (transfer none) (nullable): the media, owned by @media; %NULL
 *   only for a session media made without rs_rtsp_session_media_new()
 *
 * Since: 1.0
 */
GObject *
rs_rtsp_session_media_get_media (RsRTSPSessionMedia *media) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), nullptr);
  return get_priv (media).media;
}

/**
 * rs_rtsp_session_media_get_path:
 * @media: a #RsRTSPSessionMedia
 *
 * The path the media was set up for.
 *
 * Returns: (transfer none): the path, owned by @media
 *
 * Since: 1.0
 */
const gchar *
rs_rtsp_session_media_get_path (RsRTSPSessionMedia *media) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), nullptr);
  return get_priv (media).state.path ().c_str ();
}

/**
 * rs_rtsp_session_media_set_rtsp_state:
 * @media: a #RsRTSPSessionMedia
 * @state: the new state
 *
 * Records where the media is in the RTSP state machine.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_media_set_rtsp_state (RsRTSPSessionMedia *media, RsRTSPState state) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION_MEDIA (media));
  g_return_if_fail (state >= RS_RTSP_STATE_INVALID && state <= RS_RTSP_STATE_RECORDING);
  get_priv (media).state.set_rtsp_state (state);
}

/**
 * rs_rtsp_session_media_get_rtsp_state:
 * @media: a #RsRTSPSessionMedia
 *
 * Where the media is in the RTSP state machine; %RS_RTSP_STATE_INIT for a new
 * session media.
 *
 * Returns: the RTSP state
 *
 * Since: 1.0
 */
RsRTSPState
rs_rtsp_session_media_get_rtsp_state (RsRTSPSessionMedia *media) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), RS_RTSP_STATE_INVALID);
  return static_cast<RsRTSPState> (get_priv (media).state.rtsp_state ());
}

/**
 * rs_rtsp_session_media_alloc_channels:
 * @media: a #RsRTSPSessionMedia
 * @range: (out caller-allocates): the allocated pair of channels
 *
 * Takes the next pair of interleaved channels for a stream of @media sent
 * over the RTSP connection: 0-1 first, then 2-3, and so on.
 *
 * Returns: %TRUE when @range was filled in; %FALSE once the channel numbers
 *   are used up
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_media_alloc_channels (RsRTSPSessionMedia *media, RsRTSPRange *range) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), FALSE);
  g_return_val_if_fail (range != nullptr, FALSE);

  auto channels = get_priv (media).state.alloc_channels ();
  if (!channels)
    return FALSE;
  range->min = channels->min;
  range->max = channels->max;
  return TRUE;
}
