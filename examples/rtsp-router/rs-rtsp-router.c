/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * rs-rtsp-router: a session-aware front for several RTSP server nodes that
 * publish their sessions to one RsRTSPSessionDirectory on Redis.
 *
 * For each client connection it reads the first request. When that carries
 * a Session: header, the client is connected to the node that holds the
 * session (found in the directory); otherwise to the live node with the
 * fewest sessions. From then on it relays bytes both ways, untouched. A
 * client whose keep-alives or TEARDOWN come on new connections (as clients
 * streaming over UDP do) thus always reaches the node with its session.
 *
 *   rs-rtsp-router --port 8554 --redis unix:///run/redis.sock \
 *       --node a=127.0.0.1:8555 --node b=127.0.0.1:8556
 *
 * Nodes are named as they publish (rs-example-server --node NAME). When
 * Redis cannot be reached, new clients go to the nodes in turn and clients
 * with a session to the first node; the nodes answer 454 for sessions they
 * do not hold.
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <rtspsession/rtspsession.h>

#include <string.h>

#if !RS_HAVE_SESSION_DIRECTORY
#error "rs-rtsp-router needs librtspsession built with the session directory (-Dredis)"
#endif

#define HEAD_LIMIT (16 * 1024)   /* the first request's head */
#define HEAD_TIMEOUT_S 10        /* to send it */
#define MAX_CLIENTS_DEFAULT 1000
#define MAX_PER_ADDRESS_DEFAULT 64
#define LOOKUP_TIMEOUT_MS 2000   /* then the client is routed as if Redis were away */

typedef struct
{
  gchar *name;
  gchar *host;
  guint16 port;
} Node;

typedef struct
{
  RsRTSPSessionDirectory *directory;
  GPtrArray *nodes; /* Node* */
  guint next_node;  /* round robin when the directory cannot answer */
  guint clients;
  guint max_clients;
  guint max_per_address;
  GHashTable *per_address; /* client address -> its connections (GUINT_TO_POINTER) */
  gboolean proxy_protocol; /* tell each node who the client is, in a PROXY v1 line */
  guint64 next_id;
  GMainLoop *loop;
} Router;

typedef struct
{
  Router *router;
  guint64 id;
  GSocketConnection *client;
  GSocketConnection *upstream;
  GByteArray *head; /* what was read before choosing the node */
  gchar *session_id;
  gchar *address; /* the client's, as counted in per_address */
  GCancellable *cancellable;
  guint timeout_source;
  guint attempts; /* nodes tried */
  guint node_index; /* the last one tried */
} Relay;

static Node *next_in_turn (Router *router);
static void route_to (Relay *relay, Node *node, const gchar *why);
static gboolean on_lookup_timeout (gpointer user_data);

static Node *
node_by_name (Router *router, const gchar *name)
{
  for (guint i = 0; name && i < router->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (router->nodes, i);
      if (strcmp (node->name, name) == 0)
        return node;
    }
  return NULL;
}

static void
relay_free (Relay *relay)
{
  Router *router = relay->router;
  router->clients--;
  guint held = GPOINTER_TO_UINT (g_hash_table_lookup (router->per_address, relay->address));
  if (held > 1)
    g_hash_table_insert (router->per_address, g_strdup (relay->address), GUINT_TO_POINTER (held - 1));
  else
    g_hash_table_remove (router->per_address, relay->address);
  g_free (relay->address);
  if (relay->timeout_source)
    g_source_remove (relay->timeout_source);
  g_clear_object (&relay->client);
  g_clear_object (&relay->upstream);
  g_clear_object (&relay->cancellable);
  g_byte_array_unref (relay->head);
  g_free (relay->session_id);
  g_free (relay);
}

static void
relay_fail (Relay *relay, const gchar *why)
{
  g_print ("client %" G_GUINT64_FORMAT ": %s\n", relay->id, why);
  if (relay->client)
    g_io_stream_close (G_IO_STREAM (relay->client), NULL, NULL);
  relay_free (relay);
}

static void
on_spliced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  g_io_stream_splice_finish (result, NULL);
  g_print ("client %" G_GUINT64_FORMAT ": closed\n", relay->id);
  relay_free (relay);
}

static void
on_head_forwarded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  g_autoptr (GError) error = NULL;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      relay_fail (relay, error->message);
      return;
    }
  /* From here on, bytes both ways, untouched, until either side closes. */
  g_io_stream_splice_async (G_IO_STREAM (relay->client), G_IO_STREAM (relay->upstream),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2
                              | G_IO_STREAM_SPLICE_WAIT_FOR_BOTH,
                            G_PRIORITY_DEFAULT, NULL, on_spliced, relay);
}

/* "PROXY TCP4 <client> <node> <client port> <node port>\r\n": how the
 * node learns the client's address (for its per-address limits, session
 * binding and where UDP RTP goes). */
