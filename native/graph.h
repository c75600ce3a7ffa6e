// graph.h: the DINO ViT forward pass as a ggml graph (graph.cpp), for one
// shape of input and one set of requested outputs.
#pragma once

#include "model.h"

#include <deque>
#include <vector>

namespace dino {

// What a graph is built for; a context rebuilds its graph when this changes.
struct graph_shape {
    int32_t n = 0, height = 0, width = 0, n_intermediate = 0;
    bool attention = false, attention_full = false;
    // For dino_quantize's measurements:
    bool input_stats = false;   // out_input_stats (on ggml's ops only)
    bool block_inputs = false;  // out_block_inputs
    int32_t first_block = 0;    // > 0: start there, from in_tokens
    bool profile = false;       // time the kernels' ops (timings)
    dino::pos_interp pos_interp = dino::pos_interp::dino;
    dino::attention_kind attention_kernel = dino::attention_kind::flash;
    bool operator==(const graph_shape & o) const {
        return n == o.n && height == o.height && width == o.width && n_intermediate == o.n_intermediate &&
               attention == o.attention && attention_full == o.attention_full && pos_interp == o.pos_interp &&
               attention_kernel == o.attention_kernel && input_stats == o.input_stats &&
               block_inputs == o.block_inputs && first_block == o.first_block && profile == o.profile;
    }
};

// The graph and its named inputs and outputs.  Tensors are [ne0, ne1, ...] in
// ggml order, the reverse of PyTorch's: tokens are [D, T, N].
struct vit_graph {
    graph_shape shape;
    ggml_context * ctx = nullptr;  // owns the graph and its tensors' metadata
    ggml_cgraph * graph = nullptr;
    ggml_tensor * in_pixels = nullptr;            // [W, H, 3, N]
    ggml_tensor * in_pos = nullptr;               // interpolated position embeddings, or null at the native grid
    ggml_tensor * in_tokens = nullptr;            // [D, T, N] entering block shape.first_block, when > 0 (no pixels then)
    std::vector<float> pos_values;                // their values
    ggml_tensor * out_tokens = nullptr;           // [D, T, N] after the final LayerNorm
    ggml_tensor * out_attention = nullptr;        // [T, Q, H, N] (Q = T or 1), when requested
    std::vector<ggml_tensor *> out_intermediate;  // n_intermediate x [D, T, N]
    // With shape.input_stats: per linear layer (blocks in order, block::linears() order), the sum
    // over this graph's tokens of the squared input of the product, per input channel: [1, K].
    std::vector<ggml_tensor *> out_input_stats;
    // With shape.block_inputs: the residual stream entering each block from first_block on, [D, T, N].
    std::vector<ggml_tensor *> out_block_inputs;
    std::deque<kernels::op_node> nodes;      // one per op of ours (kernels.h)
    std::deque<kernels::op_timing> timings;  // with shape.profile: one per op of ours, in graph order

    vit_graph() = default;
    vit_graph(const vit_graph &) = delete;
    vit_graph & operator=(const vit_graph &) = delete;
    ~vit_graph();
};

std::unique_ptr<vit_graph> build_graph(const dino_model & model, const graph_shape & shape);

// Bicubic resampling of the position-embedding grid, as the reference does it.
// table: (1 + grid*grid) x dim; out: (1 + out_h*out_w) x dim.
void interpolate_pos_embed(const float * table, int grid, int dim, int out_h, int out_w, pos_interp mode,
                           float * out);

}  // namespace dino
