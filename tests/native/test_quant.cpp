// Quantized types: drift from F32, and the converter's bytes against ggml's.
#include "helpers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace {

std::vector<char> file_bytes(const std::string & path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// CLS of the three 224 test images.
std::vector<float> cls_of(const dino_model * m, int attention = DINO_ATTENTION_AUTO) {
    const npy_array in = read_npy(data_path("inputs/vits8-224x3.npy"));
    auto ctx = make_context(m, 2, DINO_POS_INTERP_DINO, attention);
    return run(ctx.get(), m, in.data.data(), 3, 224, 224).cls;
}

double worst_cosine(const std::vector<float> & a, const std::vector<float> & b) {
    double w = 1;
    for (size_t i = 0; i < 3; ++i) w = std::min(w, cosine(a.data() + i * 384, b.data() + i * 384, 384));
    return w;
}

const std::vector<float> & f32_cls() {
    static const std::vector<float> c = cls_of(shared_model("vits8-dino-f32.gguf"));
    return c;
}

}  // namespace

// Bounds for the CLS cosine against F32.  The synthetic weights are uniform
// noise with no redundancy, the hardest case for 4-bit and smaller types:
// Q4_0 measures 0.983 here, so its bound is calibrated to 0.98 (the target
// for real weights is 0.99); Q3_K and Q2_K likewise.  F16 and Q8_0 keep the
// targets (0.9999, 0.999).
constexpr double kF16 = 0.9999, kQ8 = 0.999, kQ4 = 0.98;

// The types the converter writes.
TEST(Parity, ConverterTypesStayCloseToF32) {
    const struct { const char * file; double min_cos; } cases[] = {
        {"vits8-dino-f16.gguf", kF16}, {"vits8-dino-q8_0.gguf", kQ8}, {"vits8-dino-q4_0.gguf", kQ4}};
    for (const auto & c : cases) {
        const dino_model * m = shared_model(c.file);
        ASSERT_NE(m, nullptr);
        const double cos = worst_cosine(cls_of(m), f32_cls());
        report(std::string(c.file) + " CLS cosine vs f32", cos);
        EXPECT_GE(cos, c.min_cos) << c.file;
    }
}

// bf16 attention (issue 17: the default for int8 models only if CLS cosine stays >= 0.99999 against
// f32 attention).  Measured where nothing amplifies its rounding, on f32 weights: 0.9999994 on 16
// photos, 0.99999 the bound.  On q8_0 weights each product's input is re-quantized to int8, which
// turns any change into whole quantization steps: there bf16 measured 0.99992 against f32 attention,
// and two f32 attentions (ggml's exact one and ours) 0.99995 against each other; so its bound
// there is the int8 noise's, and its cosine against f32 weights must stay at q8_0's.
TEST(Quantized, Bf16AttentionStaysWithinItsRounding) {
    const dino_model * f32 = shared_model("vits8-dino-f32.gguf"), * q8 = shared_model("vits8-dino-q8_0.gguf");
    ASSERT_NE(f32, nullptr);
    ASSERT_NE(q8, nullptr);
    const std::string q8_kernels = info_of(q8).kernels;
    EXPECT_EQ(std::string(info_of(f32).kernels).find("-bf16"), std::string::npos);  // f32 weights keep f32 attention
    EXPECT_EQ(std::string(info_of(f32).kernels).find("-int8"), std::string::npos);
    if (q8_kernels.find("-bf16") == std::string::npos) GTEST_SKIP() << "attention without bf16 dot products here (" << q8_kernels << ")";
    const double f32_cos = worst_cosine(cls_of(f32, DINO_ATTENTION_BF16), cls_of(f32, DINO_ATTENTION_FLASH));
    report("f32 weights, bf16 attention: CLS cosine vs f32 attention", f32_cos);
    EXPECT_GE(f32_cos, 0.99999);
    EXPECT_LT(f32_cos, 1.0);  // the bf16 kernel ran

    const std::vector<float> q8_auto = cls_of(q8), q8_bf16 = cls_of(q8, DINO_ATTENTION_BF16);
    EXPECT_EQ(q8_auto, q8_bf16);  // AUTO is bf16 for int8 weights
    const double q8_cos = worst_cosine(q8_bf16, cls_of(q8, DINO_ATTENTION_FLASH));
    report("q8_0 weights, bf16 attention: CLS cosine vs f32 attention", q8_cos);
    EXPECT_GE(q8_cos, 0.9999);
    EXPECT_GE(worst_cosine(q8_bf16, f32_cls()), kQ8);
}