static gchar *
proxy_line (Relay *relay)
{
  g_autoptr (GSocketAddress) from = g_socket_connection_get_remote_address (relay->client, NULL);
  g_autoptr (GSocketAddress) to = g_socket_connection_get_remote_address (relay->upstream, NULL);
  if (!G_IS_INET_SOCKET_ADDRESS (from) || !G_IS_INET_SOCKET_ADDRESS (to))
    return NULL;
  GInetAddress *client = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from));
  GInetAddress *node = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (to));
  g_autoptr (GInetAddress) client4 = NULL;
  /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
  const guint8 *bytes = g_inet_address_to_bytes (client);
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  if (g_inet_address_get_family (client) == G_SOCKET_FAMILY_IPV6 && memcmp (bytes, mapped, 12) == 0)
    client = client4 = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  g_autoptr (GInetAddress) node6 = NULL;
  if (g_inet_address_get_family (client) == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_family (node) == G_SOCKET_FAMILY_IPV4)
    {
      /* An IPv6 client in front of an IPv4 node: the node's address, mapped. */
      guint8 mapped6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
      memcpy (mapped6 + 12, g_inet_address_to_bytes (node), 4);
      node = node6 = g_inet_address_new_from_bytes (mapped6, G_SOCKET_FAMILY_IPV6);
    }
  if (g_inet_address_get_family (client) != g_inet_address_get_family (node))
    return NULL;
  g_autofree gchar *client_text = g_inet_address_to_string (client);
  g_autofree gchar *node_text = g_inet_address_to_string (node);
  return g_strdup_printf ("PROXY %s %s %s %u %u\r\n",
                          g_inet_address_get_family (client) == G_SOCKET_FAMILY_IPV4 ? "TCP4" : "TCP6", client_text,
                          node_text, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)),
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (to)));
}

static void
on_upstream (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  g_autoptr (GError) error = NULL;
  relay->upstream = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (relay->upstream == NULL && relay->session_id == NULL && relay->attempts < relay->router->nodes->len)
    {
      /* A new client: the next node will do (a dead node may still be listed). */
      g_print ("client %" G_GUINT64_FORMAT ": %s; trying the next node\n", relay->id, error->message);
      Router *router = relay->router;
      route_to (relay, g_ptr_array_index (router->nodes, (relay->node_index + 1) % router->nodes->len),
                "new client, retry");
      return;
    }
  if (relay->upstream == NULL)
    {
      /* The client learns it the RTSP way. */
      const gchar *answer = "RTSP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n";
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (relay->client)), answer,
                                 strlen (answer), NULL, NULL, NULL);
      relay_fail (relay, error->message);
      return;
    }
  if (relay->router->proxy_protocol)
    {
      g_autofree gchar *line = proxy_line (relay);
      if (line == NULL)
        {
          relay_fail (relay, "no client or node address for the PROXY line");
          return;
        }
      g_byte_array_prepend (relay->head, (const guint8 *) line, (guint) strlen (line));
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (relay->upstream)), relay->head->data,
                                   relay->head->len, G_PRIORITY_DEFAULT, NULL, on_head_forwarded, relay);
}

static void
route_to (Relay *relay, Node *node, const gchar *why)
{
  relay->attempts++;
  for (guint i = 0; i < relay->router->nodes->len; i++)
    if (g_ptr_array_index (relay->router->nodes, i) == node)
      relay->node_index = i;
  g_print ("client %" G_GUINT64_FORMAT ": %s -> node %s (%s:%u)\n", relay->id, why, node->name, node->host,
           node->port);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_socket_client_connect_to_host_async (client, node->host, node->port, NULL, on_upstream, relay);
}

static Node *
next_in_turn (Router *router)
{
  return g_ptr_array_index (router->nodes, router->next_node++ % router->nodes->len);
}

static void
on_session_found (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  if (relay->timeout_source)
    g_source_remove (relay->timeout_source);
  relay->timeout_source = 0;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *holder = rs_rtsp_session_directory_lookup_finish (RS_RTSP_SESSION_DIRECTORY (source), result,
                                                                      &error);
  g_autofree gchar *why = NULL;
  Node *node = node_by_name (relay->router, holder);
  if (node)
    why = g_strdup_printf ("session %s", relay->session_id);
  else
    {
      /* Unknown or unreachable: any node answers 454 for it. */
      node = g_ptr_array_index (relay->router->nodes, 0);
      why = g_strdup_printf ("session %s (%s)", relay->session_id,
                             error ? error->message : holder ? "held by an unknown node" : "not in the directory");
    }
  route_to (relay, node, why);
}

