// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: sequences of pool operations decoded from the input,
// applied to the pool engine and to a naive list, which must agree.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/pool-model.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rs::testing::PoolModel model;
  // Each operation takes 5 bytes: the operation and two 16-bit arguments.
  for (std::size_t i = 0; i + 5 <= size && i < 5 * 2000; i += 5) {
    const auto op = static_cast<rs::testing::PoolModel::Op>(data[i] % rs::testing::PoolModel::kOps);
    const std::uint32_t a = data[i + 1] | (data[i + 2] << 8);
    // Scaled so that time advances cover whole seconds.
    const std::uint32_t b = (data[i + 3] | (data[i + 4] << 8)) * 97u;
    const std::string problem = model.apply(op, a, b);
    if (!problem.empty()) {
      std::fprintf(stderr, "disagreement after operation %zu: %s\n", i / 5, problem.c_str());
      __builtin_trap();
    }
  }
  return 0;
}
