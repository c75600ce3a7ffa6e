#!/usr/bin/env bash
# Fetches everything the native build needs, idempotently:
#   - ggml 0.18.0: where the native/ggml submodule is populated, built from it
#     into build-ggml/ (scripts/build-ggml.sh); else, into .deps/ggml/, the
#     runtime libraries for every x86-64/arm64 CPU variant from the NuGet
#     package LLamaSharp.Backend.Cpu 0.30.0 (MIT) and the headers from Debian's
#     libggml-dev (unstable suite), extracted without installing anything
#     system-wide (Debian's binaries need a newer glibc).  docs/building.md says why.
# It also installs the Debian packages the build and tests use (compiler, cmake,
# googletest, numpy for the converter, clang and zlib for NativeAOT publishes,
# mingw-w64 and wine for win-x64, the aarch64 cross compiler and qemu-user for
# linux-arm64) and a Debian 13 arm64 run-time sysroot for qemu into .deps/.
# It records which ggml it chose in .deps/ggml-origin, which CMake, MSBuild and the scripts read.
#
#   scripts/bootstrap.sh                   everything the tests and the packages need (test.sh, pack.sh)
#   scripts/bootstrap.sh --for linux-x64   only what building and running for these RIDs needs (demo.sh:
#                                          no cross compilers, wine, qemu, arm64 sysroot, NativeAOT or fuzzing tools)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
deps="$root/.deps"
ggml="$deps/ggml"
mkdir -p "$deps"
rids=(linux-x64 win-x64 linux-arm64)
everything=1
if [ "${1:-}" = --for ]; then
  shift
  [ $# -gt 0 ] || die "--for needs one or more of: ${rids[*]}"
  for r in "$@"; do [[ " ${rids[*]} " == *" $r "* ]] || die "--for $r: not one of ${rids[*]}"; done
  rids=("$@")
  everything=0
elif [ $# -gt 0 ]; then
  die "usage: scripts/bootstrap.sh [--for RID...]"
fi
wants() { [[ " ${rids[*]} " == *" $1 "* ]]; }

# --- Debian packages -----------------------------------------------------------
# g++-mingw-w64-x86-64-posix and wine: the win-x64 build and its tests; g++-aarch64-linux-gnu and
# qemu-user: linux-arm64's; clang, its runtime and zlib: the tests' NativeAOT publish and the fuzzer.
packages=(g++ cmake make libgtest-dev python3-numpy libgomp1 unzip)
[ $everything = 1 ] && packages+=(clang libclang-rt-14-dev zlib1g-dev)
wants win-x64 && packages+=(g++-mingw-w64-x86-64-posix wine wine64)
wants linux-arm64 && packages+=(g++-aarch64-linux-gnu qemu-user)
apt_ensure "${packages[@]}"

# --- Debian packages of another suite or architecture, never installed --------
# apt_download DIR SUITE ARCH PACKAGE...: downloads the .debs into DIR through a
# private apt configuration that reuses this machine's own Debian mirror.
apt_download() {
  local dir="$1" suite="$2" arch="$3"; shift 3
  local apt_dir="$deps/apt"
  rm -rf "$apt_dir"; mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir"
  : > "$apt_dir/empty"
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "no Debian mirror configured in /etc/apt"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nArchitectures: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" "$arch" > "$apt_dir/parts/$suite.sources"
  local opts=(-o "Dir::Etc::SourceList=$apt_dir/empty" -o "Dir::Etc::SourceParts=$apt_dir/parts"
              -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
              -o "Dir::State::status=$apt_dir/empty" -o "APT::Sandbox::User=root"
              -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch")
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$dir" && apt-get "${opts[@]}" download "$@" >/dev/null)
  rm -rf "$apt_dir"
}

# --- prebuilt ggml ---------------------------------------------------------------
prebuilt_ggml() {
  # Runtime libraries (NuGet).
  # Laid out as the package carries them (lib/<rid>/native/): ggml-cpu per CPU
  # variant folder; ggml-base once at the RID's top when the variants' copies are
  # identical (linux-x64), in a variant folder only where its copy differs (win-x64
  # avx512).  The .NET loader and CMake look in the variant folder first.
  if [ ! -f "$ggml/lib/.complete-v2" ]; then
    say "fetching ggml 0.18.0 runtime (NuGet LLamaSharp.Backend.Cpu 0.30.0)"
    work="$deps/nuget-download"
    mkdir -p "$work"
    printf '%s\n' '<Project Sdk="Microsoft.NET.Sdk">' \
      '  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>' \
      '  <ItemGroup><PackageDownload Include="LLamaSharp.Backend.Cpu" Version="[0.30.0]" /></ItemGroup>' \
      '</Project>' > "$work/download.csproj"
    dotnet restore "$work/download.csproj" --packages "$work/packages" >/dev/null
    pkg="$work/packages/llamasharp.backend.cpu/0.30.0/LLamaSharpRuntimes"
    rm -rf "$ggml/lib"
    # Keep only the ggml libraries (not llama/mtmd), per RID and CPU variant.
    (cd "$pkg" && find . -name 'libggml*' -o -name 'ggml*.dll' | grep -v -E 'llama|mtmd') |
    while read -r f; do
      mkdir -p "$ggml/lib/$(dirname "$f")"
      cp "$pkg/$f" "$ggml/lib/$f"
    done
    for rid_dir in "$ggml"/lib/*/native; do share_ggml_base "$rid_dir"; done
    rm -rf "$work"
    touch "$ggml/lib/.complete-v2"
  fi

  # Headers (Debian libggml-dev, unstable).
  if [ ! -f "$ggml/include/ggml.h" ]; then
    say "fetching ggml headers (Debian libggml-dev from the unstable suite)"
    debs="$deps/debs-headers"
    rm -rf "$debs"
    apt_download "$debs" sid "$(dpkg --print-architecture)" libggml-dev
    dpkg -x "$debs"/libggml-dev_*.deb "$debs/x"
    mkdir -p "$ggml/include"
    cp "$debs"/x/usr/include/{ggml.h,ggml-alloc.h,ggml-backend.h,ggml-cpu.h,gguf.h} "$ggml/include/"
    cp "$debs"/x/usr/share/doc/libggml-dev/copyright "$ggml/include/COPYRIGHT.debian"
    rm -rf "$debs"
  fi
}

# --- ggml: from the native/ggml submodule where it is populated, else prebuilt --
# DINO_GGML_FROM_SOURCE=1: the submodule must be used (a connected CI sets it);
# =0: the prebuilt libraries even where it is populated; unset: the submodule if
# populated.  The choice is made here only, and written to .deps/ggml-origin (build-ggml or
# .deps/ggml), where CMakeLists.txt, Directory.Build.props and the scripts find it.
ggml_from_source=0
if [ -f "$root/native/ggml/CMakeLists.txt" ] && [ "${DINO_GGML_FROM_SOURCE:-}" != 0 ]; then ggml_from_source=1; fi
if [ "${DINO_GGML_FROM_SOURCE:-}" = 1 ] && [ $ggml_from_source = 0 ]; then
  die "DINO_GGML_FROM_SOURCE=1, but native/ggml is empty (git submodule update --init)"
fi
if [ $ggml_from_source = 1 ]; then
  # Rebuilt when the submodule's commit (or, outside git, its sources), the build script or the CPU
  # levels change.
  if [ -e "$root/native/ggml/.git" ]; then id=$(git -C "$root/native/ggml" rev-parse HEAD)
  else id=$(cd "$root/native/ggml" && find CMakeLists.txt include src -type f | sort | xargs cat | sha1sum | cut -c1-40); fi
  # .complete holds the stamp, then the RIDs built: a build for more RIDs serves one for fewer.
  stamp="$id $(cat "$root/scripts/build-ggml.sh" "$root/native/cpu-variants.txt" | sha1sum | cut -c1-40)"
  built=()
  if [ "$(head -1 "$root/build-ggml/.complete" 2>/dev/null)" = "$stamp" ]; then
    read -r -a built < <(sed -n 2p "$root/build-ggml/.complete")
  fi
  missing=0
  for r in "${rids[@]}"; do [[ " ${built[*]} " == *" $r "* ]] || missing=1; done
  if [ $missing = 1 ]; then
    for r in "${built[@]}"; do wants "$r" || rids+=("$r"); done  # (kept: rebuilding drops what is not rebuilt)
    say "building ggml from native/ggml for ${rids[*]} (several minutes)"
    rm -rf "$root/build-ggml" "$root/build-ggml-work"
    "$root/scripts/build-ggml.sh" "$root/build-ggml" "${rids[@]}"
    printf '%s\n%s\n' "$stamp" "${rids[*]}" > "$root/build-ggml/.complete"
  fi
  origin=build-ggml
  say "ggml built from native/ggml in $root/build-ggml"
else
  prebuilt_ggml
  origin=.deps/ggml
  say "ggml ready in $ggml"
fi
# Rewritten only when the choice changes: CMake re-configures when this file does.
[ "$(cat "$ggml_origin_file" 2>/dev/null)" = "$origin" ] || echo "$origin" > "$ggml_origin_file"

# --- linux-arm64 run-time sysroot (Debian 13) ----------------------------------
# ggml's arm64 libraries need glibc 2.38 (Debian 12's cross libc is 2.36): qemu
# runs the arm64 tests against Debian 13's libc, libstdc++, libgcc and libgomp.
sysroot="$deps/sysroot-linux-arm64"
if wants linux-arm64 && [ ! -f "$sysroot/.complete" ]; then
  say "fetching the linux-arm64 run-time sysroot (Debian 13 libc6, libstdc++6, libgcc-s1, libgomp1)"
  debs="$deps/debs-arm64"
  rm -rf "$debs" "$sysroot"
  apt_download "$debs" trixie arm64 libc6 libstdc++6 libgcc-s1 libgomp1
  for d in "$debs"/*.deb; do dpkg -x "$d" "$sysroot"; done
  # The merged-/usr layout: the program interpreter is /lib/ld-linux-aarch64.so.1.
  [ -e "$sysroot/lib" ] || ln -s usr/lib "$sysroot/lib"
  rm -rf "$debs"
  touch "$sysroot/.complete"
fi
