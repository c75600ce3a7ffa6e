// graph.cpp: the DINO ViT forward pass on ggml.
//
// ref: facebookresearch/dino vision_transformer.py (VisionTransformer,
// Block, Attention, Mlp, PatchEmbed).  Tensors are [ne0, ne1, ...] in ggml
// order, i.e. the reverse of PyTorch's: x is [D, T, N] where PyTorch has
// [N, T, D].
#include "model.h"

#include <algorithm>
#include <cmath>

namespace {

// ref: nn.LayerNorm(dim, eps) applied over the last axis
ggml_tensor * layer_norm(ggml_context * ctx, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b, float eps) {
    x = ggml_norm(ctx, x, eps);
    return ggml_add(ctx, ggml_mul(ctx, x, w), b);
}

// ref: nn.Linear
ggml_tensor * linear(ggml_context * ctx, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b) {
    return ggml_add(ctx, ggml_mul_mat(ctx, w, x), b);
}

// The linear layers as the block uses them:
//   residual + act(Linear(LayerNorm?(x)))
// one fused op of ours when the weight is packed for this CPU (kernels.h),
// ggml's ops otherwise.  norm_w/norm_b: the LayerNorm when op.norm.
ggml_tensor * block_linear(ggml_context * ctx, const dino::kernels::linear_op & op, ggml_tensor * x, ggml_tensor * w,
                           ggml_tensor * b, ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual) {
    if (op.w) return dino::kernels::linear(ctx, op, x, b, norm_w, norm_b, residual);
    if (op.norm) x = layer_norm(ctx, x, norm_w, norm_b, op.norm_eps);
    x = linear(ctx, x, w, b);
    if (op.gelu) x = ggml_gelu_erf(ctx, x);
    return residual ? ggml_add(ctx, residual, x) : x;
}

// PyTorch's cubic convolution (upsample_bicubic2d), A = -0.75.
float cubic_near(float x) { const float A = -0.75f; return ((A + 2) * x - (A + 3)) * x * x + 1; }
float cubic_far(float x) { const float A = -0.75f; return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

void cubic_weights(float t, float w[4]) {
    w[0] = cubic_far(t + 1.0f);
    w[1] = cubic_near(t);
    w[2] = cubic_near(1.0f - t);
    w[3] = cubic_far(2.0f - t);
}

}  // namespace

namespace dino {

// ref: VisionTransformer.interpolate_pos_encoding, which calls
//   F.interpolate(grid, scale_factor=((h/p + 0.1)/g, (w/p + 0.1)/g), mode="bicubic")
// PyTorch then maps output pixel o to input coordinate (o + 0.5) / scale - 0.5
// (align_corners=False), reads neighbours clamped to the border, and weighs
// them with the cubic kernel above.  The CLS position is copied unchanged.
void interpolate_pos_embed(const float * table, int grid, int dim, int out_h, int out_w, dino_pos_interp mode,
                           float * out) {
    std::copy(table, table + dim, out);  // CLS
    const float * src = table + dim;
    float * dst = out + dim;
    // Coordinate scale (input units per output unit), as PyTorch computes it:
    // 1/scale_factor in double, then float.
    float sy, sx;
    if (mode == DINO_POS_INTERP_DINO) {
        sy = float(1.0 / ((out_h + 0.1) / grid));
        sx = float(1.0 / ((out_w + 0.1) / grid));
    } else {
        sy = float(grid) / float(out_h);
        sx = float(grid) / float(out_w);
    }
    auto clamp = [grid](int64_t i) { return int(i < 0 ? 0 : (i >= grid ? grid - 1 : i)); };
    std::vector<float> row(dim);
    for (int oy = 0; oy < out_h; ++oy) {
        const float fy = sy * (oy + 0.5f) - 0.5f;
        const int64_t iy = int64_t(std::floor(fy));
        float wy[4];
        cubic_weights(fy - float(iy), wy);
        for (int ox = 0; ox < out_w; ++ox) {
            const float fx = sx * (ox + 0.5f) - 0.5f;
            const int64_t ix = int64_t(std::floor(fx));
            float wx[4];
            cubic_weights(fx - float(ix), wx);
            float * o = dst + (int64_t(oy) * out_w + ox) * dim;
            std::fill(o, o + dim, 0.0f);
            for (int j = 0; j < 4; ++j) {  // rows: interpolate along x, then combine along y
                std::fill(row.begin(), row.end(), 0.0f);
                const int y = clamp(iy - 1 + j);
                for (int i = 0; i < 4; ++i) {
                    const float * s = src + (int64_t(y) * grid + clamp(ix - 1 + i)) * dim;
                    for (int c = 0; c < dim; ++c) row[c] += wx[i] * s[c];
                }
                for (int c = 0; c < dim; ++c) o[c] += wy[j] * row[c];
            }
        }
    }
}

}  // namespace dino

void dino_context::free_graph() {
    if (graph_ctx) ggml_free(graph_ctx);
    graph_ctx = nullptr;
    graph = nullptr;
    in_pixels = in_pos = out_tokens = out_attention = nullptr;
    out_intermediate.clear();
    built = shape{};
}

void dino_context::build_graph(const shape & s) {
    free_graph();
    const dino_model & m = *model;
    const dino::hparams & hp = m.hp;
    const int64_t D = hp.dim, H = hp.heads, hd = D / H, P = hp.patch;
    const int64_t gh = s.height / P, gw = s.width / P, T = 1 + gh * gw, N = s.n;

    constexpr size_t max_nodes = 4096;
    ggml_init_params ip = {ggml_tensor_overhead() * max_nodes + ggml_graph_overhead_custom(max_nodes, false), nullptr, true};
    graph_ctx = ggml_init(ip);
    if (!graph_ctx) dino::fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate the graph");
    ggml_context * ctx = graph_ctx;
    graph = ggml_new_graph_custom(ctx, max_nodes, false);

    // ref: VisionTransformer.prepare_tokens
    in_pixels = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, s.width, s.height, 3, N);  // NCHW
    ggml_set_name(in_pixels, "pixels");
    ggml_set_input(in_pixels);

