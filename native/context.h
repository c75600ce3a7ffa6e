// context.h: the compute context (dino_context): a CPU backend, a graph
// allocator and the graph for the last shape, used by one thread at a time.
#pragma once

#include "graph.h"
#include "model.h"

#include "ggml-alloc.h"
#include "ggml-backend.h"

#include <memory>
#include <vector>

namespace dino {

// Calibration statistics (dino_quantize): per linear layer (blocks in order,
// block::linears() order), the sum over every token seen of the squared input
// of the product, per input channel.  Needs a model without packed weights.
struct input_stats {
    std::vector<std::vector<double>> sums;
    int64_t rows = 0;  // tokens summed over
};

// What dino_quantize asks of the compute loop beyond dino_outputs.
struct compute_extras {
    input_stats * stats = nullptr;                // add the linear layers' input statistics
    // The stream entering each block from first_block on: [depth - first_block][n, S, D] (S: hparams::sequence).
    std::vector<std::vector<float>> * block_inputs = nullptr;
    int32_t first_block = 0;                      // > 0: start at this block; the input is then the stream entering it, [n, S, D]
};

}  // namespace dino

struct dino_context {
    const dino_model * model = nullptr;
    dino::context_options options;  // resolved: threads and attention chosen

    // Throws dino::error, on bad options too (context_options::resolved).
    static std::unique_ptr<dino_context> create(const dino_model * model, const dino::context_options & options);

    // Runs n images of height x width (valid sizes, outputs of the right
    // capacity: the facade checks them) and fills what out asks for.  input:
    // their pixels, [n, 3, height, width] (or see compute_extras).
    void compute(const float * input, int32_t n, int32_t height, int32_t width, const dino_outputs & out,
                 const dino::compute_extras & extras = {});

    void set_abort_callback(dino_abort_callback callback, void * user_data);

    // Profiling (dino.h: dino_context_set_profiling): on starts a fresh profile.
    void set_profiling(bool on);
    const std::vector<dino_profile_entry> & profile() const { return profile_; }
    double profile_seconds() const { return profile_seconds_; }

    dino_context() = default;
    dino_context(const dino_context &) = delete;
    dino_context & operator=(const dino_context &) = delete;
    ~dino_context();

private:
    ggml_backend_t backend_ = nullptr;
    ggml_gallocr_t galloc_ = nullptr;
    std::unique_ptr<dino::vit_graph> graph_;  // rebuilt when the shape or the outputs change
    bool profiling_ = false;
    std::vector<dino_profile_entry> profile_;  // summed over computes, by op name
    double profile_seconds_ = 0;               // wall time of the profiled computes
};
