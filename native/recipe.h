// recipe.h: inside the quantizer (quantize.cpp writes a file; recipe.cpp
// chooses each layer's type for a target).  What the two share: a layer as
// the quantizer sees it, a request's run, and the recipe's result.
#pragma once

#include "context.h"
#include "errors.h"
#include "quantize.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace dino {

// ggml's name of a type in lower case ("q4_k").
std::string type_name(ggml_type t);

// One linear weight of the model, as the quantizer sees it.
struct quant_layer {
    std::string name;
    int block = 0;
    linear_layer * in_model = nullptr;  // in the model the trials run
    int64_t k = 0, n = 0;               // inputs (row length), outputs (rows)
    std::vector<float> f32;             // the weights
    std::vector<float> importance;      // per input: mean of x^2 over the calibration tokens, or empty
    ggml_type type = GGML_TYPE_F32;     // what it is written as

    uint64_t bytes(ggml_type t) const { return ggml_row_size(t, k) * uint64_t(n); }

    // In chunks of rows, asking wanted() between them: an importance-weighted K-quant of one layer can take
    // tens of seconds, and a stop must be seen within one.
    template <class Wanted>
    std::vector<uint8_t> quantized(ggml_type t, const Wanted & wanted) const {
        constexpr int64_t kChunkRows = 64;
        std::vector<uint8_t> out(bytes(t));
        size_t written = 0;
        for (int64_t row = 0; row < n; row += kChunkRows) {
            if (!wanted()) dino::fail(DINO_ERR_ABORTED, "quantization stopped by the progress callback");
            written += ggml_quantize_chunk(t, f32.data(), out.data(), row * k, std::min(kChunkRows, n - row), k,
                                           importance.empty() ? nullptr : importance.data());
        }
        if (written != out.size()) dino::fail(DINO_ERR_INTERNAL, "quantizing '%s' wrote %zu bytes", name.c_str(), written);
        return out;
    }
};

// The run of one request: its images, its progress, the contexts it computes with.
struct quant_run {
    const quantize_request & r;
    int32_t size = 0;  // the calibration images' size

    struct step_state {
        const char * stage = nullptr;
        int32_t done = 0, total = 0;
        std::chrono::steady_clock::time_point asked;
    };
    mutable step_state at_{};  // the step in progress (step sets it, still_wanted reads it)

    // The progress callback between steps, and while one runs (a compute, a layer's quantization) again
    // with the step's own values, at most 4 times a second, so that a stop is seen within a second.
    void step(const char * stage, int32_t done, int32_t total) const {
        at_ = {stage, done, total, std::chrono::steady_clock::now()};
        if (r.progress && !r.progress(stage, done, total)) dino::fail(DINO_ERR_ABORTED, "quantization stopped by the progress callback");
    }
    bool still_wanted() const {
        const auto now = std::chrono::steady_clock::now();
        if (!r.progress || !at_.stage || now - at_.asked < std::chrono::milliseconds(250)) return true;
        at_.asked = now;
        return r.progress(at_.stage, at_.done, at_.total);
    }

    std::unique_ptr<dino_context> context(const dino_model & m, attention_kind attention = attention_kind::flash) const {
        context_options o = r.context;
        o.attention = attention;
        std::unique_ptr<dino_context> c = dino_context::create(&m, o);
        c->set_abort_callback([](void * run) { return !static_cast<const quant_run *>(run)->still_wanted(); },
                              const_cast<quant_run *>(this));
        return c;
    }

    std::vector<uint8_t> quantized(const quant_layer & l, ggml_type t) const { return l.quantized(t, [this] { return still_wanted(); }); }

    size_t image_floats() const { return size_t(3) * size_t(size) * size_t(size); }

    // The CLS embeddings of n images from input (their pixels, or see compute_extras).
    std::vector<float> cls(const dino_model & m, const float * input, int32_t n, const compute_extras & extras = {},
                           attention_kind attention = attention_kind::flash) const {
        std::vector<float> out(size_t(n) * size_t(m.hp.dim));
        dino_outputs o{};
        o.cls = out.data();
        o.cls_capacity = out.size();
        context(m, attention)->compute(input, n, size, size, o, extras);
        return out;
    }
};

// The types a recipe chooses among, smallest first: the ones our kernels run
// (kernels.h), so a mixed file computes as fast as its parts.  Why these and
// not q4_1, q5_1 or the K-quants: README, "Quantization".
inline constexpr ggml_type kRecipeTypes[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_F16};

// Of the drift a target allows, half is kept for images calibration did not see.
constexpr double kUnseenMargin = 0.5;

// What the recipe's whole mix measured.
struct recipe_result {
    double cos_min = 1, cos_mean = 1;  // the whole mix, on every calibration image
    bool met = true;
};

// Chooses each layer's type (quant_layer::type) for the request's target and size, lowest the lowest
// type a layer may take; fixed: the file's bytes besides the linear weights.
recipe_result choose_types(const char * input_path, const quant_run & run, std::vector<quant_layer> & layers, uint64_t fixed,
                           ggml_type lowest);

}  // namespace dino
