#!/usr/bin/env bash
# `make coldstart`: every function's bootstrap, built for this machine with the release profile
# the Lambda zips use (its own target directory, symbols kept for the report), then
#   - what each binary is made of (scripts/binary_parts.py: size per crate or C library), and
#   - its cold start: a stripped copy, as shipped, started under a Lambda Runtime API emulator
#     with DynamoDB on moto (scripts/coldstart.py).
# The zips themselves are arm64 (`make lambdas`); this measures the same code. COLDSTART_RUNS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools.sh
. scripts/tools.sh
python_tool moto moto "$MOTO_REQUIREMENT"
BINS=(fn-environment fn-client fn-sign-ins fn-sign-ups fn-sessions fn-me fn-backend fn-assets fn-webhooks)
args=()
for b in "${BINS[@]}"; do args+=(-p "$b"); done
export CARGO_TARGET_DIR=$PWD/target/coldstart
CARGO_PROFILE_RELEASE_STRIP=debuginfo cargo build --release --locked "${args[@]}"
mkdir -p "$CARGO_TARGET_DIR/stripped"
paths=()
for b in "${BINS[@]}"; do
  echo "$b: $(du -h "$CARGO_TARGET_DIR/release/$b" | cut -f1) with symbols"
  python3 scripts/binary_parts.py "$CARGO_TARGET_DIR/release/$b" 12
  strip -o "$CARGO_TARGET_DIR/stripped/$b" "$CARGO_TARGET_DIR/release/$b"
  paths+=("$CARGO_TARGET_DIR/stripped/$b")
done
python3 scripts/coldstart.py "$TOOLS/moto/bin/python" "${paths[@]}"
