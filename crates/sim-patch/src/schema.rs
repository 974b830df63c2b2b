//! How the lists of the builtin kinds the sim serves merge: the part of the
//! Kubernetes OpenAPI (`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`) that strategic merge and server-side apply
//! need. Lists not named here are atomic (replaced whole), which is also the
//! API server's default. A pure lookup table; never I/O.

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole (`listType=atomic`, no patch strategy).
    Atomic,
    /// A set of scalars (`listType=set`, `patchStrategy=merge`), e.g.
    /// `metadata.finalizers`.
    Set,
    /// A map keyed by these fields (`listType=map`). The first key is the
    /// strategic-merge `patchMergeKey`; all of them form server-side apply's
    /// `k:{...}` key.
    Map(&'static [&'static str]),
}

/// The list type of the field at `path` (field names from the object root;
/// list elements add nothing) in an object of `kind`, e.g.
/// `list_type("Deployment", &["spec", "template", "spec", "containers"])`.
pub fn list_type(kind: &str, path: &[&str]) -> ListType {
    const NAME: &[&str] = &["name"];
    match path {
        [.., "metadata", "ownerReferences"] => return ListType::Map(&["uid"]),
        [.., "metadata", "finalizers"] => return ListType::Set,
        ["status", "conditions"] => return ListType::Map(&["type"]),
        _ => {}
    }
    match (kind, path) {
        ("Service", ["spec", "ports"]) => return ListType::Map(&["port", "protocol"]),
        ("Node", ["status", "addresses"]) => return ListType::Map(&["type"]),
        ("Pod", ["status", "podIPs" | "hostIPs"]) => return ListType::Map(&["ip"]),
        _ => {}
    }
    let Some(rest) = pod_spec_prefix(kind).and_then(|p| path.strip_prefix(p)) else {
        return ListType::Atomic;
    };
    match rest {
        ["containers" | "initContainers" | "ephemeralContainers"] => ListType::Map(NAME),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            field,
        ] => match *field {
            "env" => ListType::Map(NAME),
            "ports" => ListType::Map(&["containerPort", "protocol"]),
            "volumeMounts" => ListType::Map(&["mountPath"]),
            "volumeDevices" => ListType::Map(&["devicePath"]),
            _ => ListType::Atomic,
        },
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListType::Map(NAME)
        }
        ["hostAliases"] => ListType::Map(&["ip"]),
        ["topologySpreadConstraints"] => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        _ => ListType::Atomic,
    }
}

/// Whether the map at `path` is owned as a whole by server-side apply
/// (`x-kubernetes-map-type: atomic`): label selectors.
pub fn is_atomic_map(path: &[&str]) -> bool {
    matches!(
        path,
        ["spec", "selector"] | [.., "labelSelector" | "namespaceSelector"]
    )
}

/// Where the pod spec sits in each kind that carries one.
fn pod_spec_prefix(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_have_their_kubernetes_merge_keys() {
        let cases: &[(&str, &[&str], ListType)] = &[
            (
                "Deployment",
                &["spec", "template", "spec", "containers"],
                ListType::Map(&["name"]),
            ),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "initContainers"],
                ListType::Map(&["name"]),
            ),
            ("Pod", &["spec", "containers"], ListType::Map(&["name"])),
            (
                "CronJob",
                &["spec", "jobTemplate", "spec", "template", "spec", "volumes"],
                ListType::Map(&["name"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "env"],
                ListType::Map(&["name"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "ports"],
                ListType::Map(&["containerPort", "protocol"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "volumeMounts"],
                ListType::Map(&["mountPath"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "envFrom"],
                ListType::Atomic,
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "args"],
                ListType::Atomic,
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "imagePullSecrets"],
                ListType::Map(&["name"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "tolerations"],
                ListType::Atomic,
            ),
            (
                "Service",
                &["spec", "ports"],
                ListType::Map(&["port", "protocol"]),
            ),
            ("Deployment", &["spec", "ports"], ListType::Atomic),
            (
                "Deployment",
                &["status", "conditions"],
                ListType::Map(&["type"]),
            ),
            (
                "Canary",
                &["status", "conditions"],
                ListType::Map(&["type"]),
            ),
            (
                "Deployment",
                &["metadata", "ownerReferences"],
                ListType::Map(&["uid"]),
            ),
            (
                "Deployment",
                &["spec", "template", "metadata", "finalizers"],
                ListType::Set,
            ),
            ("ConfigMap", &["metadata", "finalizers"], ListType::Set),
            (
                "HorizontalPodAutoscaler",
                &["spec", "metrics"],
                ListType::Atomic,
            ),
            ("Ingress", &["spec", "rules"], ListType::Atomic),
            ("Canary", &["spec", "analysis", "metrics"], ListType::Atomic),
            ("Pod", &["status", "podIPs"], ListType::Map(&["ip"])),
            ("Node", &["status", "addresses"], ListType::Map(&["type"])),
            (
                "Deployment",
                &["spec", "template", "spec", "topologySpreadConstraints"],
                ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "hostAliases"],
                ListType::Map(&["ip"]),
            ),
        ];
        for (kind, path, want) in cases {
            assert_eq!(list_type(kind, path), *want, "{kind} {}", path.join("."));
        }
    }

    #[test]
    fn selectors_are_atomic_maps() {
        assert!(is_atomic_map(&["spec", "selector"]));
        assert!(is_atomic_map(&[
            "spec",
            "template",
            "spec",
            "affinity",
            "podAffinity",
            "x",
            "labelSelector"
        ]));
        assert!(!is_atomic_map(&["metadata", "labels"]));
    }
}
