#!/usr/bin/env bash
# The Next.js example's packages for each SDK line the tests run it on, installed with `npm ci`
# from the example's lockfiles into target/nextjs/<line>/ (once per lockfile):
#   current  @clerk/nextjs 7 (examples/nextjs/package.json)
#   core2    @clerk/nextjs 6, Clerk's Core 2 line (examples/nextjs/core2/package.json)
set -euo pipefail
cd "$(dirname "$0")/.."
for line in current core2; do
  src=examples/nextjs
  [ "$line" = core2 ] && src=examples/nextjs/core2
  dest=target/nextjs/$line
  stamp=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
  if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$stamp" ]; then continue; fi
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$src/package.json" "$src/package-lock.json" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$stamp" >"$dest/.installed"
done
