//! ConfigMap and Secret tracking: which configs a pod spec uses, their checksums, their
//! `-primary` copies, and rewriting a pod spec to use the copies. Pure; the controller reads the
//! objects and writes the copies.
//!
//! Rules kept from Flagger: volumes (also projected sources), `env[].valueFrom` and `envFrom` of
//! containers and init containers are scanned; image pull secrets and CSI volumes are not; a
//! config annotated `fledge.dev/config-tracking: disabled` (or Flagger's
//! `flagger.app/config-tracking`) is neither copied nor rewritten; only Opaque, basic-auth,
//! ssh-auth and tls Secrets are tracked. Unlike Flagger we also hash and copy ConfigMap
//! `binaryData`, so a binary-only change is a new revision too.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

pub use fledge_api::names::TRACKING_ANNOTATION;
pub const FLAGGER_TRACKING_ANNOTATION: &str = "flagger.app/config-tracking";

/// Secret types whose content is application configuration (registry credentials are not).
const TRACKED_SECRET_TYPES: [&str; 4] = [
    "Opaque",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
    "kubernetes.io/tls",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigKind {
    ConfigMap,
    Secret,
}

impl ConfigKind {
    /// The key prefix used in `status.trackedConfigs` (Flagger's spelling).
    pub fn key_prefix(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "configmap",
            ConfigKind::Secret => "secret",
        }
    }
}

/// One config the pod spec references.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigRef {
    pub kind: ConfigKind,
    pub name: String,
    /// Every reference to it is `optional: true`: a missing object is skipped, not an error.
    pub optional: bool,
}

impl ConfigRef {
    pub fn status_key(&self) -> String {
        format!("{}/{}", self.kind.key_prefix(), self.name)
    }
}

/// Every ConfigMap and Secret a pod spec references, sorted and de-duplicated. A config that is
/// referenced both optionally and mandatorily counts as mandatory.
pub fn referenced_configs(spec: &PodSpec) -> Vec<ConfigRef> {
    let mut found: BTreeMap<(ConfigKind, String), bool> = BTreeMap::new();
    let mut add = |kind, name: &str, optional: Option<bool>| {
        if name.is_empty() {
            return;
        }
        let optional = optional.unwrap_or(false);
        found
            .entry((kind, name.to_string()))
            .and_modify(|o| *o = *o && optional)
            .or_insert(optional);
    };
    for volume in spec.volumes.iter().flatten() {
        if let Some(cm) = &volume.config_map {
            add(ConfigKind::ConfigMap, &cm.name, cm.optional);
        }
        if let Some(secret) = &volume.secret {
            add(
                ConfigKind::Secret,
                secret.secret_name.as_deref().unwrap_or(""),
                secret.optional,
            );
        }
        if let Some(projected) = &volume.projected {
            for source in projected.sources.iter().flatten() {
                if let Some(cm) = &source.config_map {
                    add(ConfigKind::ConfigMap, &cm.name, cm.optional);
                }
                if let Some(secret) = &source.secret {
                    add(ConfigKind::Secret, &secret.name, secret.optional);
                }
            }
        }
    }
    for container in all_containers(spec) {
        for env in container.env.iter().flatten() {
            if let Some(from) = &env.value_from {
                if let Some(key) = &from.config_map_key_ref {
                    add(ConfigKind::ConfigMap, &key.name, key.optional);
                }
                if let Some(key) = &from.secret_key_ref {
                    add(ConfigKind::Secret, &key.name, key.optional);
                }
            }
        }
        for from in container.env_from.iter().flatten() {
            if let Some(cm) = &from.config_map_ref {
                add(ConfigKind::ConfigMap, &cm.name, cm.optional);
            }
            if let Some(secret) = &from.secret_ref {
                add(ConfigKind::Secret, &secret.name, secret.optional);
            }
        }
    }
    found
        .into_iter()
        .map(|((kind, name), optional)| ConfigRef {
            kind,
            name,
            optional,
        })
        .collect()
}

fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
}

fn all_containers_mut(spec: &mut PodSpec) -> impl Iterator<Item = &mut Container> {
    spec.containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
}

