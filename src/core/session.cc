// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session.hh"

#include <cstring>
#include <limits>

#include "session-header.hh"

namespace rs::core {

// A GObject session is this plus its 24-byte header: 88 bytes, in GSlice's
// 96-byte class. At 65 bytes GLib would round the private data to 80 and the
// session would take 112.
static_assert(sizeof(Session) <= 64, "Session grew: a pool holds a million of them");

namespace {
constexpr std::uintptr_t kLinkTag = 1;
}  // namespace

// What only some sessions need.
struct Session::Extras {
  std::atomic<PoolLink*> pool_link{nullptr};
  std::atomic<Attachment*> attachment{nullptr};
  // Protects owner. A leaf lock: taken under a pool's shard lock by find.
  mutable std::mutex owner_lock;
  std::optional<std::string> owner;

  ~Extras() { delete attachment.load(std::memory_order_acquire); }
};

Session::~Session() {
  PoolLink* link = pool_link();
  delete extras(false);
  if (link != nullptr)
    link->unref();
}

Session::Extras* Session::extras(bool create) {
  std::uintptr_t word = link_or_extras_.load(std::memory_order_acquire);
  if (word != 0 && (word & kLinkTag) == 0)
    return reinterpret_cast<Extras*>(word);
  if (!create)
    return nullptr;
  auto* fresh = new Extras();
  for (;;) {
    // Carry the pool link over into the extras.
    fresh->pool_link.store(word ? reinterpret_cast<PoolLink*>(word & ~kLinkTag) : nullptr, std::memory_order_relaxed);
    if (link_or_extras_.compare_exchange_weak(word, reinterpret_cast<std::uintptr_t>(fresh), std::memory_order_acq_rel))
      return fresh;
    if (word != 0 && (word & kLinkTag) == 0) {
      delete fresh;  // another thread made them first
      return reinterpret_cast<Extras*>(word);
    }
  }
}

PoolLink* Session::pool_link() const noexcept {
  const std::uintptr_t word = link_or_extras_.load(std::memory_order_acquire);
  if (word & kLinkTag)
    return reinterpret_cast<PoolLink*>(word & ~kLinkTag);
  if (word != 0)
    return reinterpret_cast<Extras*>(word)->pool_link.load(std::memory_order_acquire);
  return nullptr;
}

void Session::set_pool_link(PoolLink* link) noexcept {
  std::uintptr_t word = link_or_extras_.load(std::memory_order_acquire);
  for (;;) {
    if (word != 0 && (word & kLinkTag) == 0) {
      reinterpret_cast<Extras*>(word)->pool_link.store(link, std::memory_order_release);
      return;
    }
    const std::uintptr_t wanted = link ? reinterpret_cast<std::uintptr_t>(link) | kLinkTag : 0;
    if (link_or_extras_.compare_exchange_weak(word, wanted, std::memory_order_acq_rel))
      return;
  }
}

bool Session::set_owner(std::optional<std::string_view> owner) {
  Extras* current = extras(owner.has_value());
  if (current == nullptr)
    return false;  // no owner before, none now
  std::lock_guard guard(current->owner_lock);
  const bool changed = owner ? (!current->owner || *current->owner != *owner) : current->owner.has_value();
  current->owner = owner ? std::optional<std::string>(*owner) : std::nullopt;
  return changed;
}

std::optional<std::string> Session::owner() const {
  Extras* current = const_cast<Session*>(this)->extras(false);
  if (current == nullptr)
    return std::nullopt;
  std::lock_guard guard(current->owner_lock);
  return current->owner;
}

bool Session::has_owner(const char* owner) const noexcept {
  Extras* current = const_cast<Session*>(this)->extras(false);
  if (current == nullptr)
    return owner == nullptr;
  std::lock_guard guard(current->owner_lock);
  if (!current->owner || owner == nullptr)
    return !current->owner && owner == nullptr;
  return equal_in_constant_time(*current->owner, owner);
}

Session::Attachment* Session::attachment() const noexcept {
  Extras* current = const_cast<Session*>(this)->extras(false);
  return current ? current->attachment.load(std::memory_order_acquire) : nullptr;
}

Session::Attachment* Session::attach(std::unique_ptr<Attachment> fresh) {
  Extras* current = extras(true);
  Attachment* expected = nullptr;
  if (current->attachment.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel))
    return fresh.release();
  return expected;  // another thread attached first; `fresh` goes
}

std::optional<std::string> Session::header() const {
  if (!id_.has_value())
    return std::nullopt;
  const std::uint32_t timeout = expiry().timeout();
  if (timeout == Expiry::kDefaultTimeout && !timeout_always_visible())
    return std::string(id_.view());
  return std::string(id_.view()) + ";timeout=" + std::to_string(timeout);
}

bool Session::set_timeout(std::uint32_t seconds) noexcept {
  // The value the exchange replaced, not one read before it: a racing
  // setter must not make both of them skip the report.
  const std::uint32_t old = Expiry::set_timeout(seconds);
  if (old == seconds)
    return false;
  // 0 means never: going to or from 0 changes whether the session is indexed.
  if (seconds < old || old == 0 || seconds == 0)
    deadline_may_be_earlier();
  return true;
}

bool Session::set_extra_timeout(std::uint32_t seconds) noexcept {
  const std::uint32_t old = Expiry::set_extra_timeout(seconds);
  if (old == seconds)
    return false;
  if (seconds < old)
    deadline_may_be_earlier();
  return true;
}

void Session::deadline_may_be_earlier() noexcept {
  // Pairs with the pool's join: either the pool indexes the session after
  // this store, or this load sees the link.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (in_pool())
    if (PoolLink* link = pool_link())
      link->reschedule(*this);
}

void PoolLink::detach() noexcept {
  std::unique_lock guard(lock_);
  pool_ = nullptr;
}

void PoolLink::reschedule(Session& session) noexcept {
  std::shared_lock guard(lock_);
  if (pool_ != nullptr)
    pool_->reschedule(session);
}

std::optional<SessionMedia::Channels> SessionMedia::alloc_channels() noexcept {
  const long long first = next_channel_.fetch_add(2, std::memory_order_relaxed);
  if (first > std::numeric_limits<int>::max() - 1)
    return std::nullopt;
  return Channels{static_cast<int>(first), static_cast<int>(first + 1)};
}

}  // namespace rs::core
