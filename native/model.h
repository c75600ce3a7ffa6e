// model.h: the loaded DINO ViT: hyperparameters, preprocessing defaults and
// weights, read and validated by the loader (model.cpp).  Read-only once
// loaded; the graph (graph.cpp), the compute context (context.cpp) and the
// quantizer (quantize.cpp) read it.  One exception: the quantizer's trials
// (recipe.cpp) swap linear weights in a private model of their own, never one
// a caller holds.
#pragma once

#include "dino.h"
#include "gguf_file.h"
#include "options.h"
#include "kernels/kernels.h"

#include "ggml-backend.h"
#include "ggml.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dino {

// The two families one graph runs (graph.cpp): DINO, and DINOv2 (LayerScale, registers).
enum class family { dino, dinov2 };

struct hparams {
    dino::family family = dino::family::dino;  // dino.family
    int32_t dim = 0;      // dino.embedding_length
    int32_t depth = 0;    // dino.block_count
    int32_t heads = 0;    // dino.attention.head_count
    int32_t mlp = 0;      // dino.feed_forward_length
    int32_t patch = 0;    // dino.patch_size
    int32_t image = 0;    // dino.image_size
    float eps = 0;        // dino.attention.layer_norm_epsilon
    int32_t registers = 0;  // dino.register_count
    bool swiglu = false;    // dino.feed_forward_activation: ViT-g/14's SwiGLU MLP (ffn_up holds both halves, 2 x mlp wide)
    pos_interp pos = pos_interp::dino;  // dino.position_interpolation: how the reference resamples the grid
    int32_t grid() const { return image / patch; }
    // Tokens of an image of height x width (multiples of patch) in the outputs: CLS and one per patch.
    int64_t tokens(int32_t height, int32_t width) const { return 1 + int64_t(height / patch) * (width / patch); }
    // The sequence the blocks see: CLS, the registers, the patches.
    int64_t sequence(int32_t height, int32_t width) const { return tokens(height, width) + registers; }
};

struct preprocess {
    int32_t resize = 224;
    bool shortest_edge = false;
    int32_t crop = 0;
    bool crop_round_down = false;  // transformers' center crop; false: torchvision's
    int32_t resample = DINO_RESAMPLE_BILINEAR;
    float rescale = 1.0f / 255.0f;
    float mean[3] = {0.485f, 0.456f, 0.406f};
    float std[3] = {0.229f, 0.224f, 0.225f};
};

// A linear layer as a block uses it: residual + act(Linear(LayerNorm?(x))).
// The LayerNorm that precedes it lives here, so the pairing is made once, by
// the loader.
struct linear_layer {
    ggml_tensor * w = nullptr, * b = nullptr;
    ggml_tensor * norm_w = nullptr, * norm_b = nullptr;  // the LayerNorm before it, or none
    // op.norm/norm_eps/gelu say what surrounds the product; op.w holds the packed weights
    // when our kernels (kernels/kernels.h) run the layer (w then holds no data), null when
    // ggml's ops do.
    kernels::linear_op op;
};

// ref: vision_transformer.py Block
struct block {
    linear_layer qkv;   // norm1 -> attn.qkv
    linear_layer out;   // attn.proj
    linear_layer up;    // norm2 -> mlp.fc1 -> GELU (SwiGLU: norm2 -> mlp.w12, both halves)
    linear_layer down;  // mlp.fc2
    ggml_tensor * attn_scale = nullptr, * ffn_scale = nullptr;  // DINOv2's LayerScale (ls1, ls2), or none
    std::array<const linear_layer *, 4> linears() const { return {&qkv, &out, &up, &down}; }
    std::array<linear_layer *, 4> linears() { return {&qkv, &out, &up, &down}; }
};

}  // namespace dino

struct dino_model {
    dino::hparams hp;
    dino::preprocess pp;
    std::string name;
    std::string weight_types;  // type(s) of the linear weights: "q8_0", or "q5_0/q4_K" for a mix
    std::string quantization;  // how dino_quantize made the file (dino.quantize.recipe), or empty
    bool q8_0_as_7bit = false; // q8_0 weights were rounded to 7 bits at load (load_options.q8_0_as_7bit)
    int64_t n_params = 0;

    ggml_tensor * patch_w = nullptr, * patch_b = nullptr;  // ref: patch_embed.proj
    dino::kernels::linear_op patch_op;  // the same as a linear layer over im2col's patches, when packed (w not null)
    ggml_tensor * cls = nullptr;                           // ref: cls_token
    ggml_tensor * pos = nullptr;                           // ref: pos_embed
    ggml_tensor * registers = nullptr;                     // ref: register_tokens [D, R], or none
    std::vector<dino::block> blocks;
    dino::kernels::attention_op attention;       // our attention kernel, when heads > 0 (kernels.h)
    dino::kernels::attention_op attention_bf16;  // the same with bf16 products, when the CPU has them
    dino::kernels::attention_op attention_int8;  // the same with int8 products, when head_dim allows them
    ggml_tensor * norm_w = nullptr, * norm_b = nullptr;    // ref: norm

    ggml_context * ctx = nullptr;            // tensor metadata
    ggml_backend_buffer_t buffer = nullptr;  // tensor data (CPU), except packed weights
    std::map<const ggml_tensor *, std::unique_ptr<dino::kernels::packed_linear>> packed;  // the kernels' weights

    dino::gguf_file file;                    // parsed header (tensor listing, dino_quantize)

    dino_model() = default;
    dino_model(const dino_model &) = delete;
    dino_model & operator=(const dino_model &) = delete;
    ~dino_model();

    // Loads and validates path; throws dino::error.
    static std::unique_ptr<dino_model> load(const std::string & path, const dino::load_options & options);

    ggml_tensor * tensor(const std::string & name) const;

    // What attention_kind::automatic means for this model here: for int8 linear weights (whose
    // rounding is far larger than bf16's or int8 attention's), bf16 where the CPU has it, else int8
    // where the kernels prefer it (arm64); otherwise flash.
    dino::attention_kind default_attention() const;

    // Which kernels run the linear layers and the attention by default (dino_model_info.kernels).
    std::string kernels() const;

    // Bytes of weights held: the ggml buffer and the packed weights.
    size_t weight_bytes() const;
};
