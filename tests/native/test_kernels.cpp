// Our kernels (native/kernels/) against ggml's own ops on the same inputs:
// every fused variant of the linear op for every packed weight type, odd row
// counts (microkernel remainders) and odd tile counts, the GELU against
// erfc in double, and the attention op against ggml's softmax(q k^T) v.
#include "kernels.h"

#include "ggml-cpu.h"
#include "ggml.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

using dino::kernels::linear_op;
using dino::kernels::packed_linear;

struct ggml_ctx {
    ggml_context * ctx;
    ggml_ctx() {
        ggml_init_params p = {256u << 20, nullptr, false};
        ctx = ggml_init(p);
    }
    ~ggml_ctx() { ggml_free(ctx); }
};

ggml_tensor * filled(ggml_context * ctx, std::mt19937 & rng, int64_t ne0, int64_t ne1, float scale) {
    ggml_tensor * t = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, ne0, ne1);
    std::normal_distribution<float> d(0.0f, scale);
    for (int64_t i = 0; i < ne0 * ne1; ++i) static_cast<float *>(t->data)[i] = d(rng);
    return t;
}

// The weight as ggml stores type: f32 values converted (quantized) by ggml itself, with an importance
// matrix (per input channel) when given, as dino_quantize_model's calibration does.
ggml_tensor * weight(ggml_context * ctx, ggml_tensor * w32, ggml_type type, const float * importance = nullptr) {
    if (type == GGML_TYPE_F32) return w32;
    ggml_tensor * w = ggml_new_tensor_2d(ctx, type, w32->ne[0], w32->ne[1]);
    ggml_quantize_chunk(type, static_cast<const float *>(w32->data), w->data, 0, w32->ne[1], w32->ne[0], importance);
    return w;
}

struct diff { double max_abs = 0, max_ref = 0; };
diff compare(const ggml_tensor * a, const ggml_tensor * b) {
    diff d;
    for (int64_t i = 0; i < ggml_nelements(a); ++i) {
        const double x = static_cast<const float *>(a->data)[i], y = static_cast<const float *>(b->data)[i];
        d.max_abs = std::max(d.max_abs, std::fabs(x - y));
        d.max_ref = std::max(d.max_ref, std::fabs(y));
    }
    return d;
}

struct linear_case {
    ggml_type type;
    int64_t K, N, rows;
    bool norm, gelu, residual;
    bool importance = false;  // quantized with an importance matrix
    bool extreme = false;     // every activation and weight at +-max, products of one sign per output
    bool narrow = false;      // q8_0 values moved to within +-kNarrowLimit (packed_linear.narrow), keeping their signs
    bool seven_bit = false;   // packed with pack's seven_bit, against ggml on the values rounded here
};

