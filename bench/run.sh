#!/usr/bin/env bash
# The benchmark, one command: Dino.Native (f32, f16, q8_0, q4_0) against ONNX Runtime 1.31.1 (fp32 and
# dynamic int8) and PyTorch, on the same synthetic ViT-S/8 weights, timed side by side in one run.
# The report names the CPU (model, the features that pick our paths, its class) and each dino row's
# kernels; DINO_KERNELS=avx2 bench/run.sh forces the dino rows onto another path.
#
#   bench/run.sh                     # batch 1 and 8, 2 and 1 threads, 5 rounds
#   bench/run.sh --batch 1 --threads 2 --rounds 9
#   bench/run.sh --types f32,q8_0 --dinov2 f32,q8_0   # DINOv2 ViT-S/14 rows beside ViT-S/8, both at 224
#   bench/run.sh --types q8_0,q8_0-7bit               # q8_0 and the same file with its weights rounded to 7 bits at load
#
# Needs what scripts/bootstrap.sh installs, plus Debian's python3-onnx (installed here if missing) for
# the ONNX exports and, optionally, python3-torch for the PyTorch row. Results: out/bench/results.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
out="$root/out/bench"

"$root/scripts/bootstrap.sh"
"$py" -c "import onnx" 2>/dev/null || apt_ensure python3-onnx
DINO_BUILD_DIR="$build" "$root/scripts/build-native.sh" linux-x64 >/dev/null

mkdir -p "$out"
if [ ! -f "$out/dino-fp32.onnx" ]; then
  "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config vits8
  for t in f32 f16 q8_0 q4_0; do
    "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/vits8-dino.pth" --outfile "$out/dino-$t.gguf" --outtype "$t"
  done
  "$py" "$root/bench/make_onnx.py" "$out/checkpoints/vits8-dino.pth" "$out"
fi
if [ ! -f "$out/dinov2-s14-q4_0.gguf" ]; then  # a synthetic dinov2-small (Hugging Face layout)
  "$py" "$root/tests/data/make_synthetic.py" "$out/checkpoints" --config v2s14
  for t in f32 f16 q8_0 q4_0; do
    "$py" "$root/scripts/convert_gguf.py" "$out/checkpoints/v2s14-hf" --outfile "$out/dinov2-s14-$t.gguf" --outtype "$t"
  done
fi

dotnet build "$root/bench/Dino.Bench" -c Release -p:DinoNativeBuildDir="$build/" -v quiet -nologo >/dev/null
torch=()
if "$py" -c "import torch" 2>/dev/null; then
  # Debian's torch links the reference BLAS unless OpenBLAS is installed: ten times slower, not a fair peer.
  apt_ensure libopenblas0-pthread
  torch=(--torch "$out/checkpoints/vits8-dino.pth")
fi
"$root/bench/Dino.Bench/bin/Release/net10.0/Dino.Bench" --data "$out" --bench-dir "$root/bench" \
  --output "$out/results.md" "${torch[@]}" "$@"
