#!/usr/bin/env python3
"""Synthetic DINO checkpoints with the exact real layouts, for tests.

Real weights cannot be downloaded on our build machines, so the loading code is
built and tested on checkpoints that have the real key names, shapes and file
formats but deterministic pseudo-random values:

  OUT/<cfg>-hf/            Hugging Face layout: config.json,
                           preprocessor_config.json, model.safetensors
  OUT/<cfg>-hf-bin/        the same with pytorch_model.bin (torch zip pickle,
                           including the unused pooler that ViTModel saves)
  OUT/<cfg>-dino.pth       original DINO state dict (blocks.N.attn.qkv, ...)
  OUT/<v2cfg>-hf/          DINOv2 in Hugging Face layout (Dinov2Model, or
                           Dinov2WithRegistersModel with registers):
                           config.json, preprocessor_config.json (BitImageProcessor),
                           model.safetensors
  OUT/<v2cfg>-dinov2.pth   the same weights as facebookresearch/dinov2 saves a
                           backbone (blocks.N.ls1.gamma, register_tokens, ...)
  OUT/inputs/*.npy         preprocessed NCHW float32 test inputs

Both layouts of one config hold the same weights (qkv = cat(q, k, v)).  The
embeddings are NOT meaningful: the weights are noise.

Values come from a counter-based generator (splitmix64 over the element index,
seeded by the tensor name), so they do not depend on numpy's RNG streams and
the committed reference outputs stay valid across numpy versions.

Needs numpy only; the .pth/.bin files are written in torch's zip format
without torch (torch.load reads them; tests/reference checks that).
"""
import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy as np

CONFIGS = {
    # The real facebook/dino-vits8 shape.
    "vits8": dict(dim=384, depth=12, heads=6, mlp=1536, patch=8, image=224),
    # A tiny model with the same structure, for fast tests.  Widths are
    # multiples of 32 (block types) and the MLP of 256 (K-quants).
    "tiny": dict(dim=64, depth=2, heads=2, mlp=256, patch=8, image=32),
    # The smallest that still has every tensor and a q8_0-able width: fuzzing seeds.
    "micro": dict(dim=32, depth=1, heads=2, mlp=32, patch=2, image=4),
}

# DINOv2 (LayerScale, patch 14, a 37 x 37 position grid for 518 px; registers optional).
V2_CONFIGS = {
    # The real facebook/dinov2-small and dinov2-with-registers-small shapes.
    "v2s14": dict(dim=384, depth=12, heads=6, mlp=1536, patch=14, image=518, registers=0),
    "v2s14reg": dict(dim=384, depth=12, heads=6, mlp=1536, patch=14, image=518, registers=4),
    # Tiny, for emulated CPUs: 5 x 5 position grid, 2 registers.
    "v2tiny": dict(dim=64, depth=2, heads=2, mlp=256, patch=14, image=70, registers=2),
    # ViT-g/14's structure in small: a SwiGLU MLP of mlp_ratio 4 (hidden (int(96 * 4 * 2/3) + 7) // 8 * 8 = 256).
    "v2tinyglu": dict(dim=96, depth=2, heads=3, mlp=256, patch=14, image=70, registers=0, swiglu=True),
    # The smallest with every DINOv2 tensor (a register, LayerScale, SwiGLU): a fuzzing seed.
    "v2micro": dict(dim=32, depth=1, heads=2, mlp=32, patch=2, image=4, registers=1, swiglu=True),
}


# --- deterministic values -----------------------------------------------------

def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(name, shape, lo, hi):
    """Float32 values in [lo, hi), a pure function of (name, element index)."""
    n = int(np.prod(shape))
    seed = np.uint64(zlib.crc32(name.encode()) << 20)
    with np.errstate(over="ignore"):
        z = _splitmix64(np.arange(n, dtype=np.uint64) + seed)
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)  # [0, 1), 24 bits
    return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def sym(name, shape, std):
    """Zero-mean uniform values with the given standard deviation."""
    a = std * 3 ** 0.5
    return uniform(name, shape, -a, a)


