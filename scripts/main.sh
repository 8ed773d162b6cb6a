#!/usr/bin/env bash
# The main job on the example repository: build ev, check everything.ev,
# print the topology and the entry's exports (planning comes with `ev plan`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ev-cli
./target/release/ev check
./target/release/ev show
./target/release/ev eval "$@"
