/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <glib-object.h>

#include "rs-version-macros.h"

G_BEGIN_DECLS

/**
 * RsRTSPFilterResult:
 * @RS_RTSP_FILTER_REMOVE: drop the object from its container
 * @RS_RTSP_FILTER_KEEP: keep the object
 * @RS_RTSP_FILTER_REF: keep the object and add a reference to it to the
 *   list the filter returns
 *
 * What a filter callback decides for each object it is shown.
 *
 * Since: 1.0
 */
typedef enum {
  RS_RTSP_FILTER_REMOVE = 0,
  RS_RTSP_FILTER_KEEP = 1,
  RS_RTSP_FILTER_REF = 2,
} RsRTSPFilterResult;

/**
 * RsRTSPState:
 * @RS_RTSP_STATE_INVALID: not a valid state
 * @RS_RTSP_STATE_INIT: set up but not ready (the initial state)
 * @RS_RTSP_STATE_READY: ready to play or record
 * @RS_RTSP_STATE_SEEKING: seeking
 * @RS_RTSP_STATE_PLAYING: playing
 * @RS_RTSP_STATE_RECORDING: recording
 *
 * The RTSP state machine of a media within a session (RFC 2326 Appendix A).
 *
 * Since: 1.0
 */
typedef enum {
  RS_RTSP_STATE_INVALID = 0,
  RS_RTSP_STATE_INIT = 1,
  RS_RTSP_STATE_READY = 2,
  RS_RTSP_STATE_SEEKING = 3,
  RS_RTSP_STATE_PLAYING = 4,
  RS_RTSP_STATE_RECORDING = 5,
} RsRTSPState;

/**
 * RS_RTSP_SESSION_ERROR:
 *
 * The error domain of librtspsession, for errors in input that comes from
 * the network, such as a `Session:` header. Its codes are #RsRTSPSessionError.
 *
 * Since: 1.0
 */
#define RS_RTSP_SESSION_ERROR (rs_rtsp_session_error_quark ())

/**
 * RsRTSPSessionError:
 * @RS_RTSP_SESSION_ERROR_INVALID_ID: the session id is empty, longer than
 *   256 characters, or has a character other than `A-Z a-z 0-9 $ - _ . +`
 * @RS_RTSP_SESSION_ERROR_INVALID_TIMEOUT: the timeout is not a number of
 *   seconds that fits in 32 bits, or is given twice
 * @RS_RTSP_SESSION_ERROR_MALFORMED: the header is otherwise not well formed,
 *   for example a parameter without a name
 *
 * The codes of %RS_RTSP_SESSION_ERROR.
 *
 * Since: 1.0
 */
typedef enum {
  RS_RTSP_SESSION_ERROR_INVALID_ID,
  RS_RTSP_SESSION_ERROR_INVALID_TIMEOUT,
  RS_RTSP_SESSION_ERROR_MALFORMED,
} RsRTSPSessionError;

RS_AVAILABLE_IN_ALL
GQuark       rs_rtsp_session_error_quark (void);

#define RS_TYPE_RTSP_RANGE (rs_rtsp_range_get_type ())

/**
 * RsRTSPRange:
 * @min: the first value of the range
 * @max: the last value of the range
 *
 * An inclusive range of integers, such as the pair of interleaved channels
 * of a stream sent over the RTSP connection.
 *
 * Since: 1.0
 */
typedef struct {
  gint min;
  gint max;
} RsRTSPRange;

RS_AVAILABLE_IN_ALL
GType        rs_rtsp_range_get_type (void) G_GNUC_CONST;
RS_AVAILABLE_IN_ALL
RsRTSPRange *rs_rtsp_range_copy     (const RsRTSPRange *range) RS_NOEXCEPT;
RS_AVAILABLE_IN_ALL
void         rs_rtsp_range_free     (RsRTSPRange       *range) RS_NOEXCEPT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RsRTSPRange, rs_rtsp_range_free)

G_END_DECLS
