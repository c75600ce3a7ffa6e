// Parity with the independent PyTorch implementation (tests/reference).
#include "helpers.h"

namespace {

constexpr double kClsCosine = 0.99999;
constexpr double kMaxAbs = 1e-3;

// Compares rows of n_rows x dim: cosine of each row and max abs over all.
void expect_close(const std::string & what, const float * got, const float * want, size_t n_rows, size_t dim,
                  double min_cos, double max_abs) {
    double worst_cos = 1;
    for (size_t r = 0; r < n_rows; ++r) worst_cos = std::min(worst_cos, cosine(got + r * dim, want + r * dim, dim));
    const double mad = max_abs_diff(got, want, n_rows * dim);
    report(what + " min cosine", worst_cos);
    report(what + " max abs diff", mad);
    EXPECT_GE(worst_cos, min_cos) << what;
    EXPECT_LE(mad, max_abs) << what;
}

struct input {
    npy_array a;
    int n, h, w;
};
input load_input(const std::string & name) {
    input in{read_npy(data_path("inputs/" + name + ".npy")), 0, 0, 0};
    in.n = int(in.a.shape[0]);
    in.h = int(in.a.shape[2]);
    in.w = int(in.a.shape[3]);
    return in;
}

}  // namespace

TEST(Parity, OriginalLayoutF32At224) {
    const dino_model * m = shared_model("vits8-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    EXPECT_FLOAT_EQ(info_of(m).layer_norm_eps, 1e-6f);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w, {true, false, 4});

    const npy_array cls = read_npy(ref_path("vits8_dino_224_cls"));
    expect_close("vits8 dino 224 CLS", r.cls.data(), cls.data.data(), 3, 384, kClsCosine, kMaxAbs);
    const npy_array tok = read_npy(ref_path("vits8_dino_224_tokens0"));
    expect_close("vits8 dino 224 last_hidden_state[0]", r.tokens.data(), tok.data.data(), 785, 384, 0.9999, kMaxAbs);

    const npy_array attn = read_npy(ref_path("vits8_dino_224_attn_cls"));  // [3, 6, 785]
    ASSERT_EQ(r.attention.size(), attn.data.size());
    expect_close("vits8 dino 224 attention (CLS query)", r.attention.data(), attn.data.data(), 3 * 6, 785, 0.9999, 1e-5);

    const npy_array last4 = read_npy(ref_path("vits8_dino_224_last4_tok16"));  // [3, 4, 16, 384]
    std::vector<float> got;  // first 16 tokens of each [N, 4, T, D] block
    for (int i = 0; i < 3; ++i) {
        for (int k = 0; k < 4; ++k) {
            const float * b = r.intermediate.data() + ((i * 4 + k) * r.T) * r.D;
            got.insert(got.end(), b, b + 16 * r.D);
        }
    }
    expect_close("vits8 dino 224 last 4 blocks (16 tokens)", got.data(), last4.data.data(), 3 * 4 * 16, 384, 0.9999, kMaxAbs);
}

// Both attention kernels against PyTorch; AUTO is FLASH.
TEST(Parity, FlashAndExactAttentionAgree) {
    const dino_model * m = shared_model("vits8-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    const input in = load_input("vits8-224x3");
    const npy_array cls = read_npy(ref_path("vits8_dino_224_cls"));
    const npy_array tok = read_npy(ref_path("vits8_dino_224_tokens0"));
    for (int kernel : {DINO_ATTENTION_EXACT, DINO_ATTENTION_FLASH}) {
        const std::string name = kernel == DINO_ATTENTION_EXACT ? "exact" : "flash";
        auto ctx = make_context(m, 2, DINO_POS_INTERP_DINO, kernel);
        const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w);
        expect_close("vits8 dino 224 CLS, " + name + " attention", r.cls.data(), cls.data.data(), 3, 384, kClsCosine, kMaxAbs);
        expect_close("vits8 dino 224 last_hidden_state[0], " + name + " attention", r.tokens.data(), tok.data.data(), 785, 384, 0.9999, kMaxAbs);
    }
    auto auto_ctx = make_context(m, 2), flash_ctx = make_context(m, 2, DINO_POS_INTERP_DINO, DINO_ATTENTION_FLASH);
    EXPECT_EQ(run(auto_ctx.get(), m, in.a.data.data(), 1, in.h, in.w).tokens,
              run(flash_ctx.get(), m, in.a.data.data(), 1, in.h, in.w).tokens);
}

TEST(Parity, FullAttentionMatrix) {
    const dino_model * m = shared_model("vits8-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), 1, in.h, in.w, {true, true, 0});
    const npy_array rows = read_npy(ref_path("vits8_dino_224_attn_rows0"));  // [6, 8, 785]
    std::vector<float> got;
    for (int h = 0; h < 6; ++h) {
        const float * b = r.attention.data() + size_t(h) * r.T * r.T;
        got.insert(got.end(), b, b + 8 * r.T);
    }
    expect_close("vits8 dino 224 full attention rows 0..7", got.data(), rows.data.data(), 6 * 8, 785, 0.9999, 1e-5);
    for (int h = 0; h < 6; ++h) {  // every row is a distribution
        double s = 0;
        for (int64_t t = 0; t < r.T; ++t) s += r.attention[size_t((h * r.T + 100) * r.T + t)];
        EXPECT_NEAR(s, 1.0, 1e-4);
    }
}

TEST(Parity, HuggingFaceLayoutF32At224) {
    for (const char * file : {"vits8-hf-f32.gguf", "vits8-hf-bin-f32.gguf"}) {
        const dino_model * m = shared_model(file);
        ASSERT_NE(m, nullptr);
        EXPECT_FLOAT_EQ(info_of(m).layer_norm_eps, 1e-12f);
        auto ctx = make_context(m);
        const input in = load_input("vits8-224x3");
        const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w);
        const npy_array cls = read_npy(ref_path("vits8_hf_224_cls"));
        expect_close(std::string(file) + " CLS", r.cls.data(), cls.data.data(), 3, 384, kClsCosine, kMaxAbs);
        const npy_array tok = read_npy(ref_path("vits8_hf_224_tokens0"));
        expect_close(std::string(file) + " last_hidden_state[0]", r.tokens.data(), tok.data.data(), 785, 384, 0.9999, kMaxAbs);
    }
}

TEST(Parity, NonSquareSizeInterpolatesPositions) {
    const dino_model * m = shared_model("vits8-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const input in = load_input("vits8-160x240");
    const result r = run(ctx.get(), m, in.a.data.data(), 1, in.h, in.w);
    ASSERT_EQ(r.T, 1 + 20 * 30);
    const npy_array tok = read_npy(ref_path("vits8_dino_160x240_tokens0"));
    expect_close("vits8 dino 160x240 CLS", r.tokens.data(), tok.data.data(), 1, 384, kClsCosine, kMaxAbs);
    expect_close("vits8 dino 160x240 last_hidden_state", r.tokens.data(), tok.data.data(), 601, 384, 0.9999, kMaxAbs);
}

TEST(TinyParity, EveryLayoutMatchesItsReference) {
    {
        const dino_model * m = shared_model("tiny-hf-f32.gguf");
        ASSERT_NE(m, nullptr);
        auto ctx = make_context(m);
        const input in = load_input("tiny-32x2");
        const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w);
        const npy_array tok = read_npy(ref_path("tiny_hf_32_tokens"));
        expect_close("tiny hf 32x32 tokens", r.tokens.data(), tok.data.data(), 2 * 17, 64, 0.99999, kMaxAbs);
    }
    const dino_model * m = shared_model("tiny-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    const input in = load_input("tiny-48x24");
    {
        auto ctx = make_context(m);
        const result r = run(ctx.get(), m, in.a.data.data(), 1, in.h, in.w, {true, true, 0});
        const npy_array tok = read_npy(ref_path("tiny_dino_48x24_tokens"));
        expect_close("tiny dino 48x24 tokens", r.tokens.data(), tok.data.data(), 19, 64, 0.99999, kMaxAbs);
        const npy_array attn = read_npy(ref_path("tiny_dino_48x24_attn"));
        expect_close("tiny dino 48x24 full attention", r.attention.data(), attn.data.data(), 2 * 19, 19, 0.99999, 1e-5);
    }
    {
        auto ctx = make_context(m, 2, DINO_POS_INTERP_SIZE);
        const result r = run(ctx.get(), m, in.a.data.data(), 1, in.h, in.w);
        const npy_array tok = read_npy(ref_path("tiny_dino_48x24_size_tokens"));
        expect_close("tiny dino 48x24 size-based positions", r.tokens.data(), tok.data.data(), 19, 64, 0.99999, kMaxAbs);
        // The two modes really differ, so each comparison above can fail.
        const npy_array dino_mode = read_npy(ref_path("tiny_dino_48x24_tokens"));
        EXPECT_GT(max_abs_diff(r.tokens.data(), dino_mode.data.data(), 19 * 64), 1e-2);
    }
}

TEST(Batch, ThreeAtOnceEqualsThreeSingleRuns) {
    const dino_model * m = shared_model("vits8-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result batch = run(ctx.get(), m, in.a.data.data(), 3, in.h, in.w, {true, false, 2});
    const size_t image = size_t(3) * in.h * in.w;
    double worst = 0;
    for (int i = 0; i < 3; ++i) {
        const result one = run(ctx.get(), m, in.a.data.data() + i * image, 1, in.h, in.w, {true, false, 2});
        const size_t tok = size_t(one.T * one.D);
        worst = std::max(worst, max_abs_diff(one.tokens.data(), batch.tokens.data() + i * tok, tok));
        worst = std::max(worst, max_abs_diff(one.attention.data(), batch.attention.data() + i * one.attention.size(), one.attention.size()));
        worst = std::max(worst, max_abs_diff(one.intermediate.data(), batch.intermediate.data() + i * 2 * tok, 2 * tok));
    }
    report("batch of 3 vs single runs, max abs diff", worst);
    EXPECT_LE(worst, 1e-4);
}

// 6 images of 112 x 112 (197 tokens) run as two graphs of 3 (dino_compute's images_per_graph):
// every output of every image must equal its single run.
TEST(Batch, SixSmallImagesInTwoGraphsEqualSingleRuns) {
    const dino_model * m = shared_model("vits8-dino-q8_0.gguf");
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const int n = 6, h = 112, w = 112;
    std::vector<float> pixels(size_t(n) * 3 * h * w);
    uint32_t state = 12345;
    for (float & p : pixels) p = float((state = state * 1664525u + 1013904223u) >> 8) / float(1 << 24) * 4.0f - 2.0f;
    const result batch = run(ctx.get(), m, pixels.data(), n, h, w, {true, false, 3});
    const size_t image = size_t(3) * h * w;
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        const result one = run(ctx.get(), m, pixels.data() + i * image, 1, h, w, {true, false, 3});
        const size_t tok = size_t(one.T * one.D);
        worst = std::max(worst, max_abs_diff(one.tokens.data(), batch.tokens.data() + i * tok, tok));
        worst = std::max(worst, max_abs_diff(one.attention.data(), batch.attention.data() + i * one.attention.size(), one.attention.size()));
        worst = std::max(worst, max_abs_diff(one.intermediate.data(), batch.intermediate.data() + i * 3 * tok, 3 * tok));
    }
    report("6 images at 112 in 2 graphs vs single runs, max abs diff", worst);
    EXPECT_EQ(worst, 0.0);
}

// ---- DINOv2 --------------------------------------------------------------------------

namespace {

// Rows of a reference last_hidden_state [S, D] with R registers after CLS: the tokens the outputs
// carry (CLS, then the patches) and the registers.
std::vector<float> without_registers(const float * hidden, int64_t S, int64_t R, int64_t D) {
    std::vector<float> v(hidden, hidden + D);
    v.insert(v.end(), hidden + (1 + R) * D, hidden + S * D);
    return v;
}

constexpr double kDinov2ClsMaxAbs = 1e-4;  // issue 27: CLS max abs against PyTorch

}  // namespace

TEST(Parity, Dinov2HuggingFaceAt224AndNonSquare) {
    const dino_model * m = shared_model("v2s14-hf-f32.gguf");
    ASSERT_NE(m, nullptr);
    const dino_model_info i = info_of(m);
    EXPECT_STREQ(i.family, "dinov2");
    EXPECT_EQ(i.patch_size, 14);
    EXPECT_EQ(i.image_size, 518);
    EXPECT_EQ(i.input_size, 224);
    EXPECT_EQ(i.register_count, 0);
    EXPECT_EQ(i.position_interpolation, DINO_POS_INTERP_SIZE);
    EXPECT_FLOAT_EQ(i.layer_norm_eps, 1e-6f);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w);
    ASSERT_EQ(r.T, 257);
    expect_close("dinov2-small layout 224 CLS", r.cls.data(), read_npy(ref_path("v2s14_hf_224_cls")).data.data(), 3, 384,
                 kClsCosine, kDinov2ClsMaxAbs);
    expect_close("dinov2-small layout 224 last_hidden_state[0]", r.tokens.data(),
                 read_npy(ref_path("v2s14_hf_224_tokens0")).data.data(), 257, 384, 0.9999, kMaxAbs);

    const input wide = load_input("v2-168x252");
    const result w = run(ctx.get(), m, wide.a.data.data(), 1, wide.h, wide.w);
    ASSERT_EQ(w.T, 1 + 12 * 18);
    const npy_array ref = read_npy(ref_path("v2s14_hf_168x252_tokens0"));
    expect_close("dinov2-small layout 168x252 CLS", w.cls.data(), ref.data.data(), 1, 384, kClsCosine, kDinov2ClsMaxAbs);
    expect_close("dinov2-small layout 168x252 last_hidden_state", w.tokens.data(), ref.data.data(), 217, 384, 0.9999, kMaxAbs);
}

// The original dinov2_vits14 layout interpolates with DINO's scale factors: a different result.
TEST(Parity, Dinov2OriginalLayoutInterpolatesWithTheOffset) {
    const dino_model * m = shared_model("v2s14-dinov2-f32.gguf");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(info_of(m).position_interpolation, DINO_POS_INTERP_DINO);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w);
    const npy_array want = read_npy(ref_path("v2s14_dinov2_224_cls"));
    expect_close("dinov2_vits14 layout 224 CLS", r.cls.data(), want.data.data(), 3, 384, kClsCosine, kDinov2ClsMaxAbs);
    const npy_array hf = read_npy(ref_path("v2s14_hf_224_cls"));  // the other interpolation really differs
    EXPECT_GT(max_abs_diff(want.data.data(), hf.data.data(), 3 * 384), 1e-2);
}

