// kernels.cpp: which build of the kernels runs here, weight packing, and the
// ggml custom ops around them (kernels.h).  The kernels themselves are
// kernels_simd.inc, compiled per instruction set (kernels_avx512.cpp,
// kernels_avx2.cpp); this file is built for the baseline ISA, so one libdino
// serves every x86-64 CPU and picks at run time.
#include "kernels.h"

#include "kernels_isa.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#if DINO_KERNELS_X86
#include <cpuid.h>
#endif

namespace dino::kernels {

namespace {

struct selection {
    const isa_kernels * k = nullptr;  // null: ggml's ops
    bool vnni = false;                // int8 dot products by VNNI (else maddubs)
};

selection detect() {
#if DINO_KERNELS_X86
    // DINO_KERNELS=ggml: ggml's own ops (to compare); avx2: the AVX2 build even on AVX-512 CPUs;
    // novnni: int8 without VNNI even where it exists (tests: avx2-novnni, avx512-novnni).
    const char * env = std::getenv("DINO_KERNELS");
    const std::string want = env ? env : "";
    if (want == "ggml") return {};
    const bool vnni_allowed = want.find("novnni") == std::string::npos;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return {};
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!osxsave || !avx) return {};
    uint32_t xlo, xhi;  // XCR0: which register files the OS saves
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool ymm = (xlo & 0x06) == 0x06, zmm = (xlo & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return {};
    const bool avx2 = b & (1u << 5), avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));  // F DQ BW VL
    if (want.rfind("avx2", 0) != 0 && zmm && avx512) return {&avx512_kernels, vnni_allowed && avx512_kernels.vnni_supported()};
    if (ymm && avx2 && fma && f16c) return {&avx2_kernels, vnni_allowed && avx2_kernels.vnni_supported()};
#endif
    return {};
}

const selection & active() {
    static const selection s = detect();
    return s;
}

}  // namespace

packed_linear::~packed_linear() { std::free(data); }

bool cpu_supported() { return active().k != nullptr; }

bool int8_vnni() { return active().vnni; }

bool can_pack(ggml_type type, int64_t K, int64_t N) {
    const bool int8 = type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0;
    if (!int8 && type != GGML_TYPE_F32 && type != GGML_TYPE_F16) return false;
    if (K <= 0 || N <= 0 || N % kTile != 0 || (int8 && K % kBlock != 0)) return false;
    return cpu_supported();
}

std::unique_ptr<packed_linear> pack(const ggml_tensor * w) {
    const int64_t K = w->ne[0], N = w->ne[1];
    if (ggml_n_dims(w) != 2 || !ggml_is_contiguous(w) || !can_pack(w->type, K, N)) return nullptr;
    const bool int8 = w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0;

    auto p = std::make_unique<packed_linear>();
    p->n = N;
    p->k = K;
    const int64_t KB = K / kBlock;
    if (int8) {
        const bool q4 = w->type == GGML_TYPE_Q4_0;
        p->fmt = q4 ? packed_linear::format::q4 : packed_linear::format::q8;
        const size_t values = size_t(N * K) / (q4 ? 2 : 1), per_block = size_t(N * KB) * 4;
        p->bytes = values + 2 * per_block;
        p->data = std::aligned_alloc(64, p->bytes);
        if (!p->data) return nullptr;
        std::memset(p->data, 0, values);
        p->scales = reinterpret_cast<float *>(static_cast<uint8_t *>(p->data) + values);
        p->corrections = reinterpret_cast<int32_t *>(static_cast<uint8_t *>(p->data) + values + per_block);
        uint8_t * qs = static_cast<uint8_t *>(p->data);
        const size_t row_bytes = ggml_row_size(w->type, K);
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n) * row_bytes;
            const int64_t t = n / kTile, c = n % kTile;
            for (int64_t b = 0; b < KB; ++b) {
                // Both formats: an f16 scale, then the block's values.
                int8_t q[kBlock];
                ggml_fp16_t d16;
                if (!q4) {
                    const uint8_t * blk = row + b * (2 + kBlock);
                    std::memcpy(&d16, blk, 2);
                    std::memcpy(q, blk + 2, kBlock);
                } else {  // q4_0: low nibbles are values 0..15, high nibbles 16..31, offset 8
                    const uint8_t * blk = row + b * (2 + kBlock / 2);
                    std::memcpy(&d16, blk, 2);
                    for (int j = 0; j < kBlock / 2; ++j) {
                        q[j] = int8_t((blk[2 + j] & 0x0F) - 8);
                        q[j + kBlock / 2] = int8_t((blk[2 + j] >> 4) - 8);
                    }
                }
                const int64_t base = t * KB + b;
                int32_t sum = 0;
                for (int j = 0; j < kBlock; ++j) {
                    const int g = j / 4;
                    const int64_t at = c * 4 + j % 4;  // byte within the group's 64
                    if (!q4) qs[(base * 8 + g) * 64 + at] = uint8_t(q[j]);
                    else qs[(base * 4 + g / 2) * 64 + at] |= uint8_t((q[j] + 8) << (g % 2 ? 4 : 0));
                    sum += q[j];
                }
                p->scales[base * kTile + c] = ggml_fp16_to_fp32(d16);
                p->corrections[base * kTile + c] = -128 * sum;
            }
        }
    } else {
        const bool f16 = w->type == GGML_TYPE_F16;
        p->fmt = f16 ? packed_linear::format::f16 : packed_linear::format::f32;
        const size_t elem = f16 ? 2 : 4;
        p->bytes = size_t(N * K) * elem;
        p->data = std::aligned_alloc(64, p->bytes);
        if (!p->data) return nullptr;
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n * K) * elem;
            uint8_t * dst = static_cast<uint8_t *>(p->data) + size_t((n / kTile) * K * kTile + n % kTile) * elem;
            for (int64_t k = 0; k < K; ++k) std::memcpy(dst + size_t(k * kTile) * elem, row + size_t(k) * elem, elem);
        }
    }
    return p;
}

