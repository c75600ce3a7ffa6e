#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up, build, make a model,
# convert and quantize it (one type, and for a target), embed a folder of images, search, draw attention
# maps, benchmark; then the same for a DINOv2 with registers.  Everything lands in out/demo/.
#
# Real weights cannot be downloaded on our build machines, so this uses a
# SYNTHETIC checkpoint with the exact facebook/dino-vits8 layout, made by
# tests/data/make_synthetic.py: its embeddings are NOT meaningful.  To run it
# on the real model, convert it (README: "Real weights") and pass the GGUF, and
# optionally a folder of your photos to calibrate on, embed and search (else the
# test images):
#     ./scripts/demo.sh path/to/dino-vits8-f32.gguf [photos/]
# Set-up installs only what linux-x64 needs (scripts/bootstrap.sh --for linux-x64).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$root/out/demo"
photos="${2:-$root/tests/images}"
[ -d "$photos" ] || die "$photos: not a folder of images"
query="$root/tests/images/photo.jpg"  # the search's query: a photo of the folder (the first by name) when one is given
[ $# -ge 2 ] && query="$(find "$photos" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort | head -1)"
[ -n "$query" ] || die "$photos: no .jpg or .png image to search with"

step "setup and build"
build_dino
mkdir -p "$out"

if [ $# -ge 1 ]; then
  f32="$1"
else
  step "a synthetic facebook/dino-vits8 checkpoint (Hugging Face layout; random weights)"
  "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config vits8
  step "convert to GGUF (scripts/convert_gguf.py, numpy only)"
  f32="$out/dino-vits8-synthetic-f32.gguf"
  "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/vits8-hf" --outfile "$f32" --outtype f32 --name dino-vits8-synthetic
  rm -rf "$out/checkpoints"  # the maker writes every checkpoint layout (~270 MB); the GGUF is all the demo uses
fi

step "quantize to q8_0 (ggml's quantizer) with a drift report"
q8="$out/$(basename "${f32%-f32.gguf}")-q8_0.gguf"
dino quantize "$f32" "$q8" --type q8_0

step "quantize for a target: calibrated on $photos, each layer's type chosen by measured drift (2 cores: ~2 min with AVX-512, ~3.5 with AVX2; the progress lines show the time left)"
mix="$out/$(basename "${f32%-f32.gguf}")-mix.gguf"
dino quantize "$f32" "$mix" --calibrate "$photos" --target-cos 0.99 --max-mb 17

step "model info"
dino info "$q8"
dino info "$mix" | grep -E "^(model|weights|quantization)"

step "embed a folder of images ($photos) into embeddings.npy"
dino embed -m "$q8" "$photos" -o "$out/embeddings.npy"
"$py" -c "import numpy, sys; a = numpy.load(sys.argv[1]); print('embeddings.npy:', a.shape, a.dtype)" "$out/embeddings.npy" \
  2>/dev/null || true

step "nearest neighbours of $(basename "$query")"
dino similar -m "$q8" "$query" "$out/embeddings.npy" -k 3

step "attention maps of the last block (out/demo/attention.png)"
dino attention -m "$f32" "$query" -o "$out/attention.png" --size 224

step "benchmark, side by side (2 threads, batch 1)"
dino bench -m "$f32" --threads 2 --runs 3
dino bench -m "$q8" --threads 2 --runs 3
dino bench -m "$mix" --threads 2 --runs 3

if [ $# -lt 1 ]; then
  step "DINOv2 with registers: a synthetic facebook/dinov2-with-registers-small (Hugging Face layout), same commands"
  "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config v2s14reg
  v2="$out/dinov2-reg-small-synthetic-f32.gguf"
  "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/v2s14reg-hf" --outfile "$v2" --outtype f32 --name dinov2-reg-small-synthetic
  rm -rf "$out/checkpoints"
  dino quantize "$v2" "${v2%-f32.gguf}-q8_0.gguf" --type q8_0
  dino info "${v2%-f32.gguf}-q8_0.gguf" | grep -E "^(model|architecture|input|preprocess)"
  dino embed -m "${v2%-f32.gguf}-q8_0.gguf" "$photos" -o "$out/embeddings-dinov2.npy"
  dino bench -m "${v2%-f32.gguf}-q8_0.gguf" --threads 2 --runs 3
fi

if [ $# -lt 1 ]; then
  printf '\nDone. The model above is SYNTHETIC (random weights with the real layout): the pipeline is real,\n' >&2
  printf 'the embeddings and attention maps are not meaningful. See README.md, "Real weights".\n' >&2
fi