void check_linear(const linear_case & c) {
    SCOPED_TRACE(std::string(ggml_type_name(c.type)) + " K=" + std::to_string(c.K) + " N=" + std::to_string(c.N) +
                 " rows=" + std::to_string(c.rows) + (c.norm ? " +norm" : "") + (c.gelu ? " +gelu" : "") +
                 (c.residual ? " +residual" : "") + (c.importance ? " +importance" : "") + (c.narrow ? " +narrow" : "") +
                 (c.seven_bit ? " +7bit" : ""));
    ggml_ctx g;
    ggml_context * ctx = g.ctx;
    std::mt19937 rng(unsigned(c.K * 131 + c.N * 7 + c.rows));
    ggml_tensor * x = filled(ctx, rng, c.K, c.rows, 1.0f);
    std::vector<float> importance(size_t(c.K));
    for (float & v : importance) v = std::exp(3.0f * std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng));
    ggml_tensor * w32 = filled(ctx, rng, c.K, c.N, 1.0f / std::sqrt(float(c.K)));
    if (c.extreme) {
        // x[r][k] = +-s_k and w[n][k] = +-s_k: every quantized value at +-127 (q4: -8 or 7), and each
        // output's K products of one sign: the int16 sums' worst case (int8.inc: tile_q8_maddubs).
        std::vector<float> sign(size_t(c.K));
        for (float & v : sign) v = rng() % 2 ? 1.0f : -1.0f;
        for (int64_t r = 0; r < c.rows; ++r)
            for (int64_t k = 0; k < c.K; ++k) static_cast<float *>(x->data)[r * c.K + k] = (r % 2 ? -1.0f : 1.0f) * sign[size_t(k)];
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t k = 0; k < c.K; ++k) static_cast<float *>(w32->data)[n * c.K + k] = (n % 3 ? -1.0f : 1.0f) * sign[size_t(k)];
    }
    ggml_tensor * w = weight(ctx, w32, c.type, c.importance ? importance.data() : nullptr);
    if (c.narrow) {  // each q8_0 block: an f16 scale, then 32 int8 values
        ASSERT_EQ(c.type, GGML_TYPE_Q8_0);
        const size_t block = ggml_type_size(GGML_TYPE_Q8_0);
        for (size_t at = 0; at < ggml_nbytes(w); at += block) {
            int8_t * q = reinterpret_cast<int8_t *>(static_cast<uint8_t *>(w->data) + at + 2);
            for (int j = 0; j < 32; ++j) q[j] = int8_t(std::clamp(int(q[j]) * 2, -dino::kernels::kNarrowLimit, dino::kernels::kNarrowLimit));
        }
    }
    ggml_tensor * b = filled(ctx, rng, c.N, 1, 0.1f);
    ggml_tensor * nw = filled(ctx, rng, c.K, 1, 1.0f);
    ggml_tensor * nb = filled(ctx, rng, c.K, 1, 0.1f);
    ggml_tensor * res = c.residual ? filled(ctx, rng, c.N, c.rows, 1.0f) : nullptr;
    const float eps = 1e-6f;

    // ggml's ops
    ggml_tensor * in = x;
    if (c.norm) in = ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, eps), nw), nb);
    // ggml's f16 matmul rounds the activations to f16 too; ours keeps them f32, so its reference is
    // ggml's f32 matmul on the f16 weights' values.
    ggml_tensor * w_ref = w;
    if (c.type == GGML_TYPE_F16) {
        w_ref = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, c.K, c.N);
        ggml_fp16_to_fp32_row(static_cast<const ggml_fp16_t *>(w->data), static_cast<float *>(w_ref->data), c.K * c.N);
    }
    if (c.seven_bit) {  // dino.h's DINO_INT8_WEIGHTS_7BIT, written out again: a block past +-64 halved (ties to even), its scale doubled
        ASSERT_EQ(c.type, GGML_TYPE_Q8_0);
        w_ref = ggml_dup_tensor(ctx, w);
        std::memcpy(w_ref->data, w->data, ggml_nbytes(w));
        const size_t block = ggml_type_size(GGML_TYPE_Q8_0);
        for (size_t at = 0; at < ggml_nbytes(w_ref); at += block) {
            uint8_t * blk = static_cast<uint8_t *>(w_ref->data) + at;
            int8_t * q = reinterpret_cast<int8_t *>(blk + 2);
            if (std::none_of(q, q + 32, [](int8_t v) { return std::abs(int(v)) > dino::kernels::kNarrowLimit; })) continue;
            for (int j = 0; j < 32; ++j) q[j] = int8_t(std::nearbyint(float(q[j]) / 2));  // (the default rounding: to even)
            ggml_fp16_t d;
            std::memcpy(&d, blk, 2);
            d = ggml_fp32_to_fp16(2 * ggml_fp16_to_fp32(d));
            std::memcpy(blk, &d, 2);
        }
    }
    ggml_tensor * ref = ggml_add(ctx, ggml_mul_mat(ctx, w_ref, in), b);
    if (c.gelu) ref = ggml_gelu_erf(ctx, ref);
    if (res) ref = ggml_add(ctx, res, ref);

    // ours, inside the same graph
    const std::unique_ptr<packed_linear> p = dino::kernels::pack(w, c.seven_bit);
    ASSERT_NE(p, nullptr);
    // Values within +-64 take x86's one-maddubs path: q5_0's always, q8_0's when made so.
    EXPECT_EQ(p->narrow, c.type == GGML_TYPE_Q5_0 || c.narrow || c.seven_bit);
    const linear_op op{p.get(), c.norm, eps, c.gelu};
    dino::kernels::op_node node;
    ggml_tensor * ours = dino::kernels::linear(ctx, node, op, x, b, nw, nb, res);

    ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, ref);
    ggml_build_forward_expand(gf, ours);
    ASSERT_EQ(ggml_graph_compute_with_ctx(ctx, gf, 2), GGML_STATUS_SUCCESS);

    const diff d = compare(ours, ref);
    // f32, f16: the same products summed in another order (seen: 1.8e-6 at K = 1536).  q8_0, q4_0: the
    // same activation quantization as ggml's and exact integer sums (seen: 2.4e-7).
    const double tol = c.type == GGML_TYPE_F32 || c.type == GGML_TYPE_F16 ? 4e-6 : 1e-6;
    if (getenv("DINO_TEST_VERBOSE")) std::printf("  %s K=%lld: max abs %.3g of %.3g\n", ggml_type_name(c.type), (long long) c.K, d.max_abs, d.max_ref);
    EXPECT_LE(d.max_abs, tol * d.max_ref) << "max abs " << d.max_abs << " of " << d.max_ref;
}

