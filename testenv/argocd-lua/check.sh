#!/usr/bin/env bash
# Quick self-check of fledge's Argo CD Lua scripts (deploy/argocd/customizations) with the
# argocd-lua harness on the hand-made Canary objects in testdata/. The project's real test runs
# the same tool over Canaries captured from end-to-end runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
tool=$(scripts/gotool argocd-lua)
dir=deploy/argocd/customizations
data=testenv/argocd-lua/testdata
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_health FILE STATUS [MESSAGE-SUBSTRING]
expect_health() {
  local out
  out=$("$tool" health "$dir/health.lua" "$data/$1.json") || { bad "$1: health exited $?"; return; }
  case $out in
    "{\"status\":\"$2\","*"${3:-}"*) ok ;;
    *) bad "$1: want $2${3:+ with \"$3\"}, got $out" ;;
  esac
}
expect_health no-status             Progressing "pick up the Canary"
expect_health initializing          Progressing "Initializing, canary weight 0%"
expect_health initialized           Healthy     "Initialized"
expect_health progressing           Progressing "Progressing, canary weight 20%"
expect_health promoting             Progressing "Promoting, canary weight 50%"
expect_health finalising            Progressing
expect_health stale-generation      Progressing "observe generation 3"
expect_health waiting               Suspended   "waiting for approval"
expect_health waiting-promotion     Suspended   "WaitingPromotion"
expect_health suspended-succeeded   Suspended   "spec.suspend"
expect_health paused-progressing    Suspended   "paused by request"
expect_health suspended-progressing Suspended   "canary weight 30%"
expect_health succeeded             Healthy     "Succeeded, canary weight 0%"
expect_health failed                Degraded    "last failed check: metric request-success-rate = 42.5 (wanted >= 99)"
expect_health promotion-failed      Degraded    "Failed (PromotionFailed), canary weight 100%"
expect_health invalid-spec          Degraded    "invalid spec: spec.analysis.stepWeight"
expect_health terminating           Progressing
expect_health terminated            Healthy     "Terminated"
expect_health flagger-failed        Degraded    "Canary analysis failed"
expect_health flagger-succeeded     Healthy

# expect_discovery FILE JSON
expect_discovery() {
  local out
  out=$("$tool" discovery "$dir/actions/discovery.lua" "$data/$1.json") || { bad "$1: discovery exited $?"; return; }
  [ "$out" = "$2" ] && ok || bad "$1: discovery: want $2, got $out"
}
d() { echo "{\"abort\":{\"disabled\":$1},\"pause\":{\"disabled\":$2},\"promote\":{\"disabled\":$3},\"resume\":{\"disabled\":$4},\"retry\":{\"disabled\":$5}}"; }
#                                       abort pause promote resume retry
expect_discovery progressing         "$(d false false false   true   true)"
expect_discovery waiting-promotion   "$(d false false false   true   true)"
expect_discovery failed              "$(d true  false true    true   false)"
expect_discovery promotion-failed    "$(d true  false false   true   false)"
expect_discovery succeeded           "$(d true  false true    true   true)"
expect_discovery suspended-succeeded "$(d true  false true    true   true)"
expect_discovery paused-progressing  "$(d false true  false   false  true)"
expect_discovery no-status           "$(d true  false true    true   true)"

# Actions: the merge patch Argo CD would send is exactly the intended change (so the round trip
# through Lua lost nothing), and the full object keeps integers and empty objects/arrays.
for a in promote abort retry pause resume; do
  out=$("$tool" action --merge-patch "$dir/actions/$a.lua" "$data/progressing.json") || { bad "$a: exited $?"; continue; }
  [[ $out =~ ^\{\"metadata\":\{\"annotations\":\{\"fledge.dev/request\":\"$a@[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"\}\}\}$ ]] \
    && ok || bad "$a: merge patch $out"
done
out=$("$tool" action "$dir/actions/promote.lua" "$data/progressing.json")
for want in '"canaryWeight":20,' '"generation":2,' '"value":99.5,' '"labels":{}' '"headers":{}' '"webhooks":[]'; do
  [[ $out == *"$want"* ]] && ok || bad "promote: output lacks $want"
done

# Errors: exit 1 and the script's name on stderr (bad JSON; a result that is not an object).
expect_error() {
  local err rc=0
  err=$("$tool" "$1" "$2" "$3" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 1 ] && [[ $err == *"$(basename "$2")"*"$4"* ]] && ok || bad "$1 $2 $3: want exit 1 and \"$4\", got $rc: $err"
}
expect_error health "$dir/health.lua" <(echo '{"kind":') "not JSON"
expect_error action "$dir/actions/discovery.lua" "$data/progressing.json" "no kind"

# The generated actions document is in step with the .lua files, and the kustomization renders.
deploy/argocd/generate-actions.sh --check >/dev/null && ok || bad "deploy/argocd/customizations/actions.yaml is stale"
# In the rendered argocd-cm, every script is the file tested above, and the actions key parses
# into Argo CD's shape (discovery.lua, definitions[].name/action.lua). Needs kubectl and PyYAML.
if command -v kubectl >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
  kubectl kustomize deploy/argocd | python3 -c '
import sys, yaml
d = "deploy/argocd/customizations/"
cm = yaml.safe_load(sys.stdin)
data = cm["data"]
assert cm["metadata"]["name"] == "argocd-cm" and cm["metadata"]["namespace"] == "argocd"
assert cm["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
health = open(d + "health.lua").read()
assert data["resource.customizations.health.fledge.dev_Canary"] == health
assert data["resource.customizations.health.flagger.app_Canary"] == health
acts = yaml.safe_load(data["resource.customizations.actions.fledge.dev_Canary"])
assert acts["discovery.lua"] == open(d + "actions/discovery.lua").read()
names = [a["name"] for a in acts["definitions"]]
assert names == ["promote", "abort", "retry", "pause", "resume"], names
for a in acts["definitions"]:
    assert a["action.lua"] == open(d + "actions/" + a["name"] + ".lua").read(), a["name"]
ign = yaml.safe_load(data["resource.customizations.ignoreDifferences.apps_Deployment"])
assert ign == {"jsonPointers": ["/spec/replicas"]}, ign
' && ok || bad "the rendered argocd-cm does not hold the tested scripts"
else
  echo "skipped: the rendered argocd-cm check (needs kubectl and python3 with PyYAML)" >&2
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
