/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ExToneStream: a sine tone as RTP PCMU, over UDP or interleaved TCP.
 */
#include "tone-stream.h"

#include <math.h>
#include <string.h>

#define PACKET_USEC (G_USEC_PER_SEC * EX_TONE_PACKET_SAMPLES / EX_TONE_CLOCK_RATE)
#define RTP_HEADER_SIZE 12
#define RTP_PACKET_SIZE (RTP_HEADER_SIZE + EX_TONE_PACKET_SAMPLES)
#define MAX_BURST 10                           /* packets sent at once to catch up */
#define PACKETS_PER_SECOND (EX_TONE_CLOCK_RATE / EX_TONE_PACKET_SAMPLES)
#define TICK_MS 10
/* The share of each tick that streaming may take: the rest of the main loop
 * (requests, accepts, expiry, signals) always gets the remainder. Streams
 * that do not fit skip what is late, as after any stall. */
#define TICK_BUDGET_USEC 6000
#define OVERRUN_LOG_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#define RTCP_SR_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#define TONE_AMPLITUDE 9830.0                  /* about -10 dBFS */
#define CNAME "rs-example-server"

struct _ExToneStream
{
  GObject parent_instance;

  GWeakRef session;
  guint frequency;
  gboolean stopped;
  gboolean playing;
  gboolean holding;     /* the session's expiry is prevented: playing over TCP */

  /* RTP state */
  guint32 ssrc;
  guint16 seq;
  guint32 ts_base;
  gint64 epoch;         /* monotonic time of packet index 0 */
  gint64 next_index;    /* index of the next packet, counted from epoch */
  gboolean marker;
  guint64 packets_sent;
  guint64 octets_sent;
  gint64 next_sr_time;
  guint slot; /* 1 + index in the scheduler while playing, else 0 */
  const guint8 *payloads; /* the tone's packets for one second */

  /* UDP transport */
  GSocket *rtp_socket;
  GSocket *rtcp_socket;
  GSource *rtcp_source;
  GSocketAddress *client_rtp;
  GSocketAddress *client_rtcp;
  GInetAddress *client_address;
  guint16 server_port;

  /* TCP transport */
  gboolean tcp;
  guint8 rtp_channel;
  guint8 rtcp_channel;
  ExInterleavedSink sink;
  gpointer sink_data;
  GDestroyNotify sink_data_free;
};

