#!/usr/bin/env bash
# `make lambdas`: one bootstrap.zip per function, arm64, release profile (Cargo.toml); the
# assets function's zip also carries the pinned Clerk bundles under npm/@clerk/.
#   scripts/lambdas.sh [BIN…]     (default: every function)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools.sh
. scripts/tools.sh
python_tool lambda ziglang 'cargo-lambda==1.9.2' 'ziglang==0.17.1'
export PATH="$TOOLS/lambda/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null
OUT=${LAMBDA_DIR:-target/lambda-arm64}
# A target directory of its own: the cross build does not evict or lock the dev build.
export CARGO_TARGET_DIR=${LAMBDA_TARGET_DIR:-$PWD/target/lambda-build}
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=(fn-environment fn-client fn-sign-ins fn-sign-ups fn-sessions fn-me fn-backend fn-assets fn-webhooks)
args=()
for b in "${BINS[@]}"; do args+=(--bin "$b"); done
# One cargo invocation for every function: one feature set, one dependency build.
cargo lambda build --release --arm64 --locked "${args[@]}" --output-format zip --lambda-dir "$OUT"
if [[ " ${BINS[*]} " == *" fn-assets "* ]]; then
  bash scripts/clerk-bundles.sh "$OUT/fn-assets/npm"
  python3 - "$OUT/fn-assets" <<'PY'
import os, sys, zipfile
root = sys.argv[1]
with zipfile.ZipFile(os.path.join(root, "bootstrap.zip"), "a", zipfile.ZIP_DEFLATED) as z:
    present = set(z.namelist())
    for dirpath, _, files in os.walk(os.path.join(root, "npm")):
        for f in files:
            if f == ".integrity":
                continue
            path = os.path.join(dirpath, f)
            name = os.path.relpath(path, root)
            if name not in present:
                z.write(path, name)
PY
fi
python3 - "$OUT" "${BINS[@]}" <<'PY'
import os, sys, zipfile
out, bins = sys.argv[1], sys.argv[2:]
print(f"\n{'function':<16}{'zip':>10}{'unzipped':>12}")
for b in bins:
    z = os.path.join(out, b, "bootstrap.zip")
    unzipped = sum(i.file_size for i in zipfile.ZipFile(z).infolist())
    print(f"{b:<16}{os.path.getsize(z) / 2**20:>8.2f} MB{unzipped / 2**20:>10.2f} MB")
PY
