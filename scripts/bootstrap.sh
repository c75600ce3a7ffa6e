#!/usr/bin/env bash
# Fetches everything the native build needs, idempotently, into .deps/:
#   - ggml 0.18.0 runtime libraries for every x86-64/arm64 CPU variant, from the
#     NuGet package LLamaSharp.Backend.Cpu 0.30.0 (MIT);
#   - ggml headers from Debian's libggml-dev (unstable suite), extracted without
#     installing anything system-wide (Debian's binaries need a newer glibc).
# It also installs the Debian packages the build and tests use (compiler, cmake,
# googletest, numpy for the converter, clang and zlib for NativeAOT publishes,
# mingw-w64 and wine for win-x64).  See the README, "Building and layout".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
ggml="$deps/ggml"
mkdir -p "$deps"

say() { echo "bootstrap: $*" >&2; }

# --- Debian packages -----------------------------------------------------------
need=()
# g++-mingw-w64-x86-64-posix and wine: the win-x64 build and its tests.
for p in g++ cmake make libgtest-dev python3-numpy libgomp1 clang libclang-rt-14-dev zlib1g-dev unzip \
         g++-mingw-w64-x86-64-posix wine wine64; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- ggml runtime libraries (NuGet) --------------------------------------------
# Laid out as the package carries them (lib/<rid>/native/): ggml-cpu per CPU
# variant folder; ggml-base once at the RID's top when the variants' copies are
# identical (linux-x64), in a variant folder only where its copy differs (win-x64
# avx512).  The .NET loader and CMake look in the variant folder first.
if [ ! -f "$ggml/lib/.complete-v2" ]; then
  say "fetching ggml 0.18.0 runtime (NuGet LLamaSharp.Backend.Cpu 0.30.0)"
  work="$deps/nuget-download"
  mkdir -p "$work"
  cat > "$work/download.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="LLamaSharp.Backend.Cpu" Version="[0.30.0]" /></ItemGroup>
</Project>
XML
  dotnet restore "$work/download.csproj" --packages "$work/packages" >/dev/null
  pkg="$work/packages/llamasharp.backend.cpu/0.30.0/LLamaSharpRuntimes"
  rm -rf "$ggml/lib"
  # Keep only the ggml libraries (not llama/mtmd), per RID and CPU variant.
  (cd "$pkg" && find . -name 'libggml*' -o -name 'ggml*.dll' | grep -v -E 'llama|mtmd') |
  while read -r f; do
    mkdir -p "$ggml/lib/$(dirname "$f")"
    cp "$pkg/$f" "$ggml/lib/$f"
  done
  for base in "$ggml"/lib/*/native/*/libggml-base.so "$ggml"/lib/*/native/*/ggml-base.dll; do
    [ -f "$base" ] || continue
    top="$(dirname "$(dirname "$base")")/$(basename "$base")"
    [ -f "$top" ] || cp "$base" "$top"   # the first variant's copy serves every identical one
    if cmp -s "$base" "$top"; then rm "$base"; fi
  done
  rm -rf "$work"
  touch "$ggml/lib/.complete-v2"
fi

# --- ggml headers (Debian libggml-dev, unstable) -------------------------------
if [ ! -f "$ggml/include/ggml.h" ]; then
  say "fetching ggml headers (Debian libggml-dev from the unstable suite)"
  apt_dir="$deps/apt"
  rm -rf "$apt_dir"; mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : > "$apt_dir/empty"
  # Reuse this machine's own Debian mirror, only with the unstable suite.
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { say "no Debian mirror configured in /etc/apt"; exit 1; }
  printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$apt_dir/parts/sid.sources"
  opts=(-o "Dir::Etc::SourceList=$apt_dir/empty" -o "Dir::Etc::SourceParts=$apt_dir/parts"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        -o "Dir::State::status=$apt_dir/empty" -o "APT::Sandbox::User=root")
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$apt_dir" && apt-get "${opts[@]}" download libggml-dev >/dev/null)
  dpkg -x "$apt_dir"/libggml-dev_*.deb "$apt_dir/x"
  mkdir -p "$ggml/include"
  cp "$apt_dir"/x/usr/include/{ggml.h,ggml-alloc.h,ggml-backend.h,ggml-cpu.h,gguf.h} "$ggml/include/"
  cp "$apt_dir"/x/usr/share/doc/libggml-dev/copyright "$ggml/include/COPYRIGHT.debian"
  rm -rf "$apt_dir"
fi
say "ggml ready in $ggml"
