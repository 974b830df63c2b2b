//! The resource registry: which kinds the sim serves, under which group/version/plural, with
//! which subresources. Discovery, OpenAPI, tables and the store all read it. Builtins are a fixed
//! table; CustomResourceDefinitions add entries when they are created. It never stores objects.

use std::borrow::Cow;

use serde_json::Value;

/// A group plus a plural resource name: the storage key of a kind, independent of version
/// (a CRD with several versions keeps one set of objects, as the real server does with
/// conversion strategy `None`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: Cow<'static, str>,
    pub resource: Cow<'static, str>,
}

impl GroupResource {
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        GroupResource {
            group: Cow::Owned(group.into()),
            resource: Cow::Owned(resource.into()),
        }
    }

    pub const fn of(group: &'static str, resource: &'static str) -> Self {
        GroupResource {
            group: Cow::Borrowed(group),
            resource: Cow::Borrowed(resource),
        }
    }

    /// `deployments.apps`, or just `configmaps` for the core group (as in error messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.qualified())
    }
}

/// Storage keys of the builtin resources, for in-process users of the store.
pub mod resources {
    use super::GroupResource;
    pub const NAMESPACES: GroupResource = GroupResource::of("", "namespaces");
    pub const CONFIGMAPS: GroupResource = GroupResource::of("", "configmaps");
    pub const SECRETS: GroupResource = GroupResource::of("", "secrets");
    pub const SERVICES: GroupResource = GroupResource::of("", "services");
    pub const ENDPOINTS: GroupResource = GroupResource::of("", "endpoints");
    /// Core v1 events. `events.k8s.io/v1` events are the same objects seen in another shape.
    pub const EVENTS: GroupResource = GroupResource::of("", "events");
    pub const PODS: GroupResource = GroupResource::of("", "pods");
    pub const SERVICEACCOUNTS: GroupResource = GroupResource::of("", "serviceaccounts");
    pub const DEPLOYMENTS: GroupResource = GroupResource::of("apps", "deployments");
    pub const REPLICASETS: GroupResource = GroupResource::of("apps", "replicasets");
    pub const DAEMONSETS: GroupResource = GroupResource::of("apps", "daemonsets");
    pub const STATEFULSETS: GroupResource = GroupResource::of("apps", "statefulsets");
    pub const HPAS: GroupResource = GroupResource::of("autoscaling", "horizontalpodautoscalers");
    pub const INGRESSES: GroupResource = GroupResource::of("networking.k8s.io", "ingresses");
    pub const LEASES: GroupResource = GroupResource::of("coordination.k8s.io", "leases");
    pub const CRDS: GroupResource =
        GroupResource::of("apiextensions.k8s.io", "customresourcedefinitions");
}

/// Paths of a CRD's scale subresource (`spec.versions[].subresources.scale`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One served resource in one version.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    /// Builtins with a `/scale` (Deployments, ReplicaSets, StatefulSets) or a CRD's scale paths.
    pub scale: Option<ScalePaths>,
    /// A CRD's `additionalPrinterColumns` (None for builtins: they have coded columns).
    pub printer_columns: Option<Vec<Value>>,
    /// A CRD's `openAPIV3Schema`.
    pub schema: Option<Value>,
    /// Whether this is the storage/preferred version of its group resource.
    pub preferred: bool,
    /// True for CRD-defined resources (strategic merge patch is refused for them).
    pub custom: bool,
    /// Where the objects live. Differs from (group, plural) only for `events.k8s.io` events.
    pub storage: GroupResource,
}

impl ResourceDef {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(self.group.clone(), self.plural.clone())
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `Deployment.apps` style name used in `Invalid` messages.
    pub fn kind_group(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether the kind has a `spec` whose changes bump `metadata.generation`.
    pub fn tracks_generation(&self) -> bool {
        self.custom
            || matches!(
                self.plural.as_str(),
                "deployments"
                    | "replicasets"
                    | "daemonsets"
                    | "statefulsets"
                    | "horizontalpodautoscalers"
                    | "ingresses"
                    | "customresourcedefinitions"
                    | "pods"
            )
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    all: bool,
    has_status: bool,
) -> ResourceDef {
    ResourceDef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: if all { vec!["all".into()] } else { vec![] },
        has_status,
        scale: None,
        printer_columns: None,
        schema: None,
        preferred: true,
        custom: false,
        storage: GroupResource::new(group, plural),
    }
}

/// The builtin kinds the sim serves.
pub fn builtins() -> Vec<ResourceDef> {
    let scale = |mut d: ResourceDef| {
        d.scale = Some(ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: None,
        });
        d
    };
    let mut ev2 = builtin(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        false,
        false,
    );
    ev2.storage = super::resources::EVENTS;
    vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            false,
            true,
        ),
        builtin(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            &["cm"],
            false,
            false,
        ),
        builtin("", "v1", "Secret", "secrets", true, &[], false, false),
        builtin("", "v1", "Service", "services", true, &["svc"], true, true),
        builtin(
            "",
            "v1",
            "Endpoints",
            "endpoints",
            true,
            &["ep"],
            false,
            false,
        ),
        builtin("", "v1", "Event", "events", true, &["ev"], false, false),
        builtin("", "v1", "Pod", "pods", true, &["po"], true, true),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            false,
            false,
        ),
        scale(builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            true,
            &["deploy"],
            true,
            true,
        )),
        scale(builtin(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            true,
            &["rs"],
            true,
            true,
        )),
        builtin(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            true,
            &["ds"],
            true,
            true,
        ),
        scale(builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            true,
            &["sts"],
            true,
            true,
        )),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            &["hpa"],
            true,
            true,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            false,
            true,
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            true,
            &[],
            false,
            false,
        ),
        ev2,
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            false,
            true,
        ),
    ]
}

