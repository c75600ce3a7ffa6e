#!/usr/bin/env python3
"""Makes everything the native tests read, into OUT (numpy only):

  synthetic checkpoints and inputs (make_synthetic.py), then GGUF files:
    vits8-dino-{f32,f16,q8_0,q4_0}.gguf   original layout, eps 1e-6
    vits8-hf-f32.gguf, vits8-hf-bin-f32.gguf  Hugging Face layout, eps 1e-12
    tiny-hf-f32.gguf, tiny-dino-{f32,q8_0,q4_0}.gguf

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
    for src, name, t, heads in jobs:
        dst = os.path.join(out, f"{name}-{t}.gguf")
        convert_gguf.convert(os.path.join(out, src), dst, t, name=name, heads=heads)
    print(f"make_test_data: {len(jobs)} GGUF files in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