// The tiny models (64 wide, 2 heads of 32) through the int8 kernels in a whole graph: fast enough for
// emulated CPUs, where the 224 models take minutes.
TEST(TinyQuantized, EveryTypeStaysCloseToF32) {
    const npy_array in = read_npy(data_path("inputs/tiny-48x24.npy"));
    auto cls = [&](const char * file) {
        const dino_model * m = shared_model(file);
        if (!m) return std::vector<float>();
        auto ctx = make_context(m);
        return run(ctx.get(), m, in.data.data(), 1, 48, 24).cls;
    };
    const std::vector<float> f32 = cls("tiny-dino-f32.gguf");
    ASSERT_EQ(f32.size(), 64u);
    for (const auto & c : {std::make_pair("tiny-dino-q8_0.gguf", kQ8), std::make_pair("tiny-dino-q4_0.gguf", kQ4)}) {
        const std::vector<float> q = cls(c.first);
        ASSERT_EQ(q.size(), f32.size()) << c.first;
        const double cos = cosine(q.data(), f32.data(), f32.size());
        report(std::string(c.first) + " CLS cosine vs f32", cos);
        EXPECT_GE(cos, c.second) << c.first;
        EXPECT_LT(cos, 1.0) << c.first << ": no quantization drift at all, so the quantized weights were not used";
    }
}

// int8 attention (q, k, p and v in q8_0 blocks through the int8 kernels) in a whole graph, on the tiny
// models, whose head_dim (32) is one block: every int8 path, the emulated ones (and arm64's smmla
// layout) included.  bench/drift.sh measures the same on photos and the ViT-S/8.
TEST(TinyQuantized, Int8AttentionStaysCloseToF32Attention) {
    const npy_array in = read_npy(data_path("inputs/tiny-48x24.npy"));
    for (const char * file : {"tiny-dino-f32.gguf", "tiny-dino-q8_0.gguf", "tiny-dino-q4_0.gguf"}) {
        const dino_model * m = shared_model(file);
        ASSERT_NE(m, nullptr) << file;
        if (std::string(info_of(m).kernels).find("attention ggml") != std::string::npos)
            GTEST_SKIP() << file << ": no kernels here (" << info_of(m).kernels << ")";
        auto cls = [&](int attention) {
            auto ctx = make_context(m, 2, DINO_POS_INTERP_DINO, attention);
            return run(ctx.get(), m, in.data.data(), 1, 48, 24).cls;
        };
        const std::vector<float> int8 = cls(DINO_ATTENTION_INT8), flash = cls(DINO_ATTENTION_FLASH);
        ASSERT_EQ(int8.size(), flash.size());
        const double cos = cosine(int8.data(), flash.data(), flash.size());
        report(std::string(file) + ", int8 attention: CLS cosine vs f32 attention", cos);
        EXPECT_GE(cos, 0.9999) << file;
        EXPECT_LT(cos, 1.0) << file << ": identical, so the int8 attention did not run";
        // The default: what the kernels string says, int8 attention for int8 models on arm64.
        const std::string kernels = info_of(m).kernels, attention = kernels.substr(kernels.find("attention "));
#if defined(__aarch64__)
        EXPECT_EQ(attention.find("-int8") != std::string::npos, std::string(file) != "tiny-dino-f32.gguf") << kernels;
#endif
        if (attention.find("-bf16") == std::string::npos)
            EXPECT_EQ(cls(DINO_ATTENTION_AUTO), attention.find("-int8") != std::string::npos ? int8 : flash) << file;
    }
}

