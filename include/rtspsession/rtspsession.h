/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define RTSPSESSION_INSIDE
# include <rtspsession/rs-version.h>
# include "rs-version-macros.h"
# include "rs-rtsp-types.h"
# include <rtspsession/rs-enum-types.h>
# include "rs-rtsp-session-media.h"
# include "rs-rtsp-session.h"
# include "rs-rtsp-session-pool.h"
# if RS_HAVE_SESSION_DIRECTORY
#  include "rs-rtsp-session-directory.h"
# endif
#undef RTSPSESSION_INSIDE
