// The C API's contract: errors, reuse, threads, cancellation.
#include "helpers.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <thread>

#if defined(__linux__)
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#endif

namespace {

const char * kTiny = "tiny-hf-f32.gguf";

std::vector<float> tiny_input() { return read_npy(data_path("inputs/tiny-32x2.npy")).data; }

std::string write_file(const std::string & name, const std::string & bytes) {
    const std::string p = data_path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
}

// tiny-hf-f32.gguf with `arrays` u8 arrays of `length` elements inserted before its keys (the inserted
// bytes are a multiple of 32, so the tensors' data stays aligned).
std::string with_metadata_arrays(const std::string & name, int arrays, uint64_t length) {
    std::ifstream in(data_path(kTiny), std::ios::binary);
    std::string tiny((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n_kv;
    memcpy(&n_kv, tiny.data() + 16, 8);
    n_kv += uint64_t(arrays);
    memcpy(tiny.data() + 16, &n_kv, 8);
    const std::string p = data_path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(tiny.data(), 24);
    const std::string payload(length, '\x01');
    for (int a = 0; a < arrays; ++a) {
        char key[16];
        snprintf(key, sizeof key, "x.bulk%05d", a);  // 11 bytes
        const uint64_t key_len = 11, n = length;
        const uint32_t array = 9, u8 = 0;
        out.write(reinterpret_cast<const char *>(&key_len), 8).write(key, 11);
        out.write(reinterpret_cast<const char *>(&array), 4).write(reinterpret_cast<const char *>(&u8), 4);
        out.write(reinterpret_cast<const char *>(&n), 8).write(payload.data(), std::streamsize(n));
    }
    out.write(tiny.data() + 24, std::streamsize(tiny.size() - 24));
    return p;
}

// Loads path in a fresh process (load_peak, beside this executable) and returns its status and how
// much its peak RSS grew (MiB), or status -1000 where that cannot be measured (not Linux).
std::pair<int, double> load_in_fresh_process(const std::string & path) {
#if defined(__linux__)
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return {-1001, 0};
    std::string exe(self, size_t(n));
    exe = exe.substr(0, exe.rfind('/') + 1) + "load_peak";
    FILE * p = popen(("'" + exe + "' '" + path + "'").c_str(), "r");
    if (!p) return {-1002, 0};
    int status = -1003;
    double growth = 0;
    if (fscanf(p, "%d %lf", &status, &growth) != 2) status = -1003;
    if (pclose(p) != 0) status = -1004;
    return {status, growth};
#else
    (void) path;
    return {-1000, 0};
#endif
}

}  // namespace

TEST(TinyApi, VersionAndInfo) {
    EXPECT_NE(std::string(dino_version()).find("ggml 0.18.0"), std::string::npos) << dino_version();
    const dino_model * m = shared_model("vits8-dino-q8_0.gguf");
    ASSERT_NE(m, nullptr);
    const dino_model_info i = info_of(m);
    EXPECT_STREQ(i.name, "vits8-dino");
    EXPECT_STREQ(i.weight_type, "q8_0");
    // Which kernels run depends on the CPU and DINO_KERNELS (ggml: ggml's ops; avx2: that build).
    const std::string kernels = i.kernels, forced = getenv("DINO_KERNELS") ? getenv("DINO_KERNELS") : "";
    if (forced == "ggml") EXPECT_EQ(kernels, "linear ggml, attention ggml");
    else EXPECT_TRUE(std::regex_match(kernels, std::regex("linear (ggml|avx512|avx2|neon|dotprod|i8mm)(-vnni|-int8)?, attention (ggml|avx512(-bf16)?|avx2|(neon|dotprod|i8mm)(-int8)?)"))) << kernels;
    if (forced == "avx2") EXPECT_NE(kernels.find("attention avx2"), std::string::npos) << kernels;
    if (forced == "neon" || forced == "dotprod" || forced == "i8mm")  // int8 models: int8 attention on arm64
        EXPECT_NE(kernels.find("attention " + forced + "-int8"), std::string::npos) << kernels;
    EXPECT_EQ(i.embedding_length, 384);
    EXPECT_EQ(i.block_count, 12);
    EXPECT_EQ(i.head_count, 6);
    EXPECT_EQ(i.feed_forward_length, 1536);
    EXPECT_EQ(i.patch_size, 8);
    EXPECT_EQ(i.image_size, 224);
    EXPECT_GT(i.parameter_count, 21000000);
    // The original checkpoint's default: DINO's evaluation transform.
    EXPECT_EQ(i.preprocess_resize, 256);
    EXPECT_TRUE(i.preprocess_resize_shortest_edge);
    EXPECT_EQ(i.preprocess_crop, 224);
    EXPECT_EQ(i.preprocess_resample, DINO_RESAMPLE_BICUBIC);
    EXPECT_FLOAT_EQ(i.preprocess_mean[0], 0.485f);
    EXPECT_FLOAT_EQ(i.preprocess_std[2], 0.225f);
    // The Hugging Face default: 224x224 bilinear, no crop.
    const dino_model_info h = info_of(shared_model("vits8-hf-f32.gguf"));
    EXPECT_EQ(h.preprocess_resize, 224);
    EXPECT_FALSE(h.preprocess_resize_shortest_edge);
    EXPECT_EQ(h.preprocess_crop, 0);
    EXPECT_EQ(h.preprocess_resample, DINO_RESAMPLE_BILINEAR);
    ASSERT_EQ(dino_model_tensor_count(m), 4 + 2 + 12 * 12);  // embeddings, output norm, 12 per block
    dino_tensor_info t{};
    ASSERT_EQ(dino_model_tensor_info(m, 0, &t), DINO_OK);
    EXPECT_STREQ(t.name, "cls_embd");
    bool saw_qkv = false;
    for (int k = 0; k < dino_model_tensor_count(m); ++k) {
        ASSERT_EQ(dino_model_tensor_info(m, k, &t), DINO_OK);
        if (std::string(t.name) == "blk.3.attn_qkv.weight") {
            saw_qkv = true;
            EXPECT_STREQ(t.type, "q8_0");
            EXPECT_EQ(t.n_dims, 2);
            EXPECT_EQ(t.ne[0], 384);
            EXPECT_EQ(t.ne[1], 1152);
            EXPECT_EQ(t.nbytes, 1152 * 384 / 32 * 34);
        }
    }
    EXPECT_TRUE(saw_qkv);
    EXPECT_EQ(dino_model_tensor_info(m, -1, &t), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_model_tensor_info(m, dino_model_tensor_count(m), &t), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_model_token_count(m, 224, 224), 785);
    EXPECT_EQ(dino_model_token_count(m, 225, 224), 0);
    EXPECT_EQ(dino_model_token_count(nullptr, 224, 224), 0);
}

TEST(TinyApi, LoadErrorsAreStatusesWithMessages) {
    dino_model * m = reinterpret_cast<dino_model *>(0x1);
    EXPECT_EQ(dino_model_load(data_path("does-not-exist.gguf").c_str(), nullptr, &m), DINO_ERR_IO);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(dino_last_error()).find("does-not-exist.gguf"), std::string::npos);
    EXPECT_EQ(dino_model_load(nullptr, nullptr, &m), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_model_load("x", nullptr, nullptr), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_model_load(write_file("empty.gguf", "").c_str(), nullptr, &m), DINO_ERR_BAD_MODEL);
    EXPECT_EQ(dino_model_load(write_file("text.gguf", "hello, I am not a model").c_str(), nullptr, &m), DINO_ERR_BAD_MODEL);
    EXPECT_NE(std::string(dino_last_error()).find("magic"), std::string::npos) << dino_last_error();
    EXPECT_EQ(dino_model_load(data_path("").c_str(), nullptr, &m), DINO_ERR_IO);  // a directory
    dino_model_params params = dino_model_default_params();
    EXPECT_EQ(params.int8_weights, DINO_INT8_WEIGHTS_AS_STORED);
    params.int8_weights = 2;
    EXPECT_EQ(dino_model_load(data_path("tiny-dino-q8_0.gguf").c_str(), &params, &m), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(dino_last_error()).find("int8_weights 2"), std::string::npos) << dino_last_error();

    // Every prefix of a valid file fails cleanly (a short sweep; issue 4 fuzzes).
    std::ifstream f(data_path(kTiny), std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (size_t len : {size_t(3), size_t(4), size_t(8), size_t(23), size_t(24), size_t(100), size_t(1000), whole.size() / 2, whole.size() - 1}) {
        EXPECT_EQ(dino_model_load(write_file("prefix.gguf", whole.substr(0, len)).c_str(), nullptr, &m), DINO_ERR_BAD_MODEL) << len;
        EXPECT_EQ(m, nullptr);
    }
    // Free of NULL is a no-op.
    dino_model_free(nullptr);
    dino_context_free(nullptr);
}

TEST(TinyApi, ComputeArgumentErrors) {
    const dino_model * m = shared_model(kTiny);
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const std::vector<float> px = tiny_input();
    std::vector<float> cls(2 * 64);
    dino_outputs o = dino_outputs_default();
    o.cls = cls.data();
    o.cls_capacity = cls.size();
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 33, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("33x32"), std::string::npos) << dino_last_error();
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 0, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 0, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, -8, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_compute(ctx.get(), nullptr, 1, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_compute(nullptr, px.data(), 1, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 32, 32, nullptr), DINO_ERR_INVALID_ARGUMENT);
    o.cls_capacity = 63;  // one float short
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("cls"), std::string::npos);
    o.cls_capacity = 64;
    o.n_intermediate = 3;  // the tiny model has 2 blocks
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    o.n_intermediate = 1;  // without a buffer
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 32, 32, &o), DINO_ERR_INVALID_ARGUMENT);
    o.n_intermediate = 0;
    EXPECT_EQ(dino_compute(ctx.get(), px.data(), 1, 32, 32, &o), DINO_OK) << dino_last_error();
    EXPECT_STREQ(dino_last_error(), "");

    // A size past the memory limit is refused before anything is allocated.
    dino_context_params p = dino_context_default_params();
    p.max_memory_mb = 1;
    dino_context * small = nullptr;
    ASSERT_EQ(dino_context_new(m, &p, &small), DINO_OK);
    std::vector<float> big(size_t(3) * 512 * 512);
    EXPECT_EQ(dino_compute(small, big.data(), 1, 512, 512, &o), DINO_ERR_OUT_OF_MEMORY);
    EXPECT_NE(std::string(dino_last_error()).find("max_memory_mb"), std::string::npos);
    dino_context_free(small);

    p = dino_context_default_params();
    p.pos_interp = 7;
    EXPECT_EQ(dino_context_new(m, &p, &small), DINO_ERR_INVALID_ARGUMENT);
    p = dino_context_default_params();
    p.attention_kernel = 9;
    EXPECT_EQ(dino_context_new(m, &p, &small), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("attention_kernel"), std::string::npos);
    EXPECT_EQ(dino_context_new(nullptr, nullptr, &small), DINO_ERR_INVALID_ARGUMENT);
}

