// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session-id.hh"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
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
  unsigned char bytes[1024];
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

std::string random_session_id() {
  std::string id;
  id.reserve(kSessionIdLength);
  unsigned char batch[32];
  while (id.size() < kSessionIdLength) {
    random_bytes(batch, sizeof batch);
    for (unsigned char byte : batch) {
      // 6 bits give 0..63; dropping 62 and 63 leaves every letter equally likely.
      const unsigned index = byte & 0x3f;
      if (index < 62 && id.size() < kSessionIdLength)
        id.push_back(kAlphabet[index]);
    }
  }
  return id;
}

}  // namespace rs::core
