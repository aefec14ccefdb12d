/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ExToneStream: one RTP stream of the example server — a generated sine tone
 * as PCMU (G.711 µ-law, payload type 0, 8000 Hz, 20 ms packets), sent over
 * UDP unicast or interleaved on the RTSP connection. It is the media object
 * that the server hands to rs_rtsp_session_manage_media(); it owns its
 * sockets and timer, and stops streaming in dispose.
 */
#pragma once

#include <gio/gio.h>
#include <rtspsession/rtspsession.h>

G_BEGIN_DECLS

#define EX_TYPE_TONE_STREAM (ex_tone_stream_get_type ())
G_DECLARE_FINAL_TYPE (ExToneStream, ex_tone_stream, EX, TONE_STREAM, GObject)

/* The RTP clock rate and packet size of the stream. */
#define EX_TONE_CLOCK_RATE 8000
#define EX_TONE_PACKET_SAMPLES 160 /* 20 ms */
#define EX_TONE_PAYLOAD_TYPE 0     /* PCMU */

/**
 * ExInterleavedSink:
 * @frame: a whole interleaved frame: `$`, channel, 16-bit length, packet
 * @size: the size of @frame
 * @droppable: TRUE for RTP, which the sink may drop when its output is full
 * @user_data: the data given to ex_tone_stream_set_tcp()
 *
 * Where a stream over TCP writes its frames (the RTSP connection).
 */
typedef void (*ExInterleavedSink) (const guint8 *frame, gsize size, gboolean droppable, gpointer user_data);

ExToneStream *ex_tone_stream_new (RsRTSPSession *session, guint frequency);

gboolean ex_tone_stream_set_udp (ExToneStream *stream,
                                 GInetAddress *local,
                                 GInetAddress *client,
                                 guint16       client_rtp_port,
                                 guint16       client_rtcp_port,
                                 GError      **error);
void     ex_tone_stream_set_tcp (ExToneStream     *stream,
                                 guint8            rtp_channel,
                                 guint8            rtcp_channel,
                                 ExInterleavedSink sink,
                                 gpointer          sink_data,
                                 GDestroyNotify    sink_data_free);

void     ex_tone_stream_play (ExToneStream *stream);
void     ex_tone_stream_pause (ExToneStream *stream);
gboolean ex_tone_stream_stop (ExToneStream *stream);

void     ex_tone_stream_rtcp_received (ExToneStream *stream, const guint8 *data, gsize size);

RsRTSPSession *ex_tone_stream_dup_session (ExToneStream *stream);
gboolean ex_tone_stream_is_tcp (ExToneStream *stream);
guint8   ex_tone_stream_get_rtcp_channel (ExToneStream *stream);
guint16  ex_tone_stream_get_server_port (ExToneStream *stream);
guint32  ex_tone_stream_get_ssrc (ExToneStream *stream);
guint16  ex_tone_stream_get_next_seq (ExToneStream *stream);
guint32  ex_tone_stream_get_next_rtptime (ExToneStream *stream);
guint64  ex_tone_stream_get_packets_sent (ExToneStream *stream);

G_END_DECLS
