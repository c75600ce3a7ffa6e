// context.cpp: the compute loop (context.h): batching images through the
// graph, the memory guard, and scattering the outputs.
#include "context.h"

#include "errors.h"

#include "ggml-cpu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

using dino::fail;

namespace {

// How many of n images of T tokens share one graph: enough tokens to keep the threads busy
// (about 1024), and a divisor of n, so one graph serves the whole call.
int32_t images_per_graph(int32_t n, int64_t T) {
    int32_t k = int32_t(std::clamp<int64_t>(1024 / T, 1, n));
    while (n % k != 0) --k;
    return k;
}

}  // namespace

std::unique_ptr<dino_context> dino_context::create(const dino_model * model, const dino::context_options & options) {
    auto c = std::make_unique<dino_context>();
    c->model = model;
    c->options = options.resolved(*model);
    c->backend_ = ggml_backend_cpu_init();
    if (!c->backend_) fail(DINO_ERR_OUT_OF_MEMORY, "cannot create the CPU backend");
    ggml_backend_cpu_set_n_threads(c->backend_, c->options.n_threads);
    c->galloc_ = ggml_gallocr_new(ggml_backend_get_default_buffer_type(c->backend_));
    if (!c->galloc_) fail(DINO_ERR_OUT_OF_MEMORY, "cannot create the graph allocator");
    return c;
}

dino_context::~dino_context() {
    graph_.reset();
    if (galloc_) ggml_gallocr_free(galloc_);
    if (backend_) ggml_backend_free(backend_);
#if defined(__GLIBC__)
    // The compute buffers (tens of MB) often come from glibc's per-thread arenas, which keep freed
    // memory; a caller that frees a context wants it back (DinoModelOptions.MaxIdleContexts).
    malloc_trim(0);
#endif
}

void dino_context::set_abort_callback(dino_abort_callback callback, void * user_data) {
    ggml_backend_cpu_set_abort_callback(backend_, callback, user_data);
}

void dino_context::set_profiling(bool on) {
    profiling_ = on;
    profile_.clear();
    profile_seconds_ = 0;
}

