// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-session.h"

#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hh"
#include "core/media-registry.hh"
#include "core/session-header.hh"
#include "core/session.hh"
#include "rs-cxx-private.hh"
#include "rs-object-ref.hh"
#include "rs-rtsp-session-private.hh"

/**
 * RsRTSPSession:
 *
 * An RTSP session (RFC 2326 §3, RFC 7826 §4.3): the state a server keeps for
 * one client between its requests, named by the session id in the `Session:`
 * header.
 *
 * A session knows when it expires — #RsRTSPSession:timeout seconds plus
 * #RsRTSPSession:extra-timeout seconds of grace after its last
 * rs_rtsp_session_touch() — and holds the medias the client set up, each as
 * an #RsRTSPSessionMedia found again by request path with
 * rs_rtsp_session_get_media().
 *
 * All methods may be called from any thread. rs_rtsp_session_touch() takes no
 * lock at all.
 *
 * Since: 1.0
 */

namespace {

using MediaHandle = rs::glib::ObjectRef<RsRTSPSessionMedia>;
using MediaRegistry = rs::core::MediaRegistry<MediaHandle>;

// The session's medias, attached to the core session on the first
// manage_media(): most sessions of a pool that is only being measured never
// have one, and a pool holds a million sessions.
struct SessionMedias : rs::core::Session::Attachment
{
  MediaRegistry registry;  // has its own leaf lock
};

// Kept small, since a pool may hold a million sessions: the core session
// alone.
struct RsRTSPSessionPrivate
{
  rs::core::Session core;

  MediaRegistry *
  media_registry (bool create)
  {
    auto *medias = static_cast<SessionMedias *> (core.attachment ());
    if (medias == nullptr && create)
      medias = static_cast<SessionMedias *> (core.attach (std::make_unique<SessionMedias> ()));
    return medias ? &medias->registry : nullptr;
  }
};

enum
{
  PROP_0,
  PROP_SESSIONID,
  PROP_TIMEOUT,
  PROP_TIMEOUT_ALWAYS_VISIBLE,
  PROP_EXTRA_TIMEOUT,
  PROP_OWNER,
  N_PROPS
};

GParamSpec *properties[N_PROPS];

}  // namespace

RS_DEFINE_TYPE_WITH_CXX_PRIVATE (RsRTSPSession, rs_rtsp_session, G_TYPE_OBJECT, RsRTSPSessionPrivate)

rs::core::Session *
rs_rtsp_session_get_core (RsRTSPSession *session) noexcept
{
  return &get_priv (session).core;
}

RsRTSPSession *
rs_rtsp_session_from_core (rs::core::Session *core) noexcept
{
  // The core is the only member of the private data, at its start.
  return rs_rtsp_session_from_priv (reinterpret_cast<RsRTSPSessionPrivate *> (core));
}

RsRTSPSession *
rs_rtsp_session_new_with_type (GType type, const gchar *sessionid) noexcept
{
  auto *session = static_cast<RsRTSPSession *> (g_object_new (type, nullptr));
  // Construct-only and not yet shared: set directly, skipping the property
  // machinery, which is most of the cost of a new session.
  get_priv (session).core.set_id (sessionid);
  return session;
}

