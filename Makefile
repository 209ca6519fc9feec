# Frontdoor: the two commands a newcomer runs are `make dev` and `make test`.

.PHONY: dev test check fmt lint clean-tools

## make dev: the whole API on http://127.0.0.1:3000 (FRONTDOOR_ADDR to change it), embedded
## store and development outbox under .frontdoor/ (FRONTDOOR_DATA_DIR to change it).
dev:
	cargo run -p frontdoor-local

## make test: installs what the tests need (moto server, the SDK's npm packages), starts moto,
## runs every test (Rust on both store engines, then the official-SDK suite), stops moto.
test:
	bash scripts/test.sh

## make check: formatting and lints, as CI wants them.
check: fmt lint

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

clean-tools:
	rm -rf .tools tests/sdk/node_modules
