#!/usr/bin/env bash
# Self-check of the kstatus test tool: builds it with scripts/gotool and runs it over the
# hand-made Canaries in testdata/, comparing with testdata/expected.txt; then checks that a file
# it cannot parse exits 1. Exits non-zero on any difference.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$("$here/../../scripts/gotool" kstatus)
cd "$here"
if ! diff -u testdata/expected.txt <("$bin" testdata/canary-*); then
  echo "kstatus check: FAIL (output differs from testdata/expected.txt)" >&2; exit 1
fi
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
printf 'kind: [\n' > "$tmp"
if "$bin" "$tmp" >/dev/null 2>&1; then
  echo "kstatus check: FAIL (an unparsable file did not fail)" >&2; exit 1
elif [ $? -ne 1 ]; then
  echo "kstatus check: FAIL (an unparsable file did not exit 1)" >&2; exit 1
fi
echo "kstatus check: ok ($(wc -l < testdata/expected.txt) Canaries)"
