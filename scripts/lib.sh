# Sourced by every script here and in bench/ (never run on its own): the repository root, quiet .NET,
# messages, root-only steps, and the two facts the build reads from one place each: where ggml is
# (which scripts/bootstrap.sh decides once) and the x86-64 CPU levels (native/cpu-variants.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The native build folder the scripts use (scripts/build-native.sh linux-x64 builds into it).
build="${DINO_BUILD_DIR:-$root/build}"
# Debian's python3 has numpy (and, for references and the PyTorch bench row, torch); the pyenv
# python3 first on PATH on our machines has neither.
py=/usr/bin/python3; [ -x "$py" ] || py=python3

say() { echo "$(basename "$0" .sh): $*" >&2; }
die() { say "$*"; exit 1; }
step() { printf '\n== %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_ensure PACKAGE...: installs the Debian packages that are missing.
apt_ensure() {
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  [ ${#need[@]} -gt 0 ] || return 0
  say "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# The ggml that scripts/bootstrap.sh chose (built from native/ggml, or prebuilt), as it recorded it
# in .deps/ggml-origin: a folder relative to the root.  CMakeLists.txt and Directory.Build.props read
# the same file.
ggml_origin_file="$root/.deps/ggml-origin"
ggml_dir() {
  [ -f "$ggml_origin_file" ] || die "no $ggml_origin_file: run scripts/bootstrap.sh first"
  echo "$root/$(cat "$ggml_origin_file")"
}

# cpu_levels: the x86-64 levels, best first.  cpu_level_options LEVEL: the ggml options it turns on.
cpu_levels() { sed -e 's/#.*//' "$root/native/cpu-variants.txt" | awk -F'|' 'NF == 3 { gsub(/ /, "", $1); print $1 }'; }
cpu_level_options() {
  sed -e 's/#.*//' "$root/native/cpu-variants.txt" | awk -F'|' -v l="$1" 'NF == 3 { n = $1; gsub(/ /, "", n); if (n == l) print $3 }'
}

# share_ggml_base RID_DIR: ggml-base once at the RID's top where every level's copy is the same;
# a level keeps its own where it differs (the .NET loader and CMake look in the level's folder first).
share_ggml_base() {
  local base top
  for base in "$1"/*/libggml-base.so "$1"/*/ggml-base.dll; do
    [ -f "$base" ] || continue
    top="$1/$(basename "$base")"
    [ -f "$top" ] || cp "$base" "$top"   # the first level's copy serves every identical one
    if cmp -s "$base" "$top"; then rm "$base"; fi
  done
}

# skimage_photos DIR: the 16 real photographs Debian's python3-skimage ships, downloaded as a package
# file (nothing installed): 8 into DIR/calibration, 8 into DIR/held-out.  Kept once made.
skimage_photos() {
  local dir="$1" data f
  [ -d "$dir/held-out" ] && return 0
  say "real photos (Debian's python3-skimage data)"
  rm -rf "$dir" "$dir.deb" && mkdir -p "$dir.deb" "$dir/calibration" "$dir/held-out"
  (cd "$dir.deb" && apt-get download -qq python3-skimage 2>/dev/null)
  dpkg -x "$dir".deb/python3-skimage_*.deb "$dir.deb/x"
  data=$(find "$dir.deb/x" -type d -path '*skimage/data' | head -1)
  for f in astronaut.png chelsea.png coffee.png motorcycle_left.png rocket.jpg coins.png grass.png brick.png; do
    cp "$data/$f" "$dir/calibration/"
  done
  for f in camera.png moon.png motorcycle_right.png ihc.png gravel.png cell.png hubble_deep_field.jpg retina.jpg; do
    cp "$data/$f" "$dir/held-out/"
  done
  rm -rf "$dir.deb"
}

# build_dino: sets up (bootstrap.sh), builds libdino for this machine and the dino tool; then `dino ...`
# runs that tool.
build_dino() {
  "$root/scripts/bootstrap.sh" --for linux-x64
  DINO_BUILD_DIR="$build" "$root/scripts/build-native.sh" linux-x64 >/dev/null
  dotnet build "$root/src/Dino.Cli" -c Release -p:DinoNativeBuildDir="$build/" -v quiet -nologo >/dev/null
}
dino() { dotnet "$root/src/Dino.Cli/bin/Release/net10.0/dino.dll" "$@"; }
