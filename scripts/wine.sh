#!/usr/bin/env bash
# Runs a Windows program under wine, quietly, in this repository's own wine
# prefix (.deps/wine, made on first use): the win-x64 tests' emulator.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export WINEPREFIX="${WINEPREFIX:-$root/.deps/wine}" WINEDEBUG="${WINEDEBUG:--all}"
exec wine "$@"