TEST(Parity, Dinov2WithRegistersEveryOutput) {
    const dino_model * m = shared_model("v2s14reg-hf-f32.gguf");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(info_of(m).register_count, 4);
    EXPECT_EQ(info_of(m).position_interpolation, DINO_POS_INTERP_SIZE_ANTIALIAS);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w, {true, false, 0});
    ASSERT_EQ(r.T, 257);
    expect_close("dinov2-with-registers-small layout 224 CLS", r.cls.data(), read_npy(ref_path("v2s14reg_hf_224_cls")).data.data(),
                 3, 384, kClsCosine, kDinov2ClsMaxAbs);
    const npy_array hidden = read_npy(ref_path("v2s14reg_hf_224_hidden0"));  // [261, 384]
    expect_close("with registers 224 tokens[0] (no registers)", r.tokens.data(),
                 without_registers(hidden.data.data(), 261, 4, 384).data(), 257, 384, 0.9999, kMaxAbs);
    expect_close("with registers 224 registers[0]", r.registers.data(), hidden.data.data() + 384, 4, 384, 0.9999, kMaxAbs);
    // The CLS query's attention over CLS and the patches: the registers' columns left out.
    const npy_array attn = read_npy(ref_path("v2s14reg_hf_224_attn_cls"));  // [3, 6, 261]
    std::vector<float> want;
    for (int row = 0; row < 3 * 6; ++row) {
        const std::vector<float> v = without_registers(attn.data.data() + row * 261, 261, 4, 1);
        want.insert(want.end(), v.begin(), v.end());
    }
    ASSERT_EQ(r.attention.size(), want.size());
    expect_close("with registers 224 attention (CLS query, no registers)", r.attention.data(), want.data(), 3 * 6, 257, 0.9999, 1e-5);

    const input wide = load_input("v2-168x252");  // antialiased interpolation of the 37 x 37 grid to 12 x 18
    const result w = run(ctx.get(), m, wide.a.data.data(), 1, wide.h, wide.w);
    const npy_array wh = read_npy(ref_path("v2s14reg_hf_168x252_hidden0"));  // [221, 384]
    expect_close("with registers 168x252 CLS", w.cls.data(), wh.data.data(), 1, 384, kClsCosine, kDinov2ClsMaxAbs);
    expect_close("with registers 168x252 tokens", w.tokens.data(), without_registers(wh.data.data(), 221, 4, 384).data(), 217,
                 384, 0.9999, kMaxAbs);
}

