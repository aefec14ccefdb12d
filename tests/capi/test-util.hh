// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <glib-object.h>

#include <string>
#include <vector>

// Counts the criticals and warnings the library logs while it is alive,
// instead of letting G_DEBUG=fatal-criticals abort the test.
class ExpectCriticals {
 public:
  explicit ExpectCriticals(const char* domain = "RtspSession") : domain_(domain) {
    saved_fatal_ = g_log_set_always_fatal(GLogLevelFlags(G_LOG_FATAL_MASK));
    handler_ = g_log_set_handler(domain_, GLogLevelFlags(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING),
                                 &ExpectCriticals::handle, this);
  }
  ~ExpectCriticals() {
    g_log_remove_handler(domain_, handler_);
    g_log_set_always_fatal(saved_fatal_);
  }
  ExpectCriticals(const ExpectCriticals&) = delete;
  ExpectCriticals& operator=(const ExpectCriticals&) = delete;

  int count() const { return static_cast<int>(messages_.size()); }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  static void handle(const gchar*, GLogLevelFlags, const gchar* message, gpointer self) {
    static_cast<ExpectCriticals*>(self)->messages_.emplace_back(message);
  }

  const char* domain_;
  GLogLevelFlags saved_fatal_;
  guint handler_;
  std::vector<std::string> messages_;
};

// Whether an object is still alive, proven with a weak pointer.
class WeakWatch {
 public:
  explicit WeakWatch(gpointer object) : object_(object) {
    g_object_add_weak_pointer(G_OBJECT(object), &object_);
  }
  ~WeakWatch() {
    if (object_)
      g_object_remove_weak_pointer(G_OBJECT(object_), &object_);
  }
  WeakWatch(const WeakWatch&) = delete;
  WeakWatch& operator=(const WeakWatch&) = delete;

  bool alive() const { return object_ != nullptr; }

 private:
  gpointer object_;
};
