#!/usr/bin/python3
"""Reference outputs from an independent PyTorch implementation of DINO ViT.

Run by a developer (never by CI) with Debian's python3-torch:

    /usr/bin/python3 tests/data/make_synthetic.py build/testdata
    /usr/bin/python3 tests/reference/make_reference.py build/testdata tests/reference

It reads the synthetic checkpoints with torch.load (which also proves our
numpy-written .pth/.bin files are real torch files), runs two PyTorch
implementations written from the published code (not from ours):

  * dino_forward: facebookresearch/dino vision_transformer.py, fused qkv,
    LayerNorm eps 1e-6, on the .pth;
  * hf_forward: transformers' ViTModel (separate query/key/value), eps from
    config.json (1e-12), on pytorch_model.bin;

  * dinov2_forward: facebookresearch/dinov2 dinov2/models/vision_transformer.py
    (DinoVisionTransformer with LayerScale, registers after CLS, q scaled
    before q k^T), interpolating positions as its hub backbones do
    (scale factors with the 0.1 offset; explicit size with antialias for
    the register backbones), on the .pth;
  * dinov2_hf_forward: transformers' Dinov2Model / Dinov2WithRegistersModel
    (interpolate_pos_encoding by explicit size; antialias with registers),
    on model.safetensors (read here with a few lines of its own);

and writes small .npy files plus meta.json, which the native tests compare
against.  Everything is float32, as the models run in PyTorch.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


# ---- position embeddings -----------------------------------------------------------

def interpolate_pos(pos, gh, gw, mode):
    """ref: VisionTransformer.interpolate_pos_encoding (mode "dino"), a
    size-based bicubic resize (mode "size"), or the same antialiased
    (mode "size_antialias": DINOv2 with registers)."""
    n = pos.shape[1] - 1
    g = int(math.sqrt(n))
    if gh == g and gw == g:
        return pos
    cls, grid = pos[:, :1], pos[:, 1:]
    dim = pos.shape[-1]
    grid = grid.reshape(1, g, g, dim).permute(0, 3, 1, 2)
    if mode == "dino":
        h0, w0 = gh + 0.1, gw + 0.1
        grid = F.interpolate(grid, scale_factor=(h0 / g, w0 / g), mode="bicubic", align_corners=False)
    else:
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False,
                             antialias=mode == "size_antialias")
    assert grid.shape[-2:] == (gh, gw), grid.shape
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat((cls, grid), dim=1)


# ---- facebookresearch/dino layout ----------------------------------------------------

def dino_forward(sd, x, heads, eps=1e-6, mode="dino"):
    """Returns (last_hidden_state, last-block attention, [norm(x) after each block])."""
    B, _, h, w = x.shape
    W = sd["patch_embed.proj.weight"]
    p = W.shape[-1]
    t = F.conv2d(x, W, sd["patch_embed.proj.bias"], stride=p).flatten(2).transpose(1, 2)
    t = torch.cat((sd["cls_token"].expand(B, -1, -1), t), dim=1)
    t = t + interpolate_pos(sd["pos_embed"], h // p, w // p, mode)
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    C = t.shape[-1]
    ln = lambda v, pre: F.layer_norm(v, (C,), sd[pre + ".weight"], sd[pre + ".bias"], eps)
    normed, attn = [], None
    for i in range(depth):
        b = f"blocks.{i}."
        y = ln(t, b + "norm1")
        N = y.shape[1]
        qkv = F.linear(y, sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"])
        qkv = qkv.reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * (C // heads) ** -0.5).softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(B, N, C)
        t = t + F.linear(y, sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        y = F.linear(ln(t, b + "norm2"), sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])
        y = F.linear(F.gelu(y), sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        t = t + y
        normed.append(ln(t, "norm"))
    return normed[-1], attn, normed


# ---- Hugging Face ViTModel layout ----------------------------------------------------

def hf_forward(sd, cfg, x, mode="dino"):
    B, _, h, w = x.shape
    p, C, heads, eps = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    e = "embeddings."
    t = F.conv2d(x, sd[e + "patch_embeddings.projection.weight"], sd[e + "patch_embeddings.projection.bias"], stride=p)
    t = t.flatten(2).transpose(1, 2)
    t = torch.cat((sd[e + "cls_token"].expand(B, -1, -1), t), dim=1)
    t = t + interpolate_pos(sd[e + "position_embeddings"], h // p, w // p, mode)
    hd = C // heads

    def split(v):  # ViTSelfAttention.transpose_for_scores
        return v.view(B, -1, heads, hd).permute(0, 2, 1, 3)

    ln = lambda v, pre: F.layer_norm(v, (C,), sd[pre + ".weight"], sd[pre + ".bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        L = f"encoder.layer.{i}."
        a = L + "attention.attention."
        y = ln(t, L + "layernorm_before")
        q = split(F.linear(y, sd[a + "query.weight"], sd[a + "query.bias"]))
        k = split(F.linear(y, sd[a + "key.weight"], sd[a + "key.bias"]))
        v = split(F.linear(y, sd[a + "value.weight"], sd[a + "value.bias"]))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, -1, C)
        t = t + F.linear(ctx, sd[L + "attention.output.dense.weight"], sd[L + "attention.output.dense.bias"])
        y = F.gelu(F.linear(ln(t, L + "layernorm_after"), sd[L + "intermediate.dense.weight"], sd[L + "intermediate.dense.bias"]))
        t = t + F.linear(y, sd[L + "output.dense.weight"], sd[L + "output.dense.bias"])
    return ln(t, "layernorm")


# ---- facebookresearch/dinov2 layout -------------------------------------------------

def dinov2_forward(sd, x, heads, eps=1e-6):
    """DinoVisionTransformer.forward_features, then get_intermediate_layers' norm(x) per block.
    Returns (x_norm [B, 1 + R + P, D], last-block attention, [norm(x) after each block])."""
    B, _, h, w = x.shape
    W = sd["patch_embed.proj.weight"]
    p = W.shape[-1]
    n_reg = sd["register_tokens"].shape[1] if "register_tokens" in sd else 0
    t = F.conv2d(x, W, sd["patch_embed.proj.bias"], stride=p).flatten(2).transpose(1, 2)
    t = torch.cat((sd["cls_token"].expand(B, -1, -1), t), dim=1)
    # hubconf: reg backbones interpolate_antialias=True, interpolate_offset=0.0; the others False, 0.1.
    pos = sd["pos_embed"]
    M = int(math.sqrt(pos.shape[1] - 1))
    if t.shape[1] - 1 == M * M and h == w:
        t = t + pos
    else:
        grid = pos[:, 1:].reshape(1, M, M, -1).permute(0, 3, 1, 2)
        h0, w0 = h // p, w // p
        if n_reg:
            grid = F.interpolate(grid, mode="bicubic", antialias=True, size=(h0, w0))
        else:
            grid = F.interpolate(grid, mode="bicubic", antialias=False,
                                 scale_factor=(float(h0 + 0.1) / M, float(w0 + 0.1) / M))
        t = t + torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])), dim=1)
    if n_reg:
        t = torch.cat((t[:, :1], sd["register_tokens"].expand(B, -1, -1), t[:, 1:]), dim=1)
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    C = t.shape[-1]
    hd = C // heads
    ln = lambda v, pre: F.layer_norm(v, (C,), sd[pre + ".weight"], sd[pre + ".bias"], eps)
    normed, attn = [], None
    for i in range(depth):
        b = f"blocks.{i}."
        y = ln(t, b + "norm1")
        N = y.shape[1]
        qkv = F.linear(y, sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"]).reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * hd ** -0.5, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        y = F.linear((attn @ v).transpose(1, 2).reshape(B, N, C), sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        t = t + y * sd[b + "ls1.gamma"]
        if b + "mlp.w12.weight" in sd:  # SwiGLUFFN (ViT-g/14): x1, x2 = w12(x).chunk(2, dim=-1); w3(silu(x1) * x2)
            x1, x2 = F.linear(ln(t, b + "norm2"), sd[b + "mlp.w12.weight"], sd[b + "mlp.w12.bias"]).chunk(2, dim=-1)
            y = F.linear(F.silu(x1) * x2, sd[b + "mlp.w3.weight"], sd[b + "mlp.w3.bias"])
        else:
            y = F.linear(ln(t, b + "norm2"), sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])
            y = F.linear(F.gelu(y), sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        t = t + y * sd[b + "ls2.gamma"]
        normed.append(ln(t, "norm"))
    return normed[-1], attn, normed


# ---- Hugging Face Dinov2Model / Dinov2WithRegistersModel layout ----------------------

def read_safetensors(path):
    """F32 tensors of a .safetensors file (the format is a JSON header and raw data)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy())
    return out


