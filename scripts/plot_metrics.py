#!/usr/bin/env python3
"""Draws train and validation loss of one or more ternary-train runs against steps or tokens.

    scripts/plot_metrics.py RUN_DIR [RUN_DIR ...] --out curves.png [--x tokens] [--labels a,b]
                            [--hline 1.48:teacher] [--title TEXT] [--smooth 25] [--val-only]

Each RUN_DIR holds the metrics.jsonl that ternary-train writes; tokens per step come from the
run's resolved config (RUN_DIR/config.yaml, or its newest checkpoint's). Needs matplotlib
(`python3 -m venv /tmp/plot && /tmp/plot/bin/pip install matplotlib`). Exit codes: 0 written,
1 a run could not be read (one line on stderr), 2 usage.
"""
import argparse
import json
import os
import re
import sys


def fail(message):
    print(f"plot_metrics.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def read_metrics(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        fail(f"{path} does not exist; give the output_dir of a ternary-train run")
    train, val = [], []
    with open(path, encoding="utf-8") as f:
        rows = f.read().split("\n")
    for number, line in enumerate(rows, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(rows):
                break  # a run stopped mid-write leaves a partial last line
            fail(f"{path}: line {number} is not JSON")
        if "val_loss" in row:
            val.append((row["step"], row["val_loss"]))
        elif "loss" in row:
            train.append((row["step"], row["loss"]))
    if not train and not val:
        fail(f"{path} holds no loss rows")
    return train, val


def tokens_per_step(run_dir):
    """batch_size x seq_len x grad_accum from the resolved config (the top-level keys of training)."""
    candidates = [os.path.join(run_dir, "config.yaml")]
    checkpoints = os.path.join(run_dir, "checkpoints")
    if os.path.isdir(checkpoints):
        candidates += [os.path.join(checkpoints, d, "config.yaml") for d in sorted(os.listdir(checkpoints), reverse=True)]
    for path in candidates:
        if os.path.isfile(path):
            text = open(path, encoding="utf-8").read()
            section = re.search(r"^training:\n((?:[ ].*\n)+)", text, re.M)
            if not section:
                continue
            values = dict(re.findall(r"^\s+(batch_size|seq_len|grad_accum):\s*(\d+)", section.group(1), re.M))
            if {"batch_size", "seq_len"} <= values.keys():
                return int(values["batch_size"]) * int(values["seq_len"]) * int(values.get("grad_accum", 1))
    fail(f"{run_dir}: no config.yaml with training.batch_size and seq_len to count tokens; use --x steps")


def smoothed(values, window):
    if window <= 1:
        return values
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--x", choices=["steps", "tokens"], default="steps")
    parser.add_argument("--labels", help="comma-separated legend names, one per run (default: the directory names)")
    parser.add_argument("--hline", action="append", default=[], metavar="VALUE:LABEL",
                        help="a horizontal reference line, e.g. the teacher's val loss (repeatable)")
    parser.add_argument("--title", default="")
    parser.add_argument("--smooth", type=int, default=25, help="moving-average window of the train loss, in steps")
    parser.add_argument("--val-only", action="store_true", help="draw validation loss only")
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else [os.path.basename(os.path.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        parser.error(f"--labels names {len(labels)} runs but {len(args.runs)} were given")
    lines = []
    for spec in args.hline:
        value, _, label = spec.partition(":")
        try:
            lines.append((float(value), label))
        except ValueError:
            parser.error(f"--hline {spec}: give VALUE:LABEL, e.g. 1.48:teacher")

    data = [(read_metrics(run), tokens_per_step(run) if args.x == "tokens" else 1) for run in args.runs]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is not installed: python3 -m venv /tmp/plot && /tmp/plot/bin/pip install matplotlib")

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for index, (((train, val), scale), label) in enumerate(zip(data, labels)):
        color = f"C{index % 10}"
        if train and not args.val_only:
            steps, losses = zip(*train)
            axes.plot([s * scale for s in steps], smoothed(list(losses), args.smooth), color=color, alpha=0.35,
                      linewidth=1)
        if val:
            steps, losses = zip(*val)
            axes.plot([s * scale for s in steps], losses, color=color, marker="o", markersize=3, linewidth=1.6,
                      label=f"{label} (val)")
        elif train:
            axes.plot([], [], color=color, label=f"{label} (train)")
    for value, label in lines:
        axes.axhline(value, color="black", linestyle="--", linewidth=1, label=label or None)
    axes.set_xlabel("tokens" if args.x == "tokens" else "step")
    axes.set_ylabel("loss (nats/token)")
    if args.title:
        axes.set_title(args.title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    temporary = args.out + ".tmp.png"
    figure.savefig(temporary)
    os.replace(temporary, args.out)  # a reader never sees half a PNG
    print(args.out)


if __name__ == "__main__":
    main()