enum
{
  SIGNAL_RTCP_RECEIVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* One scheduler for every playing stream: a single timer at the default
 * priority, with a time budget per tick, instead of a timer per stream.
 * However many streams play, control traffic is dispatched between ticks. */
typedef struct
{
  GPtrArray *playing; /* ExToneStream*, not references: streams leave in pause and stop */
  guint cursor;       /* where the next tick starts, so that no stream is always last */
  GSource *timer;
  guint64 overruns;
  guint64 overruns_logged;
  gint64 last_overrun_log;
} Scheduler;

static Scheduler scheduler;

G_DEFINE_FINAL_TYPE (ExToneStream, ex_tone_stream, G_TYPE_OBJECT)

/* G.711 µ-law, from a 16-bit linear sample. */
static guint8
linear_to_ulaw (gint pcm)
{
  const gint bias = 0x84, clip = 32635;
  gint sign = 0;
  if (pcm < 0)
    {
      sign = 0x80;
      pcm = -pcm;
    }
  if (pcm > clip)
    pcm = clip;
  pcm += bias;
  gint exponent = 7;
  for (gint mask = 0x4000; !(pcm & mask) && exponent > 0; mask >>= 1)
    exponent--;
  gint mantissa = (pcm >> (exponent + 3)) & 0x0f;
  return (guint8) ~(sign | (exponent << 4) | mantissa);
}

/* While it plays over TCP, the stream keeps its session from expiring, as
 * GStreamer's server does: the RTSP connection is alive for as long as the
 * client is, and clients send keep-alives rarely on it (rtspsrc counts
 * its RTCP as one). The session still goes when the connection closes. */
static void
hold_session (ExToneStream *self, gboolean hold)
{
  if (self->holding == hold)
    return;
  self->holding = hold;
  RsRTSPSession *session = g_weak_ref_get (&self->session);
  if (session == NULL)
    return;
  if (hold)
    rs_rtsp_session_prevent_expire (session);
  else
    rs_rtsp_session_allow_expire (session);
  g_object_unref (session);
}

static void
clear_transport (ExToneStream *self)
{
  hold_session (self, FALSE);
  if (self->rtcp_source)
    {
      g_source_destroy (self->rtcp_source);
      g_clear_pointer (&self->rtcp_source, g_source_unref);
    }
  if (self->rtp_socket)
    g_socket_close (self->rtp_socket, NULL);
  if (self->rtcp_socket)
    g_socket_close (self->rtcp_socket, NULL);
  g_clear_object (&self->rtp_socket);
  g_clear_object (&self->rtcp_socket);
  g_clear_object (&self->client_rtp);
  g_clear_object (&self->client_rtcp);
  g_clear_object (&self->client_address);
  self->server_port = 0;

  self->tcp = FALSE;
  self->sink = NULL;
  gpointer data = self->sink_data;
  GDestroyNotify free_data = self->sink_data_free;
  self->sink_data = NULL;
  self->sink_data_free = NULL;
  if (free_data)
    free_data (data);
}

static gboolean on_scheduler_tick (gpointer user_data);

static void
schedule (ExToneStream *self)
{
  if (self->slot)
    return;
  if (scheduler.playing == NULL)
    scheduler.playing = g_ptr_array_new ();
  g_ptr_array_add (scheduler.playing, self);
  self->slot = scheduler.playing->len;
  if (scheduler.timer == NULL)
    {
      scheduler.timer = g_timeout_source_new (TICK_MS);
      g_source_set_callback (scheduler.timer, on_scheduler_tick, NULL, NULL);
      g_source_attach (scheduler.timer, NULL);
    }
}

/* O(1): the last stream takes the leaving one's place. */
static void
unschedule (ExToneStream *self)
{
  if (!self->slot)
    return;
  guint index = self->slot - 1;
  g_ptr_array_remove_index_fast (scheduler.playing, index);
  if (index < scheduler.playing->len)
    ((ExToneStream *) g_ptr_array_index (scheduler.playing, index))->slot = index + 1;
  self->slot = 0;
  if (scheduler.playing->len == 0 && scheduler.timer)
    {
      g_source_destroy (scheduler.timer);
      g_clear_pointer (&scheduler.timer, g_source_unref);
    }
}

/* Sends one packet: over UDP to the client's port, or framed on the RTSP
 * connection with the channel of @rtcp or RTP. */
static void
send_packet (ExToneStream *self, const guint8 *data, gsize size, gboolean rtcp)
{
  if (self->tcp)
    {
      if (self->sink == NULL || size > G_MAXUINT16)
        return;
      guint8 *frame = g_malloc (size + 4);
      frame[0] = '$';
      frame[1] = rtcp ? self->rtcp_channel : self->rtp_channel;
      frame[2] = (guint8) (size >> 8);
      frame[3] = (guint8) size;
      memcpy (frame + 4, data, size);
      /* RTP may be dropped by a congested connection; RTCP is rare and small. */
      self->sink (frame, size + 4, !rtcp, self->sink_data);
      g_free (frame);
      return;
    }
  GSocket *socket = rtcp ? self->rtcp_socket : self->rtp_socket;
  GSocketAddress *to = rtcp ? self->client_rtcp : self->client_rtp;
  if (socket == NULL || to == NULL)
    return;
  /* A full socket buffer or an ICMP error from the client: drop the packet. */
  g_socket_send_to (socket, to, (const gchar *) data, size, NULL, NULL);
}

static guint32
rtptime_of_index (ExToneStream *self, gint64 index)
{
  return self->ts_base + (guint32) ((guint64) index * EX_TONE_PACKET_SAMPLES);
}

static void
send_rtp (ExToneStream *self, gint64 index)
{
  guint8 packet[RTP_PACKET_SIZE];
  guint32 ts = rtptime_of_index (self, index);

  packet[0] = 0x80; /* V=2, no padding, extension or CSRCs */
  packet[1] = (self->marker ? 0x80 : 0x00) | EX_TONE_PAYLOAD_TYPE;
  packet[2] = (guint8) (self->seq >> 8);
  packet[3] = (guint8) self->seq;
  packet[4] = (guint8) (ts >> 24);
  packet[5] = (guint8) (ts >> 16);
  packet[6] = (guint8) (ts >> 8);
  packet[7] = (guint8) ts;
  packet[8] = (guint8) (self->ssrc >> 24);
  packet[9] = (guint8) (self->ssrc >> 16);
  packet[10] = (guint8) (self->ssrc >> 8);
  packet[11] = (guint8) self->ssrc;

  memcpy (packet + RTP_HEADER_SIZE, self->payloads + (index % PACKETS_PER_SECOND) * EX_TONE_PACKET_SAMPLES,
          EX_TONE_PACKET_SAMPLES);

  send_packet (self, packet, sizeof packet, FALSE);
  self->marker = FALSE;
  self->seq++;
  self->packets_sent++;
  self->octets_sent += EX_TONE_PACKET_SAMPLES;
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* A compound RTCP packet: sender report and SDES with our CNAME. */
static void
send_rtcp_sr (ExToneStream *self, gint64 now)
{
  guint8 packet[28 + 28];
  memset (packet, 0, sizeof packet);

  gint64 real = g_get_real_time ();
  guint64 ntp_seconds = (guint64) (real / G_USEC_PER_SEC) + G_GUINT64_CONSTANT (2208988800);
  guint64 ntp_fraction = ((guint64) (real % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;
  guint32 rtptime =
      self->ts_base + (guint32) ((guint64) (now - self->epoch) * EX_TONE_CLOCK_RATE / G_USEC_PER_SEC);

  packet[0] = 0x80;
  packet[1] = 200; /* SR */
  packet[3] = 6;   /* 7 words */
  put_be32 (packet + 4, self->ssrc);
  put_be32 (packet + 8, (guint32) ntp_seconds);
  put_be32 (packet + 12, (guint32) ntp_fraction);
  put_be32 (packet + 16, rtptime);
  put_be32 (packet + 20, (guint32) self->packets_sent);
  put_be32 (packet + 24, (guint32) self->octets_sent);

  guint8 *sdes = packet + 28;
  sdes[0] = 0x81; /* one chunk */
  sdes[1] = 202;  /* SDES */
  sdes[3] = 6;
  put_be32 (sdes + 4, self->ssrc);
  sdes[8] = 1; /* CNAME */
  sdes[9] = sizeof CNAME - 1;
  memcpy (sdes + 10, CNAME, sizeof CNAME - 1);
  /* The rest is zero: the END item and padding to 32 bits. */

  send_packet (self, packet, sizeof packet, TRUE);
}

/* The tone has a whole number of periods per second, so one second of
 * packets, computed once per frequency, serves every stream of it. */
static const guint8 *
tone_payloads (guint frequency)
{
  static GHashTable *tones; /* frequency -> one second of µ-law samples */
  if (tones == NULL)
    tones = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint8 *samples = g_hash_table_lookup (tones, GUINT_TO_POINTER (frequency));
  if (samples)
    return samples;
  samples = g_malloc (EX_TONE_CLOCK_RATE);
  for (guint n = 0; n < EX_TONE_CLOCK_RATE; n++)
    {
      gdouble v = TONE_AMPLITUDE * sin (2.0 * G_PI * frequency * (gdouble) n / EX_TONE_CLOCK_RATE);
      samples[n] = linear_to_ulaw ((gint) lround (v));
    }
  g_hash_table_insert (tones, GUINT_TO_POINTER (frequency), samples);
  return samples;
}

/* Sends what is due of one stream. */
static void
stream_tick (ExToneStream *self, gint64 now)
{

  gint burst = 0;
  while (self->playing && self->epoch + self->next_index * PACKET_USEC <= now && burst < MAX_BURST)
    {
      send_rtp (self, self->next_index);
      self->next_index++;
      burst++;
    }
  /* Far behind (a stalled main loop): skip what is too late to be useful,
   * keeping the timestamps on the real-time clock. */
  gint64 due = (now - self->epoch) / PACKET_USEC;
  if (self->next_index < due - MAX_BURST)
    self->next_index = due;

  if (self->playing && now >= self->next_sr_time && self->packets_sent > 0)
    {
      send_rtcp_sr (self, now);
      self->next_sr_time = now + RTCP_SR_INTERVAL_USEC;
    }
}

static gboolean
on_scheduler_tick (gpointer user_data)
{
  gint64 start = g_get_monotonic_time (), now = start;
  guint n = scheduler.playing->len;
  if (scheduler.cursor >= n)
    scheduler.cursor = 0;
  guint done = 0;
  /* Sending never removes a stream from the array (a failing connection
   * closes later, from the main loop), so the walk is over a stable array. */
  for (; done < n; done++)
    {
      guint index = (scheduler.cursor + done) % n;
      stream_tick (g_ptr_array_index (scheduler.playing, index), now);
      if ((done & 15) == 15)
        {
          now = g_get_monotonic_time ();
          if (now - start > TICK_BUDGET_USEC)
            {
              done++;
              break;
            }
        }
    }
  scheduler.cursor = (scheduler.cursor + done) % MAX (n, 1);
  if (done < n)
    {
      scheduler.overruns++;
      if (now - scheduler.last_overrun_log >= OVERRUN_LOG_INTERVAL_USEC || scheduler.last_overrun_log == 0)
        {
          g_print ("limit: streaming over its budget of %d ms per %d ms tick: %u of %u streams late, skipping "
                   "packets (%" G_GUINT64_FORMAT " ticks)\n",
                   TICK_BUDGET_USEC / 1000, TICK_MS, n - done, n, scheduler.overruns - scheduler.overruns_logged);
          scheduler.overruns_logged = scheduler.overruns;
          scheduler.last_overrun_log = now;
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
ex_tone_stream_dispose (GObject *object)
{
  ex_tone_stream_stop (EX_TONE_STREAM (object));
  G_OBJECT_CLASS (ex_tone_stream_parent_class)->dispose (object);
}

static void
ex_tone_stream_finalize (GObject *object)
{
  ExToneStream *self = EX_TONE_STREAM (object);
  g_weak_ref_clear (&self->session);
  G_OBJECT_CLASS (ex_tone_stream_parent_class)->finalize (object);
}

static void
ex_tone_stream_class_init (ExToneStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = ex_tone_stream_dispose;
  object_class->finalize = ex_tone_stream_finalize;

  /* Emitted for each valid RTCP packet from the client. */
  signals[SIGNAL_RTCP_RECEIVED] = g_signal_new ("rtcp-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ex_tone_stream_init (ExToneStream *self)
{
  g_weak_ref_init (&self->session, NULL);
  self->ssrc = g_random_int ();
  self->seq = (guint16) g_random_int_range (0, 65536);
  self->ts_base = g_random_int ();
  self->epoch = g_get_monotonic_time ();
}

ExToneStream *
ex_tone_stream_new (RsRTSPSession *session, guint frequency)
{
  ExToneStream *self = g_object_new (EX_TYPE_TONE_STREAM, NULL);
  g_weak_ref_set (&self->session, session);
  self->frequency = frequency;
  self->payloads = tone_payloads (frequency);
  return self;
}

void
ex_tone_stream_rtcp_received (ExToneStream *self, const guint8 *data, gsize size)
{
  g_return_if_fail (EX_IS_TONE_STREAM (self));
  if (self->stopped)
    return;
  /* A compound RTCP packet starts with version 2 and an SR or RR (or, from
   * some clients, another RTCP type); its length must fit. */
  if (size < 8 || (data[0] >> 6) != 2 || data[1] < 200 || data[1] > 204)
    return;
  gsize first = ((gsize) ((data[2] << 8) | data[3]) + 1) * 4;
  if (first > size)
    return;
  g_signal_emit (self, signals[SIGNAL_RTCP_RECEIVED], 0);
}

/* Reads what arrived on the RTCP socket: RTCP from the client's address is
 * reported; anything from strangers is dropped. */
static gboolean
on_udp_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  ExToneStream *self = user_data;
  guint8 buffer[2048];

  g_object_ref (self);
  for (gint i = 0; i < 16 && !self->stopped; i++)
    {
      GSocketAddress *from = NULL;
      gssize n = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer, NULL, NULL);
      if (n < 0)
        break;
      gboolean from_client = FALSE;
      if (G_IS_INET_SOCKET_ADDRESS (from) && self->client_address != NULL)
        from_client = g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)),
                                            self->client_address);
      g_clear_object (&from);
      if (from_client)
        ex_tone_stream_rtcp_received (self, buffer, (gsize) n);
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSocket *
bind_udp (GInetAddress *local, guint16 port, GError **error)
{
  GSocket *socket =
      g_socket_new (g_inet_address_get_family (local), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;
  GSocketAddress *address = g_inet_socket_address_new (local, port);
  gboolean ok = g_socket_bind (socket, address, FALSE, error);
  g_object_unref (address);
  if (!ok)
    {
      g_object_unref (socket);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static guint16
local_port (GSocket *socket)
{
  GSocketAddress *address = g_socket_get_local_address (socket, NULL);
  guint16 port = address ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)) : 0;
  g_clear_object (&address);
  return port;
}

gboolean
ex_tone_stream_set_udp (ExToneStream *self,
                        GInetAddress *local,
                        GInetAddress *client,
                        guint16       client_rtp_port,
                        guint16       client_rtcp_port,
                        GError      **error)
{
  g_return_val_if_fail (EX_IS_TONE_STREAM (self), FALSE);
  clear_transport (self);
  if (self->stopped)
    return FALSE;

  /* An even RTP port and the odd port after it for RTCP (RFC 3550 §11). */
  GSocket *rtp = NULL, *rtcp = NULL;
  for (gint attempt = 0; attempt < 50 && rtcp == NULL; attempt++)
    {
      g_clear_object (&rtp);
      rtp = bind_udp (local, 0, error);
      if (rtp == NULL)
        return FALSE;
      guint16 port = local_port (rtp);
      if (port == 0 || port % 2 != 0 || port == G_MAXUINT16)
        continue;
      rtcp = bind_udp (local, port + 1, NULL);
    }
  if (rtcp == NULL)
    {
      g_clear_object (&rtp);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE, "no free pair of UDP ports");
      return FALSE;
    }

  self->rtp_socket = rtp;
  self->rtcp_socket = rtcp;
  self->server_port = local_port (rtp);
  self->client_address = g_object_ref (client);
  self->client_rtp = g_inet_socket_address_new (client, client_rtp_port);
  self->client_rtcp = g_inet_socket_address_new (client, client_rtcp_port);

  /* Only RTCP is read: what arrives on the RTP port (NAT punching) is
   * left to the kernel, which drops it once the socket's buffer is full. */
  self->rtcp_source = g_socket_create_source (rtcp, G_IO_IN, NULL);
  g_source_set_callback (self->rtcp_source, G_SOURCE_FUNC (on_udp_readable), self, NULL);
  g_source_attach (self->rtcp_source, NULL);
  return TRUE;
}

void
ex_tone_stream_set_tcp (ExToneStream     *self,
                        guint8            rtp_channel,
                        guint8            rtcp_channel,
                        ExInterleavedSink sink,
                        gpointer          sink_data,
                        GDestroyNotify    sink_data_free)
{
  g_return_if_fail (EX_IS_TONE_STREAM (self));
  clear_transport (self);
  if (self->stopped)
    {
      if (sink_data_free)
        sink_data_free (sink_data);
      return;
    }
  self->tcp = TRUE;
  self->rtp_channel = rtp_channel;
  self->rtcp_channel = rtcp_channel;
  self->sink = sink;
  self->sink_data = sink_data;
  self->sink_data_free = sink_data_free;
}

void
ex_tone_stream_play (ExToneStream *self)
{
  g_return_if_fail (EX_IS_TONE_STREAM (self));
  if (self->stopped || self->playing)
    return;
  gint64 now = g_get_monotonic_time ();
  /* The first packet is the one due next; the timer sends it, after the
   * PLAY response has been queued. */
  self->next_index = (now - self->epoch + PACKET_USEC - 1) / PACKET_USEC;
  self->marker = TRUE;
  self->playing = TRUE;
  self->next_sr_time = now + G_USEC_PER_SEC;
  hold_session (self, self->tcp);
  schedule (self);
}

void
ex_tone_stream_pause (ExToneStream *self)
{
  g_return_if_fail (EX_IS_TONE_STREAM (self));
  self->playing = FALSE;
  hold_session (self, FALSE);
  unschedule (self);
}

gboolean
ex_tone_stream_stop (ExToneStream *self)
{
  g_return_val_if_fail (EX_IS_TONE_STREAM (self), FALSE);
  if (self->stopped)
    return FALSE;
  self->stopped = TRUE;
  self->playing = FALSE;
  unschedule (self);
  clear_transport (self);
  return TRUE;
}

RsRTSPSession *
ex_tone_stream_dup_session (ExToneStream *self)
{
  g_return_val_if_fail (EX_IS_TONE_STREAM (self), NULL);
  return g_weak_ref_get (&self->session);
}

gboolean
ex_tone_stream_is_tcp (ExToneStream *self)
{
  return self->tcp;
}

guint8
ex_tone_stream_get_rtcp_channel (ExToneStream *self)
{
  return self->rtcp_channel;
}

guint16
ex_tone_stream_get_server_port (ExToneStream *self)
{
  return self->server_port;
}

guint32
ex_tone_stream_get_ssrc (ExToneStream *self)
{
  return self->ssrc;
}

guint16
ex_tone_stream_get_next_seq (ExToneStream *self)
{
  return self->seq;
}

guint32
ex_tone_stream_get_next_rtptime (ExToneStream *self)
{
  if (self->playing)
    return rtptime_of_index (self, self->next_index);
  gint64 now = g_get_monotonic_time ();
  return rtptime_of_index (self, (now - self->epoch + PACKET_USEC - 1) / PACKET_USEC);
}

guint64
ex_tone_stream_get_packets_sent (ExToneStream *self)
{
  return self->packets_sent;
}
