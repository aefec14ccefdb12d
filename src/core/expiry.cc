// SPDX-License-Identifier: LGPL-2.1-or-later
#include "expiry.hh"

#include <algorithm>
#include <limits>
#include <mutex>
#include <unordered_map>

namespace rs::core {

namespace {


int clamp_ms(Micros micros) noexcept {
  if (micros <= 0)
    return 0;
  return static_cast<int>(std::min<Micros>(micros / kMicrosPerMilli, std::numeric_limits<int>::max()));
}

// The values that do not fit in a session's settings word, by session.
struct Spill {
  std::uint32_t extra_timeout = 0;
  std::uint64_t prevent_count = 0;
};

struct SpillTable {
  std::mutex lock;
  std::unordered_map<const Expiry*, Spill> entries;
};

SpillTable& spill_table() noexcept {
  // Never destroyed: sessions may outlive static destruction at exit.
  static auto* table = new SpillTable();
  return *table;
}

}  // namespace

Expiry::Expiry() noexcept
    : last_access_(monotonic_now()),
      settings_(std::uint64_t{kDefaultTimeout} | (std::uint64_t{kDefaultExtraTimeout} << kExtraShift)) {}

std::size_t Expiry::spill_table_size() noexcept {
  SpillTable& table = spill_table();
  std::lock_guard guard(table.lock);
  return table.entries.size();
}

Expiry::~Expiry() {
  if (any_spilled(settings_.load(std::memory_order_acquire))) {
    SpillTable& table = spill_table();
    std::lock_guard guard(table.lock);
    table.entries.erase(this);
  }
}

std::uint32_t Expiry::set_timeout(std::uint32_t seconds) noexcept {
  std::uint64_t word = settings_.load(std::memory_order_relaxed);
  while (!settings_.compare_exchange_weak(word, (word & ~std::uint64_t{0xffffffff}) | seconds,
                                          std::memory_order_relaxed))
    ;
  return static_cast<std::uint32_t>(word);
}

// A 16-bit field leaves or enters the side table only under the table's
// lock, so a reader that sees kSpilled and takes the lock finds the value
// there, or sees the field back in the word.

std::uint32_t Expiry::set_extra_timeout(std::uint32_t seconds) noexcept {
  std::uint64_t word = settings_.load(std::memory_order_relaxed);
  for (;;) {
    if (seconds >= kSpilled || field(word, kExtraShift) == kSpilled)
      return set_extra_timeout_spilled(seconds);
    if (settings_.compare_exchange_weak(word, with_field(word, kExtraShift, seconds), std::memory_order_relaxed))
      return static_cast<std::uint32_t>(field(word, kExtraShift));
  }
}

std::uint32_t Expiry::set_extra_timeout_spilled(std::uint32_t seconds) noexcept {
  SpillTable& table = spill_table();
  std::lock_guard guard(table.lock);
  Spill& spill = table.entries[this];
  std::uint64_t word = settings_.load(std::memory_order_relaxed);
  const std::uint32_t old =
      field(word, kExtraShift) == kSpilled ? spill.extra_timeout : static_cast<std::uint32_t>(field(word, kExtraShift));
  spill.extra_timeout = seconds;
  if (!any_spilled(store_field(word, kExtraShift, seconds >= kSpilled ? kSpilled : seconds)))
    table.entries.erase(this);
  return old;
}

std::uint32_t Expiry::extra_timeout() const noexcept {
  const std::uint64_t extra = field(settings_.load(std::memory_order_relaxed), kExtraShift);
  return static_cast<std::uint32_t>(extra == kSpilled ? spilled_field(kExtraShift) : extra);
}

std::uint64_t Expiry::store_field(std::uint64_t word, unsigned shift, std::uint64_t value) noexcept {
  std::uint64_t fresh;
  do
    fresh = with_field(word, shift, value);
  while (!settings_.compare_exchange_weak(word, fresh, std::memory_order_acq_rel));
  return fresh;
}

std::uint64_t Expiry::spilled_field(unsigned shift) const noexcept {
  SpillTable& table = spill_table();
  std::lock_guard guard(table.lock);
  const std::uint64_t value = field(settings_.load(std::memory_order_acquire), shift);
  if (value != kSpilled)
    return value;  // back in the word meanwhile
  auto it = table.entries.find(this);
  if (it == table.entries.end())
    return kSpilled;
  return shift == kExtraShift ? it->second.extra_timeout : it->second.prevent_count;
}

void Expiry::prevent() noexcept {
  std::uint64_t word = settings_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint64_t count = field(word, kPreventShift);
    if (count + 1 >= kSpilled)
      return prevent_spilled();
    if (settings_.compare_exchange_weak(word, with_field(word, kPreventShift, count + 1), std::memory_order_acq_rel))
      return;
  }
}

