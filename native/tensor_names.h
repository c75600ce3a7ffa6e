// tensor_names.h: the GGUF tensor names and metadata keys, the one place
// libdino spells them (docs/gguf.md is the schema; scripts/convert_gguf.py
// writes the same names).
// ref: vision_transformer.py VisionTransformer and Block.
#pragma once

#include <string>

namespace dino::tn {

inline constexpr const char * kPatchWeight = "patch_embd.weight";  // ref: patch_embed.proj.weight
inline constexpr const char * kPatchBias = "patch_embd.bias";      // ref: patch_embed.proj.bias
inline constexpr const char * kCls = "cls_embd";                   // ref: cls_token
inline constexpr const char * kPos = "pos_embd";                   // ref: pos_embed
inline constexpr const char * kRegisters = "reg_embd";             // ref: register_tokens (DINOv2 with registers)
inline constexpr const char * kOutputNorm = "output_norm";         // ref: norm (+ ".weight", ".bias")

// Block layers (ref: Block), each with ".weight" and ".bias".
inline constexpr const char * kAttnNorm = "attn_norm";  // ref: norm1
inline constexpr const char * kAttnQkv = "attn_qkv";    // ref: attn.qkv
inline constexpr const char * kAttnOut = "attn_out";    // ref: attn.proj
inline constexpr const char * kFfnNorm = "ffn_norm";    // ref: norm2
inline constexpr const char * kFfnUp = "ffn_up";        // ref: mlp.fc1
inline constexpr const char * kFfnDown = "ffn_down";    // ref: mlp.fc2
// DINOv2's LayerScale, without a ".weight" suffix (one vector each).
inline constexpr const char * kAttnScale = "attn_scale";  // ref: ls1.gamma (HF: layer_scale1.lambda1)
inline constexpr const char * kFfnScale = "ffn_scale";    // ref: ls2.gamma (HF: layer_scale2.lambda1)

inline std::string weight(const std::string & layer) { return layer + ".weight"; }
inline std::string bias(const std::string & layer) { return layer + ".bias"; }

// "blk.<i>.<layer>"
inline std::string block(int i, const char * layer) { return "blk." + std::to_string(i) + "." + layer; }

}  // namespace dino::tn

// GGUF metadata keys (docs/gguf.md has their types and meaning; tests/python/test_convert.py
// checks that every key here is documented there and that the converter writes the ones it should).
namespace dino::kv {

inline constexpr const char * kArchitecture = "general.architecture";  // required: "dino"
inline constexpr const char * kName = "general.name";  // the model name
inline constexpr const char * kFileType = "general.file_type";  // llama.cpp's file-type code of the linear weights
inline constexpr const char * kAlignment = "general.alignment";  // data alignment (the writer sets its own)
inline constexpr const char * kEmbeddingLength = "dino.embedding_length";  // D
inline constexpr const char * kBlockCount = "dino.block_count";  // blocks
inline constexpr const char * kHeadCount = "dino.attention.head_count";  // heads
inline constexpr const char * kFeedForwardLength = "dino.feed_forward_length";  // MLP width
inline constexpr const char * kPatchSize = "dino.patch_size";  // p
inline constexpr const char * kImageSize = "dino.image_size";  // native input size
inline constexpr const char * kLayerNormEps = "dino.attention.layer_norm_epsilon";  // every LayerNorm
inline constexpr const char * kFamily = "dino.family";  // "dino" (default) or "dinov2"
inline constexpr const char * kRegisterCount = "dino.register_count";  // register tokens (default 0)
inline constexpr const char * kPositionInterpolation = "dino.position_interpolation";  // "dino" (default), "size", "size_antialias"
inline constexpr const char * kFeedForwardActivation = "dino.feed_forward_activation";  // "gelu" (default) or "swiglu"
inline constexpr const char * kResize = "dino.preprocess.resize";
inline constexpr const char * kResizeShortestEdge = "dino.preprocess.resize_shortest_edge";
inline constexpr const char * kCrop = "dino.preprocess.crop";
inline constexpr const char * kCropRounding = "dino.preprocess.crop_rounding";  // "half_to_even" (default) or "down"
inline constexpr const char * kResample = "dino.preprocess.resample";
inline constexpr const char * kRescaleFactor = "dino.preprocess.rescale_factor";
inline constexpr const char * kImageMean = "dino.preprocess.image_mean";
inline constexpr const char * kImageStd = "dino.preprocess.image_std";
inline constexpr const char * kQuantizePrefix = "dino.quantize.";  // the quantizer's keys below
inline constexpr const char * kQuantizeRecipe = "dino.quantize.recipe";  // how dino_quantize made the file
inline constexpr const char * kImatrixImages = "dino.quantize.imatrix.images";
inline constexpr const char * kImatrixDigest = "dino.quantize.imatrix.digest";

}  // namespace dino::kv