def canonical_weights(c, seed=""):
    """One set of weights in the original DINO naming (fused qkv); seed prefixes every value's name."""
    d, f, p = c["dim"], c["mlp"], c["patch"]
    g = c["image"] // p
    w = collections.OrderedDict()
    w["cls_token"] = sym(seed + "cls", (1, 1, d), 0.5)
    w["pos_embed"] = sym(seed + "pos", (1, 1 + g * g, d), 0.2)
    w["patch_embed.proj.weight"] = sym(seed + "patch.w", (d, 3, p, p), 0.05)
    w["patch_embed.proj.bias"] = sym(seed + "patch.b", (d,), 0.1)
    for i in range(c["depth"]):
        b = f"blocks.{i}."
        # Non-trivial LayerNorm affine parameters, so eps and gamma/beta matter.
        w[b + "norm1.weight"] = uniform(seed + b + "n1w", (d,), 0.7, 1.3)
        w[b + "norm1.bias"] = sym(seed + b + "n1b", (d,), 0.1)
        w[b + "attn.qkv.weight"] = sym(seed + b + "qkv.w", (3 * d, d), 0.06)
        w[b + "attn.qkv.bias"] = sym(seed + b + "qkv.b", (3 * d,), 0.05)
        w[b + "attn.proj.weight"] = sym(seed + b + "proj.w", (d, d), 0.03)
        w[b + "attn.proj.bias"] = sym(seed + b + "proj.b", (d,), 0.02)
        w[b + "norm2.weight"] = uniform(seed + b + "n2w", (d,), 0.7, 1.3)
        w[b + "norm2.bias"] = sym(seed + b + "n2b", (d,), 0.1)
        w[b + "mlp.fc1.weight"] = sym(seed + b + "fc1.w", (f, d), 0.04)
        w[b + "mlp.fc1.bias"] = sym(seed + b + "fc1.b", (f,), 0.05)
        w[b + "mlp.fc2.weight"] = sym(seed + b + "fc2.w", (d, f), 0.02)
        w[b + "mlp.fc2.bias"] = sym(seed + b + "fc2.b", (d,), 0.02)
    w["norm.weight"] = uniform(seed + "nw", (d,), 0.7, 1.3)
    w["norm.bias"] = sym(seed + "nb", (d,), 0.1)
    return w


# Per block, the original name of each layer -> its Hugging Face name, for ViTModel and Dinov2Model
# (q, k and v are split from qkv apart; "ls" layers are LayerScale, gamma -> lambda1).
HF_BLOCK_NAMES = {
    "vit": {"norm1": "layernorm_before", "attn.proj": "attention.output.dense", "norm2": "layernorm_after",
            "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"},
    "dinov2": {"norm1": "norm1", "attn.proj": "attention.output.dense", "ls1": "layer_scale1", "norm2": "norm2",
               "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2", "ls2": "layer_scale2"},
    "dinov2-swiglu": {"norm1": "norm1", "attn.proj": "attention.output.dense", "ls1": "layer_scale1", "norm2": "norm2",
                      "mlp.w12": "mlp.weights_in", "mlp.w3": "mlp.weights_out", "ls2": "layer_scale2"},
}


def hf_layout(c, src, kind):
    """Original-named weights src in transformers' naming (kind: "vit" or "dinov2")."""
    d = c["dim"]
    w = collections.OrderedDict()
    w["embeddings.cls_token"] = src["cls_token"]
    if "mask_token" in src:
        w["embeddings.mask_token"] = src["mask_token"]
    if "register_tokens" in src:
        w["embeddings.register_tokens"] = src["register_tokens"]
    w["embeddings.position_embeddings"] = src["pos_embed"]
    w["embeddings.patch_embeddings.projection.weight"] = src["patch_embed.proj.weight"]
    w["embeddings.patch_embeddings.projection.bias"] = src["patch_embed.proj.bias"]
    for i in range(c["depth"]):
        s, h = f"blocks.{i}.", f"encoder.layer.{i}."
        qkv_w, qkv_b = src[s + "attn.qkv.weight"], src[s + "attn.qkv.bias"]
        for j, part in enumerate(("query", "key", "value")):
            w[h + f"attention.attention.{part}.weight"] = qkv_w[j * d:(j + 1) * d].copy()
            w[h + f"attention.attention.{part}.bias"] = qkv_b[j * d:(j + 1) * d].copy()
        for orig, hf in HF_BLOCK_NAMES[kind].items():
            if orig.startswith("ls"):
                w[h + hf + ".lambda1"] = src[s + orig + ".gamma"]
            else:
                for p in ("weight", "bias"):
                    w[h + f"{hf}.{p}"] = src[s + f"{orig}.{p}"]
    w["layernorm.weight"] = src["norm.weight"]
    w["layernorm.bias"] = src["norm.bias"]
    return w


def hf_weights(c, dino, with_pooler):
    """The same weights in Hugging Face ViTModel naming."""
    w = hf_layout(c, dino, "vit")
    if with_pooler:
        d = c["dim"]
        w["pooler.dense.weight"] = sym("pool.w", (d, d), 0.02)
        w["pooler.dense.bias"] = sym("pool.b", (d,), 0.02)
    return w