// Our kernels run here (else the graph uses ggml's ops, and a test of them has nothing to test).
#define SKIP_WITHOUT_KERNELS() \
    if (!dino::kernels::cpu_supported()) GTEST_SKIP() << "no kernels here (no AVX2/AVX-512, or DINO_KERNELS=ggml)"

}  // namespace

TEST(Kernels, LinearMatchesGgmlForEveryTypeAndFusion) {
    for (ggml_type type : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q5_0, GGML_TYPE_Q4_0}) {
        SKIP_WITHOUT_KERNELS();
        // 13 rows: remainders for both microkernel heights (4 and 6); 48 columns: a single last tile;
        // K = 544: 17 blocks, one past AVX-512's 16 quantized at a time.
        for (const auto & [K, N, rows] : {std::tuple<int64_t, int64_t, int64_t>{96, 48, 13}, {384, 64, 7}, {1536, 32, 5}, {544, 16, 3}}) {
            for (int f = 0; f < 8; ++f) check_linear({type, K, N, rows, bool(f & 1), bool(f & 2), bool(f & 4)});
        }
    }
}

// Weights quantized with an importance matrix (other scales, the same format) compute exactly as well.
TEST(Kernels, LinearMatchesGgmlForImportanceWeightedQuantization) {
    SKIP_WITHOUT_KERNELS();
    for (ggml_type type : {GGML_TYPE_Q8_0, GGML_TYPE_Q5_0, GGML_TYPE_Q4_0}) {
        for (int f = 0; f < 8; f += 3) check_linear({type, 384, 64, 7, bool(f & 1), bool(f & 2), bool(f & 4), true});
    }
}

// Activations and weights at the ends of their ranges, all products of one sign: the int16 partial sums
// of the maddubs path at their bound, and every other path's integer sums at their largest.
TEST(Kernels, LinearIsExactAtTheInt8Extremes) {
    SKIP_WITHOUT_KERNELS();
    for (ggml_type type : {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0}) {
        for (const auto & [K, N, rows] : {std::tuple<int64_t, int64_t, int64_t>{1536, 48, 13}, {384, 64, 7}}) {
            linear_case c{type, K, N, rows, false, false, false};
            c.extreme = true;
            check_linear(c);
        }
    }
}

// Narrow weights (packed_linear.narrow) at their bound, +-kNarrowLimit, against every activation at
// +-127 (unsigned 255 or 1), products of one sign: each maddubs pair at 32640, one step below int16's
// limit.  And at random, with every fusion.
TEST(Kernels, LinearIsExactForNarrowWeights) {
    SKIP_WITHOUT_KERNELS();
    for (const auto & [K, N, rows] : {std::tuple<int64_t, int64_t, int64_t>{1536, 48, 13}, {384, 64, 7}}) {
        linear_case c{GGML_TYPE_Q8_0, K, N, rows, false, false, false};
        c.extreme = c.narrow = true;
        check_linear(c);
    }
    for (int f = 0; f < 8; ++f) {
        linear_case c{GGML_TYPE_Q8_0, 96, 48, 13, bool(f & 1), bool(f & 2), bool(f & 4)};
        c.narrow = true;
        check_linear(c);
    }
}

