"""llama.cpp's own quantizers and dequantizers, called through ctypes from the libggml-base shared
library that node-llama-cpp ships, so cogen's codecs can be compared with the real thing.

usage: ggml-oracle.py LIBGGML_BASE quantize|dequantize TYPE IN OUT COUNT
  quantize:   IN holds COUNT float32s; OUT gets quantize_row_<type>_ref's bytes
  dequantize: IN holds the bytes of COUNT elements; OUT gets dequantize_row_<type>'s float32s
usage: ggml-oracle.py LIBLLAMA model FTYPE IN.gguf OUT.gguf
  model:      llama_model_quantize (what llama-quantize runs), single-threaded, FTYPE a
              llama_ftype code (15 = Q4_K_M)
"""
import ctypes
import sys

if sys.argv[2] == "model":
    lib_path, _, ftype, src, dst = sys.argv[1:6]
    lib = ctypes.CDLL(lib_path)

    class Params(ctypes.Structure):
        # nthread and ftype lead the struct; the padding covers the rest of it (whatever the version).
        _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int32), ("rest", ctypes.c_uint8 * 1024)]

    lib.llama_model_quantize_default_params.restype = Params
    lib.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Params)]
    lib.llama_model_quantize.restype = ctypes.c_uint32
    lib.llama_backend_init()
    params = lib.llama_model_quantize_default_params()
    params.nthread = 1
    params.ftype = int(ftype)
    sys.exit(lib.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params)))

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
