// SPDX-License-Identifier: LGPL-2.1-or-later
#include "compact-id.hh"

namespace rs::core {

void CompactId::clear() noexcept {
  if (tag() == kHeap)
    delete[] heap_pointer();
  set_tag(kNone);
}

void CompactId::assign(std::optional<std::string_view> id) {
  clear();
  if (!id)
    return;
  if (id->size() < kSize) {
    std::memcpy(bytes_, id->data(), id->size());
    std::memset(bytes_ + id->size(), 0, kSize - id->size());  // the terminator
    set_tag(static_cast<unsigned char>(kMaxInline - id->size()));
    return;
  }
  char* copy = new char[id->size() + 1];
  std::memcpy(copy, id->data(), id->size());
  copy[id->size()] = '\0';
  const std::size_t length = id->size();
  std::memcpy(bytes_, &copy, sizeof copy);
  std::memcpy(bytes_ + sizeof copy, &length, sizeof length);
  set_tag(kHeap);
}

const char* CompactId::c_str() const noexcept {
  if (is_inline())
    return bytes_;
  return tag() == kHeap ? heap_pointer() : nullptr;
}

}  // namespace rs::core
