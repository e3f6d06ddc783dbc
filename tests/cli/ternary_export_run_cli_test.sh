#!/usr/bin/env bash
# ternary-export and ternary-run as a user meets them: train a tiny model, export TQ2_0 and TQ1_0,
# generate and measure perplexity; bad inputs are one-line errors with exit code 1.
# Usage: ternary_export_run_cli_test.sh BUILD/bin SOURCE_DIR WORK_DIR
set -euo pipefail
bin="$1"; src="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
source "$src/tests/cli/common.sh"

"$bin/ternary-train" --config "$src/configs/llama_qat.yaml" --set output_dir=run --set training.steps=3 \
  --set data.text_files="[$src/data/tinyshakespeare.txt]" --set model.n_layers=1 --set eval.sample_tokens=0 \
  --set training.seq_len=32 --set model.max_seq_len=64 > train.log 2>&1 || fail "training: $(tail -2 train.log)"

"$bin/ternary-export" --checkpoint run --out model.gguf > export.log || fail "export: $(cat export.log)"
grep -q "ternary (tq2_0)" export.log || fail "export reports what it wrote: $(cat export.log)"
"$bin/ternary-export" --checkpoint run --out model_tq1.gguf --type tq1_0 > /dev/null || fail "tq1_0 export"
[ "$(stat -c %s model_tq1.gguf)" -lt "$(stat -c %s model.gguf)" ] || fail "TQ1_0 is smaller than TQ2_0"
"$bin/ternary-export" --checkpoint run --out model_q8.gguf --output-type q8_0 > export_q8.log || fail "q8_0 export"
grep -q "full-precision (q8_0)" export_q8.log || fail "export reports the matrix type: $(cat export_q8.log)"
[ "$(stat -c %s model_q8.gguf)" -lt "$(stat -c %s model.gguf)" ] || fail "Q8_0 matrices are smaller than F32"
"$bin/ternary-run" --model model_q8.gguf --prompt "ROMEO:" -n 20 > /dev/null 2>&1 || fail "a q8_0 file runs"
"$bin/ternary-export" --random "$src/configs/llama_qat.yaml" --set model.vocab_size=1000 --set model.n_layers=1 \
  --output-type q8_0 --seed 3 --out random.gguf > random.log || fail "--random: $(cat random.log)"
grep -q "random weights (seed 3)" random.log || fail "--random reports what it wrote: $(cat random.log)"
"$bin/ternary-run" --model random.gguf --prompt "ROMEO:" -n 5 > /dev/null 2>&1 || fail "a random model runs"

"$bin/ternary-run" --model model.gguf --prompt "ROMEO:" -n 20 --seed 3 > out.txt 2> err.txt || fail "run: $(cat err.txt)"
head -c 6 out.txt | grep -q "ROMEO:" || fail "the output continues the prompt"
grep -q "tokens/s" err.txt || fail "run reports its speed"
"$bin/ternary-run" --model model_tq1.gguf --prompt "ROMEO:" -n 20 --seed 3 > out_tq1.txt 2> /dev/null
cmp -s out.txt out_tq1.txt || fail "TQ1_0 and TQ2_0 files generate the same text"
"$bin/ternary-run" --model model.gguf --prompt "ROMEO:" -n 20 --temperature 0 > greedy1.txt 2> /dev/null
"$bin/ternary-run" --model model.gguf --prompt "ROMEO:" -n 20 --temperature 0 --threads 1 > greedy2.txt 2> /dev/null
cmp -s greedy1.txt greedy2.txt || fail "greedy output does not depend on the thread count"
head -c 20000 "$src/data/tinyshakespeare.txt" > text.txt
"$bin/ternary-run" --model model.gguf --perplexity text.txt | grep -q "^perplexity " || fail "--perplexity"