static void
rs_rtsp_session_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  auto &priv = get_priv (RS_RTSP_SESSION (object));

  switch (prop_id)
    {
    case PROP_SESSIONID:
      g_value_set_string (value, priv.core.id_c_str ());
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, priv.core.expiry ().timeout ());
      break;
    case PROP_TIMEOUT_ALWAYS_VISIBLE:
      g_value_set_boolean (value, priv.core.timeout_always_visible ());
      break;
    case PROP_EXTRA_TIMEOUT:
      g_value_set_uint (value, priv.core.expiry ().extra_timeout ());
      break;
    case PROP_OWNER:
      {
        auto owner = priv.core.owner ();
        g_value_set_string (value, owner ? owner->c_str () : nullptr);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  auto *self = RS_RTSP_SESSION (object);
  auto &priv = get_priv (self);

  switch (prop_id)
    {
    case PROP_SESSIONID:
      {
        const gchar *id = g_value_get_string (value);
        priv.core.set_id (id ? std::optional<std::string_view> (id) : std::nullopt);
      }
      break;
    case PROP_TIMEOUT:
      rs_rtsp_session_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_TIMEOUT_ALWAYS_VISIBLE:
      if (priv.core.set_timeout_always_visible (g_value_get_boolean (value)))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_EXTRA_TIMEOUT:
      if (priv.core.set_extra_timeout (g_value_get_uint (value)))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_OWNER:
      {
        const gchar *owner = g_value_get_string (value);
        if (priv.core.set_owner (owner ? std::optional<std::string_view> (owner) : std::nullopt))
          g_object_notify_by_pspec (object, pspec);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rs_rtsp_session_class_init (RsRTSPSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = rs_rtsp_session_finalize;
  object_class->get_property = rs_rtsp_session_get_property;
  object_class->set_property = rs_rtsp_session_set_property;

  /**
   * RsRTSPSession:sessionid:
   *
   * The session id, as sent in the `Session:` header. Set once, at
   * construction.
   *
   * Since: 1.0
   */
  properties[PROP_SESSIONID] =
      g_param_spec_string ("sessionid", nullptr, nullptr, nullptr,
                           GParamFlags (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * RsRTSPSession:timeout:
   *
   * Seconds without a request after which the session expires, as told to
   * the client in the `Session:` header; 0 means it never expires.
   *
   * Since: 1.0
   */
  properties[PROP_TIMEOUT] =
      g_param_spec_uint ("timeout", nullptr, nullptr, 0, G_MAXUINT, rs::core::Expiry::kDefaultTimeout,
                         GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * RsRTSPSession:timeout-always-visible:
   *
   * Whether rs_rtsp_session_get_header() shows the timeout even when it is
   * RTSP's default of 60 seconds.
   *
   * Since: 1.0
   */
  properties[PROP_TIMEOUT_ALWAYS_VISIBLE] =
      g_param_spec_boolean ("timeout-always-visible", nullptr, nullptr, FALSE,
                            GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * RsRTSPSession:extra-timeout:
   *
   * Seconds of grace added to #RsRTSPSession:timeout before the session
   * really expires, for clients whose keep-alives arrive a little late. It
   * is never shown to the client.
   *
   * Since: 1.0
   */
  properties[PROP_EXTRA_TIMEOUT] =
      g_param_spec_uint ("extra-timeout", nullptr, nullptr, 0, G_MAXUINT, rs::core::Expiry::kDefaultExtraTimeout,
                         GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * RsRTSPSession:owner:
   *
   * Who the session belongs to: the authenticated user, or an id of the
   * connection that made it. rs_rtsp_session_pool_find_owned() finds the
   * session only for the same owner, so that a session id seen by someone
   * else (RFC 2326 §16.1, RFC 7826 §4.3) cannot take it over. %NULL, the
   * default, is an owner like any other.
   *
   * Since: 1.0
   */
  properties[PROP_OWNER] =
      g_param_spec_string ("owner", nullptr, nullptr, nullptr,
                           GParamFlags (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/**
 * rs_rtsp_session_new:
 * @sessionid: the session id
 *
 * Makes a session with the id @sessionid, counted as touched now. Servers
 * usually get sessions from an #RsRTSPSessionPool instead, which makes
 * unguessable ids.
 *
 * Returns: (transfer full): a new #RsRTSPSession
 *
 * Since: 1.0
 */
RsRTSPSession *
rs_rtsp_session_new (const gchar *sessionid) noexcept
{
  g_return_val_if_fail (sessionid != nullptr, nullptr);
  return rs_rtsp_session_new_with_type (RS_TYPE_RTSP_SESSION, sessionid);
}

/**
 * rs_rtsp_session_get_sessionid:
 * @session: a #RsRTSPSession
 *
 * The session id.
 *
 * Returns: (transfer none) (nullable): the session id, owned by @session;
 *   %NULL for a session constructed without one
 *
 * Since: 1.0
 */
const gchar *
rs_rtsp_session_get_sessionid (RsRTSPSession *session) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), nullptr);
  return get_priv (session).core.id_c_str ();
}

/**
 * rs_rtsp_session_id_is_valid:
 * @sessionid: (nullable): a session id, for example from a request
 *
 * Whether @sessionid is a valid RTSP session id: 1 to 256 characters of
 * `A-Z a-z 0-9 $ - _ . +` (RFC 7826 §20.2.3). It reads at most 257 bytes of
 * @sessionid, however long it is, so it is safe on hostile input.
 *
 * Returns: %TRUE when @sessionid is valid; %FALSE for %NULL
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_id_is_valid (const gchar *sessionid) noexcept
{
  return rs::core::is_valid_session_id (sessionid);
}

/**
 * rs_rtsp_session_header_parse:
 * @value: the value of a `Session:` header, such as `abc123;timeout=30`
 * @sessionid: (out) (transfer full) (optional): the session id
 * @timeout: (out) (optional): the timeout in seconds; 60 when the header
 *   does not give one
 * @error: return location for a #GError in the %RS_RTSP_SESSION_ERROR domain
 *
 * Parses the value of a `Session:` header from a request or response. It is
 * lenient where real clients are sloppy — white space around the value and
 * around `;` and `=`, parameter names in any case, unknown or empty
 * parameters — and strict where it matters: the id's characters and length
 * (see rs_rtsp_session_id_is_valid()), nothing but parameters after the id,
 * and a timeout of digits that fits in a #guint, given at most once.
 *
 * Returns: %TRUE when @value is valid; %FALSE with @error set otherwise
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_header_parse (const gchar *value, gchar **sessionid, guint *timeout, GError **error) noexcept
{
  g_return_val_if_fail (value != nullptr, FALSE);
  g_return_val_if_fail (error == nullptr || *error == nullptr, FALSE);

  const auto parsed = rs::core::parse_session_header (value);
  switch (parsed.error)
    {
    case rs::core::HeaderError::None:
      break;
    case rs::core::HeaderError::InvalidId:
      g_set_error (error, RS_RTSP_SESSION_ERROR, RS_RTSP_SESSION_ERROR_INVALID_ID,
                   "Invalid session id in Session header (at byte %" G_GSIZE_FORMAT ")", parsed.error_offset);
      return FALSE;
    case rs::core::HeaderError::InvalidTimeout:
      g_set_error (error, RS_RTSP_SESSION_ERROR, RS_RTSP_SESSION_ERROR_INVALID_TIMEOUT,
                   "Invalid timeout in Session header (at byte %" G_GSIZE_FORMAT ")", parsed.error_offset);
      return FALSE;
    case rs::core::HeaderError::Malformed:
      g_set_error (error, RS_RTSP_SESSION_ERROR, RS_RTSP_SESSION_ERROR_MALFORMED,
                   "Malformed Session header (at byte %" G_GSIZE_FORMAT ")", parsed.error_offset);
      return FALSE;
    }
  if (sessionid != nullptr)
    *sessionid = g_strndup (parsed.id.data (), parsed.id.size ());
  if (timeout != nullptr)
    *timeout = parsed.timeout;
  return TRUE;
}

/**
 * rs_rtsp_session_get_header:
 * @session: a #RsRTSPSession
 *
 * The value for the `Session:` header of a response: the session id,
 * followed by `;timeout=` and the timeout in seconds when the timeout is not
 * the default of 60 or #RsRTSPSession:timeout-always-visible is set.
 *
 * Returns: (transfer full) (nullable): the header value, to free with
 *   g_free(); %NULL for a session without an id
 *
 * Since: 1.0
 */
gchar *
rs_rtsp_session_get_header (RsRTSPSession *session) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), nullptr);
  auto header = get_priv (session).core.header ();
  return header ? g_strndup (header->data (), header->size ()) : nullptr;
}

/**
 * rs_rtsp_session_set_timeout:
 * @session: a #RsRTSPSession
 * @timeout: the timeout in seconds; 0 for a session that never expires
 *
 * Sets #RsRTSPSession:timeout.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_set_timeout (RsRTSPSession *session, guint timeout) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION (session));
  if (get_priv (session).core.set_timeout (timeout))
    g_object_notify_by_pspec (G_OBJECT (session), properties[PROP_TIMEOUT]);
}

/**
 * rs_rtsp_session_get_timeout:
 * @session: a #RsRTSPSession
 *
 * Gets #RsRTSPSession:timeout.
 *
 * Returns: the timeout in seconds; 0 when the session never expires
 *
 * Since: 1.0
 */
guint
rs_rtsp_session_get_timeout (RsRTSPSession *session) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), 0);
  return get_priv (session).core.expiry ().timeout ();
}

/**
 * rs_rtsp_session_touch:
 * @session: a #RsRTSPSession
 *
 * Counts the session as used now, postponing its expiry. Call it for every
 * request in the session and every RTCP packet from its client; it takes no
 * lock.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_touch (RsRTSPSession *session) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION (session));
  get_priv (session).core.touch ();
}

/**
 * rs_rtsp_session_prevent_expire:
 * @session: a #RsRTSPSession
 *
 * Keeps the session from expiring until a matching
 * rs_rtsp_session_allow_expire(), for example while a request is being
 * handled. Calls nest.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_prevent_expire (RsRTSPSession *session) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION (session));
  get_priv (session).core.prevent_expire ();
}

/**
 * rs_rtsp_session_allow_expire:
 * @session: a #RsRTSPSession
 *
 * Undoes one rs_rtsp_session_prevent_expire(). When the last one is undone,
 * the session counts as touched at that moment. Calling it without a
 * matching rs_rtsp_session_prevent_expire() is a programmer error.
 *
 * Since: 1.0
 */
void
rs_rtsp_session_allow_expire (RsRTSPSession *session) noexcept
{
  g_return_if_fail (RS_IS_RTSP_SESSION (session));
  if (!get_priv (session).core.allow_expire ())
    g_critical ("rs_rtsp_session_allow_expire: called without a matching rs_rtsp_session_prevent_expire() "
                "on session %s",
                rs_rtsp_session_get_sessionid (session) ? rs_rtsp_session_get_sessionid (session) : "(no id)");
}

/**
 * rs_rtsp_session_next_timeout_usec:
 * @session: a #RsRTSPSession
 * @now: the current monotonic time, as from g_get_monotonic_time()
 *
 * How long until the session expires: its last access plus
 * #RsRTSPSession:timeout and #RsRTSPSession:extra-timeout, minus @now. While
 * expiry is prevented this is the whole timeout plus extra timeout.
 *
 * Returns: the milliseconds until expiry, 0 when it has expired, at most
 *   %G_MAXINT; -1 when the timeout is 0 and the session never expires
 *
 * Since: 1.0
 */
gint
rs_rtsp_session_next_timeout_usec (RsRTSPSession *session, gint64 now) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), -1);
  return get_priv (session).core.expiry ().next_timeout_ms (now);
}