TEST(TinyApi, ContextIsReusedAcrossShapes) {
    const dino_model * m = shared_model(kTiny);
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const std::vector<float> px = tiny_input();
    const result a = run(ctx.get(), m, px.data(), 2, 32, 32);
    std::vector<float> other(size_t(3) * 48 * 24, 0.25f);
    run(ctx.get(), m, other.data(), 1, 48, 24, {true, true, 2});
    const result b = run(ctx.get(), m, px.data(), 2, 32, 32);
    EXPECT_EQ(a.tokens, b.tokens);  // bit-identical after switching shapes and back
}

TEST(Api, ManyContextsOnOneModelAcrossThreads) {
    const dino_model * m = shared_model("vits8-dino-q8_0.gguf");
    ASSERT_NE(m, nullptr);
    const npy_array in = read_npy(data_path("inputs/vits8-224x3.npy"));
    const size_t image = size_t(3) * 224 * 224;
    std::vector<std::vector<float>> serial(3);
    {
        auto ctx = make_context(m, 1);
        for (int i = 0; i < 3; ++i) serial[size_t(i)] = run(ctx.get(), m, in.data.data() + i * image, 1, 224, 224).cls;
    }
    std::vector<std::vector<float>> parallel(6);
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            auto ctx = make_context(m, 1);
            parallel[size_t(t)] = run(ctx.get(), m, in.data.data() + (t % 3) * image, 1, 224, 224).cls;
        });
    }
    for (auto & t : threads) t.join();
    for (int t = 0; t < 6; ++t) EXPECT_EQ(parallel[size_t(t)], serial[size_t(t % 3)]) << "thread " << t;
}