// pack's seven_bit (DINO_INT8_WEIGHTS_7BIT) computes what ggml computes on q8_0 weights rounded as dino.h
// says, at random, at the extremes (every value +-127: halves to +-64, the bound) and with every fusion; and
// it leaves the other types as they are.
TEST(Kernels, SevenBitWeightsAreTheRoundedQ8Values) {
    SKIP_WITHOUT_KERNELS();
    for (const auto & [K, N, rows] : {std::tuple<int64_t, int64_t, int64_t>{384, 64, 7}, {1536, 48, 13}}) {
        linear_case c{GGML_TYPE_Q8_0, K, N, rows, false, false, false};
        c.seven_bit = true;
        check_linear(c);
        c.extreme = true;
        check_linear(c);
    }
    for (int f = 1; f < 8; ++f) {
        linear_case c{GGML_TYPE_Q8_0, 96, 48, 13, bool(f & 1), bool(f & 2), bool(f & 4)};
        c.seven_bit = true;
        check_linear(c);
    }
    ggml_ctx g;
    std::mt19937 rng(3);
    for (ggml_type type : {GGML_TYPE_Q5_0, GGML_TYPE_Q4_0, GGML_TYPE_F32}) {
        ggml_tensor * w = weight(g.ctx, filled(g.ctx, rng, 64, 32, 0.1f), type, nullptr);
        const auto as_stored = dino::kernels::pack(w), seven = dino::kernels::pack(w, true);
        ASSERT_TRUE(as_stored && seven);
        EXPECT_EQ(std::memcmp(as_stored->data, seven->data, as_stored->bytes), 0) << ggml_type_name(type);
    }
}

TEST(Kernels, PackRefusesWhatItHasNoKernelFor) {
    ggml_ctx g;
    std::mt19937 rng(1);
    ggml_tensor * w = filled(g.ctx, rng, 64, 40, 1.0f);  // 40 outputs: not a multiple of 16
    EXPECT_EQ(dino::kernels::pack(w), nullptr);
    ggml_tensor * q51 = weight(g.ctx, filled(g.ctx, rng, 64, 32, 1.0f), GGML_TYPE_Q5_1);
    EXPECT_EQ(dino::kernels::pack(q51), nullptr);
}

TEST(Kernels, GeluMatchesErfcInDouble) {
    SKIP_WITHOUT_KERNELS();
    std::vector<float> x, y;
    for (float v = -16.0f; v <= 16.0f; v += 1.0f / 512) x.push_back(v);
    x.insert(x.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 100.0f, -100.0f, 3e38f, -3e38f});
    y.resize(x.size());
    dino::kernels::gelu(x.data(), y.data(), int64_t(x.size()));
    // Relative error where GELU is not tiny; in the far negative tail (|GELU| < 1e-3, x < -3) an
    // absolute one: there float's 1 + erf(x) (PyTorch's formula) has no correct digit at all, while
    // erfc keeps ~6.
    double worst_rel = 0, worst_abs = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double r = 0.5 * double(x[i]) * std::erfc(-double(x[i]) / std::sqrt(2.0));
        const double e = std::fabs(double(y[i]) - r);
        if (std::fabs(r) >= 1e-3) worst_rel = std::max(worst_rel, e / std::fabs(r));
        else worst_abs = std::max(worst_abs, e);
    }
    std::printf("[ measure  ] GELU max relative error %.3g (|GELU| >= 1e-3), max abs error %.3g (tail)\n", worst_rel, worst_abs);
    EXPECT_LE(worst_rel, 4e-7);
    EXPECT_LE(worst_abs, 1e-9);
}