// DINO_INT8_WEIGHTS_7BIT: q8_0 weights rounded to 7 bits at load, on every CPU (x86 without VNNI then
// takes one maddubs a product), and nothing else: the f32 model loads as it is.  README, "7-bit
// weights", measures the drift on photos and the ViT-S/8.
TEST(TinyQuantized, SevenBitWeightsStayCloseToF32) {
    const npy_array in = read_npy(data_path("inputs/tiny-48x24.npy"));
    auto load = [](const char * file, int32_t int8_weights) {
        dino_model_params p = dino_model_default_params();
        p.int8_weights = int8_weights;
        dino_model * m = nullptr;
        EXPECT_EQ(dino_model_load(data_path(file).c_str(), &p, &m), DINO_OK) << dino_last_error();
        return model_ptr(m);
    };
    auto cls = [&](const dino_model * m) {
        auto ctx = make_context(m);
        return run(ctx.get(), m, in.data.data(), 1, 48, 24).cls;
    };
    const model_ptr seven = load("tiny-dino-q8_0.gguf", DINO_INT8_WEIGHTS_7BIT), f32 = load("tiny-dino-f32.gguf", DINO_INT8_WEIGHTS_7BIT);
    ASSERT_TRUE(seven && f32);
    const std::string kernels = info_of(seven.get()).kernels;
    if (kernels.find("linear ggml") != std::string::npos) GTEST_SKIP() << "no kernels here (" << kernels << "): the weights load as stored";
    EXPECT_NE(kernels.find("(7-bit weights)"), std::string::npos) << kernels;
    EXPECT_EQ(std::string(info_of(f32.get()).kernels).find("7-bit"), std::string::npos) << info_of(f32.get()).kernels;
    EXPECT_STREQ(info_of(seven.get()).weight_type, "q8_0");  // (the file's type)

    const std::vector<float> reference = cls(shared_model("tiny-dino-f32.gguf")), stored = cls(shared_model("tiny-dino-q8_0.gguf"));
    const std::vector<float> rounded = cls(seven.get());
    EXPECT_EQ(cls(f32.get()), reference);
    const double cos = cosine(rounded.data(), reference.data(), reference.size());
    report("tiny q8_0 as 7-bit: CLS cosine vs f32", cos);
    report("tiny q8_0 as stored: CLS cosine vs f32", cosine(stored.data(), reference.data(), reference.size()));
    EXPECT_GE(cos, kQ8);
    EXPECT_LT(cosine(rounded.data(), stored.data(), stored.size()), 1.0) << "no change: the weights were not rounded";
}

// scripts/convert_gguf.py quantizes in numpy; ggml's quantizers (through dino_quantize) must write the
// very same file, with one exception: on arm64, ggml's q4_0 quantizer is compiled with fused
// multiply-add, so (int)(x * id + 8.5f) rounds once where numpy (and ggml on x86) round x * id first.
// Where that sum lies within a rounding of an integer the two truncate differently: the value's 4-bit
// code moves by one step (one quantization step d of its block).  3 of 13.7 MB differ on the test
// model; the CLS of the two files then differ by at most 2.2e-5 in cosine (8 test images: README,
// "Platforms and publishing").
TEST(TinyQuantized, ConverterBytesEqualGgmlQuantizers) {
#if defined(__aarch64__)
    const bool fma_q4 = true;
#else
    const bool fma_q4 = false;
#endif
    for (const char * type : {"q8_0", "q4_0", "f16"}) {
        const std::string ours = data_path(std::string("vits8-dino-") + type + ".gguf");
        const std::string ggml = data_path(std::string("ggml-") + type + ".gguf");
        ASSERT_EQ(dino_quantize(data_path("vits8-dino-f32.gguf").c_str(), ggml.c_str(), type), DINO_OK) << dino_last_error();
        const auto a = file_bytes(ours), b = file_bytes(ggml);
        ASSERT_EQ(a.size(), b.size()) << type;
        size_t differ = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            if (a[i] == b[i]) continue;
            ++differ;
            const int lo = (a[i] & 0x0F) - (b[i] & 0x0F), hi = ((a[i] >> 4) & 0x0F) - ((b[i] >> 4) & 0x0F);
            EXPECT_TRUE(fma_q4 && std::string(type) == "q4_0" && std::abs(lo) + std::abs(hi) == 1)
                << type << ": byte " << i << " is " << int(uint8_t(b[i])) << ", not " << int(uint8_t(a[i]))
                << " (convert_gguf.py and ggml_quantize_chunk disagree by more than FMA rounding)";
        }
        std::printf("[ measure  ] %s: %zu of %zu bytes differ between convert_gguf.py and ggml\n", type, differ, a.size());
        EXPECT_LE(differ, a.size() / 1000000) << type;  // FMA rounding: a few values per 10^7
        remove(ggml.c_str());
    }
}

