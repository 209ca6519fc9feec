#!/usr/bin/env bash
# `make bench`: a release build of the local server; time from process start to the first
# served request, then sequential token refreshes per second on one connection. Numbers, not
# assertions: run it on an idle machine and compare like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p frontdoor-local
python3 scripts/bench.py target/release/frontdoor-local
