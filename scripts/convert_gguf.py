#!/usr/bin/env python3
"""Convert a DINO ViT checkpoint to GGUF for Dino.Native.

INPUT is one of:
  * a Hugging Face checkpoint directory (config.json, preprocessor_config.json,
    model.safetensors or pytorch_model.bin): DINO (facebook/dino-vits8, a
    ViTModel), DINOv2 (facebook/dinov2-small, a Dinov2Model) or DINOv2 with
    registers (facebook/dinov2-with-registers-small);
  * an original DINO checkpoint (.pth state dict with blocks.N.attn.qkv...),
    e.g. dino_deitsmall8_pretrain.pth, or a training checkpoint holding one
    under "teacher";
  * an original DINOv2 backbone (blocks.N.ls1.gamma, ...), e.g.
    dinov2_vits14_pretrain.pth or dinov2_vits14_reg4_pretrain.pth;
  * a pytorch_model.bin file (its config.json is read when it is beside it).

Examples:
  python3 scripts/convert_gguf.py dino-vits8/ --outfile dino-vits8-f32.gguf
  python3 scripts/convert_gguf.py dino_deitsmall8_pretrain.pth --outfile d.gguf --outtype q8_0

2-D linear weights take --outtype; norms, biases, the CLS token, position and
patch embeddings stay F32.  The schema is written down in docs/gguf.md.

Needs numpy only.  .pth/.bin pickles are read by a restricted unpickler that
rebuilds tensors with numpy and refuses every other global, so a hostile
checkpoint cannot run code.
"""
import argparse
import collections
import json
import os
import pickle
import re
import struct
import sys
import zipfile

try:
    import numpy as np
except ImportError:  # the one dependency: say which interpreter has it, or how to get it
    sys.exit(f"convert_gguf.py needs numpy, which {sys.executable} (Python {sys.version.split()[0]}) does not have.\n"
             "  Install it for this interpreter:  python3 -m pip install numpy\n"
             "  or, on Debian/Ubuntu, use the system Python:  sudo apt-get install python3-numpy && "
             "/usr/bin/python3 scripts/convert_gguf.py ...")


class ConvertError(Exception):
    """A problem with the input, reported as one clear line."""


# ============================================================================
# Reading checkpoints
# ============================================================================

SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "F64": "<f8"}


def _as_f32(a, is_bf16=False):
    if is_bf16:  # bfloat16 is the high half of a float32
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32)