    // ref: PatchEmbed: Conv2d(3, D, kernel=P, stride=P), flatten(2).transpose(1, 2)
    // As im2col + matmul: each patch becomes a row of 3*P*P values in the
    // kernel's (c, y, x) order, patches in raster order.
    ggml_tensor * x = ggml_im2col(ctx, m.patch_w, in_pixels, int(P), int(P), 0, 0, 1, 1, true, GGML_TYPE_F32);
    x = ggml_reshape_2d(ctx, x, 3 * P * P, gw * gh * N);
    x = ggml_mul_mat(ctx, ggml_reshape_2d(ctx, m.patch_w, 3 * P * P, D), x);
    x = ggml_add(ctx, ggml_reshape_3d(ctx, x, D, gw * gh, N), m.patch_b);

    // ref: x = torch.cat((cls_tokens, x), dim=1)
    ggml_tensor * cls = ggml_repeat(ctx, ggml_reshape_3d(ctx, m.cls, D, 1, 1), ggml_new_tensor_3d(ctx, GGML_TYPE_F32, D, 1, N));
    x = ggml_concat(ctx, cls, x, 1);

    // ref: x = x + self.interpolate_pos_encoding(x, w, h)
    if (gh == hp.grid() && gw == hp.grid()) {
        x = ggml_add(ctx, x, m.pos);  // the native grid: the table as is
    } else {
        in_pos = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, D, T);
        ggml_set_name(in_pos, "pos_interpolated");
        ggml_set_input(in_pos);
        pos_values.resize(size_t(D * T));
        dino::interpolate_pos_embed(static_cast<const float *>(m.pos->data), hp.grid(), int(D), int(gh), int(gw),
                                    dino_pos_interp(params.pos_interp), pos_values.data());
        x = ggml_add(ctx, x, in_pos);
    }

    const int first_kept = hp.depth - s.n_intermediate;
    for (int il = 0; il < hp.depth; ++il) {
        const dino::block & b = m.blocks[size_t(il)];
        const bool last = il == hp.depth - 1;

        // ref: Block.forward: x = x + self.attn(self.norm1(x))
        {
            // ref: Attention.forward
            //   qkv = self.qkv(x).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
            ggml_tensor * qkv = block_linear(ctx, b.qkv, x, b.attn_qkv_w, b.attn_qkv_b, b.attn_norm_w, b.attn_norm_b,
                                             nullptr);  // [3D, T, N]
            auto head_view = [&](int part) {  // [hd, H, T, N] -> [hd, T, H, N]
                ggml_tensor * v = ggml_view_4d(ctx, qkv, hd, H, T, N, size_t(hd) * sizeof(float), qkv->nb[1],
                                               qkv->nb[2], size_t(part) * size_t(D) * sizeof(float));
                return ggml_permute(ctx, v, 0, 2, 1, 3);
            };
            ggml_tensor * q = head_view(0);
            ggml_tensor * k = head_view(1);
            ggml_tensor * v = head_view(2);
            const float scale = 1.0f / std::sqrt(float(hd));

            //   attn = (q @ k.transpose(-2, -1)) * self.scale; attn = attn.softmax(dim=-1)
            //   x = (attn @ v).transpose(1, 2).reshape(B, N, C)
            ggml_tensor * o;  // [hd, H, T, N]
            // The flash kernel never materializes the probabilities: a requested attention output
            // comes from the exact path.
            const bool fused = params.attention_kernel == DINO_ATTENTION_FLASH && !(last && s.attention);
            if (fused && m.attention.heads > 0) {
                // Ours (kernels.h): straight from qkv to the heads side by side, [D, T, N].
                o = dino::kernels::attention(ctx, m.attention, qkv);
            } else if (fused) {
                // f32 keys and values: f16 ones measured slower here (the CPU kernel converts them back
                // row by row) and less precise.
                o = ggml_flash_attn_ext(ctx, q, ggml_cont(ctx, k), ggml_cont(ctx, v), nullptr, scale, 0.0f, 0.0f);
            } else {
                ggml_tensor * attn = ggml_soft_max_ext(ctx, ggml_mul_mat(ctx, k, q), nullptr, scale, 0.0f);  // [T_k, T_q, H, N]
                if (last && s.attention) {
                    // ref: Block.forward(return_attention=True), as visualize_attention.py uses it
                    out_attention = s.attention_full ? attn
                        : ggml_cont(ctx, ggml_view_4d(ctx, attn, T, 1, H, N, attn->nb[1], attn->nb[2], attn->nb[3], 0));
                    ggml_set_name(out_attention, "attention");
                    ggml_set_output(out_attention);
                }
                ggml_tensor * vt = ggml_cont(ctx, ggml_permute(ctx, v, 1, 0, 2, 3));  // [hd, T, H, N] -> [T, hd, H, N]
                o = ggml_mul_mat(ctx, vt, attn);                                      // [hd, T, H, N]
                o = ggml_cont(ctx, ggml_permute(ctx, o, 0, 2, 1, 3));
            }
            //   x = self.proj(x), added to the residual stream
            x = block_linear(ctx, b.out, ggml_reshape_3d(ctx, o, D, T, N), b.attn_out_w, b.attn_out_b, nullptr, nullptr, x);
        }

        // ref: x = x + self.mlp(self.norm2(x)); Mlp: fc1, GELU (exact, erf), fc2
        ggml_tensor * h = block_linear(ctx, b.up, x, b.ffn_up_w, b.ffn_up_b, b.ffn_norm_w, b.ffn_norm_b, nullptr);
        x = block_linear(ctx, b.down, h, b.ffn_down_w, b.ffn_down_b, nullptr, nullptr, x);

        // ref: get_intermediate_layers: output.append(self.norm(x)) for the last n blocks
        if (il >= first_kept && !last) {
            ggml_tensor * y = layer_norm(ctx, x, m.norm_w, m.norm_b, hp.eps);
            ggml_set_output(y);
            ggml_build_forward_expand(graph, y);
            out_intermediate.push_back(y);
        }
    }

    // ref: x = self.norm(x) (last_hidden_state; the embedding is x[:, 0])
    out_tokens = layer_norm(ctx, x, m.norm_w, m.norm_b, hp.eps);
    ggml_set_name(out_tokens, "tokens");
    ggml_set_output(out_tokens);
    if (s.n_intermediate > 0) out_intermediate.push_back(out_tokens);
    ggml_build_forward_expand(graph, out_tokens);
    if (out_attention) ggml_build_forward_expand(graph, out_attention);
    built = s;
}
