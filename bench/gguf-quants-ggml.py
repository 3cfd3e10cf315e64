"""llama.cpp's own reference quantizers timed for bench/gguf-quants.ts: calls quantize_row_<type>_ref
in the libggml-base.so that node-llama-cpp ships, through ctypes, on the float32 values in IN.
Usage: gguf-quants-ggml.py LIBGGML_BASE TYPE IN RUNS. Prints {"ms": median milliseconds}."""
import ctypes
import json
import sys
import time

import numpy as np

lib_path, dtype, src, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x = np.fromfile(src, dtype=np.float32)
lib = ctypes.CDLL(lib_path)
fn = getattr(lib, "quantize_row_" + dtype.lower().replace("_k", "_K") + "_ref")
fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
out = ctypes.create_string_buffer(x.size * 2)
ms = []
for _ in range(runs):
    t = time.perf_counter()
    fn(x.ctypes.data, out, x.size)
    ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ms": sorted(ms)[len(ms) // 2]}))
