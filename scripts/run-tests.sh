#!/usr/bin/env bash
# Installs what is needed, builds librtspsession and runs every test:
#   build/       the normal build: core, C API, concurrency, stress, Python,
#                conformance against GstRtspServer, GIR docs, examples;
#                then an install check and valgrind memcheck on the C API tests
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the C/C++ suite
#   build-tsan/  ThreadSanitizer: the concurrency and stress tests
#   build-fuzz/  clang + libFuzzer: each fuzz target for RS_FUZZ_SECONDS (60)
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

fuzz_seconds=${RS_FUZZ_SECONDS:-60}
passed=0
failed=0
failures=()  # names, repeated just before the summary line

count_meson_results() {  # build dir
  local log="$1/meson-logs/testlog.json" counts
  if [ ! -f "$log" ]; then failed=$((failed + 1)); failures+=("$1: no test log"); return; fi
  counts=$(/usr/bin/python3 - "$log" <<'PY'
import json, sys
tests = [json.loads(line) for line in open(sys.argv[1])]
bad = [t["name"] for t in tests if t["result"] not in ("OK", "EXPECTEDFAIL", "SKIP")]
print(len(tests) - len(bad), len(bad), " ".join(b.replace(" ", "_") for b in bad))
PY
)
  read -r good bad names <<<"$counts"
  passed=$((passed + good))
  failed=$((failed + bad))
  for name in $names; do failures+=("$1: $name"); done
}

step() {  # name, command...
  local name="$1"; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); failures+=("$name"); fi
}

build_dir() {  # dir, meson options...
  local dir="$1"; shift
  { [ -d "$dir" ] || meson setup "$dir" "$@"; } && ninja -C "$dir"
}

meson_suite() {  # dir, meson test arguments...
  local dir="$1"; shift
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs "$@"
  count_meson_results "$dir"
}

echo "== normal build"
if build_dir build -Dgst=enabled -Dredis=enabled; then
  meson_suite build
  step "install check" tests/install/check-install.sh build
  step "valgrind memcheck (C API tests)" env G_SLICE=always-malloc G_DEBUG=gc-friendly \
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 build/tests/test-capi
else
  echo "FAILED: build"; failed=$((failed + 1)); failures+=("build")
fi

sanitized=(-Db_lundef=false -Dintrospection=false -Dpython_tests=false -Dbench=disabled -Dgst=enabled)
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
if build_dir build-asan -Db_sanitize=address,undefined "${sanitized[@]}"; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson_suite build-asan
else
  echo "FAILED: ASan build"; failed=$((failed + 1)); failures+=("ASan build")
fi

echo "== ThreadSanitizer build"
if build_dir build-tsan -Db_sanitize=thread "${sanitized[@]}"; then
  meson_suite build-tsan --suite tsan
else
  echo "FAILED: TSan build"; failed=$((failed + 1)); failures+=("TSan build")
fi

echo "== libFuzzer build"
if CC=clang CXX=clang++ build_dir build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined "${sanitized[@]}" -Dtests=false -Dgst=disabled; then
  for target in session-header path-match pool-ops; do
    work=$(mktemp -d)
    step "fuzz $target for ${fuzz_seconds}s" build-fuzz/tests/fuzz/fuzz-$target \
      -max_total_time="$fuzz_seconds" -print_final_stats=1 -artifact_prefix="$work/" \
      "$work" "tests/fuzz/corpus/$target"
    rm -rf "$work"
  done
else
  echo "FAILED: fuzz build"; failed=$((failed + 1)); failures+=("fuzz build")
fi

for name in "${failures[@]}"; do echo "FAILED: $name"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
