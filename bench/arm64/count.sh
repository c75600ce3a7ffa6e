#!/usr/bin/env bash
# Instructions per output of one ViT-S/8 linear layer on arm64, our kernels against ggml's ops and
# ONNX Runtime's (ort_linear: its linux-arm64 library from the Microsoft.ML.OnnxRuntime package that
# bench/Dino.Bench uses, on the DynamicQuantizeMatMul node quantize_dynamic makes; q8_0 only), counted
# under qemu-user (arm64 code cannot be timed on these machines): qemu logs every translated block
# and every execution of one (-d in_asm,exec,nochain), count_insns.py sums them, and the difference
# between 3 and 1 repetitions, halved, is one layer's cost (set-up and ggml's one-time init cancel).
#   bench/arm64/count.sh [TYPE K N ROWS]      default: q8_0 384 1536 64 (ffn_up on 64 tokens)
#   bench/arm64/count.sh --attention [T]      one attention op of ViT-S/8 (384 wide, 6 heads, T tokens, default
#                                             785: 224 x 224), f32 against int8 products, on each build
# Run scripts/build-native.sh linux-arm64 --tests first.  Each build runs under the CPU model that
# has just its instructions (neon: cortex-a72, dotprod: cortex-a76, i8mm: max); ggml's one arm64
# build (ARMv8.0) under cortex-a72; ONNX Runtime, which picks its kernels at run time, under all three.
#   bench/arm64/count.sh > out.txt   (about 10 minutes: every instruction is logged and summed)
# ONNX Runtime reads /proc/cpuinfo (its cpuinfo library crashes on the x86 host's under qemu 7.2), so
# it runs in a root of its own: the sysroot's folders, and a /proc/cpuinfo of the emulated CPU.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
exe="${DINO_ARM64_BUILD:-$root/build-linux-arm64}/tests/native/linear_op"
[ -x "$exe" ] || die "no $exe (scripts/build-native.sh linux-arm64 --tests)"

if [ "${1:-}" = --attention ]; then
  T="${2:-785}"
  attention() {  # CPU KERNELS PRODUCTS REPS
    DINO_KERNELS="$2" QEMU_CPU="$1" "$root/scripts/qemu-arm64.sh" -d in_asm,exec,nochain -D /dev/stdout \
      "$exe" attention "$3" 384 6 "$T" "$4" | "$py" "$root/bench/arm64/count_insns.py"
  }
  printf '%-36s %14s %10s %10s\n' "attention D=384 heads=6 T=$T" "f32" "int8" "f32/int8"
  for run in "neon cortex-a72" "dotprod cortex-a76" "i8mm max,sme=off,sve-default-vector-length=16"; do
    read -r kernels cpu <<<"$run"
    f=$(( ($(attention "$cpu" "$kernels" f32 3) - $(attention "$cpu" "$kernels" f32 1)) / 2 ))
    i=$(( ($(attention "$cpu" "$kernels" int8 3) - $(attention "$cpu" "$kernels" int8 1)) / 2 ))
    "$py" -c "import sys; f, i = map(int, sys.argv[2:]); print('%-36s %14d %10d %10.2f' % (sys.argv[1], f, i, f / i))" "$kernels ($cpu)" "$f" "$i"
  done
  exit 0
fi

type="${1:-q8_0}" K="${2:-384}" N="${3:-1536}" rows="${4:-64}"
count() {  # CPU PATH KERNELS REPS
  if [ "$2" = ort ]; then
    QEMU_LD_PREFIX="$ortdir/root-${1%%,*}" QEMU_CPU="$1" "$root/scripts/qemu-arm64.sh" -d in_asm,exec,nochain -D /dev/stdout \
      "$ortdir/ort_linear" "$ortdir/linear-$K-$N.onnx" "$K" "$rows" "$4" | "$py" "$root/bench/arm64/count_insns.py"
    return
  fi
  DINO_KERNELS="$3" QEMU_CPU="$1" "$root/scripts/qemu-arm64.sh" -d in_asm,exec,nochain -D /dev/stdout \
    "$exe" "$2" "$type" "$K" "$N" "$rows" "$4" | "$py" "$root/bench/arm64/count_insns.py"
}