def dinov2_weights(c, name):
    """DINOv2 weights in facebookresearch/dinov2 naming (vision_transformer.py DinoVisionTransformer:
    fused qkv, LayerScale ls1/ls2, register_tokens after CLS, an unused mask_token)."""
    d = c["dim"]
    w = collections.OrderedDict()
    w.update(canonical_weights(c, seed=name + "."))  # the same structure, values of this config's own
    w["mask_token"] = np.zeros((1, d), np.float32)
    if c["registers"]:
        w["register_tokens"] = sym(f"{name}.reg", (1, c["registers"], d), 0.5)
    if c.get("swiglu"):  # ref: SwiGLUFFN: w12 = Linear(dim, 2 hidden) (x1 then x2), w3 = Linear(hidden, dim)
        d2, f = c["dim"], c["mlp"]
        for i in range(c["depth"]):
            b = f"blocks.{i}."
            for k in ("mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
                del w[b + k]
            w[b + "mlp.w12.weight"] = sym(f"{name}.{b}w12.w", (2 * f, d2), 0.04)
            w[b + "mlp.w12.bias"] = sym(f"{name}.{b}w12.b", (2 * f,), 0.05)
            w[b + "mlp.w3.weight"] = sym(f"{name}.{b}w3.w", (d2, f), 0.03)
            w[b + "mlp.w3.bias"] = sym(f"{name}.{b}w3.b", (d2,), 0.02)
    for i in range(c["depth"]):
        b = f"blocks.{i}."
        # LayerScale: trained values are far from 1 (the init is 1e-5), so they must matter here.
        w[b + "ls1.gamma"] = uniform(f"{name}.{b}ls1", (d,), 0.05, 0.6)
        w[b + "ls2.gamma"] = uniform(f"{name}.{b}ls2", (d,), 0.05, 0.6)
    return w


def dinov2_hf_weights(c, v2):
    """The same weights in transformers' Dinov2Model / Dinov2WithRegistersModel naming."""
    return hf_layout(c, v2, "dinov2-swiglu" if c.get("swiglu") else "dinov2")


# --- file formats ---------------------------------------------------------------

def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class _Global:
    """A reference to a global by name (pickled as GLOBAL 'module name')."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle requires reduce functions to be callable
        raise TypeError("placeholder only")


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride, s = [], 1
        for n in reversed(self.shape):
            stride.insert(0, s)
            s *= n
        return (_Global("torch._utils", "_rebuild_tensor_v2"),
                (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))


class _TorchPickler(pickle._Pickler):
    """Writes the pickle torch.save writes, without importing torch."""
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_global_ref(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_Global] = _save_global_ref

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", _Global("torch", "FloatStorage"), obj.key, "cpu", obj.array.size)
        return None


def write_torch_zip(path, tensors):
    """A state dict in torch.save's zip format (what torch >= 1.6 writes)."""
    storages, state = [], collections.OrderedDict()
    for name, a in tensors.items():
        st = _Storage(str(len(storages)), np.ascontiguousarray(a, dtype="<f4"))
        storages.append(st)
        state[name] = _Tensor(st, list(a.shape))
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(state)
    prefix = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        def put(name, data):  # a fixed timestamp keeps the file byte-identical run to run
            z.writestr(zipfile.ZipInfo(f"{prefix}/{name}", date_time=(1980, 1, 1, 0, 0, 0)), data)
        put("data.pkl", buf.getvalue())
        put("byteorder", "little")
        for st in storages:
            put(f"data/{st.key}", st.array.tobytes())
        put("version", "3\n")


def hf_config(c):
    return {
        "architectures": ["ViTModel"],
        "attention_probs_dropout_prob": 0.0,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": c["dim"],
        "image_size": c["image"],
        "initializer_range": 0.02,
        "intermediate_size": c["mlp"],
        "layer_norm_eps": 1e-12,
        "model_type": "vit",
        "num_attention_heads": c["heads"],
        "num_channels": 3,
        "num_hidden_layers": c["depth"],
        "patch_size": c["patch"],
        "qkv_bias": True,
        "torch_dtype": "float32",
    }


def dinov2_hf_config(c):
    """config.json as published with facebook/dinov2-small (registers: dinov2-with-registers-small)."""
    cfg = {
        "architectures": ["Dinov2Model"],
        "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.0,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": c["dim"],
        "image_size": c["image"],
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-06,
        "layerscale_value": 1.0,
        "mlp_ratio": 4 if c.get("swiglu") else c["mlp"] // c["dim"],
        "model_type": "dinov2",
        "num_attention_heads": c["heads"],
        "num_channels": 3,
        "num_hidden_layers": c["depth"],
        "patch_size": c["patch"],
        "qkv_bias": True,
        "torch_dtype": "float32",
        "use_swiglu_ffn": bool(c.get("swiglu")),
    }
    if c["registers"]:
        stages = ["stem"] + [f"stage{i + 1}" for i in range(c["depth"])]
        cfg.update({"architectures": ["Dinov2WithRegistersModel"], "model_type": "dinov2_with_registers",
                    "num_register_tokens": c["registers"], "out_features": [stages[-1]],
                    "out_indices": [c["depth"]], "stage_names": stages})
    return cfg


DINOV2_PREPROCESSOR = {  # BitImageProcessor, as published with every facebook/dinov2-* model
    "crop_pct": 0.875, "crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
    "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "BitImageProcessor",
    "image_std": [0.229, 0.224, 0.225], "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 256},
}


def hf_preprocessor(c, legacy):
    if legacy:  # the file as published with facebook/dino-vits8
        return {"do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
                "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                "resample": 2, "size": c["image"]}
    return {"do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "ViTImageProcessor",
            "image_std": [0.229, 0.224, 0.225], "resample": 2, "rescale_factor": 1 / 255,
            "size": {"height": c["image"], "width": c["image"]}}


def write_checkpoints(out, cfg_name):
    c = CONFIGS[cfg_name]
    dino = canonical_weights(c)
    write_torch_zip(os.path.join(out, f"{cfg_name}-dino.pth"), dino)
    for sub, binary in ((f"{cfg_name}-hf", False), (f"{cfg_name}-hf-bin", True)):
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(hf_config(c), f, indent=2)
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump(hf_preprocessor(c, legacy=binary), f, indent=2)
        w = hf_weights(c, dino, with_pooler=binary)
        if binary:
            write_torch_zip(os.path.join(d, "pytorch_model.bin"), w)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), w)


