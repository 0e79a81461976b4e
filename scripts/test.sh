#!/usr/bin/env bash
# Sets everything up (scripts/bootstrap.sh) and runs every test:
#   1. the GoogleTest suite built with AddressSanitizer + UndefinedBehaviorSanitizer, via ctest;
#   2. pytest (Python unit tests, conformance, end-to-end builds, hypothesis properties).
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --browser

JOBS=$(nproc 2>/dev/null || echo 2)
echo "== native tests (GoogleTest under ASan+UBSan)"
cmake -S . -B build/native-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBENGAL_BUILD_MODULE=OFF -DBENGAL_BUILD_BENCH=OFF -DBENGAL_SANITIZE="address;undefined" >/dev/null
cmake --build build/native-asan -j "$JOBS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build/native-asan --output-on-failure -j "$JOBS"

echo "== Python tests"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: failing (exit 5 is never a pass here)" >&2
  exit 1
fi
exit "$rc"
