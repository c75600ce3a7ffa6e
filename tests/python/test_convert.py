"""Tests of scripts/convert_gguf.py (numpy only; run by ctest as `converter`)."""
import collections
import io
import json
import os
import pickle
import struct
import sys
import tempfile
import unittest
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))

import convert_gguf as cg  # noqa: E402
import make_synthetic as ms  # noqa: E402


def read_gguf(path):
    """A minimal GGUF reader for checking what the converter wrote."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:4] == b"GGUF"
    version, nt, nk = struct.unpack_from("<IQQ", b, 4)
    pos = 24

    def string():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", b, pos)
        s = b[pos + 8: pos + 8 + n].decode()
        pos += 8 + n
        return s

    def value(t):
        nonlocal pos
        if t == 8:
            return string()
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, pos)
            pos += 12
            return [value(et) for _ in range(n)]
        fmt = {4: "<I", 6: "<f", 7: "<?"}[t]
        (v,) = struct.unpack_from(fmt, b, pos)
        pos += struct.calcsize(fmt)
        return v

    kv = {}
    for _ in range(nk):
        k = string()
        (t,) = struct.unpack_from("<I", b, pos)
        pos += 4
        kv[k] = value(t)
    tensors = {}
    for _ in range(nt):
        name = string()
        (nd,) = struct.unpack_from("<I", b, pos)
        ne = struct.unpack_from(f"<{nd}Q", b, pos + 4)
        typ, off = struct.unpack_from("<IQ", b, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        tensors[name] = (list(ne), typ, off)
    data = (pos + 31) // 32 * 32
    return kv, tensors, b[data:]


class ConverterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        ms.write_checkpoints(cls.dir, "tiny")
        ms.write_dinov2_checkpoints(cls.dir, "v2tiny")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def convert(self, src, outtype="f32", heads=None):
        out = self.path(f"out-{os.path.basename(src)}-{outtype}.gguf")
        cg.convert(self.path(src), out, outtype, name="t", heads=heads)
        return read_gguf(out)

    def test_gguf_keys_are_one_table_that_the_schema_documents(self):
        """native/tensor_names.h spells every metadata key libdino reads or writes; docs/gguf.md documents
        each, and the converter writes every key the loader reads (the quantizer's are the quantizer's)."""
        import re
        with open(os.path.join(ROOT, "native", "tensor_names.h")) as f:
            header = f.read()
        table = header[header.index("namespace dino::kv"):]
        keys = re.findall(r'inline constexpr const char \* k\w+ = "([^"]+)";', table)
        self.assertGreater(len(keys), 15)
        with open(os.path.join(ROOT, "docs", "gguf.md")) as f:
            doc = f.read()
        for k in keys:
            self.assertIn(f"`{k}" if k.endswith(".") else f"`{k}`", doc, f"{k} is not documented in docs/gguf.md")
        kv, _, _ = self.convert("tiny-hf")
        kv.update(self.convert("v2tiny-hf")[0])  # (a crop, so its rounding)
        optional = {"general.alignment"}
        for k in keys:
            if k.startswith("dino.quantize.") or k in optional:
                continue
            self.assertIn(k, kv, f"the converter does not write {k}")

    def test_layouts_give_the_same_tensors(self):
        kv_st, t_st, d_st = self.convert("tiny-hf")
        kv_bin, t_bin, d_bin = self.convert("tiny-hf-bin")
        kv_pth, t_pth, d_pth = self.convert("tiny-dino.pth", heads=2)
        self.assertEqual(t_st, t_bin)
        self.assertEqual(t_st, t_pth)
        self.assertEqual(d_st, d_bin)
        self.assertEqual(d_st, d_pth)
        self.assertEqual(kv_st["dino.attention.layer_norm_epsilon"], np.float32(1e-12))
        self.assertEqual(kv_pth["dino.attention.layer_norm_epsilon"], np.float32(1e-6))
        self.assertEqual(kv_st["general.architecture"], "dino")
        self.assertEqual(kv_st["dino.block_count"], 2)
        self.assertEqual(kv_st["dino.attention.head_count"], 2)
        self.assertEqual(t_st["blk.0.attn_qkv.weight"][0], [64, 192])
        self.assertEqual(t_st["patch_embd.weight"][0], [8, 8, 3, 64])
        self.assertEqual(t_st["pos_embd"][0], [64, 17])
        # preprocessing defaults: HF processor vs DINO's evaluation transform
        self.assertEqual((kv_st["dino.preprocess.resize"], kv_st["dino.preprocess.crop"],
                          kv_st["dino.preprocess.resample"]), (32, 0, "bilinear"))
        self.assertEqual((kv_bin["dino.preprocess.resize"], kv_bin["dino.preprocess.resample"]), (32, "bilinear"))
        self.assertEqual((kv_pth["dino.preprocess.resize"], kv_pth["dino.preprocess.crop"],
                          kv_pth["dino.preprocess.resample"], kv_pth["dino.preprocess.resize_shortest_edge"]),
                         (37, 32, "bicubic", True))

    def test_dinov2_layouts_give_the_same_tensors(self):
        kv_hf, t_hf, d_hf = self.convert("v2tiny-hf")
        kv_pth, t_pth, d_pth = self.convert("v2tiny-dinov2.pth", heads=2)
        self.assertEqual(t_hf, t_pth)
        self.assertEqual(d_hf, d_pth)
        for kv in (kv_hf, kv_pth):
            self.assertEqual((kv["dino.family"], kv["dino.register_count"], kv["dino.patch_size"], kv["dino.image_size"]),
                             ("dinov2", 2, 14, 70))
            self.assertEqual(kv["dino.attention.layer_norm_epsilon"], np.float32(1e-6))
            # Both register layouts interpolate antialiased (hubconf's reg backbones; Dinov2WithRegistersModel).
            self.assertEqual(kv["dino.position_interpolation"], "size_antialias")
            # DINOv2 runs at 224 whatever its grid: shorter side 256 bicubic, center crop 224.
            self.assertEqual((kv["dino.preprocess.resize"], kv["dino.preprocess.crop"], kv["dino.preprocess.resample"],
                              kv["dino.preprocess.resize_shortest_edge"]), (256, 224, "bicubic", True))
        self.assertEqual(kv_hf["dino.preprocess.crop_rounding"], "down")  # transformers' center_crop
        self.assertEqual(kv_pth["dino.preprocess.crop_rounding"], "half_to_even")  # torchvision's
        self.assertEqual(t_hf["reg_embd"][0], [64, 2])
        self.assertEqual(t_hf["blk.1.attn_scale"][0], [64])
        self.assertEqual(t_hf["blk.1.ffn_scale"][0], [64])
        self.assertEqual(t_hf["pos_embd"][0], [64, 26])
        kv_dino, _, _ = self.convert("tiny-dino.pth", heads=2)
        self.assertEqual((kv_dino["dino.family"], kv_dino["dino.register_count"], kv_dino["dino.position_interpolation"]),
                         ("dino", 0, "dino"))

    def test_dinov2_without_registers_interpolates_as_its_reference(self):
        c = dict(ms.V2_CONFIGS["v2tiny"], registers=0)
        w = ms.dinov2_weights(c, "noreg")
        ms.write_torch_zip(self.path("noreg.pth"), w)
        d = self.path("noreg-hf")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(ms.dinov2_hf_config(c), f)
        ms.write_safetensors(os.path.join(d, "model.safetensors"), ms.dinov2_hf_weights(c, w))
        self.assertEqual(self.convert("noreg.pth", heads=2)[0]["dino.position_interpolation"], "dino")  # 0.1 offset
        self.assertEqual(self.convert("noreg-hf")[0]["dino.position_interpolation"], "size")  # transformers' Dinov2Model

    def test_dinov2_swiglu_layouts_give_the_same_tensors(self):
        ms.write_dinov2_checkpoints(self.dir, "v2tinyglu")
        kv_hf, t_hf, d_hf = self.convert("v2tinyglu-hf")
        kv_pth, t_pth, d_pth = self.convert("v2tinyglu-dinov2.pth", heads=3)
        self.assertEqual((t_hf, d_hf), (t_pth, d_pth))
        self.assertEqual((kv_hf["dino.feed_forward_activation"], kv_hf["dino.feed_forward_length"]), ("swiglu", 256))
        self.assertEqual(t_hf["blk.0.ffn_up.weight"][0], [96, 512])  # x1 and x2
        self.assertEqual(t_hf["blk.0.ffn_down.weight"][0], [256, 96])
        self.assertEqual(self.convert("v2tiny-hf")[0]["dino.feed_forward_activation"], "gelu")
        w = ms.canonical_weights(ms.CONFIGS["tiny"])  # SwiGLU without LayerScale: no DINOv2
        w["blocks.0.mlp.w12.weight"] = np.zeros((512, 64), np.float32)
        ms.write_torch_zip(self.path("odd.pth"), w)
        with self.assertRaisesRegex(cg.ConvertError, "unknown tensor 'blocks.0.mlp.w12.weight' .*DINO ViT"):
            self.convert("odd.pth")

    def test_dinov2_mismatched_configs_are_refused(self):
        d = self.path("v2tiny-hf")
        with open(os.path.join(d, "config.json")) as f:
            good = json.load(f)
        try:
            for change, message in (({"use_swiglu_ffn": True}, "use_swiglu_ffn=True but the weights do not have"),
                                    ({"num_register_tokens": 4}, "num_register_tokens=4 but the weights have 2"),
                                    ({"mlp_ratio": 2}, "mlp_ratio=2")):
                with open(os.path.join(d, "config.json"), "w") as f:
                    json.dump(dict(good, **change), f)
                with self.assertRaisesRegex(cg.ConvertError, message):
                    self.convert("v2tiny-hf")
        finally:
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(good, f)

    def test_quantized_types_only_touch_linear_weights(self):
        _, t, _ = self.convert("tiny-hf", "q4_0")
        for name, (_, typ, _) in t.items():
            want = cg.GGML_Q4_0 if cg.is_linear_weight(name) else cg.GGML_F32
            self.assertEqual(typ, want, name)

    def test_quantizers_edge_cases(self):
        zeros = np.zeros(32, np.float32)
        self.assertEqual(cg.quantize_q8_0(zeros), b"\0" * 34)
        # d = 0 / -8 is -0.0 in C too (fp16 0x8000)
        self.assertEqual(cg.quantize_q4_0(zeros), b"\0\x80" + bytes([0x88]) * 16)
        x = np.linspace(-1, 1, 64).astype(np.float32)
        q = np.frombuffer(cg.quantize_q8_0(x), np.uint8).reshape(2, 34)
        d = q[:, :2].copy().view("<f2").astype(np.float32)
        vals = q[:, 2:].view(np.int8).astype(np.float32) * d
        self.assertLess(np.abs(vals.reshape(-1) - x).max(), 0.01)
        self.assertEqual(abs(int(q[0, 2:].view(np.int8)[0])), 127)

    def test_evil_pickle_is_refused_without_running(self):
        marker = self.path("pwned")
        payload = pickle.dumps(_Evil(marker), protocol=2)
        evil = self.path("evil.pth")
        with zipfile.ZipFile(evil, "w") as z:
            z.writestr("evil/data.pkl", payload)
        with self.assertRaises(cg.ConvertError) as e:
            cg.read_torch(evil)
        self.assertIn("refusing to unpickle", str(e.exception))
        self.assertIn("system", str(e.exception))
        self.assertFalse(os.path.exists(marker))

    def test_legacy_and_garbage_files_are_refused(self):
        bad = self.path("legacy.pth")
        with open(bad, "wb") as f:
            f.write(pickle.dumps({"a": 1}))
        with self.assertRaises(cg.ConvertError) as e:
            cg.read_torch(bad)
        self.assertIn("legacy", str(e.exception))
        st = self.path("bad.safetensors")
        with open(st, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaises(cg.ConvertError):
            cg.read_safetensors(st)

    def _edited_checkpoint(self, edit):
        src = ms.hf_weights(ms.CONFIGS["tiny"], ms.canonical_weights(ms.CONFIGS["tiny"]), False)
        edit(src)
        d = self.path("edited")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(ms.hf_config(ms.CONFIGS["tiny"]), f)
        ms.write_safetensors(os.path.join(d, "model.safetensors"), src)
        return d

    def assert_refused(self, edit, words):
        d = self._edited_checkpoint(edit)
        with self.assertRaises(cg.ConvertError) as e:
            cg.convert(d, self.path("never.gguf"), "f32")
        for w in words:
            self.assertIn(w, str(e.exception))
        self.assertFalse(os.path.exists(self.path("never.gguf")))

    def test_unknown_missing_and_misshapen_tensors_are_refused(self):
        self.assert_refused(lambda w: w.__setitem__("encoder.layer.0.surprise.weight", np.zeros(3, np.float32)),
                            ["unknown tensor", "encoder.layer.0.surprise.weight"])
        self.assert_refused(lambda w: w.pop("encoder.layer.1.output.dense.bias"),
                            ["missing tensor", "blk.1.ffn_down.bias"])
        self.assert_refused(lambda w: w.__setitem__("encoder.layer.0.intermediate.dense.weight",
                                                    np.zeros((256, 63), np.float32)),
                            ["blk.0.ffn_up.weight", "shape"])
        self.assert_refused(lambda w: w.pop("encoder.layer.0.attention.attention.query.weight"),
                            ["attn_key.weight"])

    def test_command_line_reports_errors(self):
        rc = cg.main([self.path("nothing-here"), "--outfile", self.path("x.gguf")])
        self.assertEqual(rc, 1)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


if __name__ == "__main__":
    unittest.main()