/**
 * rs_rtsp_session_is_expired_usec:
 * @session: a #RsRTSPSession
 * @now: the current monotonic time, as from g_get_monotonic_time()
 *
 * Whether the session has expired at @now, that is whether
 * rs_rtsp_session_next_timeout_usec() returns 0.
 *
 * Returns: %TRUE when the session has expired
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_is_expired_usec (RsRTSPSession *session, gint64 now) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), FALSE);
  return get_priv (session).core.expiry ().next_timeout_ms (now) == 0;
}

G_GNUC_BEGIN_IGNORE_DEPRECATIONS

static rs::core::Micros
timeval_to_micros (const GTimeVal *time) noexcept
{
  gint64 micros;
  if (__builtin_mul_overflow (static_cast<gint64> (time->tv_sec), G_USEC_PER_SEC, &micros))
    return time->tv_sec > 0 ? G_MAXINT64 : G_MININT64;
  return rs::core::saturating_add (micros, time->tv_usec);
}

/**
 * rs_rtsp_session_next_timeout:
 * @session: a #RsRTSPSession
 * @now: the current wall-clock time
 *
 * Like rs_rtsp_session_next_timeout_usec(), against the wall clock.
 *
 * Returns: the milliseconds until expiry, 0 when it has expired; -1 when the
 *   session never expires
 *
 * Since: 1.0
 *
 * Deprecated: 1.0: #GTimeVal is not year-2038-safe, and the wall clock jumps.
 *   Use rs_rtsp_session_next_timeout_usec().
 */