TEST(Parity, Dinov2Reg4OriginalLayout) {
    const dino_model * m = shared_model("v2s14reg-dinov2-f32.gguf");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(info_of(m).position_interpolation, DINO_POS_INTERP_SIZE_ANTIALIAS);
    auto ctx = make_context(m);
    const input in = load_input("vits8-224x3");
    const result r = run(ctx.get(), m, in.a.data.data(), in.n, in.h, in.w, {false, false, 2});
    expect_close("dinov2_vits14_reg4 layout 224 CLS", r.cls.data(), read_npy(ref_path("v2s14reg_dinov2_224_cls")).data.data(),
                 3, 384, kClsCosine, kDinov2ClsMaxAbs);
    const npy_array last2 = read_npy(ref_path("v2s14reg_dinov2_224_last2_hidden0"));  // [2, 24, 384]: CLS, 4 registers, 19 patches
    for (int k = 0; k < 2; ++k) {
        const float * got = r.intermediate.data() + k * r.T * r.D;  // image 0, block k of the last 2
        expect_close("dinov2_vits14_reg4 intermediate " + std::to_string(k), got,
                     without_registers(last2.data.data() + k * 24 * 384, 24, 4, 384).data(), 20, 384, 0.9999, kMaxAbs);
    }
}

TEST(TinyParity, Dinov2WithRegistersEveryLayout) {
    const input in = load_input("v2tiny-56x42");
    const npy_array hidden = read_npy(ref_path("v2tiny_hf_56x42_hidden"));  // [2, 15, 64]: CLS, 2 registers, 12 patches
    const npy_array attn = read_npy(ref_path("v2tiny_hf_56x42_attn"));      // [2, 2, 15, 15]
    std::vector<float> tokens, registers, attention;
    for (int i = 0; i < 2; ++i) {
        const float * h = hidden.data.data() + i * 15 * 64;
        const std::vector<float> t = without_registers(h, 15, 2, 64);
        tokens.insert(tokens.end(), t.begin(), t.end());
        registers.insert(registers.end(), h + 64, h + 3 * 64);
        for (int head = 0; head < 2; ++head) {
            for (int q = 0; q < 15; ++q) {
                if (q == 1 || q == 2) continue;
                const std::vector<float> row = without_registers(attn.data.data() + ((i * 2 + head) * 15 + q) * 15, 15, 2, 1);
                attention.insert(attention.end(), row.begin(), row.end());
            }
        }
    }
    for (const char * file : {"v2tiny-hf-f32.gguf", "v2tiny-dinov2-f32.gguf"}) {
        const dino_model * m = shared_model(file);
        ASSERT_NE(m, nullptr);
        auto ctx = make_context(m);
        const result r = run(ctx.get(), m, in.a.data.data(), 2, in.h, in.w, {true, true, 1});
        ASSERT_EQ(r.T, 13);
        expect_close(std::string(file) + " 56x42 tokens", r.tokens.data(), tokens.data(), 2 * 13, 64, 0.99999, kMaxAbs);
        expect_close(std::string(file) + " 56x42 registers", r.registers.data(), registers.data(), 2 * 2, 64, 0.99999, kMaxAbs);
        expect_close(std::string(file) + " 56x42 full attention (no registers)", r.attention.data(), attention.data(), 2 * 2 * 13, 13,
                     0.99999, 1e-5);
        EXPECT_EQ(r.intermediate, r.tokens);  // the last block's output is the tokens
    }
    // Every attention kernel over the sequence with registers in it (int8: q8_0 blocks of head_dim 32).
    const dino_model * f = shared_model("v2tiny-hf-f32.gguf");
    for (int kernel : {DINO_ATTENTION_EXACT, DINO_ATTENTION_FLASH, DINO_ATTENTION_BF16, DINO_ATTENTION_INT8}) {
        auto c = make_context(f, 2, DINO_POS_INTERP_MODEL, kernel);
        const result r = run(c.get(), f, in.a.data.data(), 2, in.h, in.w);
        expect_close("v2tiny attention kernel " + std::to_string(kernel) + " tokens", r.tokens.data(), tokens.data(), 2 * 13, 64,
                     kernel == DINO_ATTENTION_INT8 ? 0.9999 : 0.99999, kernel == DINO_ATTENTION_INT8 ? 1e-2 : kMaxAbs);
    }
    // q8_0 weights stay close on the same path.
    const dino_model * q = shared_model("v2tiny-hf-q8_0.gguf");
    ASSERT_NE(q, nullptr);
    auto ctx = make_context(q);
    const result r = run(ctx.get(), q, in.a.data.data(), 2, in.h, in.w);
    double worst = 1;
    for (int i = 0; i < 2; ++i) worst = std::min(worst, cosine(r.cls.data() + i * 64, tokens.data() + i * 13 * 64, 64));
    report("tiny dinov2 q8_0 CLS cosine to f32 PyTorch", worst);
    EXPECT_GE(worst, 0.999);
}

