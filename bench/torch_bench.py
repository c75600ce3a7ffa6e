#!/usr/bin/python3
"""PyTorch peer for bench/: times our reference implementation (tests/reference/make_reference.py's
dino_forward, plain torch ops) on a .pth.  Prints one JSON line per (batch, threads).

    /usr/bin/python3 bench/torch_bench.py CHECKPOINT.pth --batch 1 8 --threads 1 2 --runs 5
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests", "reference"))
from make_reference import dino_forward  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--heads", type=int, default=6)
    a = ap.parse_args()
    sd = torch.load(a.checkpoint)
    for threads in a.threads:
        torch.set_num_threads(threads)
        for batch in a.batch:
            x = torch.linspace(-1, 1, batch * 3 * 224 * 224).reshape(batch, 3, 224, 224)
            with torch.no_grad():
                dino_forward(sd, x, a.heads)  # warm-up
                times = []
                for _ in range(a.runs):
                    t = time.perf_counter()
                    dino_forward(sd, x, a.heads)
                    times.append((time.perf_counter() - t) * 1000 / batch)
            print(json.dumps({"batch": batch, "threads": threads, "median": statistics.median(times),
                              "min": min(times), "max": max(times)}), flush=True)


if __name__ == "__main__":
    main()
