#!/usr/bin/python3
"""ONNX exports of a DINO ViT checkpoint, for the benchmark's ONNX Runtime peers.

    /usr/bin/python3 bench/make_onnx.py CHECKPOINT.pth OUT_DIR [--heads 6]

Writes OUT_DIR/dino-fp32.onnx and OUT_DIR/dino-int8.onnx.  The graphs are
written op by op with the onnx package (Debian's python3-onnx; numpy), from
the same weights the GGUF files hold, reading the .pth with our converter:

  fp32: Conv patch embedding, LayerNormalization, MatMul + Add linear layers,
        attention as MatMul / Softmax / MatMul, exact GELU (Erf), final norm;
        output "cls" [N, D] (the CLS row of last_hidden_state).
  int8: what onnxruntime's quantize_dynamic produces for this model: every
        MatMul with a constant weight becomes com.microsoft
        DynamicQuantizeMatMul with the weight quantized per output column to
        int8 (symmetric), activations quantized at run time; attention and
        everything else stay fp32.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "scripts"))
import convert_gguf  # noqa: E402


class Graph:
    def __init__(self, int8):
        self.nodes, self.inits, self.n, self.int8 = [], [], 0, int8

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, a, base="c"):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(a), n))
        return n

    def op(self, kind, inputs, domain=None, **attrs):
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], domain=domain, **attrs))
        return out

    def linear(self, x, w, b):
        """x @ w.T + b, w in PyTorch [out, in] layout."""
        wt = np.ascontiguousarray(w.T.astype(np.float32))  # [in, out]
        if not self.int8:
            return self.op("Add", [self.op("MatMul", [x, self.const(wt, "w")]), self.const(b.astype(np.float32), "b")])
        scale = np.abs(wt).max(axis=0) / 127.0  # per output column
        scale[scale == 0] = 1.0
        q = np.clip(np.round(wt / scale), -127, 127).astype(np.int8)
        return self.op("DynamicQuantizeMatMul",
                       [x, self.const(q, "wq"), self.const(scale.astype(np.float32), "ws"),
                        self.const(np.zeros_like(scale, dtype=np.int8), "wz"), self.const(b.astype(np.float32), "b")],
                       domain="com.microsoft")

    def layer_norm(self, x, w, b, eps):
        return self.op("LayerNormalization", [x, self.const(w.astype(np.float32)), self.const(b.astype(np.float32))],
                       axis=-1, epsilon=float(eps))


def build(t, h, int8):
    """t: GGUF-named numpy tensors (PyTorch layouts); h: hyperparameters."""
    g = Graph(int8)
    D, H, P = h["dim"], h["heads"], h["patch"]
    hd = D // H
    x = g.op("Conv", ["pixels", g.const(t["patch_embd.weight"].astype(np.float32)), g.const(t["patch_embd.bias"].astype(np.float32))],
             kernel_shape=[P, P], strides=[P, P])                       # [N, D, gh, gw]
    x = g.op("Transpose", [g.op("Reshape", [x, g.const(np.array([0, D, -1], np.int64))])], perm=[0, 2, 1])  # [N, T-1, D]
    cls = g.op("Expand", [g.const(t["cls_embd"].reshape(1, 1, D).astype(np.float32)),
                          g.op("Concat", [g.op("Slice", [g.op("Shape", [x]), g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))]),
                                          g.const(np.array([1, D], np.int64))], axis=0)])
    x = g.op("Concat", [cls, x], axis=1)
    x = g.op("Add", [x, g.const(t["pos_embd"].reshape(1, -1, D).astype(np.float32))])  # native size only
    for i in range(h["depth"]):
        b = f"blk.{i}."
        y = g.layer_norm(x, t[b + "attn_norm.weight"], t[b + "attn_norm.bias"], h["eps"])
        qkv = g.linear(y, t[b + "attn_qkv.weight"], t[b + "attn_qkv.bias"])          # [N, T, 3D]
        qkv = g.op("Transpose", [g.op("Reshape", [qkv, g.const(np.array([0, -1, 3, H, hd], np.int64))])], perm=[2, 0, 3, 1, 4])
        q, k, v = (g.op("Squeeze", [g.op("Slice", [qkv, g.const(np.array([j], np.int64)), g.const(np.array([j + 1], np.int64)),
                                                   g.const(np.array([0], np.int64))]), g.const(np.array([0], np.int64))])
                   for j in range(3))                                            # [N, H, T, hd]
        s = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), g.const(np.array(hd ** -0.5, np.float32))])
        a = g.op("MatMul", [g.op("Softmax", [s], axis=-1), v])                       # [N, H, T, hd]
        a = g.op("Reshape", [g.op("Transpose", [a], perm=[0, 2, 1, 3]), g.const(np.array([0, -1, D], np.int64))])
        x = g.op("Add", [x, g.linear(a, t[b + "attn_out.weight"], t[b + "attn_out.bias"])])
        y = g.layer_norm(x, t[b + "ffn_norm.weight"], t[b + "ffn_norm.bias"], h["eps"])
        y = g.linear(y, t[b + "ffn_up.weight"], t[b + "ffn_up.bias"])
        # exact GELU: 0.5 x (1 + erf(x / sqrt 2))
        y = g.op("Mul", [g.op("Mul", [y, g.const(np.array(0.5, np.float32))]),
                         g.op("Add", [g.op("Erf", [g.op("Div", [y, g.const(np.array(2 ** 0.5, np.float32))])]), g.const(np.array(1.0, np.float32))])])
        x = g.op("Add", [x, g.linear(y, t[b + "ffn_down.weight"], t[b + "ffn_down.bias"])])
    x = g.layer_norm(x, t["output_norm.weight"], t["output_norm.bias"], h["eps"])
    cls_out = g.op("Squeeze", [g.op("Slice", [x, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                                             g.const(np.array([1], np.int64))]), g.const(np.array([1], np.int64))])
    g.nodes.append(helper.make_node("Identity", [cls_out], ["cls"]))
    S = h["image"]
    graph = helper.make_graph(g.nodes, "dino", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, S, S])],
                              [helper.make_tensor_value_info("cls", TensorProto.FLOAT, ["N", D])], g.inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if int8 else [])
    return helper.make_model(graph, opset_imports=opsets, producer_name="dino-bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--heads", type=int)
    a = ap.parse_args()
    raw, config, _ = convert_gguf.read_checkpoint(a.checkpoint)
    t, kind = convert_gguf.rename(raw, a.checkpoint)
    h = convert_gguf.infer_hparams(t, a.checkpoint, config if kind == "hf" else None, a.heads)
    convert_gguf.check_tensors(t, h, a.checkpoint)
    os.makedirs(a.out, exist_ok=True)
    for int8, name in ((False, "dino-fp32.onnx"), (True, "dino-int8.onnx")):
        m = build(t, h, int8)
        if not int8:
            onnx.checker.check_model(m)
        onnx.save(m, os.path.join(a.out, name))
        print(f"make_onnx: wrote {os.path.join(a.out, name)}", file=sys.stderr)


if __name__ == "__main__":
    main()