// ViT-g/14's SwiGLU MLP (x1, x2 = w12(x).chunk(2); w3(silu(x1) * x2)) in small, both layouts, f32 and q8_0.
TEST(TinyParity, Dinov2SwigluMlp) {
    const input in = load_input("v2tiny-56x42");
    for (const auto & [file, ref] : {std::pair{"v2tinyglu-hf-f32.gguf", "v2tinyglu_hf_56x42_hidden"},
                                     std::pair{"v2tinyglu-dinov2-f32.gguf", "v2tinyglu_dinov2_56x42_hidden"}}) {
        const dino_model * m = shared_model(file);
        ASSERT_NE(m, nullptr);
        const dino_model_info i = info_of(m);
        EXPECT_TRUE(i.swiglu);
        EXPECT_EQ(i.feed_forward_length, 256);
        auto ctx = make_context(m);
        const result r = run(ctx.get(), m, in.a.data.data(), 2, in.h, in.w, {true, false, 1});
        const npy_array want = read_npy(ref_path(ref));  // [2, 13, 96]
        expect_close(std::string(file) + " 56x42 tokens", r.tokens.data(), want.data.data(), 2 * 13, 96, 0.99999, kMaxAbs);
    }
    const dino_model * q = shared_model("v2tinyglu-hf-q8_0.gguf");
    ASSERT_NE(q, nullptr);
    auto ctx = make_context(q);
    const result r = run(ctx.get(), q, in.a.data.data(), 2, in.h, in.w);
    const npy_array want = read_npy(ref_path("v2tinyglu_hf_56x42_hidden"));
    double worst = 1;
    for (int i = 0; i < 2; ++i) worst = std::min(worst, cosine(r.cls.data() + i * 96, want.data.data() + i * 13 * 96, 96));
    report("tiny SwiGLU q8_0 CLS cosine to f32 PyTorch", worst);
    EXPECT_GE(worst, 0.999);
}