// Every type dino_quantize offers loads, runs and stays near F32.
TEST(Quantized, EveryQuantizeTypeRuns) {
    const struct { const char * type; double min_cos; } cases[] = {
        {"bf16", kF16}, {"q8_0", kQ8}, {"q6_K", 0.999}, {"q5_1", 0.995}, {"q5_0", 0.995}, {"q5_K", 0.995},
        {"q4_K", 0.99}, {"q4_1", kQ4}, {"q4_0", kQ4}, {"q3_K", 0.97}, {"q2_K", 0.95}};
    for (const auto & c : cases) {
        const std::string out = data_path(std::string("quantized-") + c.type + ".gguf");
        ASSERT_EQ(dino_quantize(data_path("vits8-dino-f32.gguf").c_str(), out.c_str(), c.type), DINO_OK) << dino_last_error();
        dino_model * m = nullptr;
        ASSERT_EQ(dino_model_load(out.c_str(), nullptr, &m), DINO_OK) << dino_last_error();
        const dino_model_info i = info_of(m);
        const double cos = worst_cosine(cls_of(m), f32_cls());
        report(std::string("dino_quantize ") + c.type + " CLS cosine vs f32 (" + std::to_string(i.weight_bytes / 1000000) + " MB)", cos);
        EXPECT_GE(cos, c.min_cos) << c.type;
        dino_model_free(m);
        remove(out.c_str());
    }
}

TEST(Quantized, RefusesBadRequests) {
    const std::string in = data_path("vits8-dino-f32.gguf"), out = data_path("never-written.gguf");
    EXPECT_EQ(dino_quantize(in.c_str(), out.c_str(), "q9_9"), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("q9_9"), std::string::npos);
    EXPECT_EQ(dino_quantize(in.c_str(), out.c_str(), "iq2_xxs"), DINO_ERR_INVALID_ARGUMENT);  // needs an imatrix
    EXPECT_EQ(dino_quantize(data_path("vits8-dino-q4_0.gguf").c_str(), out.c_str(), "q8_0"), DINO_ERR_UNSUPPORTED);
    EXPECT_EQ(dino_quantize(data_path("missing.gguf").c_str(), out.c_str(), "q8_0"), DINO_ERR_IO);
    EXPECT_EQ(dino_quantize(in.c_str(), "/nonexistent-dir/x.gguf", "q8_0"), DINO_ERR_IO);
    EXPECT_EQ(dino_quantize(nullptr, out.c_str(), "q8_0"), DINO_ERR_INVALID_ARGUMENT);
    FILE * f = fopen(out.c_str(), "rb");
    EXPECT_EQ(f, nullptr) << "a failed quantization left a file behind";
    if (f) fclose(f);
}

// ---- calibration and recipes (dino_quantize_model), on the tiny model: 8 linear layers, 32 x 32 images.

