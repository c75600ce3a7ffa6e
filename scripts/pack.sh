#!/usr/bin/env bash
# Builds the NuGet packages with every runtime's native files: sets up
# (scripts/bootstrap.sh), builds libdino for linux-x64, win-x64 and linux-arm64
# (scripts/build-native.sh), packs Dino.Native, Dino.Native.ImageSharp and the dino tool into out/packages/,
# and checks that each runtime's files are in the package.
#   scripts/pack.sh [version]        (default: the version in Directory.Build.props)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$root/out/packages"
rids=(linux-x64 win-x64 linux-arm64)
version=()
[ $# -ge 1 ] && version=(-p:Version="$1")

"$root/scripts/bootstrap.sh"
for rid in "${rids[@]}"; do
  say "building libdino for $rid"
  "$root/scripts/build-native.sh" "$rid" >/dev/null
done
mkdir -p "$out"
for project in Dino.Native Dino.Native.ImageSharp Dino.Cli; do
  dotnet pack "$root/src/$project" -c Release -o "$out" "${version[@]}" -v quiet -nologo \
    -p:DinoNativeBuildDir="$root/build/" -p:DinoNativeWinX64Dir="$root/build-win-x64/" \
    -p:DinoNativeLinuxArm64Dir="$root/build-linux-arm64/" >/dev/null
done

# Every runtime: libdino, ggml-base and each CPU level's ggml-cpu (linux-arm64: one ggml build).
nupkg=$(ls -t "$out"/Dino.Native.*.nupkg | grep -v '\.symbols\.' | head -1)
listing=$(unzip -Z1 "$nupkg")
wants=(linux-x64/native/libdino.so linux-x64/native/libggml-base.so win-x64/native/dino.dll win-x64/native/ggml-base.dll
       linux-arm64/native/{libdino,libggml-base,libggml-cpu}.so)
for level in $(cpu_levels); do wants+=("linux-x64/native/$level/libggml-cpu.so" "win-x64/native/$level/ggml-cpu.dll"); done
missing=0
for want in "${wants[@]}"; do
  grep -qx "nativeassets/$want" <<<"$listing" || { say "$nupkg lacks nativeassets/$want"; missing=1; }
done
[ $missing = 0 ] || exit 1
say "$(ls -t "$out"/*.nupkg | head -2 | tr '\n' ' ')(runtimes: ${rids[*]})"
