#!/usr/bin/env bash
# `make test`: install the test tools, start moto (DynamoDB, SES, SNS on 127.0.0.1), run every
# suite, stop moto — also when a suite fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=tools.sh
. scripts/tools.sh

step() { printf '\n==> %s\n' "$*"; }

step "tools: moto server, cfn-lint and SAM CLI (Python venvs in $TOOLS)"
python_tool moto moto "$MOTO_REQUIREMENT"
python_tool sam samcli 'aws-sam-cli==1.170.0' 'cfn-lint==1.58.0'

step "tools: the official Clerk SDKs (npm ci in tests/sdk), Clerk's pinned browser bundles, the Next.js example's packages (both SDK lines), Debian's chromium"
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)
bash scripts/clerk-bundles.sh
bash scripts/nextjs-example.sh
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

step "the SAM template: cfn-lint and sam validate --lint (offline)"
"$TOOLS/sam/bin/cfn-lint" infra/template.yaml
SAM_CLI_TELEMETRY=0 "$TOOLS/sam/bin/sam" validate --lint -t infra/template.yaml

step "build"
cargo build --workspace --locked

step "start moto"
MOTO_PORT=$("$TOOLS/moto/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TOOLS/moto/bin/python" scripts/moto_serial.py -H 127.0.0.1 -p "$MOTO_PORT" >"$TOOLS/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true; wait $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  if curl -sf -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/"; then break; fi
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then cat "$TOOLS/moto.log"; exit 1; fi
  sleep 0.05
done
export FRONTDOOR_TEST_DYNAMODB="http://127.0.0.1:$MOTO_PORT"
export FRONTDOOR_REQUIRE_DYNAMODB=1

step "Rust: unit tests, HTTP flow tests on the embedded store, store conformance on both engines"
cargo test --workspace --locked

step "Rust: the HTTP flow tests again, on DynamoDB (moto)"
FRONTDOOR_TEST_STORE=dynamodb cargo test -p frontdoor-tests --locked

step "SDK compatibility: unmodified clerk-js in Node and in Chromium, @clerk/backend, the Next.js example on both SDK lines, the spec's schemas"
(cd tests/sdk && FRONTDOOR_BIN="$ROOT/target/debug/frontdoor-local" CHROMIUM="$(command -v chromium)" npm test --silent)
