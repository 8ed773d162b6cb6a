#!/usr/bin/env bash
# The main job on the example repository: build ev, check everything.ev,
# print the topology, then `ev plan` it (extra arguments go to `ev plan`,
# e.g. `./scripts/main.sh eight` or `./scripts/main.sh --json`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ev-cli
./target/release/ev check
./target/release/ev show
./target/release/ev plan "$@"