TEST(Api, AbortCallbackStopsAndContextStaysUsable) {
    const dino_model * m = shared_model("vits8-dino-q8_0.gguf");
    ASSERT_NE(m, nullptr);
    auto ctx = make_context(m);
    const npy_array in = read_npy(data_path("inputs/vits8-224x3.npy"));
    std::atomic<int> calls{0};
    dino_context_set_abort_callback(ctx.get(), [](void * ud) {
        return static_cast<std::atomic<int> *>(ud)->fetch_add(1) >= 20;  // stop after a few nodes
    }, &calls);
    std::vector<float> cls(3 * 384);
    dino_outputs o = dino_outputs_default();
    o.cls = cls.data();
    o.cls_capacity = cls.size();
    EXPECT_EQ(dino_compute(ctx.get(), in.data.data(), 3, 224, 224, &o), DINO_ERR_ABORTED);
    EXPECT_NE(std::string(dino_last_error()).find("abort"), std::string::npos);
    dino_context_set_abort_callback(ctx.get(), nullptr, nullptr);
    const result r = run(ctx.get(), m, in.data.data(), 1, 224, 224);
    auto fresh = make_context(m);
    const result want = run(fresh.get(), m, in.data.data(), 1, 224, 224);
    EXPECT_EQ(r.cls, want.cls);
}