# ONNX Runtime's side: its package (restored for bench/Dino.Bench), ort_linear built against it, the
# layer as ONNX, and a root per CPU model whose /proc/cpuinfo names that CPU and its features.
ortdir="$(dirname "$exe")/../../bench/ort"
# The i8mm core: qemu's max without SME and with 128-bit SVE, as the i8mm cores that ship have it
# (Cortex-A710, Neoverse N2/V2): ONNX Runtime (KleidiAI) takes SME's outer products where qemu offers
# them, at qemu's vector length, which no phone or board has.
i8mm_cpu="max,sme=off,sve-default-vector-length=16"
runs=("ggml ggml cortex-a72" "ours neon cortex-a72" "ours dotprod cortex-a76" "ours i8mm $i8mm_cpu")
if [ "$type" = q8_0 ]; then
  ort_version=$(sed -n 's/.*"Microsoft.ML.OnnxRuntime" Version="\([^"]*\)".*/\1/p' "$root/bench/Dino.Bench/Dino.Bench.csproj")
  packages=$(dotnet nuget locals global-packages --list | sed 's/^[^:]*: *//')
  ort="$packages/microsoft.ml.onnxruntime/$ort_version"
  [ -d "$ort/runtimes/linux-arm64/native" ] || dotnet restore "$root/bench/Dino.Bench" >/dev/null
  "$py" -c "import onnx" 2>/dev/null || apt_ensure python3-onnx
  mkdir -p "$ortdir"
  ln -sf "$ort/runtimes/linux-arm64/native/libonnxruntime.so" "$ortdir/libonnxruntime.so.1"
  if [ ! "$ortdir/ort_linear" -nt "$root/bench/arm64/ort_linear.c" ]; then
    aarch64-linux-gnu-gcc -O2 -std=c11 -I"$ort/build/native/include" "$root/bench/arm64/ort_linear.c" -o "$ortdir/ort_linear" \
      -L"$ortdir" -l:libonnxruntime.so.1 -Wl,-rpath,"$(cd "$ortdir" && pwd)" -Wl,--allow-shlib-undefined
  fi
  [ -f "$ortdir/linear-$K-$N.onnx" ] || "$py" "$root/bench/arm64/make_linear_onnx.py" "$ortdir/linear-$K-$N.onnx" "$K" "$N"
  sysroot="${QEMU_LD_PREFIX:-$root/.deps/sysroot-linux-arm64}"
  # CPU model | MIDR part | the features Linux would list for it
  while IFS='|' read -r cpu part features; do
    r="$ortdir/root-$cpu"
    mkdir -p "$r/proc"
    for d in "$sysroot"/*; do ln -sfn "$(cd "$d" && pwd)" "$r/$(basename "$d")"; done
    for n in 0 1; do
      printf 'processor\t: %s\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 0\n\n' \
        "$n" "$features" "$part"
    done >"$r/proc/cpuinfo"
  done <<'EOF2'
cortex-a72|0xd08|fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
cortex-a76|0xd0b|fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
max|0xd40|fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp sve i8mm bf16
EOF2
  runs+=("ort onnxruntime cortex-a72" "ort onnxruntime cortex-a76" "ort onnxruntime $i8mm_cpu")
fi

outputs=$((N * rows))
macs=$((N * rows * K))
printf '%-30s %14s %10s %10s\n' "$type K=$K N=$N rows=$rows" "instructions" "per output" "MAC/instr"
for run in "${runs[@]}"; do
  read -r path kernels cpu <<<"$run"
  one=$(count "$cpu" "$path" "$kernels" 1)
  three=$(count "$cpu" "$path" "$kernels" 3)
  per=$(((three - one) / 2))
  "$py" -c "import sys; p, o, m = map(int, sys.argv[2:]); print('%-30s %14d %10.1f %10.2f' % (sys.argv[1], p, p / o, m / p))" \
    "$path ($kernels, $cpu)" "$per" "$outputs" "$macs"
done
