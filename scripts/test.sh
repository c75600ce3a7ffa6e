#!/usr/bin/env bash
# Runs every test: sets up what is missing (scripts/bootstrap.sh), builds the
# native library and its tests for linux-x64, win-x64 and linux-arm64, runs them
# with CTest (which also makes the synthetic test models; win-x64 under wine,
# linux-arm64 under qemu), fuzzes the loader, then runs the .NET tests (whose
# package tests publish for linux-x64 every way, and for win-x64 and linux-arm64,
# run under wine and qemu).  Used by .ci/run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "set-up (scripts/bootstrap.sh)"
"$root/scripts/bootstrap.sh"
step "native, linux-x64: build and test"
DINO_BUILD_DIR="$build" "$root/scripts/build-native.sh" linux-x64 --tests
ctest --test-dir "$build" --output-on-failure --timeout 3000
step "native, win-x64 (mingw-w64; tests under wine): build and test"
"$root/scripts/build-native.sh" win-x64 --tests
ctest --test-dir "$root/build-win-x64" --output-on-failure --timeout 3000
step "native, linux-arm64 (aarch64 GCC; tests under qemu): build and test"
"$root/scripts/build-native.sh" linux-arm64 --tests
ctest --test-dir "$root/build-linux-arm64" --output-on-failure --timeout 3000

step "the loader under libFuzzer with AddressSanitizer and UBSan, for about a minute"
cmake -S "$root" -B "$build-fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DDINO_FUZZ=ON -DDINO_BUILD_TESTS=OFF >/dev/null
cmake --build "$build-fuzz" --target dino_fuzz_load -j"$(nproc)"
ctest --test-dir "$build-fuzz" --output-on-failure
step ".NET: the library, the CLI and the packages (linux-x64; win-x64 under wine, linux-arm64 under qemu)"
DINO_TEST_DATA="$build/testdata" DINO_TEST_RIDS="linux-x64 win-x64 linux-arm64" dotnet test "$root/Dino.Native.slnx" -c Release \
  -p:DinoNativeBuildDir="$build/" -p:DinoNativeWinX64Dir="$root/build-win-x64/" \
  -p:DinoNativeLinuxArm64Dir="$root/build-linux-arm64/" --logger "console;verbosity=normal"
