// tensor_names.h: the GGUF tensor names, the one place libdino spells them
// (docs/gguf.md is the schema; scripts/convert_gguf.py writes the same names).
// ref: vision_transformer.py VisionTransformer and Block.
#pragma once

#include <string>

namespace dino::tn {

inline constexpr const char * kPatchWeight = "patch_embd.weight";  // ref: patch_embed.proj.weight
inline constexpr const char * kPatchBias = "patch_embd.bias";      // ref: patch_embed.proj.bias
inline constexpr const char * kCls = "cls_embd";                   // ref: cls_token
inline constexpr const char * kPos = "pos_embd";                   // ref: pos_embed
inline constexpr const char * kOutputNorm = "output_norm";         // ref: norm (+ ".weight", ".bias")

// Block layers (ref: Block), each with ".weight" and ".bias".
inline constexpr const char * kAttnNorm = "attn_norm";  // ref: norm1
inline constexpr const char * kAttnQkv = "attn_qkv";    // ref: attn.qkv
inline constexpr const char * kAttnOut = "attn_out";    // ref: attn.proj
inline constexpr const char * kFfnNorm = "ffn_norm";    // ref: norm2
inline constexpr const char * kFfnUp = "ffn_up";        // ref: mlp.fc1
inline constexpr const char * kFfnDown = "ffn_down";    // ref: mlp.fc2

inline std::string weight(const std::string & layer) { return layer + ".weight"; }
inline std::string bias(const std::string & layer) { return layer + ".bias"; }

// "blk.<i>.<layer>"
inline std::string block(int i, const char * layer) { return "blk." + std::to_string(i) + "." + layer; }

}  // namespace dino::tn
