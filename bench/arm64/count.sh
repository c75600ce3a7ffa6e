#!/usr/bin/env bash
# Instructions per output of one ViT-S/8 linear layer on arm64, our kernels against ggml's ops, counted
# under qemu-user (arm64 code cannot be timed on these machines): qemu logs every translated block
# and every execution of one (-d in_asm,exec,nochain), count_insns.py sums them, and the difference
# between 3 and 1 repetitions, halved, is one layer's cost (set-up and ggml's one-time init cancel).
#   bench/arm64/count.sh [TYPE K N ROWS]      default: q8_0 384 1536 64 (ffn_up on 64 tokens)
# Run scripts/build-native.sh linux-arm64 --tests first.  Each build runs under the CPU model that
# has just its instructions (neon: cortex-a72, dotprod: cortex-a76, i8mm: max); ggml's one arm64
# build (ARMv8.0) under cortex-a72.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
exe="${DINO_ARM64_BUILD:-$root/build-linux-arm64}/tests/native/linear_op"
type="${1:-q8_0}" K="${2:-384}" N="${3:-1536}" rows="${4:-64}"
[ -x "$exe" ] || die "no $exe (scripts/build-native.sh linux-arm64 --tests)"
count() {  # CPU PATH KERNELS REPS
  DINO_KERNELS="$3" QEMU_CPU="$1" "$root/scripts/qemu-arm64.sh" -d in_asm,exec,nochain -D /dev/stdout \
    "$exe" "$2" "$type" "$K" "$N" "$rows" "$4" | "$py" "$root/bench/arm64/count_insns.py"
}
outputs=$((N * rows))
macs=$((N * rows * K))
printf '%-24s %14s %10s %10s\n' "$type K=$K N=$N rows=$rows" "instructions" "per output" "MAC/instr"
for run in "ggml ggml cortex-a72" "ours neon cortex-a72" "ours dotprod cortex-a76" "ours i8mm max"; do
  read -r path kernels cpu <<<"$run"
  one=$(count "$cpu" "$path" "$kernels" 1)
  three=$(count "$cpu" "$path" "$kernels" 3)
  per=$(((three - one) / 2))
  "$py" -c "import sys; p, o, m = map(int, sys.argv[2:]); print('%-24s %14d %10.1f %10.2f' % (sys.argv[1], p, p / o, m / p))" \
    "$path ($kernels, $cpu)" "$per" "$outputs" "$macs"
done
