#!/usr/bin/env bash
# make bench: the controller's reaction time, API load and footprint at 100, 1,000 and 5,000
# canaries against `fledge sim` (crates/bench), plus the sim's own scale benchmark
# (crates/sim/examples/bench.rs). Results replace the generated part of docs/benchmarks.md.
# Expects `cargo build --release --bin fledge` to have run (the Makefile does it first).
# Extra arguments go to fledge-bench, e.g. `scripts/bench.sh --counts 100`.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
TARGET=${CARGO_TARGET_DIR:-target}

"$CARGO" build --release -p fledge-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

extra=()
if [ -f crates/sim/examples/bench.rs ]; then
  echo "== sim scale benchmark (10,000 objects, 200 watches)" >&2
  "$CARGO" run --release -q -p fledge-sim --example bench > "$tmp/sim.md"
  extra+=(--sim-section "$tmp/sim.md")
fi

echo "== controller benchmark" >&2
"$TARGET/release/fledge-bench" --fledge "$TARGET/release/fledge" --out docs/benchmarks.md \
  --json "$tmp/results.json" "${extra[@]}" "$@"
echo "results written to docs/benchmarks.md" >&2
