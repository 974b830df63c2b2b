# The commands a newcomer and CI run. Everything installs what it needs (scripts/install-deps.sh)
# or says exactly what is missing.
CARGO ?= cargo
FLEDGE := target/debug/fledge

.PHONY: demo test test-sim lint crds bench fuzz deps build check-deploy check-gitops screenshots

## demo: the one-command tour (simulated cluster + real Prometheus + controller, two releases).
## It needs only Prometheus: installed when run as root, otherwise the exact command is printed
## (before the build, so a fresh machine learns it at once). Flags: `make demo DEMO_FLAGS=--keep`.
demo:
	@command -v prometheus >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    echo "installing the Debian package prometheus" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else \
	    echo "fledge demo needs a real Prometheus; run as root: apt-get update && apt-get install -y prometheus" >&2; \
	    exit 1; \
	  fi; }
	$(CARGO) build --bin fledge --bin kubectl-fledge
	$(FLEDGE) demo $(DEMO_FLAGS)

## test: the whole suite (unit, CLI, simulated cluster, real Prometheus, kubectl, a real
## control plane for the CRDs, the e2e scenarios and deploy/rbac's grants, deploy checks). The control plane is built first, on its own
## (testenv/k8s: a cold build takes minutes; after that it is reused).
test: deps
	testenv/k8s/build.sh >/dev/null
	rm -rf target/tmp/rbac-usage
	$(CARGO) test --workspace --all-targets
	# Every grant in deploy/rbac was used by some scenario on the real API server (from the
	# audit logs the suite's control planes left in target/tmp/rbac-usage).
	$(CARGO) test --test rbac_usage -- --ignored
	$(MAKE) check-deploy check-gitops

## test-sim: the suite in the simulated cluster only (no Go build, no real control plane), for
## a quick loop; `make test` runs both worlds.
test-sim: deps
	FLEDGE_TEST_WORLD=sim $(CARGO) test --workspace --all-targets -- --skip the_crds_install_and_the_server

## lint: formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The controller image's build (deploy/controller/Dockerfile): no simulated cluster in it.
	$(CARGO) clippy -p fledge --no-default-features --all-targets -- -D warnings
	@! $(CARGO) tree -p fledge --no-default-features -e normal --prefix none | grep -q '^fledge-sim ' \
	  || { echo "fledge-sim is linked into the controller build without the sim feature" >&2; exit 1; }
	# The dashboard's script and the browser test parse (syntax only; the tests run them).
	node --check src/bin/kubectl-fledge/dashboard/assets/app.js
	node --check tests/browser/dashboard.mjs

## crds: regenerate deploy/crds from the Rust types (a test fails when they drift).
crds: build
	$(FLEDGE) crds > deploy/crds/fledge-crds.yaml

## bench: benchmarks; results go to docs/benchmarks.md (BENCH_ARGS="--counts 100" for a quick run).
bench: deps
	$(CARGO) build --release --bin fledge
	CARGO=$(CARGO) scripts/bench.sh $(BENCH_ARGS)

## fuzz: every fuzz target of crates/fuzz under libFuzzer, FUZZ_SECONDS each (default 600);
## `make test` replays the inputs it keeps (docs/testing.md, "Fuzzing").
fuzz:
	scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

build:
	$(CARGO) build -p fledge -p fledge-loadtester --bins

## screenshots: the dashboard's pictures in docs/images, from the browser test's real release.
screenshots: deps
	FLEDGE_SCREENSHOTS=$(CURDIR)/docs/images $(CARGO) test -p fledge --test dashboard in_a_browser

deps:
	@scripts/install-deps.sh

## check-deploy: the manifests in deploy/ render with kustomize and the builtin kinds validate.
check-deploy:
	scripts/check-deploy.sh

## check-gitops: the Argo CD scripts (Argo CD's Lua VM), the kstatus tool and the Prometheus
## alerting rules (promtool), each on its own fixtures; tests/e2e_gitops.rs runs the first two
## over Canaries captured from real releases.
check-gitops:
	deploy/argocd/generate-actions.sh --check
	testenv/argocd-lua/check.sh
	testenv/kstatus/check.sh
	scripts/check-prometheus-rules.sh
