/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(RTSPSESSION_INSIDE) && !defined(RTSPSESSION_COMPILATION)
#error "Only <rtspsession/rtspsession.h> can be included directly."
#endif

#include <glib.h>

#if defined(_WIN32) && !defined(__GNUC__)
# ifdef RTSPSESSION_COMPILATION
#  define _RS_EXTERN __declspec(dllexport) extern
# else
#  define _RS_EXTERN __declspec(dllimport) extern
# endif
#else
# define _RS_EXTERN __attribute__((visibility("default"))) extern
#endif

/* Symbols present since the first release. */
#define RS_AVAILABLE_IN_ALL _RS_EXTERN
#define RS_AVAILABLE_IN_1_0 _RS_EXTERN

/**
 * RS_DEPRECATED_IN_1_0_FOR:
 * @f: the function to use instead
 *
 * Marks a function kept for GstRtspServer compatibility: it is built and
 * exported, but callers get a deprecation warning unless they define
 * `RS_DISABLE_DEPRECATION_WARNINGS`.
 *
 * Since: 1.0
 */
#if defined(RS_DISABLE_DEPRECATION_WARNINGS) || defined(RTSPSESSION_COMPILATION)
# define RS_DEPRECATED_IN_1_0_FOR(f) _RS_EXTERN
#else
# define RS_DEPRECATED_IN_1_0_FOR(f) G_DEPRECATED_FOR(f) _RS_EXTERN
#endif

/* C++ callers get noexcept on every function: none of them throws. */
#ifdef __cplusplus
# define RS_NOEXCEPT noexcept
#else
# define RS_NOEXCEPT
#endif
