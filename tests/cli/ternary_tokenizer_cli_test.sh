#!/usr/bin/env bash
# ternary-tokenizer as a user meets it: training a SentencePiece model from a directory, encoding
# files / directories / globs into a corpus that ternary-train takes as data.tokenized, one-line
# errors with their exit codes, and memory that stays flat as the corpus grows (about 200 MB).
# Usage: ternary_tokenizer_cli_test.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
BIN="$1"; SRC="$2"; WORK="$3"
source "$SRC/tests/cli/common.sh"
TOKENIZER="$BIN/ternary-tokenizer"
rm -rf "$WORK" && mkdir -p "$WORK/corpus/sub" "$WORK/corpus/.cache" && cd "$WORK"
cp "$SRC/data/tinyshakespeare.txt" corpus/a.txt
head -c 300000 "$SRC/data/tinyshakespeare.txt" > corpus/sub/b.txt
echo "never read" > corpus/.cache/hidden.txt

# train: a directory in, a model out that loads; a rerun overwrites it whole.
"$TOKENIZER" train --input corpus --vocab-size 400 --out tok.model 2> train.log || fail "train: $(cat train.log)"
grep -q "400 pieces, bpe, from 2 files" train.log || fail "train summary: $(cat train.log)"

# encode: a glob and a directory naming the same file twice; the duplicate counts once.
"$TOKENIZER" encode --input 'corpus/*.txt' corpus --out c.tokens 2> encode.log || fail "encode: $(cat encode.log)"
"$TOKENIZER" encode --input corpus/a.txt corpus/sub/b.txt --out d.tokens 2> /dev/null
cmp -s c.tokens d.tokens || fail "glob + directory did not give the same corpus as the two files"
grep -q "^tokenized 1.4 MB into" encode.log || fail "encode summary: $(cat encode.log)"

# --shards: a directory with one shard per file and index.json; a rerun keeps unchanged shards.
"$TOKENIZER" encode --input corpus --shards --threads 2 --out shards 2> shards.log || fail "shards: $(cat shards.log)"
[ -s shards/index.json ] && [ -s shards/shard_000000.tokens ] && [ -s shards/shard_000001.tokens ] ||
  fail "shards: $(ls shards)"
grep -q "in 2 shards" shards.log || fail "shards summary: $(cat shards.log)"
before=$(stat -c %y shards/shard_000000.tokens)
"$TOKENIZER" encode --input corpus --shards --out shards 2> /dev/null
[ "$(stat -c %y shards/shard_000000.tokens)" = "$before" ] || fail "an unchanged shard was rewritten"

# errors: one line, exit 1 for a failed job, 2 for usage; nothing written.
expect_error() {
  local code="$1" message="$2"; shift 2
  set +e; "$TOKENIZER" "$@" > out.txt 2> err.txt; local got=$?; set -e
  [ "$got" = "$code" ] || fail "$* exited $got, expected $code: $(cat err.txt)"
  [ "$(wc -l < err.txt)" = 1 ] || fail "$*: not one line: $(cat err.txt)"
  grep -qF -- "$message" err.txt || fail "$*: expected '$message', got: $(cat err.txt)"
}
expect_error 1 "pattern 'nothing/*.txt' matches no file" encode --input 'nothing/*.txt' --out x.tokens
expect_error 1 "'missing.txt' does not exist" encode --input missing.txt --out x.tokens
expect_error 2 "needs --model" encode --input corpus --tokenizer sentencepiece --out x.tokens
expect_error 2 "--vocab-size is required" train --input corpus --out x.model
expect_error 1 "not a SentencePiece model" encode --input corpus --tokenizer sentencepiece --model corpus/a.txt \
  --out x.tokens
[ ! -e x.tokens ] && [ ! -e x.model ] || fail "a failed run left a file behind"
ls -a | grep -q "\.tmp\." && fail "a failed run left a temporary file behind"

# Memory stays flat: the peak RSS of encoding ~200 MB is within 64 MB of encoding ~10 MB. (Not
# under AddressSanitizer, whose quarantine keeps freed memory resident by design.)
if [ -n "${ASAN_OPTIONS:-}" ]; then echo "ternary_tokenizer_cli: all checks passed (memory check skipped under ASan)"; exit 0; fi
python3 - "$SRC/data/tinyshakespeare.txt" <<'PY'
import sys
text = open(sys.argv[1], "rb").read()
for name, copies in (("small.txt", 9), ("big.txt", 180)):
    with open(name, "wb") as out:
        for _ in range(copies):
            out.write(text)
PY
peak_kb() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
small=$(peak_kb "$TOKENIZER" encode --input small.txt --out small.tokens)
big=$(peak_kb "$TOKENIZER" encode --input big.txt --out big.tokens)
echo "peak RSS: $small kB for $(du -m small.txt | cut -f1) MB, $big kB for $(du -m big.txt | cut -f1) MB"
[ "$big" -lt $((small + 65536)) ] || fail "encoding 200 MB peaked at $big kB against $small kB for 10 MB"
[ "$(stat -c %s big.tokens)" -gt 390000000 ] || fail "big.tokens is too short"
rm -f small.txt big.txt small.tokens big.tokens
echo "ternary_tokenizer_cli: all checks passed"
