# The targets CI runs. `make test` is the README's test command; .ci/run calls exactly it.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
APP := target/debug/redchat

.PHONY: run deps deps-test ui app-debug fmt-check lint test test-rust test-ui e2e perf bench bundle clean screenshot

## run: install what is missing, start a local redis-server if none answers on 6379, open Redchat
run: deps app-debug
	scripts/local-redis.sh
	$(APP)

deps:
	scripts/deps.sh

deps-test:
	scripts/deps.sh test

ui:
	npm run build

## app-debug: the app with the UI embedded (no dev server needed)
app-debug: ui
	npx tauri build --debug --no-bundle

fmt-check:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings
	npm run typecheck
	npm run lint
	scripts/actionlint.sh
	appstreamcli validate --no-net src-tauri/linux/dev.redchat.desktop.metainfo.xml

test-rust:
	cargo test --workspace --exclude redchat-e2e

test-ui:
	npm test

## e2e: the real app under Xvfb through tauri-driver
e2e: app-debug
	cargo build -p redchat-cli
	xvfb-run -a -s "-screen 0 1280x800x24" cargo test -p redchat-e2e -- --test-threads=1

## test: everything: formatting, lints, Rust tests, UI tests, end-to-end
test: deps-test fmt-check lint test-rust test-ui e2e

## perf: optimised builds for benchmarks (thin LTO: quicker to build than release)
perf: deps ui
	cargo build --profile perf -p redchat-cli -p redchat-bench -p redchat --features redchat/custom-protocol

## bench: every benchmark (delivery vs bare redis-rs, codec, firehose, footprint, sizes) -> docs/bench/
bench: deps-test perf bundle
	scripts/bench.sh

## bundle: release .deb and .rpm (AppImage/MSI/DMG need GitHub-hosted runners)
bundle: deps ui
	npx tauri build --bundles deb,rpm

clean:
	cargo clean
	rm -rf ui/dist node_modules

## screenshot: docs/screenshot.png of two real windows chatting
screenshot: app-debug
	xvfb-run -a -s "-screen 0 1600x760x24" cargo run -q -p redchat-e2e --example screenshot
