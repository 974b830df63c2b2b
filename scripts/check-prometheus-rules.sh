#!/usr/bin/env bash
# Checks the alerting rules in deploy/prometheus/: `promtool check rules` (syntax, PromQL),
# `promtool test rules` (the unit tests in fledge-alerts.test.yaml: every alert firing and not
# firing), and that prometheusrule.yaml (the Prometheus Operator's form) holds exactly the
# rules of fledge-alerts.yaml. Exits non-zero on any failure.
#   scripts/check-prometheus-rules.sh           check
#   scripts/check-prometheus-rules.sh --write   regenerate prometheusrule.yaml, then check
# Needs promtool (Debian: apt-get install -y prometheus). Reads only files in the repository;
# starts no server and binds no port.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"
if ! command -v promtool >/dev/null 2>&1; then
  echo "check-prometheus-rules: promtool is needed (Debian: apt-get install -y prometheus)" >&2
  exit 1
fi

# The PrometheusRule: a fixed header, then fledge-alerts.yaml from `groups:` on, indented under
# `spec:` (comments included, so the two read the same).
generate() {
  cat <<'HEADER'
# GENERATED from fledge-alerts.yaml by `scripts/check-prometheus-rules.sh --write`: edit that
# file, not this one (the check fails when they differ). The rules are explained there.
# For the Prometheus Operator; your Prometheus may select rules by label (ruleSelector): add it
# here. The rules assume the scrape job `fledge` (servicemonitor.yaml).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: fledge
  labels:
    app.kubernetes.io/name: fledge
spec:
HEADER
  awk 'found || /^groups:/ { found = 1; if ($0 == "") print ""; else print "  " $0 }' fledge-alerts.yaml
}

status=0
if [ "${1:-}" = "--write" ]; then
  generate > prometheusrule.yaml
  echo "wrote deploy/prometheus/prometheusrule.yaml"
fi
if ! diff -u prometheusrule.yaml <(generate) >&2; then
  echo "FAIL: deploy/prometheus/prometheusrule.yaml differs from fledge-alerts.yaml; run scripts/check-prometheus-rules.sh --write" >&2
  status=1
fi
# The same rules once parsed, whatever the text (needs PyYAML; skipped without it).
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - <<'PY' || status=1
import sys, yaml
plain = yaml.safe_load(open("fledge-alerts.yaml"))
rule = yaml.safe_load(open("prometheusrule.yaml"))
if rule.get("kind") != "PrometheusRule" or rule.get("spec") != plain:
    sys.exit("FAIL: prometheusrule.yaml's spec is not fledge-alerts.yaml")
PY
fi
promtool check rules fledge-alerts.yaml || status=1
promtool test rules fledge-alerts.test.yaml || status=1
if [ $status -eq 0 ]; then
  echo "ok: deploy/prometheus rules check, unit tests pass, prometheusrule.yaml in sync"
else
  echo "FAIL: deploy/prometheus rules (see above)" >&2
fi
exit $status