namespace {

// Photo-like inputs for the tiny model: per channel a few smooth waves of random frequency and phase,
// at the scale of normalized ImageNet pixels.  seed picks the set: calibration and held-out sets differ.
std::vector<float> wave_images(int n, int size, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> px(size_t(n) * 3 * size * size, 0.0f);
    for (int i = 0; i < n; ++i) {
        for (int c = 0; c < 3; ++c) {
            float * plane = px.data() + (size_t(i) * 3 + c) * size * size;
            for (int w = 0; w < 4; ++w) {
                const float fx = 6 * u(rng), fy = 6 * u(rng), ph = 6.28f * u(rng), a = 0.3f + u(rng);
                for (int y = 0; y < size; ++y) {
                    for (int x = 0; x < size; ++x) plane[y * size + x] += a * std::sin(6.28f * (fx * x + fy * y) / size + ph);
                }
            }
        }
    }
    return px;
}

std::string tiny_quantized(const std::string & name, const dino_quantize_params & p) {
    const std::string out = data_path(name);
    const dino_status s = dino_quantize_model(data_path("tiny-dino-f32.gguf").c_str(), out.c_str(), &p);
    EXPECT_EQ(s, DINO_OK) << dino_last_error();
    return out;
}

dino_quantize_params calibrated(const char * type, const std::vector<float> & images) {
    dino_quantize_params p = dino_quantize_default_params();
    p.type = type;
    p.calibration = images.data();
    p.n_calibration = int32_t(images.size() / (3 * 32 * 32));
    p.calibration_size = 32;
    p.n_threads = 2;
    return p;
}

// Per image, the CLS cosine of file against the tiny f32 model.
std::vector<double> tiny_cosines(const std::string & file, const std::vector<float> & images) {
    const int n = int(images.size() / (3 * 32 * 32));
    auto cls = [&](const dino_model * m) {
        auto ctx = make_context(m);
        return run(ctx.get(), m, images.data(), n, 32, 32).cls;
    };
    dino_model * m = nullptr;
    EXPECT_EQ(dino_model_load(file.c_str(), nullptr, &m), DINO_OK) << dino_last_error();
    if (!m) return {};
    const std::vector<float> a = cls(shared_model("tiny-dino-f32.gguf")), b = cls(m);
    dino_model_free(m);
    std::vector<double> c;
    for (int i = 0; i < n; ++i) c.push_back(cosine(a.data() + i * 64, b.data() + i * 64, 64));
    return c;
}

double min_of(const std::vector<double> & v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }

}  // namespace

// The same images give the same file, whatever the thread count; the importance matrix changes the
// quantized weights (so it was used) and the file says how it was made.
TEST(TinyQuantized, CalibrationIsDeterministic) {
    const std::vector<float> images = wave_images(12, 32, 1);
    dino_quantize_params p = calibrated("q4_0", images);
    const std::string a = tiny_quantized("calibrated-a.gguf", p);
    p.n_threads = 1;
    const std::string b = tiny_quantized("calibrated-b.gguf", p);
    dino_quantize_params plain = dino_quantize_default_params();
    plain.type = "q4_0";
    const std::string c = tiny_quantized("calibrated-none.gguf", plain);
    EXPECT_EQ(file_bytes(a), file_bytes(b)) << "calibration is not deterministic";
    EXPECT_NE(file_bytes(a), file_bytes(c)) << "the importance matrix changed nothing";

    dino_model * m = nullptr;
    ASSERT_EQ(dino_model_load(a.c_str(), nullptr, &m), DINO_OK) << dino_last_error();
    const dino_model_info i = info_of(m);
    EXPECT_STREQ(i.weight_type, "q4_0");
    EXPECT_NE(std::string(i.quantization).find("importance matrix from 12 image(s)"), std::string::npos) << i.quantization;
    // The same kernels as any q4_0 file (the importance matrix changes the scales, not the format).
    EXPECT_EQ(std::string(i.kernels), std::string(info_of(shared_model("tiny-dino-q4_0.gguf")).kernels));
    dino_model_free(m);
    report("tiny q4_0 with importance matrix: worst CLS cosine, held-out images", min_of(tiny_cosines(a, wave_images(12, 32, 2))));
    report("tiny q4_0 without: worst CLS cosine, held-out images", min_of(tiny_cosines(c, wave_images(12, 32, 2))));
    for (const std::string & f : {a, b, c}) remove(f.c_str());
}

