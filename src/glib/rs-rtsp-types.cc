// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"

#include "rs-rtsp-types.h"

G_DEFINE_BOXED_TYPE (RsRTSPRange, rs_rtsp_range, rs_rtsp_range_copy, rs_rtsp_range_free)

/**
 * rs_rtsp_session_error_quark:
 *
 * The quark of %RS_RTSP_SESSION_ERROR.
 *
 * Returns: the error domain's quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (rs-rtsp-session-error-quark, rs_rtsp_session_error)

/**
 * rs_rtsp_range_copy:
 * @range: a #RsRTSPRange
 *
 * Copies @range.
 *
 * Returns: (transfer full): a new copy of @range, to free with rs_rtsp_range_free()
 *
 * Since: 1.0
 */
RsRTSPRange *
rs_rtsp_range_copy (const RsRTSPRange *range) noexcept
{
  g_return_val_if_fail (range != nullptr, nullptr);
  return new RsRTSPRange (*range);
}

/**
 * rs_rtsp_range_free:
 * @range: (transfer full): a #RsRTSPRange made by rs_rtsp_range_copy()
 *
 * Frees @range.
 *
 * Since: 1.0
 */
void
rs_rtsp_range_free (RsRTSPRange *range) noexcept
{
  delete range;
}