# Bad input: one short line naming the problem, exit 1 (bad input) or 2 (usage), never a crash.
expect_exit() {  # expect_exit CODE "message part" command...
  local code="$1" want="$2"; shift 2
  set +e; "$@" > /dev/null 2> err.txt; local rc=$?; set -e
  [ "$rc" = "$code" ] || fail "$* should exit $code, got $rc: $(cat err.txt)"
  [ "$(wc -l < err.txt)" = 1 ] || fail "$* should print one line: $(cat err.txt)"
  grep -q -- "$want" err.txt || fail "$*: expected '$want' in: $(cat err.txt)"
  [ "$(wc -c < err.txt)" -lt 400 ] || fail "$*: the message is too long: $(cat err.txt)"
}
expect_error() { expect_exit 1 "$@"; }
expect_usage() { expect_exit 2 "$@"; }
expect_error "cannot open the model file" "$bin/ternary-run" --model missing.gguf --prompt x
head -c 5000 model.gguf > truncated.gguf
expect_error "truncated" "$bin/ternary-run" --model truncated.gguf --prompt x
printf 'GGML0000000000000000000000' > bad.gguf
expect_error "not a GGUF file" "$bin/ternary-run" --model bad.gguf --prompt x
# --device cuda: the same greedy text where a GPU and a CUDA build are present, else one clear line.
set +e; "$bin/ternary-run" --model model.gguf --prompt "ROMEO:" -n 20 --temperature 0 --device cuda > greedy_cuda.txt 2> err.txt
rc=$?; set -e
if [ "$rc" = 0 ]; then
  cmp -s greedy1.txt greedy_cuda.txt || fail "--device cuda greedy text differs from the CPU's"
else
  [ "$rc" = 1 ] && [ "$(wc -l < err.txt)" = 1 ] && grep -q -- "--device cuda: .*--device cpu" err.txt ||
    fail "--device cuda without a usable GPU: $(cat err.txt)"
fi
mkdir -p notacheckpoint
expect_usage "--output-type" "$bin/ternary-export" --checkpoint run --out y.gguf --output-type q4_0
expect_usage "excludes" "$bin/ternary-export" --checkpoint run --random "$src/configs/llama_qat.yaml" --out y.gguf
expect_usage "give --checkpoint DIR" "$bin/ternary-export" --out y.gguf
expect_usage "requires --random" "$bin/ternary-export" --checkpoint run --set model.dim=512 --out y.gguf
expect_error "--checkpoint notacheckpoint: no checkpoint there" "$bin/ternary-export" --checkpoint notacheckpoint --out x.gguf
[ ! -e x.gguf ] || fail "a failed export writes nothing"
long_prompt="$(head -c 200 "$src/data/tinyshakespeare.txt")"
expect_error "shorten the prompt" "$bin/ternary-run" --model model.gguf --prompt "$long_prompt"

# Usage errors: one line naming the option, exit 2 (not CLI11's 104-109), never a 300-digit range.
expect_usage "-n" "$bin/ternary-run" --model model.gguf --prompt x -n -1
expect_usage "--threads" "$bin/ternary-run" --model model.gguf --prompt x --threads 100000
expect_usage "--threads" "$bin/ternary-run" --model model.gguf --prompt x --threads 0
expect_usage "--temperature" "$bin/ternary-run" --model model.gguf --prompt x --temperature -1
expect_usage "--window" "$bin/ternary-run" --model model.gguf --perplexity text.txt --window 0
expect_usage "-n" "$bin/ternary-run" --model model.gguf --prompt x -n 99999999999999999999
expect_usage "--bogus" "$bin/ternary-run" --model model.gguf --prompt x --bogus
expect_usage "is a directory" "$bin/ternary-export" --checkpoint run --out notacheckpoint
[ -z "$(ls -A notacheckpoint)" ] || fail "--out DIR leaves nothing behind: $(ls -A notacheckpoint)"
ls -a | grep -q 'tmp' && fail "no temporary file left behind: $(ls -a)"
echo "ternary-export / ternary-run CLI: all checks passed"
