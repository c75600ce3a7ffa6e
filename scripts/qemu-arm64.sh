#!/usr/bin/env bash
# Runs a linux-arm64 program under qemu-user with the Debian 13 run-time sysroot
# that scripts/bootstrap.sh fetched (.deps/sysroot-linux-arm64): the arm64
# tests' emulator.  QEMU_CPU picks the CPU model (default cortex-a72: baseline
# ARMv8.0, no dot product), so code that uses an instruction its CPU lacks dies
# with SIGILL: cortex-a76 adds sdot, max adds smmla (i8mm) and SVE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export QEMU_LD_PREFIX="${QEMU_LD_PREFIX:-$root/.deps/sysroot-linux-arm64}" QEMU_CPU="${QEMU_CPU:-cortex-a72}"
exec qemu-aarch64 "$@"
