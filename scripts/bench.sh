#!/usr/bin/env bash
# `make bench`: the release server on loopback under concurrent load (wrk), beside the physical
# references measured in the same run — RSA-2048 signing (`openssl speed -multi`) and raw
# argon2id at the project's parameters — and one table of each figure, its reference, the
# ratio, latency percentiles, errors and peak memory. Not part of `make test`: run it on an
# otherwise idle machine. BENCH_CONNECTIONS (8) and BENCH_SECONDS (10) tune it.
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
