// kernels.h: our own CPU kernels, run inside the ggml graph as custom ops.
// The kernels wing's front door: the model and the graph see only this file.
//
// ggml's stock kernels left most of the time on the table here (issue 6: its
// q8_0 GEMM runs at AVX2 width on AVX-512 machines, GELU calls scalar erff,
// and every LayerNorm, bias and residual add is one more pass over memory and
// one more thread barrier).  The fused linear op below does
//
//     y = act(LayerNorm?(x) W^T + b) + residual?
//
// in one pass, with W repacked once at load for the microkernels:
//   - q8_0 / q5_0 / q4_0 weights: int8 dot products (vpdpbusd, or maddubs
//     before VNNI) against activations quantized to q8_0 exactly as ggml does
//     (q5_0 runs as int8 values in the q8 layout: its 5 bits save file size,
//     not memory or time);
//   - f32 / f16 weights: FMA.
// And the attention from the qkv output (attention_op).
//
// The wing:
//   kernels.h      this interface            dispatch.cpp  which build runs
//   pack.cpp       weight layouts            ggml_ops.cpp  the custom ops
//   isa.h          what an ISA build offers  simd.inc (+ simd/*.inc): the code, once
//   x86/           select.cpp (CPUID), avx512.cpp and avx2.cpp (simd.inc per ISA)
//   arm64/         select.cpp (HWCAP), build.inc (NEON's vec + simd.inc), and
//                  neon.cpp, dotprod.cpp, i8mm.cpp (one build each)
// CPUs without a build get no packed weights and graph.cpp builds ggml's own
// ops instead.  tests/native/test_kernels.cpp holds every kernel to ggml's
// result for the same op.
#pragma once

#include "ggml.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace dino::kernels {

// packed_linear.narrow's bound on |w|: a maddubs pair of unsigned activations (<= 255) and such weights
// is at most 2 * 255 * 64 = 32640, below int16's 32767, so x86 without VNNI multiplies them exactly.
constexpr int kNarrowLimit = 64;

// A linear weight [N outputs x K inputs] in the microkernels' layout: columns
// in tiles of 16 (one 512-bit register), each tile K-major.
struct packed_linear {
    enum class format { q8, q4, f32, f16 };
    format fmt = format::f32;
    int64_t n = 0, k = 0;
    // q8 (from q8_0 or q5_0): per tile, per 32-wide K block: 8 groups of [16 columns x 4 int8]
    //     (or, for smmla, 4 runs of [16 columns x 8]: isa.h), the 16 weight
    //     scales d (f32) and the 16 offsets d * -128 * sum(w) of the
    //     unsigned-activation trick (f32; int8.inc).
    // q4 (from q4_0): the same with w + 8 as 4 bits, two groups (runs) in the
    //     low and high nibbles of 64 bytes: half the memory.
    // f32/f16: per tile, per k: 16 values.
    void * data = nullptr;
    float * scales = nullptr;
    float * offsets = nullptr;
    size_t bytes = 0;
    size_t capacity = 0;  // bytes allocated at data (reserve_q8 reuses them)
    // q8: every value within +-kNarrowLimit (q5_0's always are): x86's maddubs then multiplies the
    // unsigned activations by the weights as they are, exactly, without nibbles (int8.inc: tile_q8).
    bool narrow = false;

    // Whether the products run as int8 dot products (q8 and q4), not FMA.
    bool int8() const { return fmt == format::q8 || fmt == format::q4; }

    packed_linear() = default;
    packed_linear(const packed_linear &) = delete;
    packed_linear & operator=(const packed_linear &) = delete;
    ~packed_linear();
};

// The instruction set whose build of the kernels runs here ("avx512", "avx2",
// "i8mm", "dotprod", "neon"),
// or null: ggml's ops (another CPU, or DINO_KERNELS=ggml).
const char * isa_name();

// Empty, or why DINO_KERNELS cannot be honoured: a value that names no build of this CPU
// family (the message lists the valid ones).  The loader refuses a model then.
std::string forced_error();

// True when this CPU (and OS) runs our kernels.
bool cpu_supported();

// Whether the int8 dot products use VNNI here (else AVX2 / AVX-512BW maddubs).
bool int8_vnni();

// Whether this CPU has a kernel for a linear weight of this type and shape
// (ggml [K, N]: q8_0, q5_0, q4_0, f32 or f16, N a multiple of 16); if not, the
// caller keeps the tensor and ggml's op.
bool can_pack(ggml_type type, int64_t K, int64_t N);

