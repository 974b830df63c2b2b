//! deploy/rbac grants nothing the controller never uses. Every real control plane a test starts
//! keeps an audit log of the fledge ServiceAccount's requests, and leaves the verbs and
//! resources it saw under `target/tmp/rbac-usage/` when it stops. This test reads them all, so
//! it runs after the suite (`make test` runs it with `--ignored` once the suite has passed); a
//! permission deploy/rbac lacks fails the scenario that needed it instead (a `forbidden` in the
//! controller's log).

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::control_plane::rbac_usage_dir;
use support::repo;

/// Grants the API server checks without a request of their own, so no audit event shows them
/// used, and why each is still needed.
/// Both are checked by OwnerReferencesPermissionEnforcement, which scripts/cluster enables (as
/// OpenShift does), so removing either fails scenarios in the cluster world.
const CHECKED_BY_ADMISSION: &[(&str, &str)] = &[
    (
        "update fledge.dev canaries/finalizers",
        "needed to set blockOwnerDeletion on an ownerReference to a Canary (every -primary object)",
    ),
    (
        "delete  services",
        "needed to change the ownerReferences of an existing object: the apex Service fledge \
         takes over and gives back (opt-in removal, revertOnDeletion)",
    ),
];

/// `verb group resource` for every rule of the ClusterRole and Roles in deploy/rbac.
fn granted() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in ["clusterrole.yaml", "leader-election-role.yaml"] {
        let path = repo().join("deploy/rbac").join(file);
        let text = std::fs::read_to_string(&path).expect("read deploy/rbac");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("deploy/rbac parses");
        for doc in docs {
            if !matches!(doc["kind"].as_str(), Some("ClusterRole" | "Role")) {
                continue;
            }
            for rule in doc["rules"].as_array().into_iter().flatten() {
                let strings = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                };
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            out.insert(format!("{verb} {group} {resource}"));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
#[ignore = "reads what the suite's real control planes recorded: run after it (make test does)"]
fn every_permission_deploy_rbac_grants_is_used_on_a_real_api_server() {
    let dir = rbac_usage_dir();
    let mut used = BTreeSet::new();
    let mut runs = 0;
    for entry in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run the suite first", dir.display()))
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).expect("read a usage file");
        used.extend(text.lines().map(str::to_string));
        runs += 1;
    }
    assert!(runs > 0, "{} is empty: run the suite first", dir.display());
    let granted = granted();
    let exempt: BTreeSet<String> = CHECKED_BY_ADMISSION
        .iter()
        .map(|(g, _)| g.to_string())
        .collect();
    let unused: Vec<&String> = granted
        .iter()
        .filter(|g| !used.contains(*g) && !exempt.contains(*g))
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/rbac grants these and no scenario on a real API server used them ({runs} runs \
         recorded in {}); remove them from deploy/rbac, or add the scenario that needs them:\n{}",
        dir.display(),
        unused
            .iter()
            .map(|g| format!("  {g}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Used but not granted: refused by the server (the scenario's log shows it too).
    let ungranted: Vec<&String> = used.iter().filter(|u| !granted.contains(*u)).collect();
    assert!(
        ungranted.is_empty(),
        "requests deploy/rbac does not grant (refused by the server): {ungranted:#?}"
    );
}
