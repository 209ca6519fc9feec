#!/usr/bin/env bash
# `make bench`: the release server on loopback under concurrent load (wrk), beside the physical
# references measured in the same run — RSA-2048 signing (`openssl speed -multi`) and raw
# argon2id at the project's parameters — and one table of each figure, its reference, the
# ratio, latency percentiles, errors and peak memory. Not part of `make test`: run it on an
# otherwise idle machine. BENCH_CONNECTIONS (8) and BENCH_SECONDS (10) tune it. Then the
# DynamoDB engine against moto (installed as for `make test`): DynamoDB requests and capacity
# units per API operation, counted by a proxy (scripts/bench_dynamodb.py).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null || ! command -v openssl >/dev/null; then
  echo "==> installing wrk and openssl (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq wrk openssl >/dev/null
fi
# The server and its references in the speed profile (Cargo.toml's `server`): the local server's
# size does not matter, and a size build halves argon2's speed (vectorisation is decided at link
# time). The first build takes about ten minutes on 2 cores (fat LTO at opt-level 3).
cargo build --profile server --locked -p frontdoor-local
cargo build --profile server --locked -p frontdoor --example argon2_reference --example rsa_reference
python3 scripts/bench.py target/server/frontdoor-local target/server/examples/argon2_reference \
  target/server/examples/rsa_reference
# shellcheck source=tools.sh
. scripts/tools.sh
python_tool moto moto "$MOTO_REQUIREMENT"
python3 scripts/bench_dynamodb.py target/server/frontdoor-local "$TOOLS/moto/bin/python"
