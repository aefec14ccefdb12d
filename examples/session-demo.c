/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The life of one RTSP session, as a server would drive it: create it, set up
 * a media, find the media again from a request URL, answer with the Session:
 * header, and check expiry.
 */
#include <rtspsession/rtspsession.h>

#include <stdio.h>

int
main (void)
{
  g_autoptr (RsRTSPSession) session = rs_rtsp_session_new ("K3yb0ardCat");
  rs_rtsp_session_set_timeout (session, 30);

  /* SETUP rtsp://host/tone/stream=0: the server's own media object. */
  g_autoptr (GObject) tone = g_object_new (G_TYPE_OBJECT, NULL);
  RsRTSPSessionMedia *media = rs_rtsp_session_manage_media (session, "/tone", g_object_ref (tone));

  /* PLAY rtsp://host/tone: which media is that? */
  gint matched = 0;
  RsRTSPSessionMedia *found = rs_rtsp_session_get_media (session, "/tone/stream=0", &matched);
  if (found != media)
    {
      fprintf (stderr, "media not found\n");
      return 1;
    }
  rs_rtsp_session_media_set_rtsp_state (found, RS_RTSP_STATE_PLAYING);

  g_autofree gchar *header = rs_rtsp_session_get_header (session);
  printf ("Session: %s\n", header);
  printf ("media %s matched %d characters of /tone/stream=0\n", rs_rtsp_session_media_get_path (found), matched);

  gint64 now = g_get_monotonic_time ();
  rs_rtsp_session_touch (session);
  printf ("expires in %d ms; expired 40 s from now: %s\n", rs_rtsp_session_next_timeout_usec (session, now),
          rs_rtsp_session_is_expired_usec (session, now + 40 * G_USEC_PER_SEC) ? "yes" : "no");

  /* TEARDOWN */
  gboolean more = rs_rtsp_session_release_media (session, media);
  printf ("medias left after TEARDOWN: %s\n", more ? "yes" : "no");
  return 0;
}