// Repacks w (can_pack) into the kernels' layout; null when out of memory.  seven_bit (dino.h:
// DINO_INT8_WEIGHTS_7BIT): a q8_0 block whose values pass +-kNarrowLimit takes half of each (to
// nearest, ties to even) and twice its scale, so that every q8_0 weight is narrow.
std::unique_ptr<packed_linear> pack(const ggml_tensor * w, bool seven_bit = false);

// The fused linear op's parameters; must outlive the graph that uses them.
struct linear_op {
    const packed_linear * w = nullptr;
    bool norm = false;        // LayerNorm the input first (ref: norm1 / norm2)
    float norm_eps = 0;
    bool gelu = false;        // exact GELU, 0.5 x erfc(-x / sqrt 2)
};

// One op of a profiled graph (dino_context_set_profiling): its wall time in a
// compute, from the first thread's start to the last thread's end.
struct op_timing {
    std::string name;  // "blk.3.attn_qkv", "blk.3.attention"
    int kind = 0;      // dino_profile_kind
    int block = 0;
    int peak_kind = 0; // dino_peak_kind
    double ops = 0;    // floating-point (or int8) operations per compute
    std::atomic<int64_t> start{INT64_MAX}, end{0};  // ns, this compute

    // This compute's wall time in seconds, and reset for the next.
    double take() {
        const double s = end.load() > start.load() ? double(end.load() - start.load()) * 1e-9 : 0.0;
        start = INT64_MAX;
        end = 0;
        return s;
    }
};

// One of our ops in one graph: its parameters (a linear_op or attention_op, set
// by linear() and attention()), the units of work its threads take in turn in
// this compute (so a thread that is slowed or preempted takes fewer, not the
// whole op's time), and, when profiling, where its time goes.  Owned by the
// graph's owner; one compute of the graph at a time.
struct op_node {
    const void * op = nullptr;
    op_timing * timing = nullptr;
    std::atomic<int64_t> next{0};   // where the work not yet taken begins (a unit or a row)
    std::atomic<int> finished{0};   // threads done; the last one resets both for the next compute
};

// y [N, rows...] = act(LN(x) W^T + bias) + residual.  x [K, rows...] f32,
// contiguous; norm_w/norm_b used when op.norm; residual null or like y.
ggml_tensor * linear(ggml_context * ctx, op_node & node, const linear_op & op, ggml_tensor * x, ggml_tensor * bias,
                     ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual);

// The same computation on plain arrays, for tests: rows [row_begin, row_end) of
// x (K floats per row).  norm_w/norm_b/bias/residual may be null.
void linear_rows(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                 const float * bias, const float * residual, float * y, int64_t row_begin, int64_t row_end);

// ref: Attention.forward after self.qkv: per head softmax(q k^T * scale) v,
// heads concatenated (the input of self.proj).  qkv [3D, T, N]: per token q,
// k and v, each heads x head_dim; result [D, T, N].  The softmax is exact (a
// query's scores for all keys fit in cache); f32 throughout.
// bf16: q k^T and p v as bf16 dot products (AVX512_BF16), f32 sums and softmax.
// int8: q k^T and p v as int8 products on q8_0 blocks (the linear int8 kernels), f32 softmax.
struct attention_op {
    int heads = 0;  // 0: no kernel here (head_dim not a multiple of 16, or no build for this CPU)
    float scale = 0;
    bool bf16 = false;
    bool int8 = false;
    bool vnni = false;  // int8 products by VNNI (else maddubs, or arm64's)
};
enum class attention_products { f32, bf16, int8 };
// bf16: where the CPU has bf16 dot products; int8: where head_dim is a multiple of 32 (else heads = 0).
attention_op attention_kernel(int64_t dim, int heads, attention_products products = attention_products::f32);
// Whether int8 models take int8 attention by default here, where bf16 is not available (arm64).
bool int8_attention_by_default();
ggml_tensor * attention(ggml_context * ctx, op_node & node, const attention_op & op, ggml_tensor * qkv);

// The same on plain arrays: one sequence's head, queries [q_begin, q_end).
void attention_rows(const attention_op & op, const float * qkv, int64_t dim, int64_t tokens, int64_t head,
                    float * out, int64_t q_begin, int64_t q_end);

// This CPU's peak throughput on n_threads threads, in operations per second,
// measured for about `seconds`: kind 0, f32 FMA (2 per lane); kind 1, int8
// dot products (2 per multiply-add; VNNI or maddubs as the int8 kernels run);
// kind 2, bf16 dot products (4 per lane); 0 where this build or CPU has no
// probe for it.
double peak_ops(int kind, int n_threads, double seconds);

// Exact GELU on n floats (the kernel the fused op uses), for tests.
void gelu(const float * x, float * y, int64_t n);

}  // namespace dino::kernels
