// graph.cpp: the DINO ViT forward pass on ggml.
//
// ref: facebookresearch/dino vision_transformer.py (VisionTransformer,
// Block, Attention, Mlp, PatchEmbed).  Tensors are [ne0, ne1, ...] in ggml
// order, i.e. the reverse of PyTorch's: x is [D, T, N] where PyTorch has
// [N, T, D].
#include "graph.h"

#include "errors.h"
#include "tensor_names.h"

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

// Per input channel, the sum over all rows of x^2: [1, K] from x [K, rows...].
// ref: llama.cpp's imatrix collects the same (then divides by the row count).
ggml_tensor * sum_of_squares(ggml_context * ctx, ggml_tensor * x) {
    ggml_tensor * sq = ggml_sqr(ctx, ggml_reshape_2d(ctx, ggml_is_contiguous(x) ? x : ggml_cont(ctx, x), x->ne[0], ggml_nelements(x) / x->ne[0]));
    return ggml_sum_rows(ctx, ggml_cont(ctx, ggml_transpose(ctx, sq)));
}

// The node of one op of ours in block il, timed when profiling (kernels.h: op_node, op_timing;
// what, kind: its name and dino_profile_kind; ops: its operations, on peak's instructions).
dino::kernels::op_node & node(dino::vit_graph & g, int il, const char * what, int kind, dino_peak_kind peak, double ops) {
    dino::kernels::op_node & n = g.nodes.emplace_back();
    if (g.shape.profile) {
        dino::kernels::op_timing & t = g.timings.emplace_back();
        t.name = dino::tn::block(il, what);
        t.kind = kind;
        t.block = il;
        t.peak_kind = peak;
        t.ops = ops;
        n.timing = &t;
    }
    return n;
}

// A block's linear layer: residual + act(Linear(LayerNorm?(x))), one fused op
// of ours when the layer's weights are packed for this CPU (kernels.h),
// ggml's ops otherwise.  The graph's shape says whether to collect input
// statistics or time the op (what, kind: its name and dino_profile_kind).
ggml_tensor * block_linear(ggml_context * ctx, const dino::linear_layer & l, ggml_tensor * x, ggml_tensor * residual,
                           dino::vit_graph & g, int il, const char * what, int kind) {
    if (l.op.w) {
        const double ops = 2.0 * double(l.op.w->k) * double(l.op.w->n) * double(ggml_nrows(x));
        const bool int8 = l.op.w->int8();
        return dino::kernels::linear(ctx, node(g, il, what, kind, int8 ? DINO_PEAK_INT8_DOT : DINO_PEAK_F32_FMA, ops), l.op, x,
                                     l.b, l.norm_w, l.norm_b, residual);
    }
    if (l.norm_w) x = layer_norm(ctx, x, l.norm_w, l.norm_b, l.op.norm_eps);
    if (g.shape.input_stats) {
        ggml_tensor * s = sum_of_squares(ctx, x);
        ggml_set_output(s);
        ggml_build_forward_expand(g.graph, s);
        g.out_input_stats.push_back(s);
    }
    x = linear(ctx, x, l.w, l.b);
    if (l.op.gelu) x = ggml_gelu_erf(ctx, x);
    return residual ? ggml_add(ctx, residual, x) : x;
}