TEST(TinyApi, LogCallbackReceivesMessages) {
    static std::vector<std::string> lines;
    dino_log_set([](int32_t level, const char * msg, void *) { if (level >= DINO_LOG_INFO) lines.push_back(msg); }, nullptr);
    dino_model * m = nullptr;
    ASSERT_EQ(dino_model_load(data_path(kTiny).c_str(), nullptr, &m), DINO_OK);
    dino_model_free(m);
    dino_log_set(nullptr, nullptr);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines.back().find("loaded"), std::string::npos) << lines.back();
}

// The deepest model the loader accepts computes every output on every kernel path (CTest runs this
// with DINO_KERNELS=ggml and avx2 too): the graph is sized from the model, never overflows ggml's
// fixed object budget (which aborts the process).
TEST(TinyApi, DeepestModelComputesEveryOutput) {
    const dino_model * m = shared_model("deep-f32.gguf");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(info_of(m).block_count, 256);
    auto ctx = make_context(m);
    std::vector<float> pixels(2 * 3 * 16 * 16);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = float(std::sin(double(i) * 0.1));
    request rq;
    rq.attention = rq.attention_full = true;
    rq.n_intermediate = 256;
    const result r = run(ctx.get(), m, pixels.data(), 2, 16, 16, rq);
    for (float v : r.tokens) ASSERT_TRUE(std::isfinite(v));
    for (float v : r.intermediate) ASSERT_TRUE(std::isfinite(v));
    // Without the attention output the last block takes the fused attention: the same up to rounding.
    const result plain = run(ctx.get(), m, pixels.data(), 2, 16, 16);
    EXPECT_LT(max_abs_diff(plain.cls.data(), r.cls.data(), r.cls.size()), 1e-4);
}

// Metadata is kept as stored (a u8 array element is one byte) and capped at 64 MiB in all: a file of
// 256 MiB of u8 arrays once peaked at 2.4 GB while loading.
TEST(Api, MetadataIsCompactAndCapped) {
    const uint64_t length = (uint64_t(12) << 20) + 29;  // 12 MiB; with its 35 bytes of key and type, 32-aligned
    static_assert(((uint64_t(12) << 20) + 29 + 35) % 32 == 0, "an inserted key/value must keep the alignment");
    const std::string ok = with_metadata_arrays("metadata-48mib.gguf", 4, length);
    const std::string big = with_metadata_arrays("metadata-256mib.gguf", 21, length);
    dino_model * m = nullptr;
    ASSERT_EQ(dino_model_load(ok.c_str(), nullptr, &m), DINO_OK) << dino_last_error();
    dino_model_free(m);
    EXPECT_EQ(dino_model_load(big.c_str(), nullptr, &m), DINO_ERR_BAD_MODEL);
    EXPECT_NE(std::string(dino_last_error()).find("metadata passes 64 MiB at key 'x.bulk00005'"), std::string::npos)
        << dino_last_error();

    const auto [ok_status, ok_growth] = load_in_fresh_process(ok);
    const auto [big_status, big_growth] = load_in_fresh_process(big);
    std::remove(ok.c_str());
    std::remove(big.c_str());
    if (ok_status == -1000) GTEST_SKIP() << "peak memory is measured on Linux only (/proc/self/status)";
    EXPECT_EQ(ok_status, DINO_OK);
    EXPECT_EQ(big_status, DINO_ERR_BAD_MODEL);
    // 48 MiB stored: the peak grows by about that (it grew 9x before), and the refused file costs no more.
    printf("peak RSS growth loading 48 MiB of u8 arrays: %.1f MiB; refusing 252 MiB: %.1f MiB\n", ok_growth, big_growth);
    EXPECT_LT(ok_growth, 48 * 1.5);
    EXPECT_LT(big_growth, 64 * 1.5);
}

