#!/usr/bin/env python3
"""The conversion experiment of docs/conversion.md: pretrain a full-precision teacher, convert it to
ternary with each initialiser, and measure validation loss right after initialisation and after
K = 5% and 10% of the teacher's steps, plain, with λ warm-up and with distillation; ternary from
scratch for the teacher's steps + K is the comparison.

    scripts/conversion_experiment.py OUT_DIR --teacher-steps 2000 [--set model.dim=512 ...]
                                     [--variants plain,warmup,distill] [--jobs 2]

Uses build/bin/ternary-train and ternary-calibrate on the bundled corpus with configs/llama_qat.yaml
plus the --set overrides (the shape). Every run lands in OUT_DIR/<name>/ and is skipped when it has
already finished, so an interrupted experiment continues where it stopped. Writes
OUT_DIR/results.json and prints the markdown table. Exit codes: 0 done, 1 a run failed (its log named).
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ["absmean", "gptq", "awq", "awq+gptq"]


def bin_path(name):
    return os.path.join(ROOT, "build", "bin", name)


def run(command, log_path):
    """Runs a command with stdout + stderr into log_path; returns stdout's last line."""
    with open(log_path, "w", encoding="utf-8") as log:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
                                env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed (exit {result.returncode}); see {log_path}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def last_val_loss(run_dir):
    losses = []
    path = os.path.join(run_dir, "metrics.jsonl")
    if os.path.isfile(path):
        for line in open(path, encoding="utf-8"):
            if '"val_loss"' in line:
                losses.append(json.loads(line))
    return losses


def warmup_applies(method):
    """λ warm-up mixes x + λ(q(x) − x) from the latent weights: the pretrained model only when the
    initialiser kept them (absmean; awq, whose scaling leaves the full-precision model unchanged).
    GPTQ's latent weights are its codes at one magnitude, so warm-up would start from that, not
    from the teacher: not run."""
    return "gptq" not in method


def finished(run_dir, steps):
    losses = last_val_loss(run_dir)
    return bool(losses) and losses[-1]["step"] == steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--teacher-steps", type=int, required=True)
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="a config override for every run")
    parser.add_argument("--variants", default="plain,warmup,distill")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--lr", default="1e-3", help="the conversion runs' learning rate")
    parser.add_argument("--calibration-sequences", default="128")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    parser.add_argument("--no-scratch", action="store_true", help="leave out the from-scratch comparison")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    T = args.teacher_steps
    ks = [max(1, T // 20), max(1, T // 10)]
    base = [bin_path("ternary-train"), "-c", "configs/llama_qat.yaml", "--set", "threads=1",
            "--set", "eval.sample_tokens=0", "--set", "checkpoint.keep_last=1"]
    for o in args.overrides:
        base += ["--set", o]

    def train(name, steps, extra):
        run_dir = os.path.join(out, name)
        if not finished(run_dir, steps):
            if os.path.isdir(run_dir):
                subprocess.run(["rm", "-rf", run_dir], check=True)
            command = base + ["--set", f"training.steps={steps}", "--set", f"output_dir={run_dir}"]
            for e in extra:
                command += ["--set", e]
            run(command, os.path.join(out, name + ".log"))
        return last_val_loss(run_dir)

    # 1. The teacher: full precision, evaluated every 5% of its steps.
    teacher = train("teacher", T, ["quantization.preset=none", f"eval.every={ks[0]}", f"checkpoint.every={T}"])
    teacher_dir = os.path.join(out, "teacher", "checkpoints", "best")
    teacher_loss = min(v["val_loss"] for v in teacher)

    methods = args.methods.split(",")
    variants = args.variants.split(",")
    statistics = os.path.join(out, "calibration_statistics")
    convert = ["init.from=checkpoint", f"init.path={teacher_dir}", f"init.calibration_statistics={statistics}",
               f"init.calibration_sequences={args.calibration_sequences}", f"optimizer.lr={args.lr}"]

    # 2. Step 0: each initialiser, no training. The first collects the statistics the rest reuse.
    step0 = {}
    for method in methods:
        name = f"init_{method}"
        command = [bin_path("ternary-calibrate"), "-c", "configs/llama_qat.yaml", "--method", method,
                   "--set", "threads=2", "--set", f"output_dir={os.path.join(out, name)}"]
        for o in args.overrides + convert:
            command += ["--set", o]
        line = run(command, os.path.join(out, name + ".log"))
        step0[method] = json.loads(line)["val_loss"]
        print(f"step 0 {method}: {step0[method]:.4f}", file=sys.stderr)

    # 3. Conversion runs and the from-scratch comparison, `jobs` at a time, longest first.
    jobs = [] if args.no_scratch else [("scratch", T + ks[1], [f"eval.every={ks[0]}", f"checkpoint.every={T + ks[1]}"])]
    for k in ks:
        for method in methods:
            for variant in variants:
                if variant == "warmup" and not warmup_applies(method):
                    continue
                extra = convert + [f"init.calibrate={method}", f"eval.every={k}", f"checkpoint.every={k}",
                                   f"schedule.warmup_steps={max(1, k // 10)}"]
                if variant == "warmup":
                    extra.append(f"quantization.warmup_steps={k // 2}")
                elif variant == "distill":
                    extra += [f"distillation.teacher={teacher_dir}"]
                elif variant != "plain":
                    parser.error(f"--variants: {variant} is not plain, warmup or distill")
                jobs.append((f"k{k}_{method}_{variant}", k, extra))
    jobs.sort(key=lambda j: -j[1])
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(train, *job): job[0] for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            results[name] = future.result()
            print(f"done {name}: {results[name][-1]['val_loss']:.4f}", file=sys.stderr)

    def at(losses, step):
        return next((v["val_loss"] for v in losses if v["step"] == step), float("nan"))

    summary = {"teacher_steps": T, "teacher_val_loss": teacher_loss, "k": ks, "step0": step0,
               "scratch": {} if args.no_scratch else {str(s): at(results["scratch"], s) for s in (T, T + ks[0], T + ks[1])},
               "runs": {name: losses[-1]["val_loss"] for name, losses in results.items() if name != "scratch"}}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)

    def cell(loss):
        return f"{loss:.4f} ({100 * (loss / teacher_loss - 1):+.1f}%)"

    print(f"teacher ({T} steps, full precision): val loss {teacher_loss:.4f}\n")
    header = "| initialiser | step 0 | " + " | ".join(f"K={k} {v}" for k in ks for v in variants) + " |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for method in methods:
        cells = [cell(summary["runs"][f"k{k}_{method}_{v}"]) if f"k{k}_{method}_{v}" in summary["runs"] else "—"
                 for k in ks for v in variants]
        print(f"| {method} | {cell(step0[method])} | " + " | ".join(cells) + " |")
    if summary["scratch"]:
        print("\n| ternary from scratch | " + " | ".join(f"{s} steps: {cell(v)}" for s, v in summary["scratch"].items()) + " |")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        print(f"conversion_experiment.py: error: {e}", file=sys.stderr)
        sys.exit(1)
