// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <unistd.h>

#include <cstdio>

// The process's resident set in bytes, from /proc/self/statm; 0 if unknown.
inline long resident_bytes() {
  long total = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return 0;
  if (std::fscanf(f, "%ld %ld", &total, &resident) != 2)
    resident = 0;
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}