namespace {

// ggml's softmax(q k^T * scale) v for qkv [3D, T, N], as graph.cpp builds the exact kernel: [D, T, N].
ggml_tensor * ggml_attention(ggml_context * ctx, ggml_tensor * qkv, int64_t D, int H, float scale) {
    const int64_t hd = D / H, T = qkv->ne[1], N = qkv->ne[2];
    auto head_view = [&](int part) {
        ggml_tensor * v = ggml_view_4d(ctx, qkv, hd, H, T, N, size_t(hd) * sizeof(float), qkv->nb[1], qkv->nb[2],
                                       size_t(part) * size_t(D) * sizeof(float));
        return ggml_permute(ctx, v, 0, 2, 1, 3);
    };
    ggml_tensor * attn = ggml_soft_max_ext(ctx, ggml_mul_mat(ctx, head_view(1), head_view(0)), nullptr, scale, 0.0f);
    ggml_tensor * vt = ggml_cont(ctx, ggml_permute(ctx, head_view(2), 1, 0, 2, 3));
    ggml_tensor * ref = ggml_cont(ctx, ggml_permute(ctx, ggml_mul_mat(ctx, vt, attn), 0, 2, 1, 3));
    return ggml_reshape_3d(ctx, ref, D, T, N);
}

// Our attention op (f32, or bf16 products) against ggml's on random q, k, v: the largest error
// relative to the largest output.
double attention_error(const dino::kernels::attention_op & op, int64_t D, int H, int64_t T, int64_t N) {
    ggml_ctx g;
    ggml_context * ctx = g.ctx;
    std::mt19937 rng(unsigned(D + T));
    ggml_tensor * qkv = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 3 * D, T, N);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t i = 0; i < ggml_nelements(qkv); ++i) static_cast<float *>(qkv->data)[i] = dist(rng);
    ggml_tensor * ref = ggml_attention(ctx, qkv, D, H, op.scale);
    dino::kernels::op_node node;
    ggml_tensor * ours = dino::kernels::attention(ctx, node, op, qkv);
    ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, ref);
    ggml_build_forward_expand(gf, ours);
    EXPECT_EQ(ggml_graph_compute_with_ctx(ctx, gf, 2), GGML_STATUS_SUCCESS);
    const diff d = compare(ours, ref);
    return d.max_abs / d.max_ref;
}

const std::tuple<int64_t, int, int64_t, int64_t> kAttentionShapes[] = {{128, 2, 37, 2}, {384, 6, 197, 1}, {64, 4, 5, 3}, {96, 2, 50, 1}, {256, 4, 785, 1}};

}  // namespace

TEST(Kernels, AttentionMatchesGgmlSoftmaxAttention) {
    SKIP_WITHOUT_KERNELS();
    for (const auto & [D, H, T, N] : kAttentionShapes) {
        SCOPED_TRACE("D=" + std::to_string(D) + " heads=" + std::to_string(H) + " T=" + std::to_string(T) + " N=" + std::to_string(N));
        const dino::kernels::attention_op op = dino::kernels::attention_kernel(D, H);
        ASSERT_EQ(op.heads, H);
        ASSERT_FALSE(op.bf16);
        EXPECT_LE(attention_error(op, D, H, T, N), 2e-6);
    }
    EXPECT_EQ(dino::kernels::attention_kernel(48, 6).heads, 0);  // head_dim 8: no kernel, ggml's ops
}

// One shape through a reduced-precision attention kernel: its error against the exact sums stays within
// `bound` of the largest output, and above 1e-5, which shows that the reduced path ran.
void expect_reduced_attention(dino::kernels::attention_products products, double bound, int64_t D, int64_t H, int64_t T, int64_t N) {
    SCOPED_TRACE("D=" + std::to_string(D) + " heads=" + std::to_string(H) + " T=" + std::to_string(T) + " N=" + std::to_string(N));
    const bool bf16 = products == dino::kernels::attention_products::bf16;
    const dino::kernels::attention_op op = dino::kernels::attention_kernel(D, H, products);
    ASSERT_TRUE(bf16 ? op.bf16 : op.int8);
    const double e = attention_error(op, D, H, T, N);
    std::printf("[ measure  ] %s attention D=%lld T=%lld: max error %.3g of the largest output\n", bf16 ? "bf16" : "int8",
                (long long) D, (long long) T, e);
    EXPECT_LE(e, bound);
    EXPECT_GE(e, 1e-5);
}

// bf16 products: q, k, p and v rounded to 8 significant bits (relative error up to 2^-9) and
// summed in f32.  On these N(0, 1) inputs that leaves about 4e-3 of the largest output; the f32
// kernel's error is a thousand times smaller, so the bound also shows that the bf16 path ran.
TEST(Kernels, AttentionInBf16StaysWithinItsRounding) {
    SKIP_WITHOUT_KERNELS();
    if (dino::kernels::attention_kernel(384, 6, dino::kernels::attention_products::bf16).heads == 0)
        GTEST_SKIP() << "this CPU has no bf16 dot products (AVX512_BF16)";
    for (const auto & [D, H, T, N] : kAttentionShapes) expect_reduced_attention(dino::kernels::attention_products::bf16, 1e-2, D, H, T, N);
}

