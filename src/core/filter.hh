// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

namespace rs::core {

// What a filter callback decides for one element; the values are those of
// the public RsRTSPFilterResult.
enum class FilterDecision { Remove = 0, Keep = 1, Ref = 2 };

}  // namespace rs::core
