#!/usr/bin/env bash
# Runs every test: sets up what is missing (scripts/bootstrap.sh), builds the
# native library and its tests, runs them with CTest (which also makes the
# synthetic test models), then runs the .NET tests.  Used by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${DINO_BUILD_DIR:-$root/build}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -DDINO_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure --timeout 3000

# The loader under libFuzzer with AddressSanitizer and UBSan, for about a minute.
cmake -S "$root" -B "$build-fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DDINO_FUZZ=ON -DDINO_BUILD_TESTS=OFF >/dev/null
cmake --build "$build-fuzz" --target dino_fuzz_load -j"$(nproc)"
ctest --test-dir "$build-fuzz" --output-on-failure
DINO_TEST_DATA="$build/testdata" dotnet test "$root/Dino.Native.slnx" -c Release \
  -p:DinoNativeBuildDir="$build/" --logger "console;verbosity=normal"