// int8 products: q and k quantized to q8_0 blocks along head_dim, p and v along the keys (relative
// error up to 1/254 of each block's largest value), sums exact, scaled in f32.  On these N(0, 1)
// inputs that leaves about 1e-2 of the largest output; the bound also shows that the int8 path ran.
TEST(Kernels, AttentionInInt8StaysWithinItsQuantization) {
    SKIP_WITHOUT_KERNELS();
    for (const auto & [D, H, T, N] : kAttentionShapes) {
        if ((D / H) % 32 != 0) {
            EXPECT_EQ(dino::kernels::attention_kernel(D, H, dino::kernels::attention_products::int8).heads, 0);
            continue;  // head_dim not whole q8_0 blocks: no int8 kernel
        }
        expect_reduced_attention(dino::kernels::attention_products::int8, 3e-2, D, H, T, N);
    }
}

// p v's worst case for int8 attention: every score equal, so every probability is its block's largest
// (q 127), against values of one sign along the keys at the int8 extreme (q +-127): each pair of
// products is 2 * 127 * 127, just within int16 (int8.inc: tile_q8, nonnegative rows).  The values
// are 127 * 2^-5 (their scale exactly 2^-5 in f16) and every probability 1 (its scale f16(1 / 127)),
// so every output is exactly v * 127 * f16(1 / 127) but for f32 rounding; one saturated pair
// (32767 for 32258) would be 1.6 % off.
TEST(Kernels, AttentionInInt8IsExactAtItsExtremes) {
    SKIP_WITHOUT_KERNELS();
    const int64_t D = 128, H = 2, T = 200, N = 1;
    const dino::kernels::attention_op op = dino::kernels::attention_kernel(D, H, dino::kernels::attention_products::int8);
    ASSERT_TRUE(op.int8);
    ggml_ctx g;
    ggml_context * ctx = g.ctx;
    ggml_tensor * qkv = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 3 * D, T, N);
    float * x = static_cast<float *>(qkv->data);
    const float v = 127.0f / 32;
    auto value = [&](int64_t d) { return d % 3 == 0 ? -v : v; };
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < 3 * D; ++i) x[t * 3 * D + i] = i < 2 * D ? 0.0f : value(i % D);  // q = k = 0
    dino::kernels::op_node node;
    ggml_tensor * ours = dino::kernels::attention(ctx, node, op, qkv);
    ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, ours);
    ASSERT_EQ(ggml_graph_compute_with_ctx(ctx, gf, 2), GGML_STATUS_SUCCESS);
    const double p_scale = 127.0 * ggml_fp16_to_fp32(ggml_fp32_to_fp16(1.0f / 127));
    const float * y = static_cast<const float *>(ours->data);
    double worst = 0;
    for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d) worst = std::max(worst, std::fabs(y[t * D + d] / (value(d) * p_scale) - 1.0));
    EXPECT_LE(worst, 1e-6);
}

TEST(Kernels, DinoKernelsPicksTheBuild) {
    const std::string forced = getenv("DINO_KERNELS") ? getenv("DINO_KERNELS") : "";
    const char * isa = dino::kernels::isa_name();
    const std::string name = isa ? isa : "ggml";
    const char * int8 = name == "i8mm" ? "smmla" : name == "dotprod" ? "sdot" : name == "neon" ? "smull"
                      : dino::kernels::int8_vnni() ? "VNNI" : "maddubs";
    std::printf("[ measure  ] kernels: %s, int8 by %s\n", name.c_str(), int8);
    if (forced == "ggml") EXPECT_EQ(isa, nullptr);
    if (forced.rfind("avx2", 0) == 0 && isa) EXPECT_EQ(name, "avx2");
    if (forced.find("novnni") != std::string::npos) EXPECT_FALSE(dino::kernels::int8_vnni());
    // arm64: the named build runs, or the CPU lacks its instructions (and this fails: CTest's
    // kernels_*_refused_* expect that on CPU models without them).
    if (forced == "neon" || forced == "dotprod" || forced == "i8mm") {
        EXPECT_EQ(name, forced) << "DINO_KERNELS=" << forced << ", but this CPU runs " << name;
    }
}
