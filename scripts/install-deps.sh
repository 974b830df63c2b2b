#!/usr/bin/env bash
# Installs what the demo and the test suite need beyond the Rust toolchain: a real Prometheus
# (and promtool), hey, tmux (a real terminal for `kubectl fledge get -w`), chromium and Node
# with playwright-core (the dashboard's browser tests), and the Python validators for generated
# manifests. As root it installs them; otherwise it prints the exact commands and fails, so
# nothing is silently skipped. playwright-core goes into tests/browser/node_modules (pinned by
# its package-lock.json), inside the clone, and needs no root.
set -euo pipefail

missing_deb=()
for bin in prometheus:prometheus promtool:prometheus hey:hey tmux:tmux chromium:chromium node:nodejs npm:npm openssl:openssl curl:curl; do
  cmd=${bin%%:*} pkg=${bin##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing_deb+=("$pkg")
done
command -v kubectl >/dev/null 2>&1 || echo "note: kubectl not found at /usr/bin/kubectl; the kubectl fidelity tests need it" >&2
# Go builds the test tools in testenv/ from the Go module proxy (Flux's kstatus, Argo CD's Lua VM,
# and a real kube-apiserver, kube-controller-manager and etcd); fledge itself is Rust. Debian's golang is too old for their go.mod, so it is not installed
# here.
if ! command -v go >/dev/null 2>&1; then
  echo "missing: Go 1.26 or newer from your usual Go installer; the GitOps tests (tests/e2e_gitops.rs, make check-gitops) and the real control plane (testenv/k8s, tests/cluster_crds.rs) are built with it" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")/.." && pwd)
browser="$here/tests/browser"

missing_py=()
python3 -c 'import kubernetes_validate' 2>/dev/null || missing_py+=(kubernetes-validate)
command -v check-jsonschema >/dev/null 2>&1 || missing_py+=(check-jsonschema)

# shellcheck disable=SC2207
missing_deb=($(printf '%s\n' "${missing_deb[@]:-}" | sort -u | sed '/^$/d'))
install_playwright() {
  # Node 20 or newer for playwright-core 1.65 (Debian 12's nodejs is 18).
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    echo "missing: Node.js 20 or newer (found ${major}); the dashboard's browser tests run playwright-core with it" >&2
    exit 1
  fi
  if [ ! -d "$browser/node_modules/playwright-core" ]; then
    echo "installing playwright-core into tests/browser/node_modules (npm ci)" >&2
    npm ci --prefix "$browser" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

if [ ${#missing_deb[@]} -eq 0 ] && [ ${#missing_py[@]} -eq 0 ]; then
  install_playwright
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
install_playwright
