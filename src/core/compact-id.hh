// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>
#include <string_view>

namespace rs::core {

// A session id in 24 bytes: ids of up to 23 characters (the pool's own are
// 22) are stored inline, longer ones on the heap. A pool holds a million of
// these, so the usual 32-byte string plus a heap block would cost twice as
// much. Set once, before the id is shared between threads.
class CompactId {
 public:
  CompactId() noexcept { set_tag(kNone); }
  ~CompactId() { clear(); }
  CompactId(const CompactId&) = delete;
  CompactId& operator=(const CompactId&) = delete;

  void assign(std::optional<std::string_view> id);

  bool has_value() const noexcept { return tag() != kNone; }
  // NUL-terminated; nullptr when there is no id.
  const char* c_str() const noexcept;
  std::string_view view() const noexcept;

 private:
  static constexpr std::size_t kSize = 24;
  static constexpr std::size_t kTagByte = kSize - 1;
  // The last byte tells the representation. Inline, it is 0, so it doubles
  // as the terminator of a 23-character id.
  static constexpr unsigned char kInline = 0;
  static constexpr unsigned char kHeap = 1;
  static constexpr unsigned char kNone = 2;

  unsigned char tag() const noexcept { return static_cast<unsigned char>(bytes_[kTagByte]); }
  void set_tag(unsigned char tag) noexcept { bytes_[kTagByte] = static_cast<char>(tag); }
  char* heap_pointer() const noexcept {
    char* pointer;
    std::memcpy(&pointer, bytes_, sizeof pointer);
    return pointer;
  }
  std::size_t heap_length() const noexcept {
    std::size_t length;
    std::memcpy(&length, bytes_ + sizeof(char*), sizeof length);
    return length;
  }
  void clear() noexcept;

  char bytes_[kSize];
};

}  // namespace rs::core
