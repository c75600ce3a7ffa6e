#!/usr/bin/env python3
"""Makes everything the native tests read, into OUT (numpy only):

  synthetic checkpoints and inputs (make_synthetic.py), then GGUF files:
    vits8-dino-{f32,f16,q8_0,q4_0}.gguf   original layout, eps 1e-6
    vits8-hf-f32.gguf, vits8-hf-bin-f32.gguf  Hugging Face layout, eps 1e-12
    tiny-hf-f32.gguf, tiny-dino-{f32,q8_0,q4_0}.gguf
    deep-f32.gguf                         the deepest model the loader accepts (256 blocks), tiny widths
    v2s14-hf-f32.gguf, v2s14reg-hf-{f32,q8_0}.gguf   DINOv2 ViT-S/14 (Hugging Face), with registers
    v2s14-dinov2-f32.gguf, v2s14reg-dinov2-f32.gguf original dinov2_vits14 / _reg4 layouts
    v2tiny-hf-{f32,q8_0}.gguf, v2tiny-dinov2-f32.gguf  tiny DINOv2 with 2 registers
    v2tinyglu-hf-{f32,q8_0}.gguf, v2tinyglu-dinov2-f32.gguf  tiny DINOv2 with ViT-g/14's SwiGLU MLP

and checks that the synthetic weights are the ones the committed reference
outputs (tests/reference) were made from.
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(root, "scripts"))

import convert_gguf  # noqa: E402
import make_synthetic  # noqa: E402


def main():
    out = sys.argv[1]
    make_synthetic.main([out])
    with open(os.path.join(out, "digest.json")) as f:
        made = json.load(f)
    with open(os.path.join(root, "tests", "reference", "synthetic_digest.json")) as f:
        ref = json.load(f)
    if made != ref:
        changed = sorted(k for k in set(made) | set(ref) if made.get(k) != ref.get(k))
        sys.exit(f"make_test_data: synthetic data differs from the data tests/reference was made from ({changed}); "
                 "regenerate it with tests/reference/make_reference.py (see its docstring)")
    jobs = [("vits8-dino.pth", "vits8-dino", t, None) for t in ("f32", "f16", "q8_0", "q4_0")]
    jobs += [("vits8-hf", "vits8-hf", "f32", None), ("vits8-hf-bin", "vits8-hf-bin", "f32", None),
             ("tiny-hf", "tiny-hf", "f32", None)]
    jobs += [("tiny-dino.pth", "tiny-dino", t, 2) for t in ("f32", "q8_0", "q4_0")]
    jobs += [("v2s14-hf", "v2s14-hf", "f32", None), ("v2s14-dinov2.pth", "v2s14-dinov2", "f32", None),
             ("v2s14reg-hf", "v2s14reg-hf", "f32", None), ("v2s14reg-hf", "v2s14reg-hf", "q8_0", None),
             ("v2s14reg-dinov2.pth", "v2s14reg-dinov2", "f32", None),
             ("v2tiny-hf", "v2tiny-hf", "f32", None), ("v2tiny-hf", "v2tiny-hf", "q8_0", None),
             ("v2tiny-dinov2.pth", "v2tiny-dinov2", "f32", 2),
             ("v2tinyglu-hf", "v2tinyglu-hf", "f32", None), ("v2tinyglu-hf", "v2tinyglu-hf", "q8_0", None),
             ("v2tinyglu-dinov2.pth", "v2tinyglu-dinov2", "f32", 3)]
    for src, name, t, heads in jobs:
        dst = os.path.join(out, f"{name}-{t}.gguf")
        convert_gguf.convert(os.path.join(out, src), dst, t, name=name, heads=heads)
    write_deep(os.path.join(out, "deep-f32.gguf"))
    print(f"make_test_data: {len(jobs) + 1} GGUF files in {out}", file=sys.stderr)


def write_deep(path, depth=256, dim=16, mlp=16, patch=8, image=16):
    """The most blocks the loader allows (dino.block_count <= 256), one 16-wide head: a graph
    that must fit on every kernel path with every output requested."""
    import numpy as np
    kv = {"general.architecture": "dino", "general.name": "deep", "dino.embedding_length": dim,
          "dino.block_count": depth, "dino.attention.head_count": 1, "dino.feed_forward_length": mlp,
          "dino.attention.layer_norm_epsilon": 1e-6, "dino.patch_size": patch, "dino.image_size": image}
    grid = image // patch
    shapes = {"patch_embd.weight": [patch, patch, 3, dim], "patch_embd.bias": [dim], "cls_embd": [dim],
              "pos_embd": [dim, 1 + grid * grid]}
    for i in range(depth):
        for layer, n_in, n_out in (("attn_qkv", dim, 3 * dim), ("attn_out", dim, dim), ("ffn_up", dim, mlp),
                                   ("ffn_down", mlp, dim)):
            shapes[f"blk.{i}.{layer}.weight"] = [n_in, n_out]
            shapes[f"blk.{i}.{layer}.bias"] = [n_out]
        for norm in ("attn_norm", "ffn_norm"):
            shapes[f"blk.{i}.{norm}.weight"] = [dim]
            shapes[f"blk.{i}.{norm}.bias"] = [dim]
    shapes["output_norm.weight"] = [dim]
    shapes["output_norm.bias"] = [dim]
    tensors = []
    for k, (name, ne) in enumerate(shapes.items()):
        n = int(np.prod(ne))
        a = 0.05 * np.sin(np.arange(n, dtype=np.float64) * 0.37 + k)  # small: the residual stream stays tame
        if name.endswith("norm.weight"):
            a = a + 1.0
        tensors.append((name, ne, convert_gguf.GGML_F32, a.astype("<f4").tobytes()))
    convert_gguf.write_gguf(path, kv, tensors)


if __name__ == "__main__":
    main()