gint
rs_rtsp_session_next_timeout (RsRTSPSession *session, GTimeVal *now) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), -1);
  g_return_val_if_fail (now != nullptr, -1);
  return get_priv (session).core.expiry ().next_timeout_ms_real (timeval_to_micros (now));
}

/**
 * rs_rtsp_session_is_expired:
 * @session: a #RsRTSPSession
 * @now: the current wall-clock time
 *
 * Whether rs_rtsp_session_next_timeout() returns 0 at @now.
 *
 * Returns: %TRUE when the session has expired
 *
 * Since: 1.0
 *
 * Deprecated: 1.0: Use rs_rtsp_session_is_expired_usec().
 */
gboolean
rs_rtsp_session_is_expired (RsRTSPSession *session, GTimeVal *now) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (session), FALSE);
  g_return_val_if_fail (now != nullptr, FALSE);
  return get_priv (session).core.expiry ().next_timeout_ms_real (timeval_to_micros (now)) == 0;
}

G_GNUC_END_IGNORE_DEPRECATIONS

/**
 * rs_rtsp_session_manage_media:
 * @sess: a #RsRTSPSession
 * @path: the path @media was set up for
 * @media: (transfer full): the media; any #GObject
 *
 * Adds @media to the session, to be found again for @path and the paths
 * below it.
 *
 * Returns: (transfer none): the new session media, owned by @sess
 *
 * Since: 1.0
 */
