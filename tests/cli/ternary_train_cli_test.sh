#!/usr/bin/env bash
# ternary-train as a user meets it: --help/--version, --dump-config round trip, one-line errors
# with exit code 1, Ctrl-C writing a checkpoint (exit 130), and --resume finishing the run.
# Usage: ternary_train_cli_test.sh BUILD/bin/ternary-train SOURCE_DIR WORK_DIR
set -euo pipefail
train="$1"; src="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
source "$src/tests/cli/common.sh"

"$train" --help | grep -q -- "--dump-config" || fail "--help lists the options"
"$train" --version | grep -Eq '^ternary-train [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

# No config: usage error (2).
set +e; "$train" > out.txt 2> err.txt; rc=$?; set -e
[ "$rc" = 2 ] || fail "no --config exits 2, got $rc"

# --dump-config: defaults < file < --set, and the dump parses back to itself.
"$train" --config "$src/configs/llama_qat.yaml" --set optimizer.lr=5e-4 --dump-config > dumped.yaml
grep -q "lr: 5e-04$" dumped.yaml || fail "--set shows in --dump-config"
"$train" --config dumped.yaml --dump-config > dumped2.yaml
cmp -s dumped.yaml dumped2.yaml || fail "--dump-config output parses back to the same config"

# Bad input: one line on stderr naming file, line and key; exit 1; nothing created.
printf 'model:\n  dim: 64\n  n_head: 4\n' > bad.yaml
set +e; "$train" --config bad.yaml 2> err.txt; rc=$?; set -e
[ "$rc" = 1 ] || fail "bad key exits 1, got $rc"
[ "$(wc -l < err.txt)" = 1 ] || fail "one line of error, got: $(cat err.txt)"
grep -q "bad.yaml:3: unknown key 'n_head' in model" err.txt || fail "error names file:line:key: $(cat err.txt)"
set +e; "$train" --config missing.yaml 2> err.txt; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "missing.yaml: cannot open the config file" err.txt || fail "missing config: $(cat err.txt)"
set +e; "$train" --config "$src/configs/llama_qat.yaml" --set model.n_heads=3 2> err.txt; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "(--set): model.n_heads (3) must divide dim (" err.txt || fail "bad --set: $(cat err.txt)"
[ ! -e runs ] || fail "a rejected config must not create the output dir"

# Ctrl-C: a checkpoint at the current step, exit 130; --resume finishes the run.
small=(--config "$src/configs/llama_qat.yaml" --set output_dir=run --set training.steps=400
       --set data.text_files="[$src/data/tinyshakespeare.txt]" --set eval.every=0 --set eval.sample_tokens=0
       --set model.dim=32 --set model.ffn_dim=64 --set model.n_layers=1)
"$train" "${small[@]}" > train.log 2>&1 &
pid=$!
wait_for_records run 3
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 130 ] || fail "Ctrl-C exits 130, got $rc: $(tail -3 train.log)"
grep -q "continue with --resume run" train.log || fail "Ctrl-C says how to resume: $(tail -3 train.log)"
ls -d run/checkpoints/step_* > /dev/null || fail "Ctrl-C writes a checkpoint"
ls -a run/checkpoints | grep -q '\.tmp$' && fail "no temporary checkpoint left behind"
"$train" --resume run > resume.log 2>&1 || fail "resume: $(tail -3 resume.log)"
grep -q "done: 400 steps" resume.log || fail "resume finishes the run: $(tail -3 resume.log)"
[ "$(grep -c '"loss"' run/metrics.jsonl)" = 400 ] || fail "metrics.jsonl has one record per step after resume"
"$train" --resume run > again.log 2>&1 || fail "resuming a finished run: $(tail -3 again.log)"
grep -q "already finished at step 400" again.log || fail "resuming a finished run says so: $(tail -3 again.log)"

# A directory where a file belongs; threads beyond the machine; an unknown flag (usage, exit 2).
set +e; "$train" --config "$src/configs" 2> err.txt; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "configs: is a directory; give the config file itself" err.txt || fail "--config DIR: $(cat err.txt)"
set +e; "$train" --config "$src/configs/llama_qat.yaml" --set threads=100000 --dump-config 2> err.txt; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "threads: must be at most" err.txt || fail "threads: 100000: $(cat err.txt)"
set +e; "$train" --bogus 2> err.txt; rc=$?; set -e
[ "$rc" = 2 ] && [ "$(wc -l < err.txt)" = 1 ] || fail "an unknown flag is a one-line usage error: $rc $(cat err.txt)"
echo "ternary-train CLI: all checks passed"
