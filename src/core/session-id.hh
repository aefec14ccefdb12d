// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>

namespace rs::core {

// Length of the pool's own session ids: 22 characters of a 62-letter
// alphabet carry 22 * log2(62) = 130.9 bits.
constexpr std::size_t kSessionIdLength = 22;

// A new session id: kSessionIdLength characters of [A-Za-z0-9], each drawn
// uniformly (by rejection, without modulo bias) from the operating system's
// cryptographic random source, getrandom(2). Alphanumeric only, because real
// clients mishandle '$', '-' and '+'.
// Writes exactly kSessionIdLength characters to `out`, no terminator.
void random_session_id(char* out);

// Fills `out` with `length` bytes from getrandom(2), through a per-thread
// buffer that is discarded in a forked child.
void random_bytes(unsigned char* out, std::size_t length);

}  // namespace rs::core
