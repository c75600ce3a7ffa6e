#!/usr/bin/env bash
# Builds ggml from the native/ggml submodule (v0.18.0) into OUT in the layout
# scripts/bootstrap.sh gives the prebuilt libraries, so that CMake, the .NET
# build and the package take them the same way:
#   OUT/include/                         ggml.h, ggml-alloc.h, ggml-backend.h, ggml-cpu.h, gguf.h
#   OUT/lib/<rid>/native/[<variant>/]    libggml-base, libggml-cpu (win: ggml-base.dll, ggml-cpu.dll)
#
#   scripts/build-ggml.sh OUT <rid>...    rid: linux-x64, win-x64, linux-arm64
#
# Options, and why (docs/building.md):
#   - portable code only: GGML_NATIVE=OFF.  A package runs on other machines, so it is never built
#     with -march=native; x64 gets one build per CPU level of native/cpu-variants.txt, with exactly the features the loader checks for, arm64 one ARMv8.0 build (our own
#     kernels bring sdot/smmla, chosen at run time);
#   - shared libraries linked to directly (BUILD_SHARED_LIBS=ON, GGML_BACKEND_DL=OFF): libdino calls
#     ggml-cpu's functions, not a backend registry, and the loader preloads the variant it picks;
#   - unversioned SONAMEs and RUNPATH $ORIGIN: the files are shipped as libggml-*.so side by side;
#   - OpenMP on Linux (as the prebuilt builds), ggml's own thread pool on Windows, whose MinGW
#     libraries link the GCC runtime statically (no DLLs beyond the system's).  Debian 12's MinGW
#     headers lack THREAD_POWER_THROTTLING_STATE, so Windows builds target _WIN32_WINNT 0x0601:
#     ggml then skips asking Windows 11 not to throttle its threads (docs/building.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src="$root/native/ggml"
out="${1:?usage: build-ggml.sh OUT <rid>...}"; shift
[ -f "$src/CMakeLists.txt" ] || die "native/ggml is empty (git submodule update --init)"
mkdir -p "$out/include"
cp "$src"/include/{ggml.h,ggml-alloc.h,ggml-backend.h,ggml-cpu.h,gguf.h} "$out/include/"
cp "$src/LICENSE" "$out/include/LICENSE.ggml"

# Each x64 level turns on exactly the ggml options native/cpu-variants.txt gives it (the features the
# loader checks for), all others off.
x86_off=(-DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF -DGGML_AVX512=OFF)
level_flags() {
  local o; echo "${x86_off[*]}"
  for o in $(cpu_level_options "$1"); do echo "-D$o=ON"; done
}

build_one() {  # RID VARIANT(or "") FLAGS...
  local rid="$1" variant="$2"; shift 2
  local dir="$root/build-ggml-work/$rid${variant:+-$variant}" dest="$out/lib/$rid/native${variant:+/$variant}"
  say "$rid ${variant:-(one build)} (log: $dir.log)"
  mkdir -p "$(dirname "$dir")"
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=OFF \
    -DGGML_NATIVE=OFF -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF -DGGML_CCACHE=OFF \
    -DCMAKE_PLATFORM_NO_VERSIONED_SONAME=ON -DCMAKE_INSTALL_RPATH='$ORIGIN' -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
    "$@" > "$dir.log" 2>&1 || { tail -30 "$dir.log" >&2; exit 1; }
  # ggml's own code warns a lot under GCC 12 (AVX-512 intrinsics): the log keeps it, failures show it.
  cmake --build "$dir" --target ggml-base ggml-cpu -j"$(nproc)" >> "$dir.log" 2>&1 || { tail -30 "$dir.log" >&2; exit 1; }
  mkdir -p "$dest"
  find "$dir" \( -name 'libggml-base.so' -o -name 'libggml-cpu.so' -o -name 'ggml-base.dll' -o -name 'ggml-cpu.dll' \) \
    -exec cp {} "$dest/" \;
}

for rid in "$@"; do
  case "$rid" in
    linux-x64)
      for v in $(cpu_levels); do
        # shellcheck disable=SC2046
        build_one linux-x64 "$v" $(level_flags "$v")
      done ;;
    win-x64)
      for v in $(cpu_levels); do
        # shellcheck disable=SC2046
        build_one win-x64 "$v" $(level_flags "$v") -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/win-x64-mingw.cmake" \
          -DGGML_OPENMP=OFF -DCMAKE_SHARED_LINKER_FLAGS="-static -s -Wl,--no-insert-timestamp -Wl,--exclude-libs,libgcc.a:libgcc_eh.a:libstdc++.a:libwinpthread.a" \
          -DCMAKE_C_FLAGS=-D_WIN32_WINNT=0x0601 -DCMAKE_CXX_FLAGS=-D_WIN32_WINNT=0x0601
      done ;;
    linux-arm64)
      build_one linux-arm64 "" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/linux-arm64.cmake" -DGGML_CPU_ARM_ARCH=armv8-a ;;
    *) say "no ggml build for '$rid'"; exit 2 ;;
  esac
  share_ggml_base "$out/lib/$rid/native"   # as bootstrap lays out the prebuilt libraries
done
# What was built, for bootstrap.sh's up-to-date check and for people.
{ [ -e "$src/.git" ] && git -C "$src" rev-parse HEAD || echo "native/ggml (not a git checkout)"; } > "$out/SOURCE"
