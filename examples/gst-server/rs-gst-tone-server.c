/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rs-gst-tone-server: an upstream-style gst-rtsp-server application that
 * serves a test tone at rtsp://ADDRESS:PORT/tone, run either as GStreamer
 * ships it (--stock) or hardened by librtspsession-gst (the default).
 *
 * The hardening is the three lines marked "librtspsession-gst" below: the
 * include, rs_gst_server_bind_sessions(), and the cleanup timer that is no
 * longer needed.
 *
 * It logs one line per session event on stdout, for the tests:
 *   rs-gst-tone-server: rtsp://127.0.0.1:PORT/tone (stock|hardened, ...)
 *   session-created ID
 *   session-removed ID
 */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <glib-unix.h>
#include <stdio.h>

#include <rtspsession-gst/rtspsession-gst.h> /* librtspsession-gst (1 of 3) */

static gint session_timeout = 0;

/* What upstream examples do to expire sessions: scan the whole pool every
 * two seconds. */
static gboolean
cleanup_timer (gpointer data)
{
  GstRTSPServer *server = data;
  GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (server);
  gst_rtsp_session_pool_cleanup (pool);
  g_object_unref (pool);
  return G_SOURCE_CONTINUE;
}

static void
on_new_session (GstRTSPClient *client, GstRTSPSession *session, gpointer data)
{
  /* Apps lower the timeout here; the hardened pool sees it at once. */
  if (session_timeout > 0)
    gst_rtsp_session_set_timeout (session, (guint) session_timeout);
  printf ("session-created %s\n", gst_rtsp_session_get_sessionid (session));
  fflush (stdout);
}

static void
on_client_connected (GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
  g_signal_connect (client, "new-session", G_CALLBACK (on_new_session), NULL);
}

static void
on_session_removed (GstRTSPSessionPool *pool, GstRTSPSession *session, gpointer data)
{
  printf ("session-removed %s\n", gst_rtsp_session_get_sessionid (session));
  fflush (stdout);
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gint port = 8554;
  gchar *address = NULL;
  gchar *policy = NULL;
  gboolean stock = FALSE;
  gint max_sessions = 0;
  gchar *users = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on (0: any free port)", "PORT" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "address to listen on (default: all)", "ADDRESS" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &session_timeout, "session timeout in seconds (default: GStreamer's 60)", "SECONDS" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &max_sessions, "most sessions at once (0: unlimited)", "N" },
    { "stock", 0, 0, G_OPTION_ARG_NONE, &stock, "run as GStreamer ships it, without librtspsession-gst", NULL },
    { "owner", 0, 0, G_OPTION_ARG_STRING, &policy, "who owns a session: connection (default), peer-address or user", "POLICY" },
    { "users", 0, 0, G_OPTION_ARG_STRING, &users, "require Basic authentication by these users", "NAME:PASSWORD,..." },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("- serve a test tone over RTSP");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_add_group (options, gst_init_get_option_group ());
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("rs-gst-tone-server: %s\n", error->message);
      return 2;
    }
  if (port < 0 || port > 65535 || session_timeout < 0 || max_sessions < 0)
    {
      g_printerr ("rs-gst-tone-server: --port, --timeout and --max-sessions take non-negative numbers\n");
      return 2;
    }

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GstRTSPServer) server = gst_rtsp_server_new ();
  g_autofree gchar *service = g_strdup_printf ("%d", port);
  gst_rtsp_server_set_service (server, service);
  if (address)
    gst_rtsp_server_set_address (server, address);

  g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points (server);
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory,
                                     "( audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160"
                                     " ! audio/x-raw,rate=8000,channels=1"
                                     " ! mulawenc ! rtppcmupay name=pay0 )");
  if (users)
    {
      /* Every user may play the tone; the token names the user, which is
       * what the user owner policy compares. */
      g_autoptr (GstRTSPAuth) auth = gst_rtsp_auth_new ();
      g_auto (GStrv) list = g_strsplit (users, ",", -1);
      for (gchar **user = list; *user; user++)
        {
          g_auto (GStrv) parts = g_strsplit (*user, ":", 2);
          if (!parts[0] || !*parts[0] || !parts[1])
            {
              g_printerr ("rs-gst-tone-server: --users takes NAME:PASSWORD,...\n");
              return 2;
            }
          g_autofree gchar *basic = gst_rtsp_auth_make_basic (parts[0], parts[1]);
          GstRTSPToken *token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "user",
                                                    RS_GST_TOKEN_USER, G_TYPE_STRING, parts[0], NULL);
          gst_rtsp_auth_add_basic (auth, basic, token);
          gst_rtsp_token_unref (token);
        }
      gst_rtsp_media_factory_add_role (factory, "user", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                       GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
      gst_rtsp_server_set_auth (server, auth);
    }
  gst_rtsp_mount_points_add_factory (mounts, "/tone", factory);

  if (max_sessions > 0)
    {
      GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (server);
      gst_rtsp_session_pool_set_max_sessions (pool, (guint) max_sessions);
      g_object_unref (pool);
    }

  if (stock)
    g_timeout_add_seconds (2, cleanup_timer, server);
  else
    {
      RsGstSessionPool *pool = rs_gst_server_bind_sessions (server); /* librtspsession-gst (2 of 3) */
      /* (3 of 3): no cleanup timer: the binding drives expiry. */
      if (policy && g_strcmp0 (policy, "peer-address") == 0)
        rs_gst_session_pool_set_owner_policy (pool, RS_GST_OWNER_PEER_ADDRESS);
      else if (policy && g_strcmp0 (policy, "user") == 0)
        rs_gst_session_pool_set_owner_policy (pool, RS_GST_OWNER_USER);
      else if (policy && g_strcmp0 (policy, "connection") != 0)
        {
          g_printerr ("rs-gst-tone-server: unknown --owner %s\n", policy);
          return 2;
        }
    }

  GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool (server);
  g_signal_connect (pool, "session-removed", G_CALLBACK (on_session_removed), NULL);
  g_object_unref (pool);
  g_signal_connect (server, "client-connected", G_CALLBACK (on_client_connected), NULL);

  if (gst_rtsp_server_attach (server, NULL) == 0)
    {
      g_printerr ("rs-gst-tone-server: cannot listen on port %d\n", port);
      return 1;
    }
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_autofree gchar *version = gst_version_string ();
  printf ("rs-gst-tone-server: rtsp://%s:%d/tone (%s, %s)\n", address ? address : "0.0.0.0",
          gst_rtsp_server_get_bound_port (server), stock ? "stock" : "hardened", version);
  fflush (stdout);
  g_main_loop_run (loop);
  g_free (address);
  g_free (policy);
  g_free (users);
  return 0;
}
