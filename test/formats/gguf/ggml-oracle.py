"""llama.cpp's own quantizers and dequantizers, called through ctypes from the libggml-base shared
library that node-llama-cpp ships, so cogen's codecs can be compared with the real thing.

usage: ggml-oracle.py LIBGGML_BASE quantize|dequantize TYPE IN OUT COUNT
  quantize:   IN holds COUNT float32s; OUT gets quantize_row_<type>_ref's bytes
  dequantize: IN holds the bytes of COUNT elements; OUT gets dequantize_row_<type>'s float32s
"""
import ctypes
import sys

lib_path, op, dtype, src, dst, count = sys.argv[1:7]
count = int(count)
lib = ctypes.CDLL(lib_path)
name = dtype.lower().replace("_k", "_K")
with open(src, "rb") as f:
    data = f.read()
if op == "quantize":
    fn = getattr(lib, f"quantize_row_{name}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    src_buf = ctypes.create_string_buffer(data, len(data))
    out = ctypes.create_string_buffer(count * 4)  # larger than any quantized size
    fn(src_buf, out, count)
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    type_code = {"q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q2_K": 10, "q3_K": 11, "q4_K": 12,
                 "q5_K": 13, "q6_K": 14, "iq4_nl": 20, "iq4_xs": 23}[name]
    size = lib.ggml_row_size(type_code, count)
    result = out.raw[:size]
else:
    fn = getattr(lib, f"dequantize_row_{name}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    src_buf = ctypes.create_string_buffer(data, len(data))
    out = ctypes.create_string_buffer(count * 4)
    fn(src_buf, out, count)
    result = out.raw
with open(dst, "wb") as f:
    f.write(result)