RsRTSPSessionMedia *
rs_rtsp_session_manage_media (RsRTSPSession *sess, const gchar *path, GObject *media) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), nullptr);
  g_return_val_if_fail (path != nullptr, nullptr);
  g_return_val_if_fail (G_IS_OBJECT (media), nullptr);

  auto handle = MediaHandle::adopt (rs_rtsp_session_media_new (path, media));
  RsRTSPSessionMedia *session_media = handle.get ();
  get_priv (sess).media_registry (true)->add (path, std::move (handle));
  return session_media;
}

/**
 * rs_rtsp_session_release_media:
 * @sess: a #RsRTSPSession
 * @media: (transfer none): a session media of @sess
 *
 * Removes @media from the session and drops the session's reference to it.
 *
 * Returns: %TRUE when the session still has medias afterwards (also when
 *   @media was not one of them)
 *
 * Since: 1.0
 */
gboolean
rs_rtsp_session_release_media (RsRTSPSession *sess, RsRTSPSessionMedia *media) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), FALSE);
  g_return_val_if_fail (RS_IS_RTSP_SESSION_MEDIA (media), FALSE);

  MediaRegistry *registry = get_priv (sess).media_registry (false);
  if (registry == nullptr)
    return FALSE;
  // The removed handle, if any, is dropped here, after the lock is released.
  return registry->remove (media).second;
}

