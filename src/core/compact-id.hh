// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>
#include <string_view>

namespace rs::core {

// A session id in 23 bytes: ids of up to 22 characters (the pool's own
// length) are stored inline, longer ones on the heap. A pool holds a million
// of these, so the usual 32-byte string plus a heap block would cost twice
// as much; 23 rather than 24 leaves the session a byte for its flags.
// Set once, before the id is shared between threads.
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
  std::string_view view() const noexcept {
    if (is_inline())
      return std::string_view(bytes_, kMaxInline - tag());
    if (tag() == kHeap)
      return std::string_view(heap_pointer(), heap_length());
    return {};
  }

 private:
  static constexpr std::size_t kSize = 23;
  static constexpr std::size_t kTagByte = kSize - 1;
  static_assert(sizeof(char*) + sizeof(std::size_t) <= kTagByte, "the heap form must leave the tag byte alone");
  // The last byte tells the representation. Inline, it is the room left
  // (22 - length), so that the length needs no strlen() and the byte is 0,
  // the terminator, for a 22-character id. Larger values mark the others.
  static constexpr unsigned char kMaxInline = kTagByte;
  static constexpr unsigned char kHeap = 0xfe;
  static constexpr unsigned char kNone = 0xff;

  unsigned char tag() const noexcept { return static_cast<unsigned char>(bytes_[kTagByte]); }
  bool is_inline() const noexcept { return tag() <= kMaxInline; }
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
