// model.h: the loaded DINO ViT (weights + hyperparameters) and the compute
// context.  Shared by the loader (model.cpp), the graph (graph.cpp), the
// quantizer (quantize.cpp) and the C API (dino.cpp).
#pragma once

#include "dino.h"
#include "gguf_file.h"
#include "kernels.h"

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dino {

struct hparams {
    int32_t dim = 0;      // dino.embedding_length
    int32_t depth = 0;    // dino.block_count
    int32_t heads = 0;    // dino.attention.head_count
    int32_t mlp = 0;      // dino.feed_forward_length
    int32_t patch = 0;    // dino.patch_size
    int32_t image = 0;    // dino.image_size
    float eps = 0;        // dino.attention.layer_norm_epsilon
    int32_t grid() const { return image / patch; }
};

struct preprocess {
    int32_t resize = 224;
    bool shortest_edge = false;
    int32_t crop = 0;
    int32_t resample = DINO_RESAMPLE_BILINEAR;
    float rescale = 1.0f / 255.0f;
    float mean[3] = {0.485f, 0.456f, 0.406f};
    float std[3] = {0.229f, 0.224f, 0.225f};
};

// ref: vision_transformer.py Block (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2)
struct block {
    ggml_tensor * attn_norm_w = nullptr, * attn_norm_b = nullptr;
    ggml_tensor * attn_qkv_w = nullptr, * attn_qkv_b = nullptr;
    ggml_tensor * attn_out_w = nullptr, * attn_out_b = nullptr;
    ggml_tensor * ffn_norm_w = nullptr, * ffn_norm_b = nullptr;
    ggml_tensor * ffn_up_w = nullptr, * ffn_up_b = nullptr;
    ggml_tensor * ffn_down_w = nullptr, * ffn_down_b = nullptr;

    // The four linear layers' LayerNorm/GELU and, when this CPU has a kernel
    // for their type, their packed weights (op.w; the tensors above then hold
    // no data); with op.w null graph.cpp uses ggml's ops.
    kernels::linear_op qkv, out, up, down;
};

}  // namespace dino

struct dino_model {
    dino::hparams hp;
    dino::preprocess pp;
    std::string name;
    std::string weight_types;  // type(s) of the linear weights: "q8_0", or "q5_0/q4_K" for a mix
    int64_t n_params = 0;

    ggml_tensor * patch_w = nullptr, * patch_b = nullptr;  // ref: patch_embed.proj
    ggml_tensor * cls = nullptr;                           // ref: cls_token
    ggml_tensor * pos = nullptr;                           // ref: pos_embed
    std::vector<dino::block> blocks;
    dino::kernels::attention_op attention;  // our attention kernel, when heads > 0 (kernels.h)
    ggml_tensor * norm_w = nullptr, * norm_b = nullptr;    // ref: norm

    ggml_context * ctx = nullptr;          // tensor metadata
    ggml_backend_buffer_t buffer = nullptr;  // tensor data (CPU), except packed weights
    std::map<const ggml_tensor *, std::unique_ptr<dino::kernels::packed_linear>> packed;  // the kernels' weights

    dino::gguf_file file;                  // parsed header (kept for dino_quantize)

    dino_model() = default;
    dino_model(const dino_model &) = delete;
    dino_model & operator=(const dino_model &) = delete;
    ~dino_model();

    // Loads and validates path; throws dino::error.  use_kernels = false keeps
    // every tensor as stored (dino_quantize reads them back).
    static dino_model * load(const std::string & path, const dino_model_params & params, bool use_kernels = true);

    ggml_tensor * tensor(const std::string & name) const;

    // Which kernels run the linear layers and the attention (dino_model_info.kernels).
    std::string kernels() const;

    // Bytes of weights held: the ggml buffer and the packed weights.
    size_t weight_bytes() const;
};

struct dino_context {
    const dino_model * model = nullptr;
    dino_context_params params{};
    ggml_backend_t backend = nullptr;
    ggml_gallocr_t galloc = nullptr;

    // The graph for the last shape; rebuilt when the shape or outputs change.
    struct shape {
        int32_t n = 0, height = 0, width = 0, n_intermediate = 0;
        bool attention = false, attention_full = false;
        bool operator==(const shape & o) const {
            return n == o.n && height == o.height && width == o.width && n_intermediate == o.n_intermediate &&
                   attention == o.attention && attention_full == o.attention_full;
        }
    } built;
    ggml_context * graph_ctx = nullptr;
    ggml_cgraph * graph = nullptr;
    ggml_tensor * in_pixels = nullptr;
    ggml_tensor * in_pos = nullptr;            // interpolated position embeddings, or null at the native grid
    std::vector<float> pos_values;             // their values for the current shape
    ggml_tensor * out_tokens = nullptr;        // [D, T, N]
    ggml_tensor * out_attention = nullptr;     // [T, Q, H, N]
    std::vector<ggml_tensor *> out_intermediate;  // K x [D, T, N]

    dino_context() = default;
    dino_context(const dino_context &) = delete;
    dino_context & operator=(const dino_context &) = delete;
    ~dino_context();

    // Builds the graph for s (graph.cpp).
    void build_graph(const shape & s);
    void free_graph();
};

namespace dino {

// Bicubic resampling of the position-embedding grid (graph.cpp), exposed for tests.
// table: (1 + grid*grid) x dim; out: (1 + out_h*out_w) x dim.
void interpolate_pos_embed(const float * table, int grid, int dim, int out_h, int out_w, dino_pos_interp mode,
                           float * out);

// dino_quantize (quantize.cpp); throws dino::error.
void quantize(const char * input_path, const char * output_path, const char * type_name);

}  // namespace dino