// A recipe meets its target on images it was not calibrated on, where q4_0 alone does not, in a file
// smaller than q8_0's; a size alone gives a file within it.
TEST(TinyQuantized, RecipeMeetsItsTargetOnImagesItDidNotSee) {
    const std::vector<float> calibration = wave_images(16, 32, 1), held_out = wave_images(16, 32, 2);
    const double target = 0.99995;
    dino_quantize_params p = calibrated(nullptr, calibration);
    const std::string q4 = tiny_quantized("recipe-q4_0.gguf", calibrated("q4_0", calibration));
    p.target_cos = target;
    const std::string mix = tiny_quantized("recipe-mix.gguf", p);
    const double q4_cos = min_of(tiny_cosines(q4, held_out)), mix_cos = min_of(tiny_cosines(mix, held_out));
    report("tiny q4_0 (importance matrix): worst CLS cosine, held-out images", q4_cos);
    report("tiny recipe for 0.99995: worst CLS cosine, held-out images", mix_cos);
    EXPECT_LT(q4_cos, target) << "q4_0 alone meets the target: the test cannot tell whether the recipe chose anything";
    EXPECT_GE(mix_cos, target);
    const auto size = [](const std::string & f) { return double(file_bytes(f).size()); };
    EXPECT_LT(size(mix), size(data_path("tiny-dino-q8_0.gguf")));

    dino_model * m = nullptr;
    ASSERT_EQ(dino_model_load(mix.c_str(), nullptr, &m), DINO_OK) << dino_last_error();
    const std::string how = info_of(m).quantization;
    dino_model_free(m);
    EXPECT_NE(how.find("chosen for CLS cosine >= 0.99995"), std::string::npos) << how;

    dino_quantize_params sized = calibrated(nullptr, calibration);
    sized.max_mb = (size(q4) + size(data_path("tiny-dino-q8_0.gguf"))) / 2e6;
    const std::string fit = tiny_quantized("recipe-sized.gguf", sized);
    EXPECT_LE(size(fit), sized.max_mb * 1e6);
    EXPECT_GT(min_of(tiny_cosines(fit, held_out)), q4_cos) << "the room was not used";
    for (const std::string & f : {q4, mix, fit}) remove(f.c_str());
}

// Calibration computes under the same memory guard as any context: one 224 image of ViT-S/8
// needs about 50 MB of compute buffers, so a 16 MB guard refuses it before computing.
TEST(Quantized, CalibrationHonoursTheMemoryGuard) {
    const std::vector<float> images(size_t(2) * 3 * 224 * 224, 0.1f);
    dino_quantize_params p = dino_quantize_default_params();
    EXPECT_EQ(p.max_memory_mb, 8192);
    p.type = "q4_0";
    p.calibration = images.data();
    p.n_calibration = 2;
    p.calibration_size = 224;
    p.n_threads = 2;
    p.max_memory_mb = 16;
    const std::string out = data_path("guarded.gguf");
    EXPECT_EQ(dino_quantize_model(data_path("vits8-hf-f32.gguf").c_str(), out.c_str(), &p), DINO_ERR_OUT_OF_MEMORY);
    EXPECT_NE(std::string(dino_last_error()).find("the limit is 16 MB"), std::string::npos) << dino_last_error();
    EXPECT_FALSE(std::ifstream(out).good()) << "a refused quantization wrote its output";
}

// A stop is seen within a second while a step runs, not only between steps: the progress callback is
// asked again with the step's own values during a compute (here 4 images of ViT-S/8 at 224, seconds of
// work), and returning false then aborts it.
TEST(Quantized, AStopIsSeenWhileAStepRuns) {
    const std::vector<float> images(size_t(4) * 3 * 224 * 224, 0.1f);
    struct seen {
        std::string last;
        int repeats = 0;
        std::chrono::steady_clock::time_point stopped;
    } state;
    dino_quantize_params p = dino_quantize_default_params();
    p.type = "q4_0";
    p.calibration = images.data();
    p.n_calibration = 4;
    p.calibration_size = 224;
    p.n_threads = 1;  // (a step of 4 images then takes over half a second even on the fastest CPUs we ship for)
    p.progress = [](const char * stage, int32_t done, int32_t total, void * user) {
        auto & s = *static_cast<seen *>(user);
        const std::string now = std::string(stage) + " " + std::to_string(done) + "/" + std::to_string(total);
        if (now != s.last) {
            s.last = now;
            return true;
        }
        ++s.repeats;  // asked again during the step: stop here
        s.stopped = std::chrono::steady_clock::now();
        return false;
    };
    p.progress_user_data = &state;
    const std::string out = data_path("stopped.gguf");
    EXPECT_EQ(dino_quantize_model(data_path("vits8-hf-f32.gguf").c_str(), out.c_str(), &p), DINO_ERR_ABORTED) << dino_last_error();
    const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - state.stopped).count();
    EXPECT_EQ(state.repeats, 1);
    EXPECT_EQ(state.last, "calibrating 0/4");
    EXPECT_LT(after, 1.0) << "the compute went on after the stop";
    EXPECT_FALSE(std::ifstream(out).good()) << "a stopped quantization wrote its output";
}