def write_dinov2_checkpoints(out, cfg_name):
    c = V2_CONFIGS[cfg_name]
    v2 = dinov2_weights(c, cfg_name)
    write_torch_zip(os.path.join(out, f"{cfg_name}-dinov2.pth"), v2)
    d = os.path.join(out, f"{cfg_name}-hf")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dinov2_hf_config(c), f, indent=2)
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump(DINOV2_PREPROCESSOR, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), dinov2_hf_weights(c, v2))


# Test inputs: already-normalized NCHW tensors (the engine's input), smooth
# structure plus noise so that attention and interpolation see real variation.
INPUTS = {
    "vits8-224x3": (3, 224, 224),
    "vits8-160x240": (1, 160, 240),
    "tiny-32x2": (2, 32, 32),
    "tiny-48x24": (1, 48, 24),
    "v2-168x252": (1, 168, 252),
    "v2tiny-56x42": (2, 56, 42),
}


def make_input(name, shape):
    n, h, w = shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    out = np.empty((n, 3, h, w), np.float32)
    for i in range(n):
        for ch in range(3):
            phase = 1.7 * i + 0.9 * ch
            smooth = np.sin(3 * x + phase) * np.cos(2 * y - phase) + 0.5 * x * y
            noise = uniform(f"{name}.{i}.{ch}", (h, w), -0.5, 0.5)
            out[i, ch] = (1.2 * smooth + noise).astype(np.float32)
    return out


def write_inputs(out):
    d = os.path.join(out, "inputs")
    os.makedirs(d, exist_ok=True)
    for name, shape in INPUTS.items():
        np.save(os.path.join(d, name + ".npy"), make_input(name, shape))


def digest(out):
    """SHA-256 of every generated weight and input, so tests can tell whether
    the committed reference outputs were made from these exact values."""
    def weights_digest(weights):
        m = hashlib.sha256()
        for k, v in weights.items():
            m.update(k.encode())
            m.update(np.ascontiguousarray(v, "<f4").tobytes())
        return m.hexdigest()

    h = {name: weights_digest(canonical_weights(CONFIGS[name])) for name in sorted(CONFIGS)}
    h.update({name: weights_digest(dinov2_weights(V2_CONFIGS[name], name)) for name in sorted(V2_CONFIGS)})
    for name in sorted(INPUTS):
        h["input:" + name] = hashlib.sha256(make_input(name, INPUTS[name]).astype("<f4").tobytes()).hexdigest()
    return h


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output directory")
    ap.add_argument("--config", choices=sorted(CONFIGS) + sorted(V2_CONFIGS) + ["all"], default="all")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for name in (sorted(CONFIGS) + sorted(V2_CONFIGS) if a.config == "all" else [a.config]):
        (write_dinov2_checkpoints if name in V2_CONFIGS else write_checkpoints)(a.out, name)
        print(f"make_synthetic: wrote {name} checkpoints to {a.out}", file=sys.stderr)
    write_inputs(a.out)
    with open(os.path.join(a.out, "digest.json"), "w") as f:
        json.dump(digest(a.out), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
