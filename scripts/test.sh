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
DINO_TEST_DATA="$build/testdata" dotnet test "$root/Dino.Native.slnx" -c Release \
  -p:DinoNativeBuildDir="$build/" --logger "console;verbosity=normal"