// The output is never the input: not by the same path, a symbolic link or a hard link to it.
TEST(Quantized, RefusesToWriteOverItsInput) {
    const std::string dir = testing::TempDir() + "dino-same-file";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string in = dir + "/in.gguf";
    std::filesystem::copy_file(data_path("tiny-hf-f32.gguf"), in);
    const auto before = std::filesystem::file_size(in);
    std::vector<std::string> outs = {in};
#if !defined(_WIN32)
    std::filesystem::create_symlink(in, dir + "/link.gguf");
    std::filesystem::create_hard_link(in, dir + "/hard.gguf");
    outs.push_back(dir + "/link.gguf");
    outs.push_back(dir + "/hard.gguf");
#endif
    for (const std::string & out : outs) {
        EXPECT_EQ(dino_quantize(in.c_str(), out.c_str(), "q8_0"), DINO_ERR_INVALID_ARGUMENT) << out;
        EXPECT_NE(std::string(dino_last_error()).find("the output must be another file"), std::string::npos) << dino_last_error();
    }
    EXPECT_EQ(std::filesystem::file_size(in), before);
    EXPECT_EQ(dino_quantize(in.c_str(), (dir + "/other.gguf").c_str(), "q8_0"), DINO_OK) << dino_last_error();
    std::filesystem::remove_all(dir);
}

TEST(Quantized, RecipeRefusesBadRequests) {
    const std::string in = data_path("tiny-dino-f32.gguf"), out = data_path("never-written.gguf");
    const std::vector<float> images = wave_images(4, 32, 1);
    dino_quantize_params p = dino_quantize_default_params();
    p.target_cos = 0.99;
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);  // no images
    EXPECT_NE(std::string(dino_last_error()).find("calibration images"), std::string::npos) << dino_last_error();
    p = calibrated("q4_1", images);
    p.target_cos = 0.99;
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);  // no kernel for q4_1
    p = calibrated("q4_0", images);
    p.calibration_size = 36;  // (any multiple of the patch size runs: DINOv2 calibrates at 224, not its native 518)
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("not a multiple of the patch size 8"), std::string::npos) << dino_last_error();
    p = calibrated("q4_0", images);
    p.target_cos = 1.5;
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
    for (double bad : {std::nan(""), -std::nan("")}) {  // NaN is named as NaN, with or without a type
        for (const char * type : {"q4_0", static_cast<const char *>(nullptr)}) {
            p = calibrated(type, images);
            p.target_cos = bad;
            EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
            EXPECT_NE(std::string(dino_last_error()).find("target_cos"), std::string::npos) << dino_last_error();
            p = calibrated(type, images);
            p.max_mb = bad;
            EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
            EXPECT_NE(std::string(dino_last_error()).find("max_mb"), std::string::npos) << dino_last_error();
        }
    }
    p = calibrated("q4_0", images);
    p.calibration = nullptr;
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), nullptr), DINO_ERR_INVALID_ARGUMENT);  // no type
    p = calibrated(nullptr, images);
    p.max_mb = 0.01;  // below the all-q4_0 file: said before minutes of measuring
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("the smallest file, every linear layer q4_0"), std::string::npos) << dino_last_error();

    // A progress callback that says stop: DINO_ERR_ABORTED, after it was asked, and no file.
    p = calibrated(nullptr, images);
    p.target_cos = 0.999;
    int calls = 0;
    p.progress = [](const char *, int32_t, int32_t, void * user) { return ++*static_cast<int *>(user) < 3; };
    p.progress_user_data = &calls;
    EXPECT_EQ(dino_quantize_model(in.c_str(), out.c_str(), &p), DINO_ERR_ABORTED);
    EXPECT_EQ(calls, 3);
    FILE * f = fopen(out.c_str(), "rb");
    EXPECT_EQ(f, nullptr) << "a failed quantization left a file behind";
    if (f) fclose(f);
}
