#!/usr/bin/env bash
# How far the CLS embedding moves, on 16 real photos (Debian's python3-skimage data), min and mean
# cosine:
#   1. each attention kernel against f32 attention (flash) on the same weights, for f32, q8_0 and q4_0
#      models: the numbers behind which attention an int8 model gets by default;
#   2. the int8 weights against the f32 model (f32 attention): q8_0 as stored, q8_0 rounded to 7 bits at
#      load (--weights-7bit), q4_0: the cost of the 7-bit option.
#
#   bench/drift.sh                     # the synthetic ViT-S/8 (random weights, real layout)
#   bench/drift.sh dino-vits8-f32.gguf # a converted real model (README, "Real weights")
#
# Results: out/drift/drift.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
out="$root/out/drift"

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

# " min / mean |" of the row-wise cosines of two .npy embeddings, for a table cell.
cosines() {
  "$py" -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(" %.6f / %.6f |" % (c.min(), c.mean()), end="")' "$1" "$2"
}

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
      row+=$(cosines "$out/flash.npy" "$out/$k.npy")
    done
    echo "$row"
  done

  echo
  echo "CLS cosine against the f32 model, f32 attention (flash), $(ls "$photos" | wc -l) photos: min / mean"
  echo
  echo "| weights | as stored | --weights-7bit |"
  echo "|---|---|---|"
  dino embed -m "$f32" --attention flash "$photos" -o "$out/f32.npy" >/dev/null 2>&1
  for model in "$out/model-q8_0.gguf" "$out/model-q4_0.gguf"; do
    row="| $(dino info "$model" | awk '/^weights/ {print $2; exit}') |"
    for variant in stored 7bit; do
      flag=(); [ $variant = 7bit ] && flag=(--weights-7bit)
      dino embed -m "$model" --attention flash "${flag[@]}" "$photos" -o "$out/$variant.npy" >/dev/null 2>&1
      row+=$(cosines "$out/f32.npy" "$out/$variant.npy")
    done
    echo "$row"
  done
} | tee "$out/drift.md"
