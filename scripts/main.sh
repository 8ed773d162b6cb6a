#!/usr/bin/env bash
# The main job on the example repository: build ev, then check and evaluate
# everything.ev (planning comes with the `ev plan` issue).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ev-cli
./target/release/ev check
./target/release/ev eval "$@"
