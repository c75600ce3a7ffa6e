#!/usr/bin/python3
"""One linear layer as ONNX Runtime runs it after quantize_dynamic, for bench/arm64/count.sh:

    /usr/bin/python3 bench/arm64/make_linear_onnx.py OUT.onnx K N

One com.microsoft DynamicQuantizeMatMul node, Y = A B + bias: A float32 [ROWS, K] (any ROWS; quantized to
uint8 per tensor at run time), B int8 [K, N] with a float32 scale per output column (symmetric, zero point
0), bias float32 [N]; the node bench/make_onnx.py writes for each of the model's linear layers. Weights are
random (fixed seed): instruction counts do not depend on them. Needs numpy and Debian's python3-onnx.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    scale = np.abs(w).max(axis=0) / 127.0
    b = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    inits = [
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array(scale.astype(np.float32), "b_scale"),
        numpy_helper.from_array(np.zeros(n, np.int8), "b_zero_point"),
        numpy_helper.from_array((rng.standard_normal(n) * 0.01).astype(np.float32), "bias"),
    ]
    node = helper.make_node("DynamicQuantizeMatMul", ["A", "B", "b_scale", "b_zero_point", "bias"], ["Y"], domain="com.microsoft")
    graph = helper.make_graph([node], "linear",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["rows", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["rows", n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="dino bench/arm64")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
