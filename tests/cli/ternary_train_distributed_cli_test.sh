#!/usr/bin/env bash
# Multi-process ternary-train as a user meets it, on loopback only: --nproc with one log and one
# metrics.jsonl; Ctrl-C (to the launcher, or to one rank) stopping every rank at one step with one
# checkpoint (exit 130) and --resume;
# kill -9 of a rank ending the others with one clear line and no half-written checkpoint; and
# each rendezvous mistake (port in use, unreachable MASTER_ADDR:PORT, WORLD_SIZE or the config
# differing, RANK out of range, --nproc under torchrun) as one line naming the variable, exit 1.
# Usage: ternary_train_distributed_cli_test.sh BUILD/bin/ternary-train SOURCE_DIR WORK_DIR
set -euo pipefail
train="$1"; src="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
source "$src/tests/cli/common.sh"
export OMP_WAIT_POLICY=PASSIVE
unset RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE MASTER_ADDR MASTER_PORT

small=(--config "$src/configs/llama_qat.yaml" --set data.text_files="[$src/data/tinyshakespeare.txt]"
       --set data.cache="$work/tokens.bin" --set eval.every=0 --set eval.sample_tokens=0 --set eval.batches=2
       --set model.dim=32 --set model.ffn_dim=64 --set model.n_layers=1 --set training.batch_size=4
       --set distributed.timeout_seconds=30)
# A free port below the kernel's ephemeral range, so it never meets one that --nproc (run by other
# tests at the same time) takes from the kernel.
port() {
  python3 -c 'import random, socket
while True:
    p = random.randint(20000, 30000); s = socket.socket()
    try: s.bind(("127.0.0.1", p)); break
    except OSError: s.close()
print(p)'
}

# --nproc 2: rank 0 alone prints and writes; every step once in metrics.jsonl.
"$train" "${small[@]}" --set output_dir=run --set training.steps=30 --nproc 2 > nproc.log 2>&1 \
  || fail "--nproc 2: $(tail -3 nproc.log)"
[ "$(grep -c '^done: 30 steps' nproc.log)" = 1 ] || fail "one 'done' line: $(cat nproc.log)"
[ "$(grep -c '"loss"' run/metrics.jsonl)" = 30 ] || fail "metrics.jsonl has one record per step"
[ -f run/checkpoints/step_000030/manifest.json ] || fail "--nproc writes the final checkpoint"

# Ctrl-C to the launcher: all ranks stop at the same step, one checkpoint, exit 130; --resume finishes.
"$train" "${small[@]}" --set output_dir=stop --set training.steps=100000 --nproc 2 > stop.log 2>&1 &
pid=$!
wait_for_records stop 3
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 130 ] || fail "Ctrl-C on --nproc exits 130, got $rc: $(tail -3 stop.log)"
[ "$(ls -d stop/checkpoints/step_* | wc -l)" = 1 ] || fail "Ctrl-C writes one checkpoint: $(ls stop/checkpoints)"
ls -a stop/checkpoints | grep -q '\.tmp' && fail "no temporary checkpoint left behind"
stopped_at=$(basename "$(ls -d stop/checkpoints/step_*)" | sed 's/step_0*//')
"$train" --resume stop --set training.steps=$((stopped_at + 5)) --nproc 2 > resume.log 2>&1 \
  || fail "resume under --nproc 2: $(tail -3 resume.log)"
grep -q "done: $((stopped_at + 5)) steps" resume.log || fail "resume finishes: $(tail -3 resume.log)"

# Ctrl-C on one rank only (torchrun-style launch): every rank stops after the same step, exit 130.
p=$(port)
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
    "$train" "${small[@]}" --set output_dir=one_stop --set training.steps=100000 > "one_stop$r.log" 2>&1 &
  eval "pid$r=$!"
done
wait_for_records one_stop 3
kill -INT "$pid1"
set +e; wait "$pid0"; rc0=$?; wait "$pid1"; rc1=$?; set -e
[ "$rc0" = 130 ] && [ "$rc1" = 130 ] || fail "Ctrl-C on rank 1 stops both ranks with 130, got $rc0 and $rc1"
[ "$(ls -d one_stop/checkpoints/step_* | wc -l)" = 1 ] || fail "one checkpoint: $(ls one_stop/checkpoints)"
grep -q "stopped at step" one_stop0.log || fail "rank 0 says where it stopped: $(tail -2 one_stop0.log)"

