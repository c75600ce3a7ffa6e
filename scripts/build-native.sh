#!/usr/bin/env bash
# Builds libdino for one runtime, with its native tests if asked:
#   scripts/build-native.sh linux-x64 [--tests]   this machine; into build/ (or $DINO_BUILD_DIR)
#   scripts/build-native.sh win-x64   [--tests]   mingw-w64 cross build; into build-win-x64/
#                                                 (its tests run under wine: scripts/wine.sh)
#   scripts/build-native.sh linux-arm64 [--tests] aarch64 cross build; into build-linux-arm64/
#                                                 (its tests run under qemu: scripts/qemu-arm64.sh)
# Run scripts/bootstrap.sh first (test.sh, demo.sh and pack.sh do).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rid="${1:?usage: build-native.sh <linux-x64|win-x64|linux-arm64> [--tests]}"
tests=OFF; [ "${2:-}" = "--tests" ] && tests=ON
case "$rid" in
  linux-x64) build="${DINO_BUILD_DIR:-$root/build}"; args=() ;;
  win-x64)   build="$root/build-win-x64"; args=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/win-x64-mingw.cmake") ;;
  linux-arm64) build="$root/build-linux-arm64"; args=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/linux-arm64.cmake") ;;
  *) say "no build for '$rid' (linux-x64, win-x64, linux-arm64)"; exit 2 ;;
esac
cmake -S "$root" -B "$build" "${args[@]}" -DDINO_BUILD_TESTS="$tests" >/dev/null
cmake --build "$build" -j"$(nproc)"
