#!/usr/bin/env bash
# Runs every test: sets up what is missing (scripts/bootstrap.sh), builds the
# native library and tests, and runs them with CTest.  Used by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${DINO_BUILD_DIR:-$root/build}"

"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -DDINO_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure --timeout 3000
