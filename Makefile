# The commands a newcomer and CI run. Everything installs what it needs (scripts/install-deps.sh)
# or says exactly what is missing.
CARGO ?= cargo
FLEDGE := target/debug/fledge

.PHONY: demo test lint crds bench deps build check-deploy

## demo: the one-command tour (simulated cluster + real Prometheus + controller, two releases).
demo: deps build
	$(FLEDGE) demo

## test: the whole suite (unit, CLI, simulated cluster, real Prometheus, kubectl, deploy checks).
test: deps
	$(CARGO) test --workspace --all-targets
	$(MAKE) check-deploy

## lint: formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## crds: regenerate deploy/crds from the Rust types (a test fails when they drift).
crds: build
	$(FLEDGE) crds > deploy/crds/fledge-crds.yaml

## bench: benchmarks; results go to docs/benchmarks.md.
bench: deps
	$(CARGO) build --release --bin fledge
	scripts/bench.sh

build:
	$(CARGO) build --bin fledge --bin fledge-loadtester

deps:
	@scripts/install-deps.sh

## check-deploy: the manifests in deploy/ render with kustomize and the builtin kinds validate.
check-deploy:
	scripts/check-deploy.sh
