#!/usr/bin/env bash
# `make soak`: the local server built for speed (the `server` profile), then SOAK_SECONDS (default 600) of mixed
# native-mode traffic from 4 worker threads (sign-up, token refresh, client, me, sign-out,
# wrong and right passwords) on 127.0.0.1, a progress line every 30 s with the server's RSS,
# and a summary. Fails on any error (5xx, connection failure, non-JSON body, unexpected status)
# or when the server's RSS at the end exceeds its RSS at the first report by more than 50 %.
# Not part of `make test`. scripts/soak.py starts and always stops the server (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile server --locked -p frontdoor-local
exec python3 scripts/soak.py target/server/frontdoor-local