// A block's residual branch ending in layer l: x + l(input), the sum fused into the layer's op; with
// DINOv2's LayerScale (ls1, ls2: scale), x + scale * l(input).
ggml_tensor * residual_branch(ggml_context * ctx, const dino::linear_layer & l, ggml_tensor * scale, ggml_tensor * input,
                              ggml_tensor * x, dino::vit_graph & g, int il, const char * what, int kind) {
    if (!scale) return block_linear(ctx, l, input, x, g, il, what, kind);
    return ggml_add(ctx, x, ggml_mul(ctx, block_linear(ctx, l, input, nullptr, g, il, what, kind), scale));
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

// One axis of PyTorch's antialiased bicubic resize (align_corners=False, an explicit size), as
// its CPU kernel computes it for float tensors (aten/src/ATen/native/cpu/UpSampleKernel.cpp:
// HelperInterpBase::_compute_indices_min_size_weights_aa with HelperInterpCubic::aa_filter): the
// cubic kernel with A = -0.5 (PIL's), stretched by the scale when shrinking, weights normalized
// to sum 1, in float.  Output i reads inputs first[i] .. first[i] + count[i] - 1.
struct aa_axis {
    std::vector<int> first, count;
    std::vector<float> w;  // [out][taps]
    int taps = 0;
};
float aa_cubic(float x) {
    const float A = -0.5f;
    x = std::fabs(x);
    if (x < 1.0f) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2.0f) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0.0f;
}
aa_axis antialias_axis(int in, int out) {
    aa_axis a;
    const float scale = float(in) / float(out);
    const float support = scale >= 1.0f ? 2.0f * scale : 2.0f;
    const float invscale = scale >= 1.0f ? float(1.0 / double(scale)) : 1.0f;
    a.taps = int(std::ceil(support)) * 2 + 1;
    a.first.resize(size_t(out));
    a.count.resize(size_t(out));
    a.w.assign(size_t(out) * size_t(a.taps), 0.0f);
    for (int i = 0; i < out; ++i) {
        const float center = float(double(scale) * (i + 0.5));
        const int64_t lo = std::max<int64_t>(int64_t(double(center - support) + 0.5), 0);
        const int64_t n = std::clamp<int64_t>(std::min<int64_t>(int64_t(double(center + support) + 0.5), in) - lo, 0, a.taps);
        float * w = &a.w[size_t(i) * size_t(a.taps)];
        float total = 0;
        for (int64_t j = 0; j < n; ++j) {
            w[j] = aa_cubic(float((double(float(j + lo) - center) + 0.5) * double(invscale)));
            total += w[j];
        }
        if (total != 0.0f) for (int64_t j = 0; j < n; ++j) w[j] /= total;
        a.first[size_t(i)] = int(lo);
        a.count[size_t(i)] = int(n);
    }
    return a;
}

}  // namespace

