//! The SMI providers (`smi:v1alpha1`, `smi:v1alpha2`, `smi:v1alpha3`, and `linkerd`, which is
//! `smi:v1alpha2` as in Flagger): the Services plus a `TrafficSplit` named `<svc>` whose apex
//! is the apex Service and whose backends `<svc>-primary` and `<svc>-canary` carry the weights.
//! The object is built by [`build_split`]; this module's `Router` impl only reads and writes,
//! through [`crate::takeover`] (a user's TrafficSplit of that name is taken over in place and
//! given back by `revertOnDeletion`).
//! Linkerd reads TrafficSplits through its SMI extension (linkerd-smi) on 2.12 and later.

use async_trait::async_trait;
use fledge_api::{Canary, Provider};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, generated_annotations, generated_labels, object_name,
    owner_reference,
};
use crate::takeover;
use crate::{Router, RouterError, Routes, TargetWorkload, Write};

const KIND: &str = "TrafficSplit";
const GROUP: &str = "split.smi-spec.io";

/// Which served version of `trafficsplits.split.smi-spec.io` to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmiVersion {
    V1alpha1,
    V1alpha2,
    V1alpha3,
}

impl SmiVersion {
    /// The version a provider writes; `None` for a provider that isn't SMI.
    pub fn of(provider: Provider) -> Option<SmiVersion> {
        match provider {
            Provider::SmiV1alpha1 => Some(Self::V1alpha1),
            Provider::SmiV1alpha2 | Provider::Linkerd => Some(Self::V1alpha2),
            Provider::SmiV1alpha3 => Some(Self::V1alpha3),
            _ => None,
        }
    }

    fn version(self) -> &'static str {
        match self {
            Self::V1alpha1 => "v1alpha1",
            Self::V1alpha2 => "v1alpha2",
            Self::V1alpha3 => "v1alpha3",
        }
    }

    pub fn resource(self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, self.version(), KIND),
            "trafficsplits",
        )
    }
}

pub struct SmiRouter {
    client: kube::Client,
    provider: Provider,
    version: SmiVersion,
    services: KubernetesRouter,
}

impl SmiRouter {
    /// `None` for a provider that isn't SMI.
    pub fn new(
        client: kube::Client,
        provider: Provider,
        cache: Option<std::sync::Arc<dyn crate::ObjectCache>>,
    ) -> Option<Self> {
        Some(Self {
            version: SmiVersion::of(provider)?,
            services: KubernetesRouter::new(client.clone(), cache),
            client,
            provider,
        })
    }

    fn api(&self, canary: &Canary) -> Result<Api<DynamicObject>, RouterError> {
        Ok(Api::namespaced_with(
            self.client.clone(),
            canary_namespace(canary)?,
            &self.version.resource(),
        ))
    }

    async fn get(&self, canary: &Canary) -> Result<Option<DynamicObject>, RouterError> {
        let ns = canary_namespace(canary)?;
        let name = canary.spec.service_name();
        self.api(canary)?
            .get_opt(name)
            .await
            .map_err(|e| RouterError::kube("get", KIND, ns, name, e))
    }

    async fn write(
        &self,
        canary: &Canary,
        existing: Option<DynamicObject>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = build_split(canary, self.version, routes)?;
        takeover::write(KIND, &self.api(canary)?, existing, desired, canary).await
    }
}

/// The TrafficSplit for `canary` with split `routes`, fledge's labels, the Flux opt-outs and
/// the owner reference. Weights are integers, which every version accepts (v1alpha1's are
/// int-or-string). Pure.
pub fn build_split(
    canary: &Canary,
    version: SmiVersion,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    let apex = canary.spec.service.apex.as_ref();
    let mut obj = DynamicObject::new(canary.spec.service_name(), &version.resource())
        .within(canary_namespace(canary)?);
    obj.metadata.labels = Some(generated_labels(canary, apex.map(|m| &m.labels), &[]));
    obj.metadata.annotations = Some(generated_annotations(apex.map(|m| &m.annotations)));
    obj.metadata.owner_references = Some(vec![owner_reference(canary)?]);
    obj.data = json!({
        "spec": {
            "service": canary.spec.service_name(),
            "backends": [
                {"service": canary.spec.primary_service_name(), "weight": routes.primary},
                {"service": canary.spec.canary_service_name(), "weight": routes.canary},
            ],
        }
    });
    Ok(obj)
}

/// A weight as any version writes it: a number, or a quantity (`"90"`, `"900m"`).
fn weight(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.parse().ok(),
        },
        _ => None,
    }
    .filter(|w| w.is_finite() && *w >= 0.0)
}

/// The split a TrafficSplit's spec says, as percentages; `None` unless both backends are
/// there with readable weights that don't add up to zero.
pub fn routes_from_split(spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
    let backends = spec["backends"].as_array()?;
    let find = |name: &str| {
        backends
            .iter()
            .find(|b| b["service"] == name)
            .and_then(|b| weight(&b["weight"]))
    };
    let (p, c) = (find(primary)?, find(canary)?);
    let total = p + c;
    if total <= 0.0 {
        return None;
    }
    // Percentages of whatever total was written (Flagger writes 100, other tools 1000m).
    let canary_pct = ((c / total) * 100.0).round() as i32;
    Some(Routes::canary(canary_pct, false))
}

#[async_trait]
impl Router for SmiRouter {
    fn provider(&self) -> Provider {
        self.provider
    }

