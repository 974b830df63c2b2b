#!/usr/bin/env bash
# Renders every kustomization under deploy/ and validates the builtin objects against the
# upstream Kubernetes schemas (kubernetes-validate). Custom resources are checked by the Rust
# tests against the generated CRDs, because kubernetes-validate passes unknown kinds silently.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for k in $(find deploy -name kustomization.yaml | sort); do
  dir=$(dirname "$k")
  out=$(mktemp)
  if ! kubectl kustomize "$dir" > "$out"; then
    echo "FAIL: kubectl kustomize $dir" >&2; status=1; continue
  fi
  # Unknown kinds only WARN (and are checked by the Rust tests); any ERROR fails.
  if ! python3 -m kubernetes_validate --strict --quiet -k 1.32.0 "$out" >&2; then
    echo "FAIL: $dir: builtin objects do not validate" >&2; status=1; continue
  fi
  echo "ok: $dir ($(grep -c '^kind:' "$out") objects)"
  rm -f "$out"
done
exit $status
