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
cargo build --release --locked -p frontdoor-local
cargo build --release --locked -p frontdoor --example argon2_reference --example rsa_reference
python3 scripts/bench.py target/release/frontdoor-local target/release/examples/argon2_reference \
  target/release/examples/rsa_reference
# shellcheck source=tools.sh
. scripts/tools.sh
python_tool moto moto "$MOTO_REQUIREMENT"
python3 scripts/bench_dynamodb.py target/release/frontdoor-local "$TOOLS/moto/bin/python"
