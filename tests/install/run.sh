#!/usr/bin/env bash
# CTest's install_and_use: installs BUILD into a fresh prefix (cmake --install), builds the C program in
# this folder (the header's example) against it with find_package(dino), as a user's project would, and runs it on MODEL from
# the prefix alone.
#   tests/install/run.sh BUILD MODEL
set -euo pipefail
build="$1" model="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$(dirname "${BASH_SOURCE[0]}")" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/consumer" >/dev/null
ls "$work/prefix/include/dino.h" "$work/prefix/lib/cmake/dino/dinoConfig.cmake" >/dev/null
"$work/consumer/consumer" "$model"
