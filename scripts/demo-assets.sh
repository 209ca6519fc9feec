#!/usr/bin/env bash
# The browser builds of Clerk's clerk-js and prebuilt UI, unmodified, for the demo page and the
# browser tests: fetched once with `npm pack` (no dependency tree: the browser bundles are
# self-contained) and unpacked under demo/vendor/@clerk/.
set -euo pipefail
cd "$(dirname "$0")/.."
CLERK_JS=6.40.0
CLERK_UI=1.36.0
VENDOR=demo/vendor/@clerk
stamp="$VENDOR/.versions"
want="clerk-js@$CLERK_JS ui@$CLERK_UI"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "npm is not installed: the demo page at / needs it (the API works without it)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@clerk/clerk-js@$CLERK_JS" "@clerk/ui@$CLERK_UI" >/dev/null)
rm -rf "$VENDOR"
mkdir -p "$VENDOR/clerk-js" "$VENDOR/ui"
tar xzf "$tmp/clerk-clerk-js-$CLERK_JS.tgz" -C "$VENDOR/clerk-js" --strip-components=1
tar xzf "$tmp/clerk-ui-$CLERK_UI.tgz" -C "$VENDOR/ui" --strip-components=1
echo "$want" >"$stamp"
