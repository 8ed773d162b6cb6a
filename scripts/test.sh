#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# then runs formatting, lints, every test and a check of the example repository.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests drive, installed here (never by hand). EV_REAL_TOOLS=1
# makes tests fail, not skip, when one is missing.
if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
echo "== installing the real tools the tests drive (scripts/install-tools.sh)"
tool_dirs=$(./scripts/install-tools.sh)
export PATH="$tool_dirs:$PATH"
export EV_REAL_TOOLS=1

export CARGO_TERM_COLOR=never
export INSTA_UPDATE=no   # a missing or changed snapshot fails

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== cargo test"
# The exit status of `cargo test` decides; the log is kept only to show
# the failures and count what passed.
set +e
cargo test --workspace -q > /tmp/ev-test.log 2>&1
test_status=$?
set -e
if [ "$test_status" -ne 0 ]; then
  tail -120 /tmp/ev-test.log
  echo "cargo test failed (exit $test_status)" >&2
  exit "$test_status"
fi

echo "== VS Code extension (editors/vscode): syntax check, grammar and client tests"
(
  cd editors/vscode
  node --check extension.js
  npm ci --no-audit --no-fund --silent
  npm test --silent
)

echo "== example repository"
cargo run -q -p ev-cli -- fmt --check          # the example's .ev files
cargo run -q -p ev-cli -- fmt --check stdlib   # and the standard library
cargo run -q -p ev-cli -- check
cargo run -q -p ev-cli -- show > /dev/null
cargo run -q -p ev-cli -- eval > /dev/null

passed=$(grep -oE "test result: ok\. [0-9]+ passed" /tmp/ev-test.log | awk '{s += $4} END {print s+0}')
echo "$passed passed, 0 failed"