# kill -9 of rank 1: rank 0 exits 1 within the bound with one line naming what happened.
p=$(port)
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
    "$train" "${small[@]}" --set output_dir=killed --set training.steps=100000 --set checkpoint.every=20 \
    > "killed$r.log" 2>&1 &
  eval "pid$r=$!"
done
wait_for_records killed 25
kill -9 "$pid1"
start=$(date +%s)
set +e; wait "$pid0"; rc=$?; set -e
[ "$rc" = 1 ] || fail "rank 0 exits 1 when rank 1 dies, got $rc: $(tail -2 killed0.log)"
[ $(( $(date +%s) - start )) -le 40 ] || fail "rank 0 noticed within the timeout"
tail -1 killed0.log | grep -q "^ternary-train: error: rank 0 lost the other ranks during" \
  || fail "one clear line: $(tail -2 killed0.log)"
ls -a killed/checkpoints | grep -q '\.tmp' && fail "no half-written checkpoint"
for c in killed/checkpoints/step_*; do "$train" --resume "$c" --dump-config > /dev/null || fail "$c is whole"; done

# Rendezvous mistakes: one line naming the variable, exit 1.
expect_error() {  # expect_error LOG PATTERN
  [ "$(wc -l < "$1")" = 1 ] || fail "one line: $(cat "$1")"
  grep -q "$2" "$1" || fail "expected '$2': $(cat "$1")"
}
p=$(port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$p)); s.listen(); time.sleep(30)" &
holder=$!
sleep 0.5
set +e; RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$train" "${small[@]}" --set output_dir=busy \
  2> busy.log; rc=$?; set -e
kill "$holder"
[ "$rc" = 1 ] || fail "port in use exits 1, got $rc"
expect_error busy.log "rank 0 cannot host the rendezvous at MASTER_ADDR=127.0.0.1 MASTER_PORT=$p (.*address already in use"

p=$(port)
set +e; RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$train" "${small[@]}" --set output_dir=lonely \
  --set distributed.timeout_seconds=2 2> lonely.log; rc=$?; set -e
[ "$rc" = 1 ] || fail "unreachable rendezvous exits 1, got $rc"
expect_error lonely.log "rank 1 could not reach the rendezvous at MASTER_ADDR=127.0.0.1 MASTER_PORT=$p within 2 s"

p=$(port)
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$train" "${small[@]}" --set output_dir=mismatch \
  --set distributed.timeout_seconds=10 2> mismatch0.log &
pid0=$!
set +e; RANK=1 WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$train" "${small[@]}" --set output_dir=mismatch \
  --set distributed.timeout_seconds=10 2> mismatch1.log; rc=$?
# Another config on rank 1 (or another job on the port): refused, not trained together.
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$train" "${small[@]}" --set output_dir=mismatch \
  --set distributed.timeout_seconds=10 --set model.dim=64 2> other_config.log; rc_config=$?
wait "$pid0"; rc0=$?; set -e
[ "$rc" = 1 ] && [ "$rc_config" = 1 ] && [ "$rc0" = 1 ] || fail "mismatches exit 1, got $rc0, $rc and $rc_config"
expect_error mismatch1.log "WORLD_SIZE=3 on rank 1 but WORLD_SIZE=2 on rank 0"
expect_error other_config.log "rank 1 runs another config than rank 0 at MASTER_ADDR=127.0.0.1 MASTER_PORT=$p"
expect_error mismatch0.log "rank 0 waited 10 s for WORLD_SIZE=2 ranks to join"

set +e; RANK=2 WORLD_SIZE=2 "$train" "${small[@]}" 2> range.log; rc=$?; set -e
[ "$rc" = 1 ] || fail "RANK out of range exits 1"
expect_error range.log "RANK=2 is not below WORLD_SIZE=2"
set +e; RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$train" "${small[@]}" --nproc 2 2> both.log; rc=$?
set -e
[ "$rc" = 1 ] || fail "--nproc under torchrun's variables exits 1"
expect_error both.log "use one or the other"
set +e; "$train" "${small[@]}" --nproc 0 2> zero.log; rc=$?; set -e
[ "$rc" = 2 ] || fail "--nproc 0 is a usage error (2), got $rc"
[ ! -e runs ] || fail "rejected runs create nothing"
echo "ok"
