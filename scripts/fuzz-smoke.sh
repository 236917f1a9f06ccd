#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan+UBSan) and runs each for a short time from its
# seed corpus (copied, so the committed corpus stays as it is). Any crash, leak or timeout fails.
# Usage: scripts/fuzz-smoke.sh [seconds per target, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${WL_FUZZ_SECONDS:-10}}
BUILD=${WL_FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DFUZZ=ON -DSANITIZE=address,undefined \
  >/dev/null
# each fuzz target is registered as <name>_corpus running "<name>_replay <corpus dir>"
mapfile -t pairs < <(find "$BUILD" -name CTestTestfile.cmake -print0 | xargs -0 cat |
  /usr/bin/python3 -c '
import os, re, sys
for m in re.finditer(r"add_test\(\S+ \"([^\"]+)_replay\" \"([^\"]+)\"", sys.stdin.read()):
    print(os.path.basename(m.group(1)), m.group(2))')
targets=()
for p in "${pairs[@]}"; do targets+=("${p%% *}"); done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >/dev/null
fail=0
for p in "${pairs[@]}"; do
  name=${p%% *}; corpus=${p#* }
  bin=$(find "$BUILD" -type f -name "$name" -perm -u+x | head -n 1)
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/
  if "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" \
       "$work" >"$work.log" 2>&1; then
    echo "fuzz $name: ${SECS}s, $(grep -o 'DONE.*' "$work.log" | head -c 80)"
  else
    echo "fuzz $name FAILED:"; tail -40 "$work.log"; fail=1
  fi
  rm -rf "$work" "$work.log"
done
exit $fail
