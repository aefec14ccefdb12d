// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <glib-object.h>

#include <utility>

namespace rs::glib {

// A strong reference to a GObject: copying refs, destroying unrefs.
template <class T>
class ObjectRef {
 public:
  ObjectRef() noexcept = default;
  static ObjectRef adopt(T* object) noexcept { return ObjectRef(object); }
  static ObjectRef take_ref(T* object) noexcept {
    return ObjectRef(object ? static_cast<T*>(g_object_ref(object)) : nullptr);
  }

  ObjectRef(const ObjectRef& other) noexcept : object_(other.object_) {
    if (object_)
      g_object_ref(object_);
  }
  ObjectRef(ObjectRef&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  ObjectRef& operator=(ObjectRef other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~ObjectRef() {
    if (object_)
      g_object_unref(object_);
  }

  T* get() const noexcept { return object_; }
  // Hands the reference to the caller.
  T* release() noexcept { return std::exchange(object_, nullptr); }
  explicit operator bool() const noexcept { return object_ != nullptr; }

 private:
  explicit ObjectRef(T* object) noexcept : object_(object) {}
  T* object_ = nullptr;
};

}  // namespace rs::glib