def dinov2_hf_forward(sd, cfg, x):
    """Returns (last_hidden_state [B, 1 + R + P, D], last-block attention probabilities)."""
    B, _, h, w = x.shape
    p, C, heads, eps = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    e = "embeddings."
    t = F.conv2d(x, sd[e + "patch_embeddings.projection.weight"], sd[e + "patch_embeddings.projection.bias"], stride=p)
    t = torch.cat((sd[e + "cls_token"].expand(B, -1, -1), t.flatten(2).transpose(1, 2)), dim=1)
    registers = cfg.get("num_register_tokens", 0)
    t = t + interpolate_pos(sd[e + "position_embeddings"], h // p, w // p, "size_antialias" if registers else "size")
    if registers:
        t = torch.cat((t[:, :1], sd[e + "register_tokens"].expand(B, -1, -1), t[:, 1:]), dim=1)
    hd = C // heads
    split = lambda v: v.view(B, -1, heads, hd).transpose(1, 2)
    ln = lambda v, pre: F.layer_norm(v, (C,), sd[pre + ".weight"], sd[pre + ".bias"], eps)
    probs = None
    for i in range(cfg["num_hidden_layers"]):
        L = f"encoder.layer.{i}."
        a = L + "attention.attention."
        y = ln(t, L + "norm1")
        q = split(F.linear(y, sd[a + "query.weight"], sd[a + "query.bias"]))
        k = split(F.linear(y, sd[a + "key.weight"], sd[a + "key.bias"]))
        v = split(F.linear(y, sd[a + "value.weight"], sd[a + "value.bias"]))
        probs = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5, dim=-1)
        y = (probs @ v).transpose(1, 2).reshape(B, -1, C)
        y = F.linear(y, sd[L + "attention.output.dense.weight"], sd[L + "attention.output.dense.bias"])
        t = y * sd[L + "layer_scale1.lambda1"] + t
        if cfg.get("use_swiglu_ffn"):  # Dinov2SwiGLUFFN
            x1, x2 = F.linear(ln(t, L + "norm2"), sd[L + "mlp.weights_in.weight"], sd[L + "mlp.weights_in.bias"]).chunk(2, dim=-1)
            y = F.linear(F.silu(x1) * x2, sd[L + "mlp.weights_out.weight"], sd[L + "mlp.weights_out.bias"])
        else:
            y = F.gelu(F.linear(ln(t, L + "norm2"), sd[L + "mlp.fc1.weight"], sd[L + "mlp.fc1.bias"]))
            y = F.linear(y, sd[L + "mlp.fc2.weight"], sd[L + "mlp.fc2.bias"])
        t = y * sd[L + "layer_scale2.lambda1"] + t
    return ln(t, "layernorm"), probs