static void
on_nodes_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  Router *router = relay->router;
  if (relay->timeout_source)
    g_source_remove (relay->timeout_source);
  relay->timeout_source = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) nodes = rs_rtsp_session_directory_list_nodes_finish (RS_RTSP_SESSION_DIRECTORY (source),
                                                                            result, &error);
  Node *best = NULL;
  guint fewest = G_MAXUINT;
  if (nodes)
    {
      GVariantIter iter;
      const gchar *name;
      guint count;
      g_variant_iter_init (&iter, nodes);
      while (g_variant_iter_next (&iter, "{&su}", &name, &count))
        {
          Node *node = node_by_name (router, name);
          if (node && count < fewest)
            {
              best = node;
              fewest = count;
            }
        }
    }
  if (best)
    {
      g_autofree gchar *why = g_strdup_printf ("new client, fewest sessions (%u)", fewest);
      route_to (relay, best, why);
    }
  else
    route_to (relay, next_in_turn (router), error ? "new client, directory unreachable: in turn"
                                                  : "new client, no live node listed: in turn");
}

/* The Session: header of a request head (which @head holds whole: it is
 * cut at its empty line), or NULL. */
static gchar *
session_of_head (gchar *head)
{
  gchar *end = strstr (head, "\r\n\r\n");
  if (end)
    end[2] = '\0'; /* nothing after the head: no body, no next request */
  const gchar *first = strstr (head, "\r\n");
  for (const gchar *line = first ? first + 2 : NULL; line && *line; line = strstr (line, "\r\n"))
    {
      if (line[0] == '\r' && line[1] == '\n')
        line += 2;
      if (g_ascii_strncasecmp (line, "Session:", 8) != 0)
        continue;
      const gchar *end = strstr (line, "\r\n");
      g_autofree gchar *value = g_strndup (line + 8, end ? (gsize) (end - line - 8) : strlen (line + 8));
      gchar *id = NULL;
      if (rs_rtsp_session_header_parse (g_strstrip (value), &id, NULL, NULL))
        return id;
      return NULL;
    }
  return NULL;
}

static void on_head_read (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_more (Relay *relay)
{
  guint old = relay->head->len;
  g_byte_array_set_size (relay->head, old + 4096);
  g_byte_array_set_size (relay->head, old);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (relay->client)), relay->head->data + old,
                             MIN (4096, HEAD_LIMIT - old), G_PRIORITY_DEFAULT, relay->cancellable, on_head_read,
                             relay);
}

static void
on_head_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n <= 0)
    {
      relay_fail (relay, n == 0 ? "closed before its first request" : error->message);
      return;
    }
  relay->head->len += (guint) n;
  /* The head ends at the first empty line; interleaved data cannot come
   * before a first request. */
  g_autofree gchar *text = g_strndup ((const gchar *) relay->head->data, relay->head->len);
  if (strstr (text, "\r\n\r\n") == NULL)
    {
      if (relay->head->len >= HEAD_LIMIT || strlen (text) < relay->head->len)
        relay_fail (relay, "no request head within 16 KiB");
      else
        read_more (relay);
      return;
    }
  g_source_remove (relay->timeout_source);
  /* Redis gets a while to answer; then the client is routed without it. */
  g_clear_object (&relay->cancellable);
  relay->cancellable = g_cancellable_new ();
  relay->timeout_source = g_timeout_add (LOOKUP_TIMEOUT_MS, on_lookup_timeout, relay);
  relay->session_id = session_of_head (text);
  if (relay->session_id)
    rs_rtsp_session_directory_lookup_async (relay->router->directory, relay->session_id, relay->cancellable,
                                            on_session_found, relay);
  else
    rs_rtsp_session_directory_list_nodes_async (relay->router->directory, relay->cancellable, on_nodes_listed,
                                                relay);
}

static gboolean
on_lookup_timeout (gpointer user_data)
{
  Relay *relay = user_data;
  relay->timeout_source = 0;
  g_cancellable_cancel (relay->cancellable); /* the lookup answers at once, cancelled */
  return G_SOURCE_REMOVE;
}

