#!/usr/bin/env bash
# Runs the whole test suite: configures a Debug build with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, builds everything, checks formatting, and
# runs every test (unit, integration against real redis-server/curl/AWS CLI, fuzz corpora), then
# runs every libFuzzer target for a short time (scripts/fuzz-smoke.sh, WL_FUZZ_SECONDS each).
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${WL_TEST_BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address,undefined >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
scripts/check-format.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@")
if [ $# -eq 0 ]; then
  scripts/fuzz-smoke.sh "${WL_FUZZ_SECONDS:-10}"
fi
