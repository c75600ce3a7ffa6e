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