static MediaHandle
lookup_media (RsRTSPSession *sess, const gchar *path, gint *matched) noexcept
{
  MediaRegistry *registry = get_priv (sess).media_registry (false);
  auto match = registry ? registry->best_match (path) : MediaRegistry::Match{};
  if (matched != nullptr)
    *matched = static_cast<gint> (std::min<std::size_t> (match.matched, std::numeric_limits<gint>::max ()));
  return std::move (match.media);
}

/**
 * rs_rtsp_session_get_media:
 * @sess: a #RsRTSPSession
 * @path: a request path
 * @matched: (out) (optional): how many characters of @path the found media's
 *   path covers; 0 when nothing was found
 *
 * Finds the media of the session that @path belongs to: the one whose path
 * covers the longest part of @path (see rs_rtsp_session_media_matches()), on
 * a tie the one managed last.
 *
 * Returns: (transfer none) (nullable): the session media, owned by @sess
 *
 * Since: 1.0
 */
RsRTSPSessionMedia *
rs_rtsp_session_get_media (RsRTSPSession *sess, const gchar *path, gint *matched) noexcept
{
  if (matched != nullptr)
    *matched = 0;
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), nullptr);
  g_return_val_if_fail (path != nullptr, nullptr);

  // The session keeps its own reference, so the pointer stays valid after
  // the handle is dropped, until the media is released.
  return lookup_media (sess, path, matched).get ();
}

/**
 * rs_rtsp_session_dup_media:
 * @sess: a #RsRTSPSession
 * @path: a request path
 * @matched: (out) (optional): how many characters of @path the found media's
 *   path covers; 0 when nothing was found
 *
 * Like rs_rtsp_session_get_media(), but returns a new reference, which
 * stays valid if another thread releases the media meanwhile.
 *
 * Returns: (transfer full) (nullable): the session media
 *
 * Since: 1.0
 */
RsRTSPSessionMedia *
rs_rtsp_session_dup_media (RsRTSPSession *sess, const gchar *path, gint *matched) noexcept
{
  if (matched != nullptr)
    *matched = 0;
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), nullptr);
  g_return_val_if_fail (path != nullptr, nullptr);

  return lookup_media (sess, path, matched).release ();
}

/**
 * rs_rtsp_session_filter:
 * @sess: a #RsRTSPSession
 * @func: (scope call) (nullable): what to do with each media
 * @user_data: (closure): data for @func
 *
 * Calls @func for each media of the session, newest first, and removes,
 * keeps or collects the media as @func answers (see #RsRTSPFilterResult).
 * @func is called with no lock held and may call any method of @sess; each
 * media is shown to it once, medias it adds are shown too, and medias it
 * releases before their turn are not.
 *
 * A %NULL @func collects every media.
 *
 * Returns: (element-type RsRTSPSessionMedia) (transfer full): the medias
 *   answered with %RS_RTSP_FILTER_REF, the last one visited first
 *
 * Since: 1.0
 */
GList *
rs_rtsp_session_filter (RsRTSPSession *sess, RsRTSPSessionFilterFunc func, gpointer user_data) noexcept
{
  g_return_val_if_fail (RS_IS_RTSP_SESSION (sess), nullptr);

  MediaRegistry *registry = get_priv (sess).media_registry (false);
  if (registry == nullptr)
    return nullptr;
  // The callback may drop the caller's last reference to the session.
  rs::glib::ObjectRef<RsRTSPSession> keep_alive = rs::glib::ObjectRef<RsRTSPSession>::take_ref (sess);
  GList *result = nullptr;
  registry->filter (
      [&] (const MediaHandle &media) {
        return func ? rs_filter_decision (func (sess, media.get (), user_data)) : rs::core::FilterDecision::Ref;
      },
      [&] (const MediaHandle &media) { result = g_list_prepend (result, g_object_ref (media.get ())); });
  return result;
}
