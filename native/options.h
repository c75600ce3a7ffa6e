// options.h: what loading a model and making a compute context are asked for,
// below the C API.  dino.cpp translates dino_model_params and
// dino_context_params into these; the quantizer builds them directly.  Typed
// enums, and one place (resolved) that applies defaults and checks ranges.
#pragma once

#include <cstdint>

struct dino_model;

namespace dino {

struct load_options {
    bool check_values = true;  // scan every weight for NaN and infinity
    bool use_kernels = true;   // pack linear weights for our kernels; false keeps every tensor as stored (the quantizer reads them back)
    bool q8_0_as_7bit = false; // dino.h: DINO_INT8_WEIGHTS_7BIT (kernels::pack's seven_bit)
};

// How the position grid is resampled for other input sizes (graph.cpp: interpolate_pos_embed):
// bicubic by scale factors with DINO's 0.1 offset, bicubic to an explicit size, or that antialiased
// (DINOv2 with registers); model: the file's own (dino.position_interpolation).
enum class pos_interp { dino, size, size_antialias, model };

// Which attention computes the blocks (a requested attention output always comes from exact).
enum class attention_kind {
    automatic,  // int8 models: bf16 where the CPU has it, else int8 on arm64; else flash (dino_model::default_attention)
    exact,      // ggml's soft_max over the materialized scores
    flash,      // our f32 kernel, or ggml's flash attention
    bf16,       // our kernel with bf16 products
    int8,       // our kernel with int8 products (the int8 linear kernels)
};

inline constexpr int32_t kMaxThreads = 512;            // dino.h: DINO_MAX_THREADS
inline constexpr int64_t kDefaultMaxMemoryMb = 8192;   // dino.h: dino_context_default_params

struct context_options {
    int32_t n_threads = 0;  // 0: the threads this process may use (usable_threads)
    pos_interp pos = pos_interp::model;
    attention_kind attention = attention_kind::automatic;
    int64_t max_memory_mb = kDefaultMaxMemoryMb;  // <= 0: no guard

    // With the defaults applied for this model (threads, positions and attention resolved);
    // throws dino::error (DINO_ERR_INVALID_ARGUMENT) on a thread count out of range.
    context_options resolved(const dino_model & model) const;
};

// The threads this process may run on: the CPUs of its affinity mask (Linux), capped by a
// cgroup CPU quota where one is set; the active processors (Windows); at least 1.
int32_t usable_threads();

// n threads as given (1 to kMaxThreads), or usable_threads() for 0; throws on anything else.
int32_t resolve_threads(int32_t n);

}  // namespace dino
