#!/usr/bin/env bash
# Clerk's browser bundles (clerk-js and the prebuilt UI), unmodified, for /npm/@clerk/* (the
# local server, the assets Lambda, the demo page and the tests): each release pinned in
# clerk-bundles.lock is fetched with `npm pack` (no dependency tree: the browser bundles are
# self-contained), its tarball checked against the pinned sha512, and its dist/ (without source
# maps and type declarations) unpacked to $BUNDLES/@clerk/<package>@<version>/dist.
#
#   scripts/clerk-bundles.sh [DEST]      DEST defaults to .bundles
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLES=${1:-${FRONTDOOR_BUNDLES_DIR:-.bundles}}
if ! command -v npm >/dev/null; then
  echo "npm is not installed: the Clerk bundles at /npm/@clerk/* need it (the API works without it)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^\s*\(#\|$\)' scripts/clerk-bundles.lock | while read -r package version integrity; do
  dest="$BUNDLES/$package@$version"
  if [ -f "$dest/.integrity" ] && [ "$(cat "$dest/.integrity")" = "$integrity" ]; then continue; fi
  tarball=$(cd "$tmp" && npm pack --silent "$package@$version")
  actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "$package@$version: tarball integrity $actual, pinned $integrity" >&2
    exit 1
  fi
  rm -rf "$dest" "$tmp/unpacked"
  mkdir -p "$tmp/unpacked" "$dest"
  tar xzf "$tmp/$tarball" -C "$tmp/unpacked" --strip-components=1 package/dist
  find "$tmp/unpacked/dist" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' \) -delete
  find "$tmp/unpacked/dist" -type d -empty -delete
  mv "$tmp/unpacked/dist" "$dest/dist"
  echo "$integrity" >"$dest/.integrity"
  echo "clerk bundles: $package@$version" >&2
done
