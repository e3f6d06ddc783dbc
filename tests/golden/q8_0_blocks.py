"""Golden data for tests/kernels/dense_gemm_test.cpp from the `gguf` Python package (llama.cpp's
own Q8_0 quantizer, bit-exact with ggml-quants.c; pip install gguf==0.19.0): float32 inputs and
the Q8_0 blocks gguf makes of them, including the edge cases (an all-zero block, halves that
round away from zero, a lone maximum, subnormal and huge values).

Regenerate:
    python tests/golden/q8_0_blocks.py > tests/golden/q8_0_blocks.bin
Layout: uint32 n, then n float32 inputs, then n / 32 blocks of 34 bytes.
"""
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType, quants

rng = np.random.default_rng(20261201)
blocks = [
    np.zeros(32),                                          # d = 0: all codes 0
    np.concatenate([[127.0], np.arange(31) - 15 + 0.5]),   # d = 1: exact halves
    np.concatenate([[-127.0], -(np.arange(31) + 0.5)]),
    np.concatenate([[1e-3], np.zeros(31)]),                # one value
    rng.normal(size=32) * 1e-6,                            # fp16 d subnormal
    rng.normal(size=32) * 3e4,                             # large
]
blocks += [rng.normal(size=32) * scale for scale in np.geomspace(1e-3, 1e2, 58)]
x = np.concatenate(blocks).astype(np.float32)
q = quants.quantize(x, GGMLQuantizationType.Q8_0)
sys.stdout.buffer.write(struct.pack("<I", x.size) + x.tobytes() + np.asarray(q, dtype=np.uint8).tobytes())
