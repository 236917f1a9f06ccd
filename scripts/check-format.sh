#!/usr/bin/env bash
# Fails when a C file of the project is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || true)
[ -n "$files" ] || exit 0
bad=$(for f in $files; do [ -f "$f" ] && { clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"; }; done)
if [ -n "$bad" ]; then
  echo "not clang-formatted (run clang-format -i):"; echo "$bad"; exit 1
fi
