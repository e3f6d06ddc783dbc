#!/usr/bin/env python3
"""ternary-run against llama.cpp on the same GGUF file, in one sitting: decode and prompt
(prefill) tokens/s at each thread count, and the ratio. Prints one JSON object per case, then a
markdown table (docs/benchmarks.md has the measured one).

llama.cpp is the copy in llama-cpp-python (built from source by pip, for this machine: GGML_NATIVE),
at its best settings here: n_threads and n_threads_batch = the thread count, the whole prompt in
one batch, memory-mapped weights. Both engines see the same token count; each case is the median
of --repeats runs after a warm-up.

  python3 -m venv /tmp/golden && /tmp/golden/bin/pip install llama-cpp-python==0.3.36 numpy
  build/bin/ternary-export --random configs/llama_qat.yaml --set model.dim=2048 --set model.n_layers=22 \\
      --set model.n_heads=32 --set model.n_kv_heads=4 --set model.ffn_dim=5632 --set model.vocab_size=32000 \\
      --set model.max_seq_len=2048 --output-type q8_0 --out /tmp/1b.gguf
  /tmp/golden/bin/python bench/llama_cpp_compare.py --model /tmp/1b.gguf --ternary-run build/bin/ternary-run
"""
import argparse
import json
import re
import statistics
import subprocess
import time

import numpy as np
from llama_cpp import Llama

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--ternary-run", required=True)
parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
parser.add_argument("--prompt-tokens", type=int, default=256)
parser.add_argument("--decode-tokens", type=int, default=64)
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()

PROMPT = "".join(chr(32 + i % 90) for i in range(args.prompt_tokens))  # one token per byte for ternary-run


def llama_cpp_rates(threads):
    llm = Llama(model_path=args.model, n_ctx=args.prompt_tokens + args.decode_tokens + 16,
                n_batch=args.prompt_tokens, n_ubatch=args.prompt_tokens, n_threads=threads,
                n_threads_batch=threads, verbose=False)
    prompt = [(32 + i % 90) for i in range(args.prompt_tokens)]
    prefill, decode = [], []
    for r in range(args.repeats + 1):  # the first round warms up
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt)
        prefill.append(args.prompt_tokens / (time.perf_counter() - start))
        llm.reset()
        llm.eval(prompt[:8])
        start = time.perf_counter()
        for _ in range(args.decode_tokens):
            llm.eval([int(np.argmax(llm.scores[llm.n_tokens - 1]))])
        decode.append(args.decode_tokens / (time.perf_counter() - start))
    return statistics.median(prefill[1:]), statistics.median(decode[1:])


def ternary_run_rates(threads):
    prefill, decode = [], []
    for r in range(args.repeats + 1):
        out = subprocess.run([args.ternary_run, "--model", args.model, "--prompt", PROMPT, "-n", str(args.decode_tokens),
                              "--temperature", "0", "--threads", str(threads)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True).stderr
        m = re.search(r"prompt: (\d+) tokens in \S+ s, (\S+) tokens/s; generation: \d+ tokens in \S+ s, (\S+) tokens/s",
                      out)
        assert m and int(m.group(1)) == args.prompt_tokens, out
        prefill.append(float(m.group(2)))
        decode.append(float(m.group(3)))
    return statistics.median(prefill[1:]), statistics.median(decode[1:])


rows = []
for threads in args.threads:
    ours = ternary_run_rates(threads)
    theirs = llama_cpp_rates(threads)
    for phase, index in (("decode", 1), ("prefill", 0)):
        case = {"bench": "llama_cpp_compare", "model": args.model, "threads": threads, "phase": phase,
                "tokens": args.decode_tokens if phase == "decode" else args.prompt_tokens,
                "tokens_per_s": round(ours[index], 2), "baseline": "llama.cpp (llama-cpp-python 0.3.36)",
                "baseline_tokens_per_s": round(theirs[index], 2), "ratio": round(ours[index] / theirs[index], 2),
                "repeats": args.repeats}
        print(json.dumps(case), flush=True)
        rows.append(case)
print("\n| threads | phase | ternary-run tokens/s | llama.cpp tokens/s | ratio |\n|---|---|---|---|---|")
for c in rows:
    print(f"| {c['threads']} | {c['phase']} | {c['tokens_per_s']} | {c['baseline_tokens_per_s']} | {c['ratio']} |")
