#!/usr/bin/env bash
# How fast each evaluation limit fires on a hostile program, and how much
# memory it takes to get there (release build). Prints one line per case:
# seconds, peak resident memory, the diagnostic code, and the steps the
# example repository itself needs, for comparison with the step limit.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p ev-cli
ev="$PWD/target/release/ev"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_case() {
  local name=$1 program=$2
  mkdir -p "$work/$name"
  printf '%s\n' "$program" > "$work/$name/everything.ev"
  local start end code
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$name.mem" "$ev" -C "$work/$name" eval \
    > /dev/null 2> "$work/$name.err" || true
  end=$(date +%s.%N)
  code=$(grep -oE '^\[E[0-9]{4}\]' "$work/$name.err" | head -1 || true)
  printf '%-28s %6.2fs %8s KB  %s\n' "$name" "$(echo "$end - $start" | bc)" \
    "$(tail -1 "$work/$name.mem")" "${code:-none}"
}

echo "case                          time      peak RSS  diagnostic"
run_case fib45 'let fib = fn(n) => if n < 2 then n else fib(n - 1) + fib(n - 2)
export x = fib(45)'
run_case nested_folds 'export x = fold(range(100000), 0, fn(a, i) => a + fold(range(100000), 0, fn(b, j) => b + j))'
run_case string_doubling 'let d = fn(s, n) => if n == 0 then s else d(s + s, n - 1)
export x = len(d("ab", 60))'
run_case list_doubling 'let d = fn(l, n) => if n == 0 then l else d(l + l, n - 1)
export x = len(d([1], 60))'
run_case cartesian 'export x = len([[a, b, c] for a in range(10000) for b in range(10000) for c in range(10000)])'
run_case self_containing 'let r = { a = [r] }
export x = to_json(r)'
run_case default_recursion 'let f = fn(n, d = f(n)) => d
export x = f(1)'
run_case unbound_names "export x = [$(for i in $(seq 1 20000); do printf 'u%d, ' "$i"; done)]"

# The example repository, for scale: its evaluation time.
start=$(date +%s.%N)
"$ev" eval > /dev/null
end=$(date +%s.%N)
printf '%-28s %6.2fs\n' "example everything.ev" "$(echo "$end - $start" | bc)"
