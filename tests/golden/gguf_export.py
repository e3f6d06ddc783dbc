"""Golden data for tests/export/gguf_export_test.cpp from the `gguf` Python package (llama.cpp's
own reader, pip install gguf==0.19.0): what an independent reader sees in GGUF files written by
ternary-export from a deterministic tiny model.

Regenerate:
    TERNARY_GOLDEN_OUT=/tmp/golden build/tests/ternary_tests --gtest_filter=GgufExport.AnIndependentReaderSeesTheSameFile
    python tests/golden/gguf_export.py /tmp/golden > tests/golden/gguf_export.json
(the test fails while the JSON is stale; it still writes the files first).
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, quants

SKIP = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "GGUF.")


def describe(path):
    reader = GGUFReader(path)
    metadata = {}
    for key, field in reader.fields.items():
        if key.startswith(SKIP) or key.startswith("ternary.scale."):
            continue
        value = field.contents()
        if isinstance(value, (str, bool, int, float)):
            metadata[key] = value
    tensors = [{"name": t.name, "type": t.tensor_type.name, "shape": [int(d) for d in t.shape],
                "n_bytes": int(t.n_bytes)} for t in reader.tensors]
    attn_v = next(t for t in reader.tensors if t.name == "blk.0.attn_v.weight")
    values = quants.dequantize(attn_v.data, attn_v.tensor_type).astype(np.float32).reshape(-1)
    return {"metadata": metadata, "tensors": tensors, "kv_count": len(reader.fields),
            "attn_v_first_512": [float(v) for v in values[:512]],
            "attn_v_abs_sum": float(np.abs(values.astype(np.float64)).sum()),
            "tokens": len(reader.fields["tokenizer.ggml.tokens"].data)}


def q8_0_matrices(path, f32_path):
    """A file exported with --output-type q8_0: its Q8_0 token_embd must be, byte for byte, what
    gguf's own Q8_0 quantizer (ggml's reference) makes of the F32 export's token_embd."""
    ours = next(t for t in GGUFReader(path).tensors if t.name == "token_embd.weight")
    f32 = next(t for t in GGUFReader(f32_path).tensors if t.name == "token_embd.weight")
    theirs = quants.quantize(np.asarray(f32.data, dtype=np.float32), GGMLQuantizationType.Q8_0)
    values = quants.dequantize(ours.data, ours.tensor_type).astype(np.float32).reshape(-1)
    return {"token_embd_type": ours.tensor_type.name,
            "token_embd_equals_gguf_quantize": bool(np.array_equal(np.asarray(ours.data).reshape(-1).view(np.uint8),
                                                                    np.asarray(theirs).reshape(-1).view(np.uint8))),
            "token_embd_first_512": [float(v) for v in values[:512]]}


directory = sys.argv[1]
golden = {t: describe(f"{directory}/tiny_{t}.gguf") for t in ("tq2_0", "tq1_0", "tq2_0_q8_0")}
golden["tq2_0_q8_0"].update(q8_0_matrices(f"{directory}/tiny_tq2_0_q8_0.gguf", f"{directory}/tiny_tq2_0.gguf"))
print(json.dumps(golden, indent=1))