static gboolean
on_head_timeout (gpointer user_data)
{
  Relay *relay = user_data;
  relay->timeout_source = 0;
  g_cancellable_cancel (relay->cancellable); /* the read then fails, and frees the relay */
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  Router *router = user_data;
  if (router->max_clients && router->clients >= router->max_clients)
    {
      const gchar *answer = "RTSP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n";
      g_socket_set_blocking (g_socket_connection_get_socket (connection), FALSE);
      g_socket_send (g_socket_connection_get_socket (connection), answer, strlen (answer), NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  g_autoptr (GSocketAddress) from = g_socket_connection_get_remote_address (connection, NULL);
  gchar *address = G_IS_INET_SOCKET_ADDRESS (from)
                     ? g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)))
                     : g_strdup ("?");
  guint held = GPOINTER_TO_UINT (g_hash_table_lookup (router->per_address, address));
  if (router->max_per_address && held >= router->max_per_address)
    {
      /* One address gets a share of the router, not all of it. */
      const gchar *answer = "RTSP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n";
      g_socket_set_blocking (g_socket_connection_get_socket (connection), FALSE);
      g_socket_send (g_socket_connection_get_socket (connection), answer, strlen (answer), NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      g_free (address);
      return TRUE;
    }
  g_hash_table_insert (router->per_address, g_strdup (address), GUINT_TO_POINTER (held + 1));
  Relay *relay = g_new0 (Relay, 1);
  relay->address = address;
  relay->router = router;
  relay->id = ++router->next_id;
  relay->client = g_object_ref (connection);
  relay->head = g_byte_array_sized_new (4096);
  relay->cancellable = g_cancellable_new ();
  relay->timeout_source = g_timeout_add_seconds (HEAD_TIMEOUT_S, on_head_timeout, relay);
  router->clients++;
  read_more (relay);
  return TRUE;
}

static gboolean
on_quit (gpointer user_data)
{
  g_main_loop_quit (((Router *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

static void
node_free (Node *node)
{
  g_free (node->name);
  g_free (node->host);
  g_free (node);
}

int
main (int argc, char **argv)
{
  gint port = 8554, max_clients = MAX_CLIENTS_DEFAULT, max_per_address = MAX_PER_ADDRESS_DEFAULT;
  gboolean proxy_protocol = FALSE;
  g_autofree gchar *redis_uri = NULL;
  g_auto (GStrv) node_specs = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port to listen on, 0 for any (default 8554)", "PORT" },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &redis_uri, "The session directory's Redis (required)", "URI" },
    { "node", 0, 0, G_OPTION_ARG_STRING_ARRAY, &node_specs, "A node: its name and RTSP address (repeat)",
      "NAME=HOST:PORT" },
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients, "Most client connections at once, 0 = unlimited (1000)",
      "N" },
    { "max-clients-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_address,
      "Most connections from one address at once, 0 = unlimited (64)", "N" },
    { "proxy-protocol", 0, 0, G_OPTION_ARG_NONE, &proxy_protocol,
      "Start each node connection with a PROXY v1 line naming the client (nodes run with --proxy-protocol)", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- route RTSP clients to the node that holds their session");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (redis_uri == NULL || node_specs == NULL || port < 0 || port > 65535 || max_clients < 0)
    {
      g_printerr ("usage: rs-rtsp-router --redis URI --node NAME=HOST:PORT [--node ...] [--port PORT]\n");
      return 2;
    }

  Router router = { 0 };
  router.max_clients = (guint) max_clients;
  router.max_per_address = (guint) MAX (max_per_address, 0);
  router.per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  router.proxy_protocol = proxy_protocol;
  router.nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  for (gchar **spec = node_specs; *spec; spec++)
    {
      const gchar *eq = strchr (*spec, '=');
      const gchar *colon = eq ? strrchr (eq, ':') : NULL;
      gint64 node_port = colon ? g_ascii_strtoll (colon + 1, NULL, 10) : 0;
      if (eq == NULL || colon == NULL || eq == *spec || colon == eq + 1 || node_port < 1 || node_port > 65535)
        {
          g_printerr ("--node %s: not NAME=HOST:PORT\n", *spec);
          return 2;
        }
      Node *node = g_new0 (Node, 1);
      node->name = g_strndup (*spec, (gsize) (eq - *spec));
      node->host = g_strndup (eq + 1, (gsize) (colon - eq - 1));
      node->port = (guint16) node_port;
      g_ptr_array_add (router.nodes, node);
    }
  router.directory = rs_rtsp_session_directory_new (redis_uri, &error);
  if (router.directory == NULL)
    {
      g_printerr ("--redis: %s\n", error->message);
      return 2;
    }

  router.loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), 128);
  guint16 bound = (guint16) port;
  if (port == 0)
    bound = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  else if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), (guint16) port, NULL, &error))
    bound = 0;
  if (bound == 0)
    {
      g_printerr ("cannot listen on port %d: %s\n", port, error->message);
      return 1;
    }
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), &router);
  g_socket_service_start (service);
  g_unix_signal_add (SIGINT, on_quit, &router);
  g_unix_signal_add (SIGTERM, on_quit, &router);

  g_print ("rs-rtsp-router: rtsp://127.0.0.1:%u/ -> %u nodes, directory %s\n", bound, router.nodes->len, redis_uri);
  g_main_loop_run (router.loop);

  g_socket_service_stop (service);
  g_main_loop_unref (router.loop);
  g_object_unref (router.directory);
  g_ptr_array_unref (router.nodes);
  return 0;
}