# Lossless test images as each model's own preprocessing makes them (PIL's pixels, from
# tests/reference/preprocess: make_preprocess_reference.py), normalized as the processors do.
IMAGES = ["gray.png", "odd-crop.png", "palette.png", "rgb.png", "wide.png"]


def preprocessed(ref_dir, recipe):
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    out = []
    for name in IMAGES:
        path = os.path.join(ref_dir, "preprocess", f"{name}.{recipe}.npy")
        if recipe == "bit" and not os.path.exists(path):  # written only where it differs from torchvision's crop
            path = os.path.join(ref_dir, "preprocess", f"{name}.dino.npy")
        px = np.load(path)
        x = ((px.astype(np.float64) * (1.0 / 255.0)).astype(np.float32) - mean) / std
        out.append(x.transpose(2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(np.stack(out), dtype=np.float32))


def main():
    data, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    meta = {"generator": "tests/reference/make_reference.py", "torch": torch.__version__, "outputs": {}}

    def save(name, a, what):
        a = a.detach().numpy().astype(np.float32) if torch.is_tensor(a) else a.astype(np.float32)
        np.save(os.path.join(out, name + ".npy"), a)
        meta["outputs"][name] = {"shape": list(a.shape), "what": what}
        print(f"  {name}: {list(a.shape)}", file=sys.stderr)

    inp = lambda n: torch.from_numpy(np.load(os.path.join(data, "inputs", n + ".npy")))
    load = lambda p: torch.load(os.path.join(data, p))

    with torch.no_grad():
        dino_s8 = load("vits8-dino.pth")
        hf_s8 = load("vits8-hf-bin/pytorch_model.bin")
        with open(os.path.join(data, "vits8-hf-bin", "config.json")) as f:
            hf_cfg = json.load(f)
        x = inp("vits8-224x3")

        lhs, attn, normed = dino_forward(dino_s8, x, heads=6)
        save("vits8_dino_224_cls", lhs[:, 0], "CLS of last_hidden_state, 3 images, eps 1e-6")
        save("vits8_dino_224_tokens0", lhs[0], "last_hidden_state of image 0")
        save("vits8_dino_224_attn_cls", attn[:, :, 0, :], "last block attention, CLS query [N, heads, T]")
        save("vits8_dino_224_attn_rows0", attn[0, :, :8, :], "last block attention of image 0, queries 0..7 [heads, 8, T]")
        save("vits8_dino_224_last4_tok16", torch.stack(normed[-4:], dim=1)[:, :, :16],
             "get_intermediate_layers(n=4): first 16 tokens [N, 4, 16, D]")

        lhs_hf = hf_forward(hf_s8, hf_cfg, x)
        save("vits8_hf_224_cls", lhs_hf[:, 0], "CLS, Hugging Face layout, eps 1e-12")
        save("vits8_hf_224_tokens0", lhs_hf[0], "last_hidden_state of image 0, Hugging Face layout")

        x = inp("vits8-160x240")
        lhs, _, _ = dino_forward(dino_s8, x, heads=6)
        save("vits8_dino_160x240_tokens0", lhs[0], "last_hidden_state at 160x240 (interpolated positions)")

        tiny_dino = load("tiny-dino.pth")
        tiny_hf = load("tiny-hf-bin/pytorch_model.bin")
        with open(os.path.join(data, "tiny-hf-bin", "config.json")) as f:
            tiny_cfg = json.load(f)
        save("tiny_hf_32_tokens", hf_forward(tiny_hf, tiny_cfg, inp("tiny-32x2")), "tiny, HF layout, 2 images at 32")
        x = inp("tiny-48x24")
        lhs, attn, _ = dino_forward(tiny_dino, x, heads=2)
        save("tiny_dino_48x24_tokens", lhs, "tiny, DINO layout, 48x24 (interpolated)")
        save("tiny_dino_48x24_attn", attn, "tiny, full last-block attention [N, heads, T, T]")
        lhs, _, _ = dino_forward(tiny_dino, x, heads=2, mode="size")
        save("tiny_dino_48x24_size_tokens", lhs, "tiny, 48x24 with size-based position interpolation")

        # DINOv2.  Inputs at 224 (16 x 16 patches of 14) and 168 x 252 (12 x 18).
        def hf_v2(name):
            with open(os.path.join(data, name, "config.json")) as f:
                return read_safetensors(os.path.join(data, name, "model.safetensors")), json.load(f)

        x224, x_wide = inp("vits8-224x3"), inp("v2-168x252")
        sd, cfg = hf_v2("v2s14-hf")
        lhs, _ = dinov2_hf_forward(sd, cfg, x224)
        save("v2s14_hf_224_cls", lhs[:, 0], "Dinov2Model CLS, 3 images at 224 (positions by size)")
        save("v2s14_hf_224_tokens0", lhs[0], "Dinov2Model last_hidden_state of image 0 at 224")
        lhs, _ = dinov2_hf_forward(sd, cfg, x_wide)
        save("v2s14_hf_168x252_tokens0", lhs[0], "Dinov2Model last_hidden_state at 168x252")
        lhs, _, _ = dinov2_forward(load("v2s14-dinov2.pth"), x224, heads=6)
        save("v2s14_dinov2_224_cls", lhs[:, 0], "original dinov2_vits14 layout, CLS at 224 (offset 0.1 scale factors)")

        sd, cfg = hf_v2("v2s14reg-hf")
        lhs, probs = dinov2_hf_forward(sd, cfg, x224)
        save("v2s14reg_hf_224_cls", lhs[:, 0], "Dinov2WithRegistersModel CLS, 3 images at 224 (antialiased positions)")
        save("v2s14reg_hf_224_hidden0", lhs[0], "its last_hidden_state of image 0: CLS, 4 registers, 256 patches")
        save("v2s14reg_hf_224_attn_cls", probs[:, :, 0, :], "its last block's attention, CLS query, every key [N, heads, 261]")
        lhs, _ = dinov2_hf_forward(sd, cfg, x_wide)
        save("v2s14reg_hf_168x252_hidden0", lhs[0], "Dinov2WithRegistersModel last_hidden_state at 168x252")
        lhs, _, normed = dinov2_forward(load("v2s14reg-dinov2.pth"), x224, heads=6)
        save("v2s14reg_dinov2_224_cls", lhs[:, 0], "original dinov2_vits14_reg4 layout, CLS at 224")
        save("v2s14reg_dinov2_224_last2_hidden0", torch.stack(normed[-2:], dim=1)[0, :, :24],
             "norm(x) after the last 2 blocks, image 0, first 24 rows (CLS, 4 registers, 19 patches) [2, 24, D]")

        here = os.path.dirname(os.path.abspath(__file__))
        bit, dino_eval = preprocessed(here, "bit"), preprocessed(here, "dino")
        for name in ("v2s14-hf", "v2s14reg-hf"):
            sd, cfg = hf_v2(name)
            save(name.replace("-", "_") + "_images_cls", dinov2_hf_forward(sd, cfg, bit)[0][:, 0],
                 f"CLS of {', '.join(IMAGES)} (BitImageProcessor: shorter side 256 bicubic, transformers' crop 224)")
        save("v2s14reg_dinov2_images_cls", dinov2_forward(load("v2s14reg-dinov2.pth"), dino_eval, heads=6)[0][:, 0],
             f"CLS of {', '.join(IMAGES)} (DINOv2's eval transform: shorter side 256 bicubic, torchvision's crop 224)")

        x = inp("v2tiny-56x42")
        sd, cfg = hf_v2("v2tiny-hf")
        lhs, probs = dinov2_hf_forward(sd, cfg, x)
        save("v2tiny_hf_56x42_hidden", lhs, "tiny DINOv2 with 2 registers, HF layout, 2 images at 56x42 [2, 15, D]")
        save("v2tiny_hf_56x42_attn", probs, "its full last-block attention [2, heads, 15, 15]")
        lhs, _, _ = dinov2_forward(load("v2tiny-dinov2.pth"), x, heads=2)
        save("v2tiny_dinov2_56x42_hidden", lhs, "tiny DINOv2, original layout, 56x42")
        sd, cfg = hf_v2("v2tinyglu-hf")
        save("v2tinyglu_hf_56x42_hidden", dinov2_hf_forward(sd, cfg, x)[0], "tiny DINOv2 with ViT-g/14's SwiGLU MLP, HF layout, 56x42")
        save("v2tinyglu_dinov2_56x42_hidden", dinov2_forward(load("v2tinyglu-dinov2.pth"), x, heads=3)[0],
             "the same, original layout (w12/w3; DINO's offset interpolation)")

    shutil.copy(os.path.join(data, "digest.json"), os.path.join(out, "synthetic_digest.json"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
