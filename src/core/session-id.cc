// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session-id.hh"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace rs::core {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static_assert(sizeof kAlphabet - 1 == 62);

// Bumped in every forked child, so that no child hands out random bytes its
// parent already buffered (and maybe used for ids).
std::atomic<unsigned> fork_generation{0};

void on_fork_child() noexcept { fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct RandomBuffer {
  unsigned char bytes[4096];
  std::size_t used = sizeof bytes;
  unsigned generation = 0;
};

void fill_from_os(unsigned char* out, std::size_t length) {
  while (length > 0) {
    const ssize_t got = getrandom(out, length, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      // No kernel randomness means no safe session ids: refuse to go on.
      std::abort();
    }
    out += got;
    length -= static_cast<std::size_t>(got);
  }
}

}  // namespace

void random_bytes(unsigned char* out, std::size_t length) {
  static const bool atfork_registered = [] {
    pthread_atfork(nullptr, nullptr, on_fork_child);
    return true;
  }();
  (void) atfork_registered;

  thread_local RandomBuffer buffer;
  const unsigned generation = fork_generation.load(std::memory_order_relaxed);
  if (buffer.generation != generation) {
    buffer.used = sizeof buffer.bytes;
    buffer.generation = generation;
  }
  while (length > 0) {
    if (buffer.used == sizeof buffer.bytes) {
      fill_from_os(buffer.bytes, sizeof buffer.bytes);
      buffer.used = 0;
    }
    std::size_t take = std::min(length, sizeof buffer.bytes - buffer.used);
    std::memcpy(out, buffer.bytes + buffer.used, take);
    // Used bytes are wiped so they cannot leak from the buffer later.
    std::memset(buffer.bytes + buffer.used, 0, take);
    buffer.used += take;
    out += take;
    length -= take;
  }
}

void random_session_id(char* out) {
  std::size_t written = 0;
  while (written < kSessionIdLength) {
    // Each 3 bytes give four 6-bit values; 18 bytes usually suffice
    // (22 * 64/62 = 22.7 values needed on average).
    unsigned char batch[18];
    random_bytes(batch, sizeof batch);
    for (std::size_t i = 0; i + 2 < sizeof batch && written < kSessionIdLength; i += 3) {
      const std::uint32_t bits = (std::uint32_t{batch[i]} << 16) | (std::uint32_t{batch[i + 1]} << 8) | batch[i + 2];
      for (int shift = 18; shift >= 0 && written < kSessionIdLength; shift -= 6) {
        // 0..63; dropping 62 and 63 leaves every letter equally likely.
        const unsigned index = (bits >> shift) & 0x3f;
        if (index < 62)
          out[written++] = kAlphabet[index];
      }
    }
  }
}

}  // namespace rs::core