// Profiling times each of the library's ops (5 per block where our kernels run), within the computes'
// wall time; the peak probes measure something on a CPU with kernels.
TEST(Api, ProfileTimesEveryKernelOp) {
    const dino_model * m = shared_model("tiny-dino-f32.gguf");
    ASSERT_NE(m, nullptr);
    const npy_array in = read_npy(data_path("inputs/tiny-48x24.npy"));
    auto ctx = make_context(m);
    dino_context_set_profiling(ctx.get(), true);
    for (int i = 0; i < 3; ++i) run(ctx.get(), m, in.data.data(), 1, 48, 24);
    double total = 0;
    const int32_t n = dino_context_get_profile(ctx.get(), nullptr, 0, &total);
    const bool ours = std::string(info_of(m).kernels).find("ggml") == std::string::npos;
    if (!ours) {
        EXPECT_EQ(n, 0);
        return;
    }
    ASSERT_EQ(n, 2 * 5);  // 2 blocks: qkv, attention, proj, fc1, fc2
    std::vector<dino_profile_entry> e(static_cast<size_t>(n));
    ASSERT_EQ(dino_context_get_profile(ctx.get(), e.data(), n, nullptr), n);
    double sum = 0;
    for (const dino_profile_entry & x : e) {
        EXPECT_GT(x.seconds, 0) << x.name;
        EXPECT_GT(x.ops, 0) << x.name;
        sum += x.seconds;
    }
    EXPECT_STREQ(e[0].name, "blk.0.attn_qkv");
    EXPECT_EQ(e[1].kind, DINO_PROFILE_ATTENTION);
    EXPECT_EQ(e[1].peak_kind, DINO_PEAK_F32_FMA);  // f32 weights: f32 attention by default
    EXPECT_EQ(e[9].block, 1);
    EXPECT_LE(sum, total);
    // 64 x 192 weights over 19 tokens, three times
    EXPECT_DOUBLE_EQ(e[0].ops, 3 * 2.0 * 64 * 192 * 19);
    dino_context_set_profiling(ctx.get(), false);
    EXPECT_EQ(dino_context_get_profile(ctx.get(), nullptr, 0, nullptr), 0);
    EXPECT_GT(dino_peak_ops(0, 1, 0.05), 1e8);
    // A bf16 probe exactly where the int8 models' attention runs on bf16 (AUTO).
    const std::string kernels = info_of(shared_model("tiny-dino-q8_0.gguf")).kernels;
    const double bf16 = dino_peak_ops(DINO_PEAK_BF16_DOT, 1, 0.05);
    if (kernels.find("attention avx512-bf16") != std::string::npos) EXPECT_GT(bf16, 1e8) << kernels;
    else EXPECT_EQ(bf16, 0) << kernels;
    EXPECT_EQ(dino_peak_ops(3, 1, 0.05), 0);  // no such probe
}

// "0 threads" is what this process may use (its CPU affinity), and a context says what it runs with.
TEST(Api, ContextReportsItsThreads) {
    const dino_model * m = shared_model(kTiny);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(dino_context_get_threads(make_context(m, 3).get()), 3);
    EXPECT_EQ(dino_context_get_threads(nullptr), 0);
#if defined(__linux__)
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    EXPECT_LE(dino_context_get_threads(make_context(m, 0).get()), CPU_COUNT(&set));
    // Pinned to one CPU, "all" is one.
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &one);
            break;
        }
    }
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    const int32_t pinned = dino_context_get_threads(make_context(m, 0).get());
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    EXPECT_EQ(pinned, 1);
#endif
    dino_context_params p = dino_context_default_params();
    p.n_threads = DINO_MAX_THREADS + 1;
    dino_context * c = nullptr;
    EXPECT_EQ(dino_context_new(m, &p, &c), DINO_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dino_last_error()).find("out of range"), std::string::npos) << dino_last_error();
}

// DINO_KERNELS names a build of this CPU family, "ggml", or nothing: anything else is refused at
// load with the valid values, never echoed with its control characters.
TEST(TinyApi, UnknownKernelBuildIsRefused) {
    const char * was = getenv("DINO_KERNELS");
    const std::string saved = was ? was : "";
    const auto set = [](const char * v) {
#if defined(_WIN32)
        _putenv_s("DINO_KERNELS", v ? v : "");
#else
        if (v) setenv("DINO_KERNELS", v, 1);
        else unsetenv("DINO_KERNELS");
#endif
    };
    set("bogus\x1b[31m");
    dino_model * m = nullptr;
    const dino_status st = dino_model_load(data_path(kTiny).c_str(), nullptr, &m);
    const std::string message = dino_last_error();
    set(was ? saved.c_str() : nullptr);
    EXPECT_EQ(st, DINO_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(message.find("DINO_KERNELS='bogus?[31m'"), std::string::npos) << message;
    EXPECT_NE(message.find("ggml"), std::string::npos) << message;
    EXPECT_EQ(message.find('\x1b'), std::string::npos);
    dino_model_free(m);
}