namespace dino {

// ref: VisionTransformer.interpolate_pos_encoding, which calls
//   F.interpolate(grid, scale_factor=((h/p + 0.1)/g, (w/p + 0.1)/g), mode="bicubic")
// PyTorch then maps output pixel o to input coordinate (o + 0.5) / scale - 0.5
// (align_corners=False), reads neighbours clamped to the border, and weighs
// them with the cubic kernel above.  The CLS position is copied unchanged.
//
// size_antialias (ref: F.interpolate(grid, size=(h/p, w/p), mode="bicubic", antialias=True), as
// DINOv2's register backbones and transformers' Dinov2WithRegistersModel call it) is separable:
// PyTorch resizes along x first, then along y, each output a running float sum over its taps.
void interpolate_pos_embed(const float * table, int grid, int dim, int out_h, int out_w, pos_interp mode,
                           float * out) {
    std::copy(table, table + dim, out);  // CLS
    const float * src = table + dim;
    float * dst = out + dim;
    if (mode == pos_interp::size_antialias) {
        // A dimension that keeps its size is left alone, as PyTorch does.
        std::vector<float> wide(size_t(grid) * size_t(out_w) * size_t(dim));  // [grid][out_w][dim]
        const aa_axis ax = antialias_axis(grid, out_w), ay = antialias_axis(grid, out_h);
        for (int y = 0; y < grid; ++y) {
            for (int ox = 0; ox < out_w; ++ox) {
                float * o = &wide[(size_t(y) * out_w + ox) * dim];
                if (out_w == grid) { std::copy_n(src + (size_t(y) * grid + ox) * dim, dim, o); continue; }
                const float * w = &ax.w[size_t(ox) * size_t(ax.taps)];
                for (int c = 0; c < dim; ++c) {
                    const float * s = src + (size_t(y) * grid + ax.first[size_t(ox)]) * dim + c;
                    float acc = s[0] * w[0];
                    for (int j = 1; j < ax.count[size_t(ox)]; ++j) acc += s[size_t(j) * dim] * w[j];
                    o[c] = acc;
                }
            }
        }
        for (int oy = 0; oy < out_h; ++oy) {
            const float * w = &ay.w[size_t(oy) * size_t(ay.taps)];
            for (int ox = 0; ox < out_w; ++ox) {
                float * o = dst + (size_t(oy) * out_w + ox) * dim;
                if (out_h == grid) { std::copy_n(&wide[(size_t(oy) * out_w + ox) * dim], dim, o); continue; }
                for (int c = 0; c < dim; ++c) {
                    const float * s = &wide[(size_t(ay.first[size_t(oy)]) * out_w + ox) * dim + c];
                    float acc = s[0] * w[0];
                    for (int j = 1; j < ay.count[size_t(oy)]; ++j) acc += s[size_t(j) * out_w * dim] * w[j];
                    o[c] = acc;
                }
            }
        }
        return;
    }
    // Coordinate scale (input units per output unit), as PyTorch computes it:
    // 1/scale_factor in double, then float.
    float sy, sx;
    if (mode == pos_interp::dino) {
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

vit_graph::~vit_graph() {
    if (ctx) ggml_free(ctx);
}

std::unique_ptr<vit_graph> build_graph(const dino_model & m, const graph_shape & s) {
    auto g = std::make_unique<vit_graph>();
    g->shape = s;
    const hparams & hp = m.hp;
    const int64_t D = hp.dim, H = hp.heads, hd = D / H, P = hp.patch;
    const int64_t gh = s.height / P, gw = s.width / P, R = hp.registers, T = 1 + R + gh * gw, N = s.n;

    // Sized from the model: a block on ggml's ops makes about 35 tensors (LayerNorms, views, the
    // exact attention, the intermediate output), our kernels fewer.  A fixed budget would abort the
    // process (GGML_ASSERT) on a deep model the loader accepts; 64 per block leaves room.
    const size_t max_nodes = 256 + size_t(hp.depth) * (s.input_stats ? 96 : 64);  // statistics: 6 more per linear
    ggml_init_params ip = {ggml_tensor_overhead() * max_nodes + ggml_graph_overhead_custom(max_nodes, false), nullptr, true};
    g->ctx = ggml_init(ip);
    if (!g->ctx) fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate the graph");
    ggml_context * ctx = g->ctx;
    ggml_cgraph * graph = g->graph = ggml_new_graph_custom(ctx, max_nodes, false);
    if (s.input_stats && !m.packed.empty()) fail(DINO_ERR_INTERNAL, "input statistics need a model loaded without packed weights");

    ggml_tensor * x;
    if (s.first_block > 0) {
        // Part of a model (dino_quantize's measurements): the residual stream entering first_block.
        x = g->in_tokens = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, D, T, N);
        ggml_set_name(g->in_tokens, "tokens_in");
        ggml_set_input(g->in_tokens);
    } else {
        // ref: VisionTransformer.prepare_tokens
        g->in_pixels = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, s.width, s.height, 3, N);  // NCHW
        ggml_set_name(g->in_pixels, "pixels");
        ggml_set_input(g->in_pixels);

        // ref: PatchEmbed: Conv2d(3, D, kernel=P, stride=P), flatten(2).transpose(1, 2)
        // As im2col + matmul: each patch becomes a row of 3*P*P values in the
        // kernel's (c, y, x) order, patches in raster order.
        x = ggml_im2col(ctx, m.patch_w, g->in_pixels, int(P), int(P), 0, 0, 1, 1, true, GGML_TYPE_F32);
        if (m.patch_op.w) {  // ours (model.cpp: patch_op), untimed: the profile's "rest"
            x = dino::kernels::linear(ctx, g->nodes.emplace_back(), m.patch_op, ggml_reshape_3d(ctx, x, 3 * P * P, gw * gh, N),
                                      m.patch_b, nullptr, nullptr, nullptr);
        } else {
            x = ggml_reshape_2d(ctx, x, 3 * P * P, gw * gh * N);
            x = ggml_mul_mat(ctx, ggml_reshape_2d(ctx, m.patch_w, 3 * P * P, D), x);
            x = ggml_add(ctx, ggml_reshape_3d(ctx, x, D, gw * gh, N), m.patch_b);
        }

        // ref: x = torch.cat((cls_tokens, x), dim=1)
        ggml_tensor * cls = ggml_repeat(ctx, ggml_reshape_3d(ctx, m.cls, D, 1, 1), ggml_new_tensor_3d(ctx, GGML_TYPE_F32, D, 1, N));
        x = ggml_concat(ctx, cls, x, 1);

        // ref: x = x + self.interpolate_pos_encoding(x, w, h)
        if (gh == hp.grid() && gw == hp.grid()) {
            x = ggml_add(ctx, x, m.pos);  // the native grid: the table as is
        } else {
            g->in_pos = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, D, T - R);
            ggml_set_name(g->in_pos, "pos_interpolated");
            ggml_set_input(g->in_pos);
            g->pos_values.resize(size_t(D * (T - R)));
            interpolate_pos_embed(static_cast<const float *>(m.pos->data), hp.grid(), int(D), int(gh), int(gw),
                                  s.pos_interp, g->pos_values.data());
            x = ggml_add(ctx, x, g->in_pos);
        }

        // ref (DINOv2 with registers): x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        // after the positions: the registers have none.
        if (R > 0) {
            ggml_tensor * cls_row = ggml_cont(ctx, ggml_view_3d(ctx, x, D, 1, N, x->nb[1], x->nb[2], 0));
            ggml_tensor * patches = ggml_cont(ctx, ggml_view_3d(ctx, x, D, gh * gw, N, x->nb[1], x->nb[2], x->nb[1]));
            ggml_tensor * regs = ggml_repeat(ctx, ggml_reshape_3d(ctx, m.registers, D, R, 1), ggml_new_tensor_3d(ctx, GGML_TYPE_F32, D, R, N));
            x = ggml_concat(ctx, ggml_concat(ctx, cls_row, regs, 1), patches, 1);
        }
    }

