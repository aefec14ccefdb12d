// SPDX-License-Identifier: LGPL-2.1-or-later
// Between the session and pool shims; not installed.
#pragma once

#include "rs-rtsp-session.h"

#include "core/filter.hh"
#include "core/session.hh"

rs::core::Session *rs_rtsp_session_get_core (RsRTSPSession *session) noexcept;
RsRTSPSession *rs_rtsp_session_from_core (rs::core::Session *core) noexcept;
// A session of `type` (RS_TYPE_RTSP_SESSION or a subclass) with `sessionid`.
RsRTSPSession *rs_rtsp_session_new_with_type (GType type, const gchar *sessionid) noexcept;
// What a filter callback's answer means to the core; anything unknown keeps.
inline rs::core::FilterDecision
rs_filter_decision (RsRTSPFilterResult result) noexcept
{
  switch (result)
    {
    case RS_RTSP_FILTER_REMOVE:
      return rs::core::FilterDecision::Remove;
    case RS_RTSP_FILTER_REF:
      return rs::core::FilterDecision::Ref;
    case RS_RTSP_FILTER_KEEP:
    default:
      return rs::core::FilterDecision::Keep;
    }
}
