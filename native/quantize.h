// quantize.h: dino_quantize_model through ggml's own quantizers
// (quantize.cpp), with an importance matrix and per-layer types chosen by
// measurement when calibration images are given.
#pragma once

#include "options.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace dino {

// The types quantize writes, by ggml's lower-case name; null past the end.
const char * quantize_type_name(size_t index);

// What quantize is asked for (dino.h: dino_quantize_params; the facade checks
// pointers and counts).
struct quantize_request {
    std::string type;                // the linear weights' type; with a target, the lowest a layer may take
    const float * images = nullptr;  // calibration images: n_images x 3 x S x S, S the model's image size
    int32_t n_images = 0;
    int32_t image_size = 0;          // their S, a multiple of the model's patch size
    double target_cos = 0;           // the lowest CLS cosine to f32 wanted; 0 = none
    double max_mb = 0;               // the largest file, in MB of 1e6 bytes; 0 = none
    context_options context;         // the calibration and measuring contexts' threads and memory guard
    // Called between steps; returning false stops the work (DINO_ERR_ABORTED).
    std::function<bool(const char * stage, int32_t done, int32_t total)> progress;

    bool recipe() const { return target_cos > 0 || max_mb > 0; }
};

// Writes a copy of the model at input_path with its linear weights quantized
// as request says; throws dino::error.
void quantize(const char * input_path, const char * output_path, const quantize_request & request);

}  // namespace dino
