#!/usr/bin/env bash
# `make test`: install the test tools, start moto (DynamoDB, SES, SNS on 127.0.0.1), run every
# suite, stop moto — also when a suite fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${FRONTDOOR_TOOLS:-$ROOT/.tools}
MOTO_VERSION=5.2.5

step() { printf '\n==> %s\n' "$*"; }

step "tools: moto $MOTO_VERSION (Python venv in $TOOLS/moto)"
if ! "$TOOLS/moto/bin/python" -c "import moto, flask" >/dev/null 2>&1 \
   || [ "$("$TOOLS/moto/bin/python" -c 'import moto; print(moto.__version__)')" != "$MOTO_VERSION" ]; then
  rm -rf "$TOOLS/moto"
  python3 -m venv "$TOOLS/moto"
  "$TOOLS/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

step "tools: the official Clerk SDKs (npm ci in tests/sdk)"
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)

step "build"
cargo build --workspace --locked

step "start moto"
MOTO_PORT=$("$TOOLS/moto/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TOOLS/moto/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$TOOLS/moto.log" 2>&1 &
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

step "SDK compatibility: unmodified @clerk/clerk-js in Node (native mode) against the local server"
(cd tests/sdk && FRONTDOOR_BIN="$ROOT/target/debug/frontdoor-local" npm test --silent)