/// Whether an object opted out of tracking (Flagger: the value starts with `disable`).
pub fn tracking_disabled(meta: &ObjectMeta) -> bool {
    meta.annotations.as_ref().is_some_and(|a| {
        [TRACKING_ANNOTATION, FLAGGER_TRACKING_ANNOTATION]
            .iter()
            .any(|key| a.get(*key).is_some_and(|v| v.starts_with("disable")))
    })
}

pub fn secret_is_trackable(secret: &Secret) -> bool {
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    TRACKED_SECRET_TYPES.contains(&kind)
}

/// Checksum of a ConfigMap's content (data and binaryData), stable across runs and versions.
pub fn configmap_checksum(cm: &ConfigMap) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in cm.data.iter().flatten() {
        hash_entry(&mut hasher, "d", k, v.as_bytes());
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        hash_entry(&mut hasher, "b", k, &v.0);
    }
    short_hex(hasher)
}

/// Checksum of a Secret's content. Only the digest is stored; the data never leaves memory.
pub fn secret_checksum(secret: &Secret) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in secret.data.iter().flatten() {
        hash_entry(&mut hasher, "d", k, &v.0);
    }
    for (k, v) in secret.string_data.iter().flatten() {
        hash_entry(&mut hasher, "s", k, v.as_bytes());
    }
    short_hex(hasher)
}

/// Length-prefixed so that `{"ab": "c"}` and `{"a": "bc"}` hash differently.
fn hash_entry(hasher: &mut Sha256, tag: &str, key: &str, value: &[u8]) {
    hasher.update(tag.as_bytes());
    hasher.update((key.len() as u64).to_le_bytes());
    hasher.update(key.as_bytes());
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value);
}

