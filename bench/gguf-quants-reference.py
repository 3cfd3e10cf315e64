"""NumPy reference for bench/gguf-quants.ts: ggml block dequantization written independently from
the GGUF block layouts, vectorized. Usage: gguf-quants-reference.py TYPE IN OUT RUNS
Reads raw blocks from IN, writes float32 values to OUT, prints {"ms": median milliseconds}."""
import json
import sys
import time

import numpy as np


def halves(blk, at):
    return blk[:, at:at + 2].copy().view(np.float16).astype(np.float32)  # (nb, 1)


def q8_0(b):
    blk = b.reshape(-1, 34)
    return (halves(blk, 0) * blk[:, 2:].view(np.int8).astype(np.float32)).reshape(-1)


def q4_0(b):
    blk = b.reshape(-1, 18)
    qs = blk[:, 2:]
    q = np.concatenate([(qs & 0xF).astype(np.float32) - 8, (qs >> 4).astype(np.float32) - 8], axis=1)
    return (halves(blk, 0) * q).reshape(-1)


def scales_mins(s):
    sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)], axis=1)
    m = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], axis=1)
    return sc.astype(np.float32), m.astype(np.float32)


def nibbles(qs):
    g = qs.reshape(-1, 4, 32)
    return np.stack([g & 0xF, g >> 4], axis=2).reshape(-1, 8, 32)  # sub-block 2j low, 2j+1 high


def q4_k(b):
    blk = b.reshape(-1, 144)
    sc, m = scales_mins(blk[:, 4:16])
    q = nibbles(blk[:, 16:]).astype(np.float32)
    y = (halves(blk, 0) * sc)[:, :, None] * q - (halves(blk, 2) * m)[:, :, None]
    return y.reshape(-1)


def q5_k(b):
    blk = b.reshape(-1, 176)
    sc, m = scales_mins(blk[:, 4:16])
    qh = blk[:, 16:48]
    high = ((qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1) * 16
    q = (nibbles(blk[:, 48:]) + high).astype(np.float32)
    y = (halves(blk, 0) * sc)[:, :, None] * q - (halves(blk, 2) * m)[:, :, None]
    return y.reshape(-1)


def q6_k(b):
    blk = b.reshape(-1, 210)
    ql = blk[:, 0:128].reshape(-1, 2, 2, 32)
    qh = blk[:, 128:192].reshape(-1, 2, 32)
    low = np.stack([ql[:, :, 0] & 0xF, ql[:, :, 1] & 0xF, ql[:, :, 0] >> 4, ql[:, :, 1] >> 4], axis=2)
    high = np.stack([(qh >> (2 * k)) & 3 for k in range(4)], axis=2)
    q = ((low | (high << 4)).astype(np.float32) - 32).reshape(-1, 256)
    sc = np.repeat(blk[:, 192:208].view(np.int8).astype(np.float32), 16, axis=1)
    return ((halves(blk, 208) * sc) * q).reshape(-1)


FUNCS = {"Q8_0": q8_0, "Q4_0": q4_0, "Q4_K": q4_k, "Q5_K": q5_k, "Q6_K": q6_k}

if __name__ == "__main__":
    kind, src, dst, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    data = np.fromfile(src, dtype=np.uint8)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = FUNCS[kind](data)
        times.append((time.perf_counter() - t) * 1000)
    out.astype(np.float32).tofile(dst)
    print(json.dumps({"ms": sorted(times)[len(times) // 2]}))
