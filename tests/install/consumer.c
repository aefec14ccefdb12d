/* Built against an installed librtspsession through pkg-config only. */
#include <rtspsession/rtspsession.h>

#include <string.h>

int
main (void)
{
  RsRTSPSession *session = rs_rtsp_session_new ("installed");
  gchar *header = rs_rtsp_session_get_header (session);
  int ok = strcmp (header, "installed") == 0 && RS_CHECK_VERSION (1, 0, 0);
  g_free (header);
  g_object_unref (session);
  return ok ? 0 : 1;
}
