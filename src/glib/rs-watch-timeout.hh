// SPDX-License-Identifier: LGPL-2.1-or-later
// The one rule both pool watches (RsRTSPSessionPool's and
// RsGstSessionPool's) sleep by. Not installed.
#pragma once

#include <glib.h>

#include <algorithm>
#include <optional>

// For a GSource prepare: whether the watch is ready at `now`, given the
// pool's next wake-up (nothing: no session can expire), and how long the
// main loop may sleep: -1 until woken, 0 when ready, otherwise the
// milliseconds to the wake-up rounded up, so that it never wakes early.
inline gboolean
rs_watch_timeout (std::optional<gint64> wakeup, gint64 now, gint *timeout) noexcept
{
  gint wait = -1;
  if (wakeup)
    wait = *wakeup <= now ? 0 : static_cast<gint> (std::min<gint64> ((*wakeup - now + 999) / 1000, G_MAXINT));
  if (timeout)
    *timeout = wait;
  return wait == 0;
}

// Wakes the context `watch` is attached to, so that it prepares the watch
// again. Quietly does nothing for a watch that is being finalized, was
// destroyed, was never attached or whose context is gone: GLib's getters
// would log a critical for each of those, and a pool wakes its watches from
// any thread, at any time.
inline void
rs_watch_wake (GSource *watch) noexcept
{
  if (g_atomic_int_get (&watch->ref_count) <= 0)
    return;
  if ((g_atomic_int_get (&watch->flags) & G_HOOK_FLAG_ACTIVE) == 0)
    return;  // destroyed
  if (auto *context = static_cast<GMainContext *> (g_atomic_pointer_get (&watch->context)))
    g_main_context_wakeup (context);
}
