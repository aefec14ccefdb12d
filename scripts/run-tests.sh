#!/usr/bin/env bash
# Installs what is needed, builds librtspsession and runs every test:
#   build/       the normal build: core, C API, concurrency, Python,
#                conformance against GstRtspServer, examples, install check
#   build-tsan/  ThreadSanitizer build: core, C API and concurrency tests
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1

passed=0
failed=0
count_meson_results() {  # build dir
  local log="$1/meson-logs/testlog.json"
  [ -f "$log" ] || { failed=$((failed + 1)); return; }
  local ok bad
  ok=$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] in ("OK","EXPECTEDFAIL","SKIP")))' "$log")
  bad=$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$log")
  passed=$((passed + ok))
  failed=$((failed + bad))
}
step() {  # name, command...
  local name="$1"; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

echo "== normal build"
{ [ -d build ] || meson setup build; } && ninja -C build || { echo "FAILED: build"; echo "0 passed, 1 failed"; exit 1; }
rm -f build/meson-logs/testlog.json
meson test -C build --print-errorlogs
count_meson_results build
step "install check" tests/install/check-install.sh build

echo "== ThreadSanitizer build"
if { [ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread -Db_lundef=false \
       -Dintrospection=false -Dpython_tests=false; } && ninja -C build-tsan; then
  rm -f build-tsan/meson-logs/testlog.json
  meson test -C build-tsan --print-errorlogs --suite core --suite capi --suite tsan
  count_meson_results build-tsan
else
  echo "FAILED: TSan build"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
