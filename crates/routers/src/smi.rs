//! The SMI providers (`smi:v1alpha1`, `smi:v1alpha2`, `smi:v1alpha3`, and `linkerd`, which is
//! `smi:v1alpha2` as in Flagger): the Services plus a `TrafficSplit` named `<svc>` whose apex
//! is the apex Service and whose backends `<svc>-primary` and `<svc>-canary` carry the weights.
//! Written by [`crate::object::ObjectRouter`]; this module says what the object is.
//! Linkerd reads TrafficSplits through its SMI extension (linkerd-smi) on 2.12 and later.

use fledge_api::{Canary, Provider};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use crate::object::{SplitObject, percentages, weight};
use crate::{RouterError, Routes};

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

/// The TrafficSplit a provider writes.
#[derive(Clone, Copy, Debug)]
pub struct TrafficSplit {
    provider: Provider,
    version: SmiVersion,
}

impl TrafficSplit {
    /// `None` for a provider that isn't SMI.
    pub fn of(provider: Provider) -> Option<Self> {
        Some(Self {
            provider,
            version: SmiVersion::of(provider)?,
        })
    }
}

impl SplitObject for TrafficSplit {
    const KIND: &'static str = KIND;

    fn provider(&self) -> Provider {
        self.provider
    }

    fn resource(&self) -> ApiResource {
        self.version.resource()
    }

    /// Weights are integers, which every version accepts (v1alpha1's are int-or-string).
    fn spec(&self, canary: &Canary, routes: Routes) -> Result<Value, RouterError> {
        Ok(json!({
            "service": canary.spec.service_name(),
            "backends": [
                {"service": canary.spec.primary_service_name(), "weight": routes.primary},
                {"service": canary.spec.canary_service_name(), "weight": routes.canary},
            ],
        }))
    }

    fn routes(&self, spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
        routes_from_split(spec, primary, canary)
    }
}

/// The TrafficSplit of `version` for `canary` with split `routes`. Pure.
pub fn build_split(
    canary: &Canary,
    version: SmiVersion,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    let provider = match version {
        SmiVersion::V1alpha1 => Provider::SmiV1alpha1,
        SmiVersion::V1alpha2 => Provider::SmiV1alpha2,
        SmiVersion::V1alpha3 => Provider::SmiV1alpha3,
    };
    crate::object::build(&TrafficSplit { provider, version }, canary, routes)
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
    percentages(find(primary)?, find(canary)?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kube::ResourceExt;

    use super::*;
    use crate::{takeover, testutil};

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