/// The set of served resources: builtins plus whatever CRDs defined.
#[derive(Clone, Debug)]
pub struct Registry {
    defs: Vec<ResourceDef>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { defs: builtins() }
    }
}

impl Registry {
    pub fn all(&self) -> &[ResourceDef] {
        &self.defs
    }

    /// The definition served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    /// The preferred-version definition stored under `gr`.
    pub fn by_storage(&self, gr: &GroupResource) -> Option<&ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == gr.group && d.plural == gr.resource && d.preferred)
            .or_else(|| {
                self.defs
                    .iter()
                    .find(|d| d.group == gr.group && d.plural == gr.resource)
            })
    }

    /// The definition for an object's `apiVersion` + `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceDef> {
        let (group, version) = split_api_version(api_version);
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.kind == kind)
    }

    /// Group names with their versions in preference order (core first, as `/api` + `/apis`).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in &self.defs {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) => {
                    if !versions.contains(&d.version) {
                        versions.push(d.version.clone());
                    }
                }
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by_key(|v| version_priority(v));
        }
        out
    }

    /// Replace the definitions that came from the CRD `crd_name` (empty `defs` removes them).
    pub fn set_custom(&mut self, crd_name: &str, defs: Vec<ResourceDef>) {
        self.defs
            .retain(|d| !(d.custom && format!("{}.{}", d.plural, d.group) == crd_name));
        self.defs.extend(defs);
    }
}

/// Sort key of a version in Kubernetes' preference order (the order discovery lists versions
/// and picks the preferred one): GA before beta before alpha, higher numbers first, then
/// anything else alphabetically.
pub fn version_priority(v: &str) -> (u8, i64, i64, String) {
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: i64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        let (stage, minor) = if tail.is_empty() {
            (0, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (1, n.parse().ok()?)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (2, n.parse().ok()?)
        } else {
            return None;
        };
        Some((stage, -major, -minor))
    });
    match parsed {
        Some((stage, major, minor)) => (stage, major, minor, String::new()),
        None => (3, 0, 0, v.to_string()),
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (empty, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The served definitions a CRD object declares (its `spec.versions[].served`).
pub fn defs_from_crd(crd: &Value) -> Vec<ResourceDef> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str())
        .map(String::from);
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| {
            let version = v["name"].as_str().unwrap_or_default().to_string();
            let sub = &v["subresources"];
            let scale = sub.get("scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"]
                    .as_str()
                    .unwrap_or(".spec.replicas")
                    .to_string(),
                status_replicas: s["statusReplicasPath"]
                    .as_str()
                    .unwrap_or(".status.replicas")
                    .to_string(),
                label_selector: s["labelSelectorPath"].as_str().map(String::from),
            });
            ResourceDef {
                group: group.clone(),
                preferred: storage_version.as_deref() == Some(version.as_str()),
                version,
                kind: kind.clone(),
                list_kind: names["listKind"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("{kind}List")),
                plural: plural.clone(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_ascii_lowercase()),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strs(&names["shortNames"]),
                categories: strs(&names["categories"]),
                has_status: sub.get("status").is_some(),
                scale,
                printer_columns: Some(
                    v["additionalPrinterColumns"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                ),
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                custom: true,
                storage: GroupResource::new(group.clone(), plural.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_versions_become_defs() {
        let crd = json!({"spec": {"group": "fledge.dev", "scope": "Namespaced",
            "names": {"plural": "canaries", "kind": "Canary", "shortNames": ["cn"]},
            "versions": [{"name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Status", "type": "string", "jsonPath": ".status.phase"}],
                "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1alpha1", "served": false, "storage": false}]}});
        let defs = defs_from_crd(&crd);
        assert_eq!(defs.len(), 1);
        let d = &defs[0];
        assert_eq!(
            (d.kind.as_str(), d.list_kind.as_str(), d.singular.as_str()),
            ("Canary", "CanaryList", "canary")
        );
        assert!(d.has_status && d.namespaced && d.preferred && d.custom);
        assert_eq!(d.printer_columns.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut vs = vec![
            "v1alpha1", "v1beta1", "v2", "v1", "v1alpha2", "v1beta2", "foo",
        ];
        vs.sort_by_key(|v| version_priority(v));
        assert_eq!(
            vs,
            [
                "v2", "v1", "v1beta2", "v1beta1", "v1alpha2", "v1alpha1", "foo"
            ]
        );
    }

    #[test]
    fn groups_put_preferred_version_first() {
        let reg = Registry::default();
        let groups = reg.groups();
        assert_eq!(groups[0].0, "");
        assert!(
            groups
                .iter()
                .any(|(g, v)| g == "autoscaling" && v == &vec!["v2".to_string()])
        );
    }
}
