#!/usr/bin/env bash
# Builds a real Kubernetes control plane for tests from testenv/k8s (a Go wrapper module pinning
# k8s.io/kubernetes and etcd from the Go module proxy): kube-apiserver, kube-controller-manager
# and etcd, into target/k8s/bin, and prints that directory. Rebuilds only when a build input
# under testenv/k8s (go.mod, go.sum, *.go, this script) is newer than the last build.
# Test infrastructure only: fledge itself is Rust.
#
# Environment: GO_BUILD_P=N passes -p N to go build (default: go's own, the number of CPUs);
# GOCACHE / GOMODCACHE / GOMAXPROCS are honoured as usual.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=testenv/k8s
out=target/k8s/bin
stamp=$out/.built
bins=(etcd kube-apiserver kube-controller-manager)

if ! command -v go >/dev/null 2>&1; then
  echo "testenv/k8s/build.sh: Go is needed to build kube-apiserver, kube-controller-manager and etcd ($src); install Go 1.26 (Debian: apt-get install -y golang) and run again" >&2
  exit 1
fi
[ -f "$src/go.mod" ] || { echo "testenv/k8s/build.sh: no Go module at $src" >&2; exit 1; }

need=
for b in "${bins[@]}"; do [ -x "$out/$b" ] || need=1; done
[ -f "$stamp" ] || need=1
if [ -z "$need" ] && [ -n "$(find "$src" -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name build.sh \) -newer "$stamp" | head -1)" ]; then
  need=1
fi

if [ -n "$need" ]; then
  # The Kubernetes release the wrapper pins, stamped into the binaries as k8s's own build does.
  kver=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$src/go.mod")
  [ -n "$kver" ] || { echo "testenv/k8s/build.sh: no k8s.io/kubernetes version in $src/go.mod" >&2; exit 1; }
  major=${kver#v}; major=${major%%.*}
  minor=${kver#v*.}; minor=${minor%%.*}
  vpkg=k8s.io/component-base/version
  ldflags="-s -w -X $vpkg.gitVersion=$kver -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
  pflag=()
  [ -n "${GO_BUILD_P:-}" ] && pflag=(-p "$GO_BUILD_P")
  mkdir -p "$out"
  rm -f "$stamp"
  echo "testenv/k8s/build.sh: building kube-apiserver, kube-controller-manager ($kver) and etcd into $out (a cold build takes a long while)" >&2
  (
    cd "$src"
    export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"
    go build "${pflag[@]}" -trimpath -ldflags "$ldflags" -o "../../$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
    go build "${pflag[@]}" -trimpath -ldflags "-s -w" -o "../../$out/etcd" go.etcd.io/etcd/server/v3
  ) >&2 || { echo "testenv/k8s/build.sh: building $src failed (see above); needs the Go module proxy or a filled module cache" >&2; exit 1; }
  for b in "${bins[@]}"; do
    [ -x "$out/$b" ] || { echo "testenv/k8s/build.sh: go build succeeded but $out/$b is missing" >&2; exit 1; }
  done
  touch "$stamp"
fi
echo "$PWD/$out"
