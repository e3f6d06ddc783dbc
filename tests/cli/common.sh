# Helpers the CLI test scripts share (sourced).
fail() { echo "FAIL: $*" >&2; exit 1; }

# Waits (up to 60 s) until DIR/metrics.jsonl holds at least N records.
wait_for_records() {
  local dir="$1" n="$2"
  for _ in $(seq 1 600); do
    [ -s "$dir/metrics.jsonl" ] && [ "$(wc -l < "$dir/metrics.jsonl")" -ge "$n" ] && return 0
    sleep 0.1
  done
  fail "$dir/metrics.jsonl did not reach $n records"
}
