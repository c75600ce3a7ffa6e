#!/usr/bin/env bash
# How far each attention kernel moves the CLS embedding from f32 attention (flash) on the same
# weights: f32, q8_0 and q4_0 models, 16 real photos (Debian's python3-skimage data), min and mean
# cosine per kernel.  The numbers behind which attention an int8 model gets by default.
#
#   bench/attention_drift.sh                     # the synthetic ViT-S/8 (random weights, real layout)
#   bench/attention_drift.sh dino-vits8-f32.gguf # a converted real model (README, "Real weights")
#
# Results: out/attention/drift.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
out="$root/out/attention"

build_dino
mkdir -p "$out"
skimage_photos "$out/photos"
photos="$out/photos/all"
mkdir -p "$photos" && cp "$out/photos/calibration/"* "$out/photos/held-out/"* "$photos/"

f32="${1:-$out/dino-vits8-synthetic-f32.gguf}"
if [ ! -f "$f32" ]; then
  say "a synthetic facebook/dino-vits8 checkpoint"
  "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config vits8 >/dev/null
  "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/vits8-hf" --outfile "$f32" --outtype f32 >/dev/null
  rm -rf "$out/checkpoints"
fi
for t in q8_0 q4_0; do
  [ -f "$out/model-$t.gguf" ] || dino quantize "$f32" "$out/model-$t.gguf" --type "$t" >/dev/null
done

kernels=(bf16 int8)
{
  echo "CLS cosine against the same weights with f32 attention (flash), $(ls "$photos" | wc -l) photos: min / mean"
  echo
  echo "| weights | ${kernels[*]/%/ |}"
  echo "|---|$(printf -- '---|%.0s' "${kernels[@]}")"
  for model in "$f32" "$out/model-q8_0.gguf" "$out/model-q4_0.gguf"; do
    dino embed -m "$model" --attention flash "$photos" -o "$out/flash.npy" >/dev/null 2>&1
    row="| $(dino info "$model" | awk '/^weights/ {print $2; exit}') |"
    for k in "${kernels[@]}"; do
      dino embed -m "$model" --attention "$k" "$photos" -o "$out/$k.npy" >/dev/null 2>&1
      row+=$("$py" -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(" %.6f / %.6f |" % (c.min(), c.mean()), end="")' "$out/flash.npy" "$out/$k.npy")
    done
    echo "$row"
  done
} | tee "$out/drift.md"