    const int first_kept = hp.depth - s.n_intermediate;
    for (int il = s.first_block; il < hp.depth; ++il) {
        const block & b = m.blocks[size_t(il)];
        const bool last = il == hp.depth - 1;
        if (s.block_inputs) {
            ggml_set_output(x);
            g->out_block_inputs.push_back(x);
        }

        // ref: Block.forward: x = x + self.attn(self.norm1(x))
        {
            // ref: Attention.forward
            //   qkv = self.qkv(x).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
            ggml_tensor * qkv = block_linear(ctx, b.qkv, x, nullptr, *g, il, tn::kAttnQkv, DINO_PROFILE_QKV);  // [3D, T, N]
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
            const bool fused = s.attention_kernel != attention_kind::exact && !(last && s.attention);
            const bool bf16 = s.attention_kernel == attention_kind::bf16 && m.attention_bf16.heads > 0;
            const bool int8 = s.attention_kernel == attention_kind::int8 && m.attention_int8.heads > 0;
            if (fused && m.attention.heads > 0) {
                // Ours (kernels.h): straight from qkv to the heads side by side, [D, T, N].
                // q k^T and p v: 2 x T x T x D multiply-adds per image.
                o = dino::kernels::attention(ctx,
                                             node(*g, il, "attention", DINO_PROFILE_ATTENTION,
                                                  bf16 ? DINO_PEAK_BF16_DOT : int8 ? DINO_PEAK_INT8_DOT : DINO_PEAK_F32_FMA,
                                                  4.0 * double(T * T * D * N)),
                                             bf16 ? m.attention_bf16 : int8 ? m.attention_int8 : m.attention, qkv);
            } else if (fused) {
                // f32 keys and values: f16 ones measured slower here (the CPU kernel converts them back
                // row by row) and less precise.
                o = ggml_flash_attn_ext(ctx, q, ggml_cont(ctx, k), ggml_cont(ctx, v), nullptr, scale, 0.0f, 0.0f);
            } else {
                ggml_tensor * attn = ggml_soft_max_ext(ctx, ggml_mul_mat(ctx, k, q), nullptr, scale, 0.0f);  // [T_k, T_q, H, N]
                if (last && s.attention) {
                    // ref: Block.forward(return_attention=True), as visualize_attention.py uses it
                    g->out_attention = s.attention_full ? attn
                        : ggml_cont(ctx, ggml_view_4d(ctx, attn, T, 1, H, N, attn->nb[1], attn->nb[2], attn->nb[3], 0));
                    ggml_set_name(g->out_attention, "attention");
                    ggml_set_output(g->out_attention);
                }
                ggml_tensor * vt = ggml_cont(ctx, ggml_permute(ctx, v, 1, 0, 2, 3));  // [hd, T, H, N] -> [T, hd, H, N]
                o = ggml_mul_mat(ctx, vt, attn);                                      // [hd, T, H, N]
                o = ggml_cont(ctx, ggml_permute(ctx, o, 0, 2, 1, 3));
            }
            //   x = self.proj(x), added to the residual stream
            //   (DINOv2: x = x + self.ls1(self.attn(self.norm1(x))), LayerScale before the sum)
            x = residual_branch(ctx, b.out, b.attn_scale, ggml_reshape_3d(ctx, o, D, T, N), x, *g, il, tn::kAttnOut, DINO_PROFILE_PROJ);
        }

        // ref: x = x + self.mlp(self.norm2(x)); Mlp: fc1, GELU (exact, erf), fc2
        //   (DINOv2: x = x + self.ls2(self.mlp(self.norm2(x))))
        ggml_tensor * h = block_linear(ctx, b.up, x, nullptr, *g, il, tn::kFfnUp, DINO_PROFILE_FC1);
        if (hp.swiglu) {
            // ref (ViT-g/14): SwiGLUFFN: x1, x2 = self.w12(x).chunk(2, dim=-1); hidden = F.silu(x1) * x2
            const int64_t F = hp.mlp;
            ggml_tensor * x1 = ggml_cont(ctx, ggml_view_3d(ctx, h, F, T, N, h->nb[1], h->nb[2], 0));
            ggml_tensor * x2 = ggml_cont(ctx, ggml_view_3d(ctx, h, F, T, N, h->nb[1], h->nb[2], size_t(F) * sizeof(float)));
            h = ggml_mul(ctx, ggml_silu(ctx, x1), x2);
        }
        x = residual_branch(ctx, b.down, b.ffn_scale, h, x, *g, il, tn::kFfnDown, DINO_PROFILE_FC2);

        // ref: get_intermediate_layers: output.append(self.norm(x)) for the last n blocks
        if (il >= first_kept && !last) {
            ggml_tensor * y = layer_norm(ctx, x, m.norm_w, m.norm_b, hp.eps);
            ggml_set_output(y);
            ggml_build_forward_expand(graph, y);
            g->out_intermediate.push_back(y);
        }
    }

    // ref: x = self.norm(x) (last_hidden_state; the embedding is x[:, 0])
    g->out_tokens = layer_norm(ctx, x, m.norm_w, m.norm_b, hp.eps);
    ggml_set_name(g->out_tokens, "tokens");
    ggml_set_output(g->out_tokens);
    if (s.n_intermediate > 0) g->out_intermediate.push_back(g->out_tokens);
    ggml_build_forward_expand(graph, g->out_tokens);
    if (g->out_attention) ggml_build_forward_expand(graph, g->out_attention);
    return g;
}

}  // namespace dino
