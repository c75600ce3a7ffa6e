#!/usr/bin/env bash
# The README's quantization table, one command: every type `dino quantize` writes, q4_0 with an
# importance matrix, and the two recipes (--target-cos), each with its file size, its CLS cosine
# against f32 on real photos calibration did not see (min and mean), and its ms/image on this machine.
#
#   bench/quant_table.sh                       # the synthetic ViT-S/8 (random weights, real layout)
#   bench/quant_table.sh dino-vits8-f32.gguf   # a converted real model (README, "Real weights")
#
# Photos: the 16 real photographs Debian's python3-skimage ships (astronaut, chelsea, coffee, ...),
# downloaded as a package file (nothing installed), 8 to calibrate on and 8 held out to measure.
# Speed: `dino bench` at batch 1 and 2 threads, the models in turn, median of 3 rounds of 3 runs.
# Results: out/quant/table.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
out="$root/out/quant"

build_dino
mkdir -p "$out"

skimage_photos "$out/photos"
cal="$out/photos/calibration" held="$out/photos/held-out"

if [ $# -ge 1 ]; then
  f32="$1"
else
  f32="$out/dino-vits8-synthetic-f32.gguf"
  if [ ! -f "$f32" ]; then
    step "a synthetic facebook/dino-vits8 checkpoint"
    "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config vits8 >/dev/null
    "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/vits8-hf" --outfile "$f32" --outtype f32 --name dino-vits8-synthetic >/dev/null
    rm -rf "$out/checkpoints"
  fi
fi

# name|arguments of dino quantize
rows=(
  "f16|--type f16" "q8_0|--type q8_0" "q6_k|--type q6_k" "q5_1|--type q5_1" "q5_0|--type q5_0"
  "q4_k|--type q4_k" "q4_1|--type q4_1" "q4_0|--type q4_0"
  "q4_0, importance matrix|--type q4_0 --calibrate $cal"
  "q5_0, importance matrix|--type q5_0 --calibrate $cal"
  "recipe: --target-cos 0.99 --max-mb 17|--calibrate $cal --target-cos 0.99 --max-mb 17"
  "recipe: --target-cos 0.9995 --max-mb 25|--calibrate $cal --target-cos 0.9995 --max-mb 25"
  "q3_k|--type q3_k" "q2_k|--type q2_k"
)
declare -A file mb cos
for i in "${!rows[@]}"; do
  name="${rows[$i]%%|*}" args="${rows[$i]#*|}"
  step "$name"
  file[$i]="$out/model-$i.gguf"
  # shellcheck disable=SC2086
  report=$(dino quantize "$f32" "${file[$i]}" $args --probe "$held" 2>/dev/null)
  cos[$i]=$(sed -n 's/.*CLS cosine min \([0-9.]*\), mean \([0-9.]*\).*/\1 | \2/p' <<<"$report")
  mb[$i]=$(awk -v b="$(stat -c %s "${file[$i]}")" 'BEGIN { printf "%.1f", b / 1e6 }')
  printf '%s: %s MB, cosine min | mean %s\n' "$name" "${mb[$i]}" "${cos[$i]}" >&2
done

step "speed: batch 1, 2 threads; the models in turn, 3 rounds"
declare -A times
for round in 1 2 3; do
  for i in "${!rows[@]}"; do
    t=$(dino bench -m "${file[$i]}" --threads 2 --batch 1 --runs 3 2>/dev/null | sed -n 's/^ *\([0-9.]*\) ms\/image median.*/\1/p')
    times[$i]="${times[$i]:-} $t"
  done
done
{
  echo "| weights | file MB | CLS cosine vs f32, min | mean | ms/image |"
  echo "|---|---|---|---|---|"
  for i in "${!rows[@]}"; do
    med=$(tr ' ' '\n' <<<"${times[$i]}" | grep . | sort -n | sed -n 2p)
    echo "| ${rows[$i]%%|*} | ${mb[$i]} | ${cos[$i]} | $med |"
  done
} | tee "$out/table.md"
printf '\nmodel: %s; cosine on the %d held-out photos; written to out/quant/table.md\n' "$f32" "$(ls "$held" | wc -l)" >&2
rm -f "$out"/model-*.gguf