void Expiry::prevent_spilled() noexcept {
  SpillTable& table = spill_table();
  std::lock_guard guard(table.lock);
  std::uint64_t word = settings_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint64_t count = field(word, kPreventShift);
    if (count == kSpilled) {
      // Only this lock takes the field out of the table: the word stays.
      table.entries[this].prevent_count++;
      return;
    }
    if (count + 1 == kSpilled) {
      // The entry is made once the word says so (readers that see kSpilled
      // wait for this lock): an allow() that wins the race leaves none behind.
      if (settings_.compare_exchange_weak(word, with_field(word, kPreventShift, kSpilled), std::memory_order_acq_rel)) {
        table.entries[this].prevent_count = kSpilled;
        return;
      }
    } else if (settings_.compare_exchange_weak(word, with_field(word, kPreventShift, count + 1),
                                               std::memory_order_acq_rel)) {
      return;  // allowed meanwhile: it fits again
    }
  }
}

bool Expiry::allow() noexcept {
  std::uint64_t word = settings_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint64_t count = field(word, kPreventShift);
    if (count == 0)
      return false;
    if (count == kSpilled) {
      bool retry = false;
      const bool allowed = allow_spilled(retry);
      if (!retry)
        return allowed;
      word = settings_.load(std::memory_order_acquire);
      continue;
    }
    // Touch before the count reaches 0: a reader that sees 0 must see the
    // touch too, not the last access from before prevent().
    if (count == 1)
      touch();
    if (settings_.compare_exchange_weak(word, with_field(word, kPreventShift, count - 1), std::memory_order_acq_rel))
      return true;
  }
}

bool Expiry::allow_spilled(bool& retry) noexcept {
  SpillTable& table = spill_table();
  std::lock_guard guard(table.lock);
  std::uint64_t word = settings_.load(std::memory_order_acquire);
  if (field(word, kPreventShift) != kSpilled) {
    retry = true;
    return false;
  }
  Spill& spill = table.entries[this];
  // At least kSpilled while spilled, so this never reaches 0: no touch.
  spill.prevent_count--;
  if (spill.prevent_count < kSpilled && !any_spilled(store_field(word, kPreventShift, spill.prevent_count)))
    table.entries.erase(this);
  return true;
}

std::uint32_t Expiry::prevent_count() const noexcept {
  std::uint64_t count = field(settings_.load(std::memory_order_acquire), kPreventShift);
  if (count == kSpilled)
    count = std::min<std::uint64_t>(spilled_field(kPreventShift), std::numeric_limits<std::uint32_t>::max());
  return static_cast<std::uint32_t>(count);
}

Micros Expiry::span(std::uint64_t word) const noexcept {
  const std::uint64_t extra = field(word, kExtraShift);
  // Both terms are below 2^32 seconds, so the sum in microseconds fits in 64 bits.
  return (static_cast<Micros>(static_cast<std::uint32_t>(word)) +
          static_cast<Micros>(extra == kSpilled ? spilled_field(kExtraShift) : extra)) *
         kMicrosPerSecond;
}

int Expiry::next_timeout_ms(Micros now) const noexcept {
  const std::uint64_t word = settings_.load(std::memory_order_acquire);
  if (static_cast<std::uint32_t>(word) == 0)
    return -1;
  if (field(word, kPreventShift) != 0)
    return clamp_ms(span(word));
  return clamp_ms(saturating_sub(saturating_add(last_access(), span(word)), now));
}

int Expiry::next_timeout_ms_real(Micros real_now) const noexcept {
  const Micros clock_offset = rs::core::real_now() - monotonic_now();
  return next_timeout_ms(saturating_sub(real_now, clock_offset));
}

std::optional<Micros> Expiry::expires_at(Micros now) const noexcept {
  const std::uint64_t word = settings_.load(std::memory_order_acquire);
  if (static_cast<std::uint32_t>(word) == 0)
    return std::nullopt;
  const Micros base = field(word, kPreventShift) != 0 ? now : last_access();
  // next_timeout_ms() floors to milliseconds: 0 from 999 µs before the deadline.
  return saturating_sub(saturating_add(base, span(word)), kMicrosPerMilli - 1);
}

}  // namespace rs::core