    /// Services first, then the TrafficSplit, keeping its current split (a new one starts
    /// with all on the primary).
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.reconcile_services(canary, target).await?;
        let existing = self.get(canary).await?;
        let current = existing
            .as_ref()
            .filter(|e| {
                controlled_by(e.owner_references(), canary) || takeover::given_back(e).is_some()
            })
            .and_then(|e| {
                routes_from_split(
                    e.data.get("spec")?,
                    &canary.spec.primary_service_name(),
                    &canary.spec.canary_service_name(),
                )
            })
            .unwrap_or(Routes::ALL_PRIMARY);
        if let Some(write) = self.write(canary, existing, current).await? {
            info!(canary = %object_name(canary), "{write}");
            writes.push(write);
        }
        Ok(writes)
    }

    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError> {
        let Some(existing) = self.get(canary).await? else {
            return Err(RouterError::Object {
                kind: KIND,
                object: format!(
                    "{}/{}",
                    canary_namespace(canary)?,
                    canary.spec.service_name()
                ),
                message: "not found; reconcile the canary first (it creates the TrafficSplit)"
                    .into(),
            });
        };
        Ok(self
            .write(canary, Some(existing), routes)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError> {
        let Some(existing) = self.get(canary).await? else {
            return Ok(None);
        };
        let (primary, canary_svc) = (
            canary.spec.primary_service_name(),
            canary.spec.canary_service_name(),
        );
        existing
            .data
            .get("spec")
            .and_then(|spec| routes_from_split(spec, &primary, &canary_svc))
            .map(Some)
            .ok_or_else(|| RouterError::Object {
                kind: KIND,
                object: object_name(&existing),
                message: format!(
                    "has no weighted backends {primary} and {canary_svc}; it was edited outside fledge: the next reconcile rewrites it"
                ),
            })
    }

    /// Reverts the apex Service, then deletes the TrafficSplit fledge created, or gives a
    /// taken-over one back as it was.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.revert_apex_service(canary, target).await?;
        let existing = self.get(canary).await?;
        writes.extend(takeover::release(KIND, &self.api(canary)?, existing, canary).await?);
        Ok(writes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testutil;

    #[test]
    fn weights_round_trip_in_every_version() {
        let canary = testutil::canary("canary-smi.yaml");
        for version in [
            SmiVersion::V1alpha1,
            SmiVersion::V1alpha2,
            SmiVersion::V1alpha3,
        ] {
            for w in [0, 10, 50, 100] {
                let split = build_split(&canary, version, Routes::canary(w, false)).unwrap();
                assert_eq!(split.name_any(), "podinfo");
                assert_eq!(
                    split.types.as_ref().map(|t| t.api_version.as_str()),
                    Some(format!("split.smi-spec.io/{}", version.version()).as_str())
                );
                let spec = &split.data["spec"];
                assert_eq!(spec["service"], "podinfo");
                assert_eq!(
                    routes_from_split(spec, "podinfo-primary", "podinfo-canary"),
                    Some(Routes::canary(w, false))
                );
            }
        }
    }

    #[test]
    fn weights_written_as_quantities_or_other_totals_read_back_as_percentages() {
        let spec = json!({"backends": [
            {"service": "podinfo-primary", "weight": "900m"},
            {"service": "podinfo-canary", "weight": "100m"},
        ]});
        assert_eq!(
            routes_from_split(&spec, "podinfo-primary", "podinfo-canary"),
            Some(Routes::canary(10, false))
        );
        let spec = json!({"backends": [
            {"service": "podinfo-primary", "weight": 600},
            {"service": "podinfo-canary", "weight": 400},
        ]});
        assert_eq!(
            routes_from_split(&spec, "podinfo-primary", "podinfo-canary"),
            Some(Routes::canary(40, false))
        );
        let spec = json!({"backends": [{"service": "podinfo-primary", "weight": 100}]});
        assert_eq!(
            routes_from_split(&spec, "podinfo-primary", "podinfo-canary"),
            None
        );
    }

    #[test]
    fn a_users_split_is_taken_over_and_one_controlled_elsewhere_refused() {
        let canary = testutil::canary("canary-smi.yaml");
        let desired = build_split(&canary, SmiVersion::V1alpha2, Routes::ALL_PRIMARY).unwrap();
        let mut theirs = desired.clone();
        theirs.metadata.owner_references = None;
        theirs.metadata.labels = Some(BTreeMap::from([("team".into(), "web".into())]));
        theirs.data["spec"]["backends"][1]["weight"] = json!(30);
        let taken = takeover::merge(KIND, &theirs, &desired, &canary)
            .unwrap()
            .unwrap();
        assert_eq!(taken.metadata.owner_references, None);
        assert_eq!(taken.labels()["team"], "web");
        assert_eq!(taken.data["spec"], desired.data["spec"]);
        assert_eq!(
            takeover::merge(KIND, &taken, &desired, &canary).unwrap(),
            None,
            "then stable"
        );
        let back = takeover::given_back(&taken).unwrap();
        assert_eq!(
            back.data["spec"], theirs.data["spec"],
            "given back as it was"
        );

        theirs.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "example.com/v1".into(),
                kind: "Thing".into(),
                name: "t".into(),
                uid: "x".into(),
                controller: Some(true),
                ..Default::default()
            },
        ]);
        let err = takeover::merge(KIND, &theirs, &desired, &canary)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("TrafficSplit test/podinfo: is controlled by Thing t"),
            "{err}"
        );
    }
}
