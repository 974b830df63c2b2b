#!/usr/bin/env bash
# Installs what the demo and the test suite need beyond the Rust toolchain: a real Prometheus
# (and promtool), hey, and the Python validators for generated manifests. As root it installs
# them; otherwise it prints the exact commands and fails, so nothing is silently skipped.
set -euo pipefail

missing_deb=()
for bin in prometheus:prometheus promtool:prometheus hey:hey; do
  cmd=${bin%%:*} pkg=${bin##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing_deb+=("$pkg")
done
command -v kubectl >/dev/null 2>&1 || echo "note: kubectl not found at /usr/bin/kubectl; the kubectl fidelity tests need it" >&2
# Go builds the GitOps test tools (testenv/: Flux's kstatus, Argo CD's Lua VM) from the Go module
# proxy; fledge itself is Rust. Debian's golang is too old for their go.mod, so it is not installed
# here.
if ! command -v go >/dev/null 2>&1; then
  echo "missing: Go 1.26 or newer from your usual Go installer; the GitOps tests (tests/e2e_gitops.rs, make check-gitops) build their tools with it" >&2
  exit 1
fi

missing_py=()
python3 -c 'import kubernetes_validate' 2>/dev/null || missing_py+=(kubernetes-validate)
command -v check-jsonschema >/dev/null 2>&1 || missing_py+=(check-jsonschema)

# shellcheck disable=SC2207
missing_deb=($(printf '%s\n' "${missing_deb[@]:-}" | sort -u | sed '/^$/d'))
if [ ${#missing_deb[@]} -eq 0 ] && [ ${#missing_py[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing tools; run as root:" >&2
  [ ${#missing_deb[@]} -gt 0 ] && echo "  apt-get update && apt-get install -y ${missing_deb[*]}" >&2
  [ ${#missing_py[@]} -gt 0 ] && echo "  python3 -m pip install ${missing_py[*]}" >&2
  exit 1
fi

if [ ${#missing_deb[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing_deb[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_deb[@]}" >/dev/null
fi
if [ ${#missing_py[@]} -gt 0 ]; then
  echo "installing Python packages: ${missing_py[*]}" >&2
  python3 -m pip install -q "${missing_py[@]}"
fi
