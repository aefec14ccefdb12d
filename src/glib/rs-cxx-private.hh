// SPDX-License-Identifier: LGPL-2.1-or-later
// How every type of the library keeps its C++ state inside a GObject.
#pragma once

#include <glib-object.h>

#include <new>
#include <type_traits>

namespace rs::glib {

template <class Private, class Instance>
void
construct_private (void *memory, Instance *self)
{
  // GLib aligns private data to 2 * sizeof (gsize) only.
  static_assert (alignof (Private) <= 2 * sizeof (gsize), "private data needs more alignment than GLib gives");
  if constexpr (!std::is_aggregate_v<Private> && std::is_constructible_v<Private, Instance *>)
    new (memory) Private (self);
  else
    new (memory) Private ();
}

}  // namespace rs::glib

// RS_DEFINE_TYPE_WITH_CXX_PRIVATE (TypeName, type_name, PARENT_TYPE, Private)
//
// G_DEFINE_TYPE_WITH_PRIVATE, with `Private` — a C++ class — as the private
// data: it is constructed in type_name_init() (as `Private (self)` when it
// takes the instance, else `Private ()`) and destroyed in
// type_name_finalize(), which the class's class_init installs as
// GObjectClass.finalize and which chains up. GObject's zero-filled memory is
// never taken for a constructed C++ object. Also defines
//   Private &get_priv (TypeName *self)            the one accessor
//   TypeName *type_name_from_priv (Private *priv)  its inverse
//
// Allocation failure: C++ code here allocates with operator new, and the
// shim's entry points are noexcept, so std::bad_alloc ends the process
// through std::terminate(), as g_malloc() aborts on out-of-memory in GLib.
// No entry point reports it otherwise.
#define RS_DEFINE_TYPE_WITH_CXX_PRIVATE(TypeName, type_name, PARENT_TYPE, CxxPrivate)                            \
  G_DEFINE_TYPE_WITH_PRIVATE (TypeName, type_name, PARENT_TYPE)                                              \
  static_assert (std::is_same_v<TypeName##Private, CxxPrivate>, "G_ADD_PRIVATE sizes TypeName##Private");        \
                                                                                                             \
  [[maybe_unused]] static inline CxxPrivate &get_priv (TypeName *self) noexcept                                 \
  {                                                                                                          \
    return *static_cast<CxxPrivate *> (type_name##_get_instance_private (self));                               \
  }                                                                                                          \
                                                                                                             \
  [[maybe_unused]] static inline TypeName *type_name##_from_priv (CxxPrivate *priv) noexcept                    \
  {                                                                                                          \
    return reinterpret_cast<TypeName *> (reinterpret_cast<guint8 *> (priv) - TypeName##_private_offset);    \
  }                                                                                                          \
                                                                                                             \
  static void type_name##_init (TypeName *self)                                                              \
  {                                                                                                          \
    rs::glib::construct_private<CxxPrivate> (type_name##_get_instance_private (self), self);                   \
  }                                                                                                          \
                                                                                                             \
  static void type_name##_finalize (GObject *object) noexcept                                                \
  {                                                                                                          \
    get_priv (reinterpret_cast<TypeName *> (object)).~CxxPrivate ();                                            \
    G_OBJECT_CLASS (type_name##_parent_class)->finalize (object);                                            \
  }