def read_safetensors(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ConvertError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100 << 20:
            raise ConvertError(f"{path}: safetensors header length {n} is past the end of the file")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise ConvertError(f"{path}: safetensors header is not JSON ({e})")
        base = 8 + n
        out = collections.OrderedDict()
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dt = info.get("dtype")
            if dt not in SAFETENSORS_DTYPES:
                raise ConvertError(f"{path}: tensor {name}: unsupported dtype {dt}")
            shape = [int(s) for s in info["shape"]]
            start, end = (int(x) for x in info["data_offsets"])
            want = int(np.prod(shape)) * np.dtype(SAFETENSORS_DTYPES[dt]).itemsize
            if end - start != want or start < 0 or base + end > size:
                raise ConvertError(f"{path}: tensor {name}: data range [{start}, {end}) does not fit its shape or the file")
            f.seek(base + start)
            a = np.frombuffer(f.read(want), dtype=SAFETENSORS_DTYPES[dt]).reshape(shape)
            out[name] = _as_f32(a, dt == "BF16")
        return out


# torch storage classes -> (numpy dtype, is bfloat16)
TORCH_STORAGES = {
    "FloatStorage": ("<f4", False), "HalfStorage": ("<f2", False), "BFloat16Storage": ("<u2", True),
    "DoubleStorage": ("<f8", False), "LongStorage": ("<i8", False), "IntStorage": ("<i4", False),
    "ShortStorage": ("<i2", False), "CharStorage": ("i1", False), "ByteStorage": ("u1", False),
    "BoolStorage": ("?", False),
}


class _StorageType:
    def __init__(self, name):
        self.dtype, self.bf16 = TORCH_STORAGES[name]


class _Namespace:
    """Stands in for argparse.Namespace (DINO training checkpoints hold one)."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {})


def _rebuild_tensor(storage, offset, size, stride, *_):
    data, bf16 = storage
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ConvertError("tensor with a negative size or stride")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset
    if offset < 0 or (all(size) and last >= len(data)):
        raise ConvertError("tensor points outside its storage")
    item = data.itemsize
    a = np.lib.stride_tricks.as_strided(data[offset:], shape=size, strides=[s * item for s in stride])
    return _as_f32(np.array(a), bf16) if a.dtype.kind in "fu" else np.array(a)


def _rebuild_parameter(data, requires_grad=None, hooks=None, *_):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds torch tensors as numpy arrays; refuses every other global."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("argparse", "Namespace"): _Namespace,
    }

    def __init__(self, f, zf, prefix, path):
        super().__init__(f)
        self.zf, self.prefix, self.path, self.cache = zf, prefix, path, {}

    def find_class(self, module, name):
        if module == "torch" and name in TORCH_STORAGES:
            return _StorageType(name)  # only carried in persistent ids, never called
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise ConvertError(f"{self.path}: refusing to unpickle {module}.{name} "
                           "(only tensors and plain containers are allowed)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ConvertError(f"{self.path}: unexpected persistent id {pid!r:.80}")
        kind, key = pid[1], str(pid[2])
        if not isinstance(kind, _StorageType):
            raise ConvertError(f"{self.path}: unexpected storage type {kind!r:.80}")
        if key not in self.cache:
            member = f"{self.prefix}data/{key}"
            try:
                raw = self.zf.read(member)
            except KeyError:
                raise ConvertError(f"{self.path}: storage {member} is missing")
            raw = raw[: len(raw) // np.dtype(kind.dtype).itemsize * np.dtype(kind.dtype).itemsize]
            self.cache[key] = (np.frombuffer(raw, dtype=kind.dtype), kind.bf16)
        return self.cache[key]


def read_torch(path):
    """A torch.save zip archive (torch >= 1.6), without torch."""
    if not zipfile.is_zipfile(path):
        raise ConvertError(f"{path}: not a torch zip archive (legacy pre-1.6 torch.save files are not "
                           "supported: re-save with torch >= 1.6)")
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("data.pkl")]
        if len(pkl) != 1:
            raise ConvertError(f"{path}: expected one data.pkl in the archive, found {len(pkl)}")
        prefix = pkl[0][: -len("data.pkl")]
        with zf.open(pkl[0]) as f:
            try:
                obj = _RestrictedUnpickler(f, zf, prefix, path).load()
            except ConvertError:
                raise
            except Exception as e:
                raise ConvertError(f"{path}: cannot read the pickle ({type(e).__name__}: {e})")
    # A DINO training checkpoint keeps the backbone under "teacher" (or "student").
    if isinstance(obj, dict):
        for k in ("teacher", "student", "model", "state_dict"):
            if k in obj and isinstance(obj[k], dict):
                print(f"convert: using the '{k}' state dict of the checkpoint", file=sys.stderr)
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: expected a state dict, found {type(obj).__name__}")
    out = collections.OrderedDict()
    for k, v in obj.items():
        if not isinstance(v, np.ndarray):
            raise ConvertError(f"{path}: entry {k!r} is not a tensor")
        out[str(k)] = v.astype(np.float32)
    return out


# ============================================================================
# Layouts: checkpoint names -> GGUF names
# ============================================================================

# Tensors that exist in real checkpoints but are not part of the backbone.
IGNORED = [re.compile(p) for p in (r"pooler\..*", r"head\..*", r"mask_token", r"embeddings\.mask_token")]

# What the layout adds for DINOv2 (ref: dinov2/models/vision_transformer.py, transformers'
# modeling_dinov2.py): LayerScale after attention and after the MLP, and register tokens.
DINOV2_NAMES = [
    (r"register_tokens", "reg_embd"),
    (r"blocks\.(\d+)\.mlp\.w12\.(weight|bias)", "blk.{0}.ffn_up.{1}"),   # ViT-g/14's SwiGLU: both halves
    (r"blocks\.(\d+)\.mlp\.w3\.(weight|bias)", "blk.{0}.ffn_down.{1}"),
    (r"blocks\.(\d+)\.ls1\.gamma", "blk.{0}.attn_scale"),
    (r"blocks\.(\d+)\.ls2\.gamma", "blk.{0}.ffn_scale"),
]

HF_DINOV2_NAMES = [
    (r"embeddings\.register_tokens", "reg_embd"),
    (r"encoder\.layer\.(\d+)\.norm1\.(weight|bias)", "blk.{0}.attn_norm.{1}"),
    (r"encoder\.layer\.(\d+)\.layer_scale1\.lambda1", "blk.{0}.attn_scale"),
    (r"encoder\.layer\.(\d+)\.norm2\.(weight|bias)", "blk.{0}.ffn_norm.{1}"),
    (r"encoder\.layer\.(\d+)\.mlp\.fc1\.(weight|bias)", "blk.{0}.ffn_up.{1}"),
    (r"encoder\.layer\.(\d+)\.mlp\.fc2\.(weight|bias)", "blk.{0}.ffn_down.{1}"),
    (r"encoder\.layer\.(\d+)\.layer_scale2\.lambda1", "blk.{0}.ffn_scale"),
    (r"encoder\.layer\.(\d+)\.mlp\.weights_in\.(weight|bias)", "blk.{0}.ffn_up.{1}"),
    (r"encoder\.layer\.(\d+)\.mlp\.weights_out\.(weight|bias)", "blk.{0}.ffn_down.{1}"),
]

# ViT-g/14's SwiGLU MLP (dinov2-giant): w12/w3 in the original, weights_in/weights_out in transformers.
SWIGLU = re.compile(r".*\.mlp\.(w12|w3|weights_in|weights_out)\.(weight|bias)")

DINO_NAMES = [
    (r"cls_token", "cls_embd"),
    (r"pos_embed", "pos_embd"),
    (r"patch_embed\.proj\.weight", "patch_embd.weight"),
    (r"patch_embed\.proj\.bias", "patch_embd.bias"),
    (r"blocks\.(\d+)\.norm1\.(weight|bias)", "blk.{0}.attn_norm.{1}"),
    (r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", "blk.{0}.attn_qkv.{1}"),
    (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", "blk.{0}.attn_out.{1}"),
    (r"blocks\.(\d+)\.norm2\.(weight|bias)", "blk.{0}.ffn_norm.{1}"),
    (r"blocks\.(\d+)\.mlp\.fc1\.(weight|bias)", "blk.{0}.ffn_up.{1}"),
    (r"blocks\.(\d+)\.mlp\.fc2\.(weight|bias)", "blk.{0}.ffn_down.{1}"),
    (r"norm\.(weight|bias)", "output_norm.{0}"),
]

HF_NAMES = [
    (r"embeddings\.cls_token", "cls_embd"),
    (r"embeddings\.position_embeddings", "pos_embd"),
    (r"embeddings\.patch_embeddings\.projection\.weight", "patch_embd.weight"),
    (r"embeddings\.patch_embeddings\.projection\.bias", "patch_embd.bias"),
    (r"encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias)", "blk.{0}.attn_norm.{1}"),
    (r"encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)", "blk.{0}.attn_{1}.{2}"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", "blk.{0}.attn_out.{1}"),
    (r"encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias)", "blk.{0}.ffn_norm.{1}"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", "blk.{0}.ffn_up.{1}"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", "blk.{0}.ffn_down.{1}"),
    (r"layernorm\.(weight|bias)", "output_norm.{0}"),
]


def _strip_prefixes(tensors):
    out = collections.OrderedDict()
    for k, v in tensors.items():
        for p in ("module.", "backbone.", "vit."):
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def rename(tensors, path):
    """Maps checkpoint names to GGUF names; fuses HF q/k/v into qkv.  Returns (tensors, layout,
    family): layout "hf" or "dino", family "dino" or "dinov2"."""
    tensors = _strip_prefixes(tensors)
    is_hf = any(k.startswith(("embeddings.", "encoder.")) for k in tensors)
    v2 = any(re.fullmatch(r"(blocks\.\d+\.ls1\.gamma|encoder\.layer\.\d+\.layer_scale1\.lambda1)", k) for k in tensors)
    table = (HF_DINOV2_NAMES if v2 else []) + HF_NAMES if is_hf else (DINOV2_NAMES if v2 else []) + DINO_NAMES
    out, ignored = collections.OrderedDict(), []
    for k, v in tensors.items():
        for pat, fmt in table:
            m = re.fullmatch(pat, k)
            if m:
                out[fmt.format(*m.groups())] = v
                break
        else:
            if any(p.fullmatch(k) for p in IGNORED):
                ignored.append(k)
                continue
            family = ("Hugging Face " if is_hf else "") + ("DINOv2" if v2 else "DINO ViT")
            raise ConvertError(f"{path}: unknown tensor '{k}' (not part of a {family} backbone)")
    if ignored:
        print(f"convert: ignoring {len(ignored)} tensors that are not part of the backbone: "
              f"{', '.join(ignored[:4])}{' ...' if len(ignored) > 4 else ''}", file=sys.stderr)
    if is_hf:
        for key in [k for k in out if ".attn_query." in k]:
            blk, kind = key.split(".attn_query.")
            parts = []
            for qkv in ("query", "key", "value"):
                name = f"{blk}.attn_{qkv}.{kind}"
                if name not in out:
                    raise ConvertError(f"{path}: missing tensor for {name}")
                parts.append(out.pop(name))
            out[f"{blk}.attn_qkv.{kind}"] = np.concatenate(parts, axis=0)
        left = [k for k in out if re.search(r"\.attn_(key|value)\.", k)]
        if left:
            raise ConvertError(f"{path}: tensor {left[0]} has no matching query")
    swiglu = any(SWIGLU.fullmatch(k) for k in tensors)  # (outside DINOv2 its tensors are unknown, above)
    return out, ("hf" if is_hf else "dino"), ("dinov2" if v2 else "dino"), swiglu


# ============================================================================
# Hyperparameters and preprocessing
# ============================================================================

def infer_hparams(t, path, config, heads_override, family="dino", swiglu=False):
    def need(name):
        if name not in t:
            raise ConvertError(f"{path}: missing tensor {name}")
        return t[name]

    pw = need("patch_embd.weight")
    if pw.ndim != 4 or pw.shape[2] != pw.shape[3] or pw.shape[1] != 3:
        raise ConvertError(f"{path}: tensor patch_embd.weight has shape {pw.shape}, expected [dim, 3, p, p]")
    dim, patch = pw.shape[0], pw.shape[2]
    depth = 0
    while f"blk.{depth}.attn_norm.weight" in t:
        depth += 1
    if depth == 0:
        raise ConvertError(f"{path}: no transformer blocks found")
    mlp = need("blk.0.ffn_down.weight").shape[1]  # the hidden width (SwiGLU's ffn_up is twice it)
    n_pos = need("pos_embd").shape[-2]
    grid = int(round((n_pos - 1) ** 0.5))
    if grid * grid + 1 != n_pos:
        raise ConvertError(f"{path}: tensor pos_embd has {n_pos} rows, not 1 + a square grid")
    registers = 0
    if "reg_embd" in t:
        r = t["reg_embd"]
        if r.ndim != 3 or r.shape[0] != 1 or r.shape[1] < 1 or r.shape[2] != dim:
            raise ConvertError(f"{path}: register tokens have shape {list(r.shape)}, expected [1, n, {dim}]")
        registers = r.shape[1]
    if config is not None:
        heads = int(config.get("num_attention_heads", 0))
        eps = float(config.get("layer_norm_eps", 1e-12))
        if bool(config.get("use_swiglu_ffn", False)) != swiglu:
            raise ConvertError(f"{path}: config.json says use_swiglu_ffn={config.get('use_swiglu_ffn', False)} but the "
                               f"weights {'have' if swiglu else 'do not have'} a SwiGLU MLP")
        for key, val in (("hidden_size", dim), ("num_hidden_layers", depth), ("intermediate_size", mlp),
                         ("patch_size", patch), ("num_register_tokens", registers)):
            if key in config and int(config[key]) != val:
                raise ConvertError(f"{path}: config.json says {key}={config[key]} but the weights have {val}")
        if "mlp_ratio" in config:
            hidden = int(dim * float(config["mlp_ratio"]))
            if swiglu:  # ref: Dinov2SwiGLUFFN (and the original SwiGLUFFNFused): 2/3 of it, rounded up to 8
                hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
            if hidden != mlp:
                raise ConvertError(f"{path}: config.json says mlp_ratio={config['mlp_ratio']} but the weights have "
                                   f"an MLP of {mlp} for a width of {dim}")
        if config.get("hidden_act", "gelu") != "gelu" and not swiglu:
            raise ConvertError(f"{path}: hidden_act {config['hidden_act']!r} is not supported (exact GELU only)")
        if config.get("qkv_bias", True) is not True:
            raise ConvertError(f"{path}: qkv_bias=false is not supported")
    else:
        heads, eps = dim // 64, 1e-6  # DINO's ViTs all use 64-wide heads; timm LayerNorm eps 1e-6
    if heads_override:
        heads = heads_override
    if heads <= 0 or dim % heads:
        raise ConvertError(f"{path}: {heads} heads do not divide the width {dim}")
    return dict(dim=dim, depth=depth, heads=heads, mlp=mlp, patch=patch, image=grid * patch, eps=eps,
                family=family, registers=registers, swiglu=swiglu)


def expected_shapes(h):
    """GGUF name -> numpy shape (PyTorch order) for a backbone of these hyperparameters."""
    d, f, p, g = h["dim"], h["mlp"], h["patch"], h["image"] // h["patch"]
    u = 2 * f if h["swiglu"] else f  # ffn_up's outputs: SwiGLU's x1 and x2, one after the other
    s = {"cls_embd": (1, 1, d), "pos_embd": (1, 1 + g * g, d), "patch_embd.weight": (d, 3, p, p),
         "patch_embd.bias": (d,), "output_norm.weight": (d,), "output_norm.bias": (d,)}
    if h["registers"]:
        s["reg_embd"] = (1, h["registers"], d)
    for i in range(h["depth"]):
        b = f"blk.{i}."
        s.update({b + "attn_norm.weight": (d,), b + "attn_norm.bias": (d,),
                  b + "attn_qkv.weight": (3 * d, d), b + "attn_qkv.bias": (3 * d,),
                  b + "attn_out.weight": (d, d), b + "attn_out.bias": (d,),
                  b + "ffn_norm.weight": (d,), b + "ffn_norm.bias": (d,),
                  b + "ffn_up.weight": (u, d), b + "ffn_up.bias": (u,),
                  b + "ffn_down.weight": (d, f), b + "ffn_down.bias": (d,)})
        if h["family"] == "dinov2":
            s.update({b + "attn_scale": (d,), b + "ffn_scale": (d,)})
    return s


def check_tensors(t, h, path):
    want = expected_shapes(h)
    for name, shape in want.items():
        if name not in t:
            raise ConvertError(f"{path}: missing tensor {name}")
        a = t[name]
        if name in ("cls_embd", "pos_embd", "reg_embd") and a.ndim == len(shape) - 1:
            a = t[name] = a[None]
        if tuple(a.shape) != shape:
            raise ConvertError(f"{path}: tensor {name} has shape {list(a.shape)}, expected {list(shape)}")
    extra = sorted(set(t) - set(want))
    if extra:
        raise ConvertError(f"{path}: unexpected tensor {extra[0]} (blocks beyond {h['depth']}?)")


# PIL resample codes as used in preprocessor_config.json
PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def preprocessing(kind, pre, image, family="dino"):
    """The model's default preprocessing, for the GGUF's dino.preprocess.* keys."""
    if kind == "dino":
        # The original evaluation transform: Resize(256, bicubic) on the shorter
        # side, CenterCrop(224), ToTensor, Normalize(ImageNet).  DINOv2's
        # (make_classification_eval_transform) is the same at 224, whatever its
        # position grid was trained at (518).
        if family == "dinov2":
            image = 224
        return dict(resize=int(round(image * 256 / 224)), shortest_edge=True, crop=image, crop_rounding="half_to_even",
                    resample="bicubic", rescale=1 / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if pre is None:
        print("convert: no preprocessor_config.json; using the dino-vits8 defaults", file=sys.stderr)
        pre = {}
    size = pre.get("size", image)
    shortest = False
    if isinstance(size, dict):
        if "shortest_edge" in size:
            size, shortest = size["shortest_edge"], True
        else:
            if size.get("height") != size.get("width"):
                raise ConvertError(f"non-square resize {size} is not supported")
            size = size["height"]
    crop = 0
    if pre.get("do_center_crop"):
        c = pre.get("crop_size", size)
        crop = c["height"] if isinstance(c, dict) else c
    resample = PIL_RESAMPLE.get(int(pre.get("resample", 2)))
    if resample not in ("bilinear", "bicubic"):
        raise ConvertError(f"resample {pre.get('resample')} is not supported (bilinear or bicubic)")
    rescale = float(pre.get("rescale_factor", 1 / 255)) if pre.get("do_rescale", True) else 1.0
    mean, std = (pre.get("image_mean", IMAGENET_MEAN), pre.get("image_std", IMAGENET_STD)) \
        if pre.get("do_normalize", True) else ([0.0] * 3, [1.0] * 3)
    # transformers' center_crop starts at (size - crop) // 2 (torchvision rounds half to even).
    return dict(resize=int(size) if pre.get("do_resize", True) else 0, shortest_edge=shortest, crop=int(crop), crop_rounding="down",
                resample=resample, rescale=rescale, mean=[float(x) for x in mean], std=[float(x) for x in std])


def read_checkpoint(path):
    """Returns (tensors, hf config or None, preprocessor config or None)."""
    if os.path.isdir(path):
        cfg_path = os.path.join(path, "config.json")
        if not os.path.isfile(cfg_path):
            raise ConvertError(f"{path}: no config.json in the checkpoint directory")
        st, pt = os.path.join(path, "model.safetensors"), os.path.join(path, "pytorch_model.bin")
        if os.path.isfile(st):
            tensors = read_safetensors(st)
        elif os.path.isfile(pt):
            tensors = read_torch(pt)
        else:
            raise ConvertError(f"{path}: no model.safetensors or pytorch_model.bin (sharded checkpoints "
                               "are not supported)")
        base = path
    elif os.path.isfile(path):
        tensors = read_safetensors(path) if path.endswith(".safetensors") else read_torch(path)
        base = os.path.dirname(os.path.abspath(path))
        cfg_path = os.path.join(base, "config.json")
    else:
        raise ConvertError(f"{path}: no such file or directory")

    def load_json(p):
        if not os.path.isfile(p):
            return None
        try:
            with open(p) as f:
                return json.load(f)
        except ValueError as e:
            raise ConvertError(f"{p}: not valid JSON ({e})")

    return tensors, load_json(cfg_path), load_json(os.path.join(base, "preprocessor_config.json"))


# ============================================================================
# Quantization (bit-identical to ggml's reference quantizers)
# ============================================================================

QK = 32


def _round_half_away(v):
    """C's roundf, exact for float32 inputs (computed in float64)."""
    v = v.astype(np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_q8_0(a):
    """ggml quantize_row_q8_0_ref: per 32 values, d = amax/127 (fp16), q = round(x/d)."""
    x = a.reshape(-1, QK).astype(np.float32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = _round_half_away(x * inv[:, None]).astype(np.int8)
    out = np.empty((x.shape[0], 2 + QK), np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(a):
    """ggml quantize_row_q4_0_ref: d = (signed absmax)/-8 (fp16), q = min(15, trunc(x/d + 8.5))."""
    x = a.reshape(-1, QK).astype(np.float32)
    idx = np.abs(x).argmax(axis=1)  # first index of the largest magnitude, as the C loop keeps
    mx = x[np.arange(x.shape[0]), idx]
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (x * inv[:, None]).astype(np.float32) + np.float32(8.5)
    q = np.minimum(15, np.trunc(v).astype(np.int8)).astype(np.uint8)
    out = np.empty((x.shape[0], 2 + QK // 2), np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, : QK // 2] | (q[:, QK // 2:] << 4)
    return out.tobytes()


# ggml_type ids and llama.cpp file types (general.file_type)
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
OUTTYPES = {  # name -> (ggml type of linear weights, general.file_type, encoder)
    "f32": (GGML_F32, 0, lambda a: a.astype("<f4").tobytes()),
    "f16": (GGML_F16, 1, lambda a: a.astype("<f2").tobytes()),
    "q8_0": (GGML_Q8_0, 7, quantize_q8_0),
    "q4_0": (GGML_Q4_0, 2, quantize_q4_0),
}


def is_linear_weight(name):
    return re.fullmatch(r"blk\.\d+\.(attn_qkv|attn_out|ffn_up|ffn_down)\.weight", name) is not None


# ============================================================================
# GGUF writer (format v3)
# ============================================================================

GGUF_U32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 6, 7, 8, 9
ALIGNMENT = 32


def _gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_value(v):
    if isinstance(v, bool):
        return struct.pack("<I?", GGUF_BOOL, v)
    if isinstance(v, int):
        return struct.pack("<II", GGUF_U32, v)
    if isinstance(v, float):
        return struct.pack("<If", GGUF_F32, v)
    if isinstance(v, str):
        return struct.pack("<I", GGUF_STRING) + _gguf_string(v)
    if isinstance(v, list) and all(isinstance(x, float) for x in v):
        return struct.pack("<IIQ", GGUF_ARRAY, GGUF_F32, len(v)) + struct.pack(f"<{len(v)}f", *v)
    raise TypeError(f"no GGUF encoding for {v!r}")


def write_gguf(path, kv, tensors):
    """tensors: list of (name, ne (ggml order), ggml type, bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for k, v in kv.items():
        out += _gguf_string(k) + _gguf_value(v)
    offset = 0
    for name, ne, typ, data in tensors:
        out += _gguf_string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        out += struct.pack("<IQ", typ, offset)
        offset += len(data) + (-len(data) % ALIGNMENT)
    out += b"\0" * (-len(out) % ALIGNMENT)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:  # written whole, then renamed: never a half file under the real name
        f.write(out)
        for _, _, _, data in tensors:
            f.write(data)
            f.write(b"\0" * (-len(data) % ALIGNMENT))
    os.replace(tmp, path)


def position_interpolation(kind, h):
    """How the reference resamples the position grid for other sizes (dino.position_interpolation;
    docs/gguf.md says which versions of each implementation these are)."""
    if h["family"] == "dino":
        return "dino"  # DINO's interpolate_pos_encoding: scale factors with the 0.1 offset
    if kind == "hf":  # transformers: explicit size; antialiased in Dinov2WithRegistersModel
        return "size_antialias" if h["registers"] else "size"
    # facebookresearch/dinov2 hubconf: the reg backbones interpolate with antialias and no offset,
    # the others with the 0.1 offset and no antialias.
    return "size_antialias" if h["registers"] else "dino"


def convert(inp, outfile, outtype, name=None, heads=None):
    raw, config, pre = read_checkpoint(inp)
    tensors, kind, family, swiglu = rename(raw, inp)
    if kind == "hf" and config is None:
        raise ConvertError(f"{inp}: Hugging Face weights need their config.json beside them")
    h = infer_hparams(tensors, inp, config if kind == "hf" else None, heads, family, swiglu)
    check_tensors(tensors, h, inp)
    p = preprocessing(kind, pre, h["image"], family)
    wtype, ftype, encode = OUTTYPES[outtype]

    kv = collections.OrderedDict()
    kv["general.architecture"] = "dino"
    kv["general.name"] = name or os.path.basename(os.path.normpath(inp))
    kv["general.file_type"] = ftype
    kv["general.quantization_version"] = 2
    kv["general.source.format"] = "huggingface" if kind == "hf" else "dino"
    kv["dino.embedding_length"] = h["dim"]
    kv["dino.block_count"] = h["depth"]
    kv["dino.attention.head_count"] = h["heads"]
    kv["dino.feed_forward_length"] = h["mlp"]
    kv["dino.attention.layer_norm_epsilon"] = float(h["eps"])
    kv["dino.patch_size"] = h["patch"]
    kv["dino.image_size"] = h["image"]
    kv["dino.family"] = h["family"]
    kv["dino.register_count"] = h["registers"]
    kv["dino.position_interpolation"] = position_interpolation(kind, h)
    kv["dino.feed_forward_activation"] = "swiglu" if h["swiglu"] else "gelu"
    kv["dino.preprocess.resize"] = p["resize"]
    kv["dino.preprocess.resize_shortest_edge"] = p["shortest_edge"]
    kv["dino.preprocess.crop"] = p["crop"]
    if p["crop"]:
        kv["dino.preprocess.crop_rounding"] = p["crop_rounding"]
    kv["dino.preprocess.resample"] = p["resample"]
    kv["dino.preprocess.rescale_factor"] = float(p["rescale"])
    kv["dino.preprocess.image_mean"] = p["mean"]
    kv["dino.preprocess.image_std"] = p["std"]

    out = []
    order = list(expected_shapes(h))
    for name_ in order:
        a = np.ascontiguousarray(tensors[name_], dtype=np.float32)
        if name_ in ("cls_embd", "pos_embd", "reg_embd"):
            a = a.reshape(-1) if name_ == "cls_embd" else a.reshape(a.shape[1:])
        ne = list(reversed(a.shape))
        if is_linear_weight(name_):
            out.append((name_, ne, wtype, encode(a)))
        else:
            out.append((name_, ne, GGML_F32, a.astype("<f4").tobytes()))
    write_gguf(outfile, kv, out)
    return h


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="checkpoint directory, or .pth / .bin / .safetensors file")
    ap.add_argument("--outfile", required=True, help="path of the GGUF file to write")
    ap.add_argument("--outtype", choices=sorted(OUTTYPES), default="f32",
                    help="type of the linear weights (default f32); other types: `dino quantize`")
    ap.add_argument("--name", help="general.name (default: the input's name)")
    ap.add_argument("--heads", type=int, help="attention heads, for an original checkpoint whose heads are "
                                              "not 64 wide (default: width / 64)")
    a = ap.parse_args(argv)
    try:
        h = convert(a.input, a.outfile, a.outtype, a.name, a.heads)
    except ConvertError as e:
        print(f"convert_gguf: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"convert_gguf: error: {e}", file=sys.stderr)
        return 1
    print(f"convert_gguf: wrote {a.outfile} ({h['family']}, {a.outtype}; dim {h['dim']}, {h['depth']} blocks, "
          f"{h['heads']} heads, patch {h['patch']}, image {h['image']}, {h['registers']} registers, "
          f"eps {h['eps']:g})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