void dino_context::compute(const float * input, int32_t n, int32_t height, int32_t width, const dino_outputs & out,
                           const dino::compute_extras & extras) {
    dino::input_stats * stats = extras.stats;
    const dino::hparams & hp = model->hp;
    // T tokens per image in the outputs; S in the graph, where R registers follow CLS.
    const int64_t T = hp.tokens(height, width), S = hp.sequence(height, width), R = hp.registers, D = hp.dim, H = hp.heads;
    const int64_t Q = out.attention_full ? T : 1;

    // Images go through the graph a few at a time.  Every op already reuses its weights across an
    // image's hundreds of tokens, so a bigger graph buys nothing, while its activations (tens of MB
    // at batch 8 and 224) fall out of cache: 10-15% slower per image, measured (bench/run.sh).
    // Small images still share a graph, whose fixed cost would dominate.
    const int32_t per_graph = images_per_graph(n, S);

    // A guard against sizes that would exhaust memory: the largest live
    // activations are the attention matrices and the MLP hidden layer.
    if (options.max_memory_mb > 0) {
        const double floats = double(per_graph) * (2.0 * H * S * S + double(S) * (4 * D + hp.mlp * (hp.swiglu ? 4 : 1)) * 2 +
                                                   double(out.n_intermediate) * S * D + 3.0 * height * width);
        const double mb = floats * 4 / (1 << 20);
        if (mb > double(options.max_memory_mb)) {
            fail(DINO_ERR_OUT_OF_MEMORY, "%d image(s) of %dx%d at a time need about %.0f MB of compute memory; "
                 "the limit is %lld MB (max_memory_mb): use smaller images",
                 per_graph, height, width, mb, (long long) options.max_memory_mb);
        }
    }

    dino::graph_shape s;
    s.n = per_graph;
    s.height = height;
    s.width = width;
    s.n_intermediate = out.n_intermediate;
    s.attention = out.attention != nullptr;
    s.attention_full = s.attention && out.attention_full;
    s.pos_interp = options.pos;
    s.attention_kernel = options.attention;
    s.input_stats = stats != nullptr;
    s.block_inputs = extras.block_inputs != nullptr;
    s.first_block = extras.first_block;
    s.profile = profiling_;
    if (!(graph_ && graph_->shape == s)) {
        graph_.reset();
        graph_ = dino::build_graph(*model, s);
    }
    const dino::vit_graph & g = *graph_;
    if (!ggml_gallocr_alloc_graph(galloc_, g.graph)) {
        graph_.reset();
        fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate the compute buffers for %d image(s) of %dx%d", per_graph, height, width);
    }

    const size_t row = size_t(D) * sizeof(float);
    const int64_t K = out.n_intermediate;
    // Image i's tokens of a [D, S, per_graph] output into to ([T, D]): CLS, then the patches past the registers.
    const auto get_tokens = [&](const ggml_tensor * t, int64_t i, float * to) {
        ggml_backend_tensor_get(t, to, size_t(i * S) * row, row);
        ggml_backend_tensor_get(t, to + D, size_t(i * S + 1 + R) * row, size_t(T - 1) * row);
    };
    std::vector<float> attention;  // with registers: the graph's [S, Q or S, H, per_graph], before leaving them out
    for (int64_t first = 0; first < n; first += per_graph) {
        // Both inputs every time: the allocator reuses their memory once they are consumed.
        if (g.in_tokens) ggml_backend_tensor_set(g.in_tokens, input + first * S * D, 0, ggml_nbytes(g.in_tokens));
        else ggml_backend_tensor_set(g.in_pixels, input + first * 3 * height * width, 0, ggml_nbytes(g.in_pixels));
        if (g.in_pos) ggml_backend_tensor_set(g.in_pos, g.pos_values.data(), 0, ggml_nbytes(g.in_pos));
        const auto t0 = std::chrono::steady_clock::now();
        const ggml_status st = ggml_backend_graph_compute(backend_, g.graph);
        if (profiling_) {
            profile_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            for (dino::kernels::op_timing & t : graph_->timings) {
                auto it = std::find_if(profile_.begin(), profile_.end(), [&](const dino_profile_entry & e) { return t.name == e.name; });
                if (it == profile_.end()) {
                    dino_profile_entry e{};
                    snprintf(e.name, sizeof e.name, "%s", t.name.c_str());
                    e.kind = t.kind;
                    e.block = t.block;
                    e.peak_kind = t.peak_kind;
                    it = profile_.insert(profile_.end(), e);
                }
                it->seconds += t.take();
                it->ops += t.ops;
            }
        }
        if (st == GGML_STATUS_ABORTED) fail(DINO_ERR_ABORTED, "computation aborted by the abort callback");
        if (st != GGML_STATUS_SUCCESS) fail(DINO_ERR_COMPUTE, "ggml graph compute failed (status %d)", int(st));

        for (int64_t i = 0; i < per_graph; ++i) {
            if (out.tokens) get_tokens(g.out_tokens, i, out.tokens + (first + i) * T * D);
            if (out.cls) ggml_backend_tensor_get(g.out_tokens, out.cls + (first + i) * D, size_t(i * S) * row, row);
            if (out.registers) ggml_backend_tensor_get(g.out_tokens, out.registers + (first + i) * R * D, size_t(i * S + 1) * row, size_t(R) * row);
        }
        if (out.attention && R == 0) {
            ggml_backend_tensor_get(g.out_attention, out.attention + first * H * Q * T, 0, ggml_nbytes(g.out_attention));
        } else if (out.attention) {
            // Query and key s of the graph's sequence is token s (CLS) or s - R (a patch) of the output.
            attention.resize(size_t(ggml_nelements(g.out_attention)));
            ggml_backend_tensor_get(g.out_attention, attention.data(), 0, ggml_nbytes(g.out_attention));
            const int64_t Qs = out.attention_full ? S : 1;
            const auto seq = [R](int64_t t) { return t == 0 ? 0 : t + R; };
            float * to = out.attention + first * H * Q * T;
            for (int64_t i = 0; i < per_graph * H; ++i) {  // (image, head) pairs, in order in both
                for (int64_t q = 0; q < Q; ++q) {
                    const float * from = attention.data() + (i * Qs + seq(q)) * S;
                    *to++ = from[0];
                    to = std::copy(from + 1 + R, from + S, to);
                }
            }
        }
        if (extras.block_inputs) {  // [D, T, per_graph] per block -> [block][n, T, D]
            extras.block_inputs->resize(g.out_block_inputs.size());
            for (size_t b = 0; b < g.out_block_inputs.size(); ++b) {
                std::vector<float> & to = (*extras.block_inputs)[b];
                to.resize(size_t(n * S * D));
                ggml_backend_tensor_get(g.out_block_inputs[b], to.data() + first * S * D, 0,
                                        ggml_nbytes(g.out_block_inputs[b]));
            }
        }
        if (stats) {
            stats->sums.resize(g.out_input_stats.size());
            std::vector<float> sum;
            for (size_t l = 0; l < g.out_input_stats.size(); ++l) {
                sum.resize(size_t(ggml_nelements(g.out_input_stats[l])));
                ggml_backend_tensor_get(g.out_input_stats[l], sum.data(), 0, ggml_nbytes(g.out_input_stats[l]));
                stats->sums[l].resize(sum.size());
                for (size_t c = 0; c < sum.size(); ++c) stats->sums[l][c] += sum[c];
            }
            stats->rows += per_graph * S;
        }
        for (int64_t k = 0; k < K; ++k) {  // [D, S, N] per block -> [N, K, T, D]
            for (int64_t i = 0; i < per_graph; ++i) get_tokens(g.out_intermediate[size_t(k)], i, out.intermediate + ((first + i) * K + k) * T * D);
        }
    }

    // A NaN or infinity in what we return is never a result: say so instead of handing it on.
    // (Weights are scanned at load unless check_values is off; inputs are the caller's.)
    const auto finite = [](const float * p, int64_t count) {
        for (int64_t i = 0; i < count; ++i) if (!std::isfinite(p[i])) return false;
        return true;
    };
    if ((out.cls && !finite(out.cls, n * D)) || (out.tokens && !finite(out.tokens, n * T * D)) ||
        (out.attention && !finite(out.attention, n * H * Q * T)) ||
        (out.intermediate && !finite(out.intermediate, n * K * T * D)) || (out.registers && !finite(out.registers, n * R * D))) {
        fail(DINO_ERR_COMPUTE, "the result holds NaN or infinity: the input pixels or the weights are not finite "
                               "(load with check_values on to scan the weights)");
    }
}
