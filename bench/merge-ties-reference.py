"""TIES as mergekit runs it (PyTorch on the CPU): task vectors, magnitude sparsification with a
full argsort of |d| (mergekit/sparsify.py `magnitude`), sign election by the weighted sum
(`get_mask`, method "sum"), disjoint mean normalized by the agreeing weights, added to the base.
Written for cogen's bench from mergekit's documented algorithm.

usage: merge-ties-reference.py DIR ROWS COLS MODELS DENSITY RUNS
reads DIR/base.f32, DIR/m{i}.f32; writes DIR/ref-out.f32; prints {"ms": median, "impl": ...}
"""
import json
import statistics
import sys
import time

import numpy as np
import torch


def magnitude(tensor, density):
    k = int(density * tensor.numel())
    mask = torch.zeros_like(tensor)
    w = tensor.abs().view(-1)
    topk = torch.argsort(w, descending=True)[:k]
    mask.view(-1)[topk] = 1
    return tensor * mask


def ties(base, models, weights, density):
    deltas = torch.stack([magnitude(m - base, density) for m in models], dim=0)
    w = torch.tensor(weights, dtype=deltas.dtype).view(-1, 1, 1)
    weighted = deltas * w
    sign = weighted.sign()
    majority = (weighted.sum(dim=0) >= 0).to(deltas.dtype) * 2 - 1
    mask = sign == majority
    mixed = (weighted * mask).sum(dim=0)
    divisor = (w * mask).sum(dim=0)
    divisor[divisor == 0] = 1
    mixed /= divisor
    return base + mixed


def main():
    d, rows, cols, count, density, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    load = lambda name: torch.from_numpy(np.fromfile(f"{d}/{name}.f32", dtype=np.float32).reshape(rows, cols))
    base = load("base")
    models = [load(f"m{i}") for i in range(count)]
    weights = [1.0 / count] * count
    times = []
    out = None
    for _ in range(runs):
        t = time.perf_counter()
        out = ties(base, models, weights, density)
        times.append((time.perf_counter() - t) * 1000)
    out.numpy().tofile(f"{d}/ref-out.f32")
    print(json.dumps({"ms": statistics.median(times), "impl": f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"}))


main()
