//! The Traefik provider (`traefik`): the Services plus a `TraefikService` named `<svc>`
//! (`traefik.io/v1alpha1`, Traefik v3) doing weighted round robin over `<svc>-primary` and
//! `<svc>-canary`, as in Flagger. Your IngressRoute sends traffic to it (`kind:
//! TraefikService`). Written by [`crate::object::ObjectRouter`]; this module says what the
//! object is.
//!
//! A TraefikService carries only the split: timeouts, retries, header rewrites and CORS are
//! middlewares on the IngressRoute in Traefik, so a spec asking for them here is refused by
//! field rather than dropped.

use fledge_api::{Canary, Provider};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use crate::meta::object_name;
use crate::object::{SplitObject, percentages, weight};
use crate::{RouterError, Routes};

const KIND: &str = "TraefikService";

pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("traefik.io", "v1alpha1", KIND),
        "traefikservices",
    )
}

/// The TraefikService the traefik provider writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraefikService;

/// The `spec.service` fields a TraefikService can't carry, with where they go instead.
fn unexpressible(canary: &Canary) -> Option<&'static str> {
    let s = &canary.spec.service;
    [
        (s.timeout.is_some(), "timeout"),
        (s.retries.is_some(), "retries"),
        (s.headers.is_some(), "headers"),
        (s.cors_policy.is_some(), "corsPolicy"),
        (s.rewrite.is_some(), "rewrite"),
        (!s.r#match.is_empty(), "match"),
    ]
    .into_iter()
    .find_map(|(set, field)| set.then_some(field))
}

impl SplitObject for TraefikService {
    const KIND: &'static str = KIND;

    fn provider(&self) -> Provider {
        Provider::Traefik
    }

    fn resource(&self) -> ApiResource {
        resource()
    }

    fn spec(&self, canary: &Canary, routes: Routes) -> Result<Value, RouterError> {
        if let Some(field) = unexpressible(canary) {
            return Err(RouterError::InvalidSpec {
                canary: object_name(canary),
                field: format!("spec.service.{field}"),
                message: format!(
                    "the traefik provider writes only the weighted TraefikService; set {field} on your IngressRoute (a middleware) and remove it here"
                ),
            });
        }
        let port = canary.spec.service.port;
        Ok(json!({
            "weighted": {
                "services": [
                    {
                        "name": canary.spec.primary_service_name(),
                        "port": port,
                        "weight": routes.primary,
                    },
                    {
                        "name": canary.spec.canary_service_name(),
                        "port": port,
                        "weight": routes.canary,
                    },
                ]
            }
        }))
    }

    /// Traefik's default weight is 1, so a service without one counts as 1.
    fn routes(&self, spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
        let services = spec["weighted"]["services"].as_array()?;
        let find = |name: &str| {
            let s = services
                .iter()
                .find(|s| s["name"] == name && s["kind"].as_str().is_none_or(|k| k == "Service"))?;
            if s["weight"].is_null() {
                Some(1.0)
            } else {
                weight(&s["weight"])
            }
        };
        percentages(find(primary)?, find(canary)?)
    }
}

/// The TraefikService for `canary` with split `routes`. Pure.
pub fn build_traefik_service(
    canary: &Canary,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    crate::object::build(&TraefikService, canary, routes)
}

#[cfg(test)]
mod tests {
    use kube::ResourceExt;

    use super::*;
    use crate::testutil;

    const PRIMARY: &str = "podinfo-primary";
    const CANARY: &str = "podinfo-canary";

    #[test]
    fn weights_round_trip() {
        let canary = testutil::canary("canary-traefik.yaml");
        for w in [0, 10, 50, 100] {
            let svc = build_traefik_service(&canary, Routes::canary(w, false)).unwrap();
            assert_eq!(svc.name_any(), "podinfo");
            let spec = &svc.data["spec"];
            assert_eq!(
                spec["weighted"]["services"][0],
                json!({"name": PRIMARY, "port": 9898, "weight": 100 - w})
            );
            assert_eq!(
                TraefikService.routes(spec, PRIMARY, CANARY),
                Some(Routes::canary(w, false)),
                "set → get round trip at {w}"
            );
        }
    }

    #[test]
    fn splits_written_elsewhere_read_as_traefik_weighs_them() {
        let read = |services: Value| {
            TraefikService.routes(
                &json!({"weighted": {"services": services}}),
                PRIMARY,
                CANARY,
            )
        };
        // No weight is Traefik's default, 1.
        assert_eq!(
            read(json!([{"name": PRIMARY, "port": 80}, {"name": CANARY, "port": 80}])),
            Some(Routes::canary(50, false))
        );
        assert_eq!(
            read(json!([{"name": PRIMARY, "weight": 3}, {"name": CANARY, "weight": 1}])),
            Some(Routes::canary(25, false))
        );
        // A nested TraefikService of the same name is not the canary Service.
        assert_eq!(
            read(
                json!([{"name": PRIMARY, "weight": 1}, {"name": CANARY, "kind": "TraefikService", "weight": 1}])
            ),
            None
        );
        assert_eq!(read(json!([{"name": PRIMARY, "weight": 1}])), None);
    }

    #[test]
    fn route_options_a_traefik_service_cannot_carry_are_refused_by_field() {
        let mut canary = testutil::canary("canary-traefik.yaml");
        canary.spec.service.timeout = Some("5s".into());
        let err = build_traefik_service(&canary, Routes::ALL_PRIMARY)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.service.timeout: the traefik provider writes only"),
            "{err}"
        );
    }
}