void linear_rows(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                 const float * bias, const float * residual, float * y, int64_t row_begin, int64_t row_end) {
    active().k->linear_rows(op, active().vnni, x, norm_w, norm_b, bias, residual, y, row_begin, row_end);  // pack() said yes
}

attention_op attention_kernel(int64_t dim, int heads) {
    attention_op op;
    if (heads <= 0 || dim % heads != 0 || (dim / heads) % kTile != 0 || !cpu_supported()) return op;
    op.heads = heads;
    op.scale = 1.0f / std::sqrt(float(dim / heads));  // ref: self.scale = head_dim ** -0.5
    return op;
}

void attention_rows(const attention_op & op, const float * qkv, int64_t dim, int64_t tokens, int64_t sequences,
                    float * out, int64_t q_begin, int64_t q_end) {
    active().k->attention_rows(op, qkv, dim, tokens, sequences, out, q_begin, q_end);  // attention_kernel() said yes
}

void gelu(const float * x, float * y, int64_t n) {
    if (active().k) return active().k->gelu(x, y, n);
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * std::erfc(-x[i] * 0.70710678118654752f);
}

const char * isa_name() { return active().k ? active().k->name : nullptr; }

// ---- the ggml custom op -------------------------------------------------------
namespace {

// dst->src: x, bias, [norm_w, norm_b], [residual]
void linear_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const linear_op & op = *static_cast<const linear_op *>(userdata);
    const ggml_tensor * x = dst->src[0];
    const bool norm = op.norm;
    const ggml_tensor * residual = dst->src[norm ? 4 : 2];
    const auto f = [](const ggml_tensor * t) { return t ? static_cast<const float *>(t->data) : nullptr; };
    // Whole panels per thread, so every thread quantizes only its own rows.
    const int64_t rows = ggml_nrows(x);
    const bool int8 = op.w->fmt == packed_linear::format::q8 || op.w->fmt == packed_linear::format::q4;
    const int64_t panel = int8 ? active().k->rows_int8 : active().k->rows_float;
    const int64_t per_thread = (rows + nth - 1) / nth;
    const int64_t chunk = (per_thread + panel - 1) / panel * panel;
    const int64_t r0 = std::min(rows, ith * chunk), r1 = std::min(rows, r0 + chunk);
    if (r0 >= r1) return;
    linear_rows(op, f(x), norm ? f(dst->src[2]) : nullptr, norm ? f(dst->src[3]) : nullptr, f(dst->src[1]), f(residual),
                static_cast<float *>(dst->data), r0, r1);
}

void attention_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const attention_op & op = *static_cast<const attention_op *>(userdata);
    const ggml_tensor * qkv = dst->src[0];
    const int64_t D = dst->ne[0], T = dst->ne[1], N = dst->ne[2];
    // Each thread: its slice of the queries, whole panels, in every sequence and head.
    const int64_t rows = active().k->rows_float;
    const int64_t chunk = ((T + nth - 1) / nth + rows - 1) / rows * rows;
    const int64_t q0 = std::min(T, ith * chunk), q1 = std::min(T, q0 + chunk);
    if (q0 < q1) attention_rows(op, static_cast<const float *>(qkv->data), D, T, N, static_cast<float *>(dst->data), q0, q1);
}

}  // namespace

ggml_tensor * attention(ggml_context * ctx, const attention_op & op, ggml_tensor * qkv) {
    if (!ggml_is_contiguous(qkv)) qkv = ggml_cont(ctx, qkv);
    ggml_tensor * args[1] = {qkv};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, qkv->ne[0] / 3, qkv->ne[1], qkv->ne[2], 1, args, 1, attention_forward,
                          GGML_N_TASKS_MAX, const_cast<attention_op *>(&op));
}

ggml_tensor * linear(ggml_context * ctx, const linear_op & op, ggml_tensor * x, ggml_tensor * bias,
                     ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual) {
    if (!ggml_is_contiguous(x)) x = ggml_cont(ctx, x);
    ggml_tensor * args[5];
    int n = 0;
    args[n++] = x;
    args[n++] = bias;
    if (op.norm) {
        args[n++] = norm_w;
        args[n++] = norm_b;
    }
    if (residual) args[n++] = residual;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, op.w->n, x->ne[1], x->ne[2], x->ne[3], args, n, linear_forward,
                          GGML_N_TASKS_MAX, const_cast<linear_op *>(&op));
}

}  // namespace dino::kernels
