# Frontdoor: the two commands a newcomer runs are `make dev` and `make test`.

.PHONY: dev test check fmt lint lambdas coldstart bench soak clean-tools build-AssetsFunction

## make dev: the whole API on http://127.0.0.1:3000 (FRONTDOOR_ADDR to change it), embedded
## store and development outbox under .frontdoor/ (FRONTDOOR_DATA_DIR to change it), and the
## demo page at / (Clerk's prebuilt components against Frontdoor).
dev:
	@bash scripts/clerk-bundles.sh || true
	cargo run -p frontdoor-local

## make test: installs what the tests need (moto server, cfn-lint and SAM CLI, the SDKs' npm
## packages), starts moto, runs every test (Rust on both store engines, the template lint, the
## official-SDK suite), stops moto.
test:
	bash scripts/test.sh

## make lambdas: one bootstrap zip per endpoint group for arm64 (provided.al2023), built with
## cargo-lambda (installed from PyPI with zig); prints each zip's size.
lambdas:
	bash scripts/lambdas.sh

## make coldstart: each function's bootstrap (a release build for this machine): what it is made
## of (size per crate or C library), and its cold start under a Lambda Runtime API emulator with
## DynamoDB on moto (init time, time to the first response). Not part of make test.
coldstart:
	bash scripts/coldstart.sh

## sam build's recipe for the assets function (BuildMethod: makefile): its bootstrap, and the
## pinned Clerk bundles beside it under npm/@clerk/.
build-AssetsFunction:
	bash scripts/lambdas.sh fn-assets
	unzip -o -q target/lambda-arm64/fn-assets/bootstrap.zip -d "$(ARTIFACTS_DIR)"

## make bench: the local server, built for speed (Cargo.toml's `server` profile), under
## concurrent load (wrk: token refresh, client render, password sign-in, sign-up, refreshes while
## hashing is saturated), beside RSA-2048 and argon2id references measured in the same run;
## prints one table with ratios, latencies, errors and peak memory, and what each way of giving
## argon2 its memory costs; then DynamoDB requests and capacity units per operation on the DynamoDB engine
## (moto behind a counting proxy). Installs wrk (Debian) if missing. Not part of make test.
bench:
	bash scripts/bench.sh

## make soak: SOAK_SECONDS (default 600) of mixed native-mode traffic against the local server
## (`server` profile); fails on any error or if its RSS grows by more than half. Not in make test.
soak:
	bash scripts/soak.sh

## make check: formatting and lints, as CI wants them.
check: fmt lint

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

clean-tools:
	rm -rf .tools tests/sdk/node_modules
