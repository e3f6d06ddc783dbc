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
from gguf import GGUFReader, quants

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


directory = sys.argv[1]
print(json.dumps({t: describe(f"{directory}/tiny_{t}.gguf") for t in ("tq2_0", "tq1_0")}, indent=1))