fn short_hex(hasher: Sha256) -> String {
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<name>-primary`, the copy the primary Deployment reads.
pub fn primary_name(name: &str) -> String {
    format!("{name}-primary")
}

/// Labels copied onto generated objects: those whose key starts with one of the prefixes
/// (`*` means all; an empty list means none, as Flagger's `-include-label-prefix`), never Flux's
/// own toolkit labels.
pub fn filter_labels(
    labels: Option<&BTreeMap<String, String>>,
    include_prefixes: &[String],
) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.contains("toolkit.fluxcd.io"))
        .filter(|(k, _)| {
            include_prefixes
                .iter()
                .any(|p| p == "*" || k.starts_with(p.as_str()))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The `-primary` copy of a ConfigMap, owned by the canary. Owner references of other canaries
/// on an existing copy are kept (as non-controller refs) so a shared config is not garbage
/// collected when one of its canaries goes away.
pub fn primary_configmap(
    source: &ConfigMap,
    existing: Option<&ConfigMap>,
    owner: &OwnerReference,
    managed_by: &BTreeMap<String, String>,
    include_prefixes: &[String],
) -> ConfigMap {
    ConfigMap {
        metadata: copy_meta(
            &source.metadata,
            existing.map(|e| &e.metadata),
            owner,
            managed_by,
            include_prefixes,
        ),
        data: source.data.clone(),
        binary_data: source.binary_data.clone(),
        immutable: None,
    }
}

/// The `-primary` copy of a Secret (same data and type), owned by the canary.
pub fn primary_secret(
    source: &Secret,
    existing: Option<&Secret>,
    owner: &OwnerReference,
    managed_by: &BTreeMap<String, String>,
    include_prefixes: &[String],
) -> Secret {
    Secret {
        metadata: copy_meta(
            &source.metadata,
            existing.map(|e| &e.metadata),
            owner,
            managed_by,
            include_prefixes,
        ),
        data: source.data.clone(),
        string_data: source.string_data.clone(),
        type_: source.type_.clone(),
        immutable: None,
    }
}

fn copy_meta(
    source: &ObjectMeta,
    existing: Option<&ObjectMeta>,
    owner: &OwnerReference,
    managed_by: &BTreeMap<String, String>,
    include_prefixes: &[String],
) -> ObjectMeta {
    let mut labels = filter_labels(source.labels.as_ref(), include_prefixes);
    labels.extend(managed_by.clone());
    let mut owners = vec![owner.clone()];
    for other in existing
        .and_then(|e| e.owner_references.as_ref())
        .into_iter()
        .flatten()
    {
        if other.uid != owner.uid && other.kind == owner.kind {
            owners.push(OwnerReference {
                controller: Some(false),
                ..other.clone()
            });
        }
    }
    ObjectMeta {
        name: source.name.as_deref().map(primary_name),
        namespace: source.namespace.clone(),
        labels: Some(labels),
        annotations: Some(super::flux_opt_out_annotations()),
        owner_references: Some(owners),
        resource_version: existing.and_then(|e| e.resource_version.clone()),
        ..ObjectMeta::default()
    }
}

/// Points every reference to a tracked config at its `-primary` copy.
pub fn rewrite_config_refs(spec: &mut PodSpec, tracked: &BTreeSet<(ConfigKind, String)>) {
    let rename = |kind: ConfigKind, name: &mut String| {
        if tracked.contains(&(kind, name.clone())) {
            *name = primary_name(name);
        }
    };
    for volume in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = &mut volume.config_map {
            rename(ConfigKind::ConfigMap, &mut cm.name);
        }
        if let Some(secret) = &mut volume.secret
            && let Some(name) = &mut secret.secret_name
        {
            rename(ConfigKind::Secret, name);
        }
        if let Some(projected) = &mut volume.projected {
            for source in projected.sources.iter_mut().flatten() {
                if let Some(cm) = &mut source.config_map {
                    rename(ConfigKind::ConfigMap, &mut cm.name);
                }
                if let Some(secret) = &mut source.secret {
                    rename(ConfigKind::Secret, &mut secret.name);
                }
            }
        }
    }
    for container in all_containers_mut(spec) {
        for env in container.env.iter_mut().flatten() {
            if let Some(from) = &mut env.value_from {
                if let Some(key) = &mut from.config_map_key_ref {
                    rename(ConfigKind::ConfigMap, &mut key.name);
                }
                if let Some(key) = &mut from.secret_key_ref {
                    rename(ConfigKind::Secret, &mut key.name);
                }
            }
        }
        for from in container.env_from.iter_mut().flatten() {
            if let Some(cm) = &mut from.config_map_ref {
                rename(ConfigKind::ConfigMap, &mut cm.name);
            }
            if let Some(secret) = &mut from.secret_ref {
                rename(ConfigKind::Secret, &mut secret.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).expect("valid pod spec")
    }

    fn sample() -> PodSpec {
        pod_spec(json!({
            "containers": [{
                "name": "app",
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "a"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "b", "optional": true}}},
                    {"name": "C", "value": "plain"}
                ],
                "envFrom": [{"configMapRef": {"name": "from-cm"}}, {"secretRef": {"name": "from-secret"}}]
            }],
            "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "init-cm"}}]}],
            "imagePullSecrets": [{"name": "registry"}],
            "volumes": [
                {"name": "v1", "configMap": {"name": "vol-cm"}},
                {"name": "v2", "secret": {"secretName": "vol-secret"}},
                {"name": "v3", "projected": {"sources": [
                    {"configMap": {"name": "proj-cm"}}, {"secret": {"name": "proj-secret"}}]}},
                {"name": "v4", "configMap": {"name": "env-cm", "optional": true}}
            ]
        }))
    }

    #[test]
    fn finds_every_reference_once() {
        let refs = referenced_configs(&sample());
        let keys: Vec<String> = refs.iter().map(ConfigRef::status_key).collect();
        assert_eq!(
            keys,
            [
                "configmap/env-cm",
                "configmap/from-cm",
                "configmap/init-cm",
                "configmap/proj-cm",
                "configmap/vol-cm",
                "secret/env-secret",
                "secret/from-secret",
                "secret/proj-secret",
                "secret/vol-secret",
            ]
        );
        // env-cm is referenced optionally by a volume but mandatorily by env: mandatory wins.
        assert!(!refs[0].optional);
        let env_secret = refs.iter().find(|r| r.name == "env-secret").expect("found");
        assert!(env_secret.optional);
        assert!(!keys.iter().any(|k| k.contains("registry")));
    }

    #[test]
    fn rewrites_only_tracked_refs() {
        let mut spec = sample();
        let tracked: BTreeSet<_> = [
            (ConfigKind::ConfigMap, "env-cm".to_string()),
            (ConfigKind::Secret, "vol-secret".to_string()),
            (ConfigKind::ConfigMap, "init-cm".to_string()),
            (ConfigKind::Secret, "proj-secret".to_string()),
        ]
        .into();
        rewrite_config_refs(&mut spec, &tracked);
        let after = serde_json::to_value(&spec).expect("serializes");
        let text = after.to_string();
        assert!(text.contains("\"env-cm-primary\""));
        assert!(text.contains("\"vol-secret-primary\""));
        assert!(text.contains("\"init-cm-primary\""));
        assert!(text.contains("\"proj-secret-primary\""));
        assert!(text.contains("\"from-cm\""), "untracked stays: {text}");
        assert!(!text.contains("from-cm-primary"));
        assert_eq!(after["imagePullSecrets"][0]["name"], "registry");
    }

    #[test]
    fn checksum_changes_with_content_only() {
        let cm = |data: serde_json::Value| -> ConfigMap {
            serde_json::from_value(json!({"metadata": {"name": "x"}, "data": data}))
                .expect("configmap")
        };
        let a = configmap_checksum(&cm(json!({"k": "v"})));
        assert_eq!(a, configmap_checksum(&cm(json!({"k": "v"}))));
        assert_ne!(a, configmap_checksum(&cm(json!({"k": "w"}))));
        assert_ne!(
            configmap_checksum(&cm(json!({"ab": "c"}))),
            configmap_checksum(&cm(json!({"a": "bc"})))
        );
        assert_eq!(a.len(), 16);
        let bin: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "x"}, "data": {"k": "v"}, "binaryData": {"b": "AAE="}}),
        )
        .expect("configmap");
        assert_ne!(a, configmap_checksum(&bin));
    }

    #[test]
    fn opt_out_and_secret_types() {
        let meta = |k: &str, v: &str| ObjectMeta {
            annotations: Some([(k.to_string(), v.to_string())].into()),
            ..ObjectMeta::default()
        };
        assert!(tracking_disabled(&meta(TRACKING_ANNOTATION, "disabled")));
        assert!(tracking_disabled(&meta(
            FLAGGER_TRACKING_ANNOTATION,
            "disable"
        )));
        assert!(!tracking_disabled(&meta(TRACKING_ANNOTATION, "enabled")));
        assert!(!tracking_disabled(&ObjectMeta::default()));
        let secret = |t: Option<&str>| Secret {
            type_: t.map(str::to_string),
            ..Secret::default()
        };
        assert!(secret_is_trackable(&secret(None)));
        assert!(secret_is_trackable(&secret(Some("kubernetes.io/tls"))));
        assert!(!secret_is_trackable(&secret(Some(
            "kubernetes.io/dockerconfigjson"
        ))));
    }

    #[test]
    fn copies_keep_other_canaries_as_owners() {
        let source: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "cfg", "namespace": "test",
                         "labels": {"app": "x", "kustomize.toolkit.fluxcd.io/name": "f"}},
            "data": {"k": "v"}
        }))
        .expect("cm");
        let owner = |uid: &str| OwnerReference {
            api_version: "fledge.dev/v1beta1".into(),
            kind: "Canary".into(),
            name: format!("c-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let existing: ConfigMap = ConfigMap {
            metadata: ObjectMeta {
                owner_references: Some(vec![owner("other")]),
                resource_version: Some("7".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        let all = ["*".to_string()];
        let copy = primary_configmap(
            &source,
            Some(&existing),
            &owner("me"),
            &BTreeMap::new(),
            &all,
        );
        assert_eq!(copy.metadata.name.as_deref(), Some("cfg-primary"));
        assert_eq!(copy.data, source.data);
        let owners = copy.metadata.owner_references.expect("owners");
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[0].uid, "me");
        assert_eq!(owners[1].controller, Some(false));
        assert_eq!(copy.metadata.resource_version.as_deref(), Some("7"));
        let labels = copy.metadata.labels.expect("labels");
        assert!(labels.contains_key("app"));
        assert!(!labels.keys().any(|k| k.contains("toolkit")));
    }
}
