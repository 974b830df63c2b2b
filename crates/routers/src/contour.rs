//! The Contour provider (`contour`): the Services plus an `HTTPProxy` named `<svc>`
//! (`projectcontour.io/v1`) whose route weighs `<svc>-primary` and `<svc>-canary`. It has no
//! virtual host: your root HTTPProxy includes it, as in Flagger. The spec is built by
//! [`http_proxy_spec`]; the object is written by [`crate::object::ObjectRouter`].

use fledge_api::service::{HttpMatchRequest, StringMatch};
use fledge_api::{Canary, Provider};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Map, Value, json};

use crate::meta::{canary_namespace, object_name};
use crate::object::SplitObject;
use crate::{RouterError, Routes};

const KIND: &str = "HTTPProxy";

pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("projectcontour.io", "v1", KIND),
        "httpproxies",
    )
}

/// The HTTPProxy the contour provider writes, with `--ingress-class` as its
/// `spec.ingressClassName`.
#[derive(Clone, Debug, Default)]
pub struct HttpProxy {
    pub ingress_class: Option<String>,
}

impl SplitObject for HttpProxy {
    const KIND: &'static str = KIND;

    fn provider(&self) -> Provider {
        Provider::Contour
    }

    fn resource(&self) -> ApiResource {
        resource()
    }

    fn spec(&self, canary: &Canary, routes: Routes) -> Result<Value, RouterError> {
        http_proxy_spec(canary, routes, self.ingress_class.as_deref())
    }

    fn routes(&self, spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
        routes_from_spec(spec, primary, canary)
    }
}

/// Escapes regex metacharacters.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn invalid(canary: &Canary, field: String, message: String) -> RouterError {
    RouterError::InvalidSpec {
        canary: object_name(canary),
        field,
        message,
    }
}

/// A Contour header condition for `name`: exact, a (whole-value) regex for prefix, suffix and
/// regex, or `present` for an empty match.
fn header_condition(name: &str, m: &StringMatch) -> Value {
    let mut c = json!({ "name": name });
    match (&m.exact, &m.prefix, &m.suffix, &m.regex) {
        (Some(v), ..) => c["exact"] = json!(v),
        (None, Some(p), ..) => c["regex"] = json!(format!("{}.*", literal(p))),
        (None, None, Some(s), _) => c["regex"] = json!(format!(".*{}", literal(s))),
        (None, None, None, Some(r)) => c["regex"] = json!(r),
        (None, None, None, None) => c["present"] = json!(true),
    }
    json!({ "header": c })
}

/// The conditions of one A/B alternative: its headers (Contour can't match the rest).
fn ab_conditions(
    canary: &Canary,
    i: usize,
    m: &HttpMatchRequest,
) -> Result<Vec<Value>, RouterError> {
    let other = m.uri.is_some()
        || m.scheme.is_some()
        || m.method.is_some()
        || m.authority.is_some()
        || !m.query_params.is_empty()
        || !m.without_headers.is_empty()
        || !m.source_labels.is_empty();
    if other {
        return Err(invalid(
            canary,
            format!("spec.analysis.match[{i}]"),
            "the contour provider matches A/B requests by headers only; remove uri, method, queryParams and the like".into(),
        ));
    }
    Ok(m.headers
        .iter()
        .map(|(name, sm)| header_condition(name, sm))
        .collect())
}

/// The path prefix of the route: `service.match[0].uri.prefix`, else `/`.
fn prefix(canary: &Canary) -> Result<String, RouterError> {
    let matches = &canary.spec.service.r#match;
    match matches.first().and_then(|m| m.uri.as_ref()) {
        None => Ok("/".into()),
        Some(StringMatch {
            prefix: Some(p), ..
        }) if matches.len() == 1 => Ok(p.clone()),
        Some(_) => Err(invalid(
            canary,
            "spec.service.match".into(),
            "the contour provider routes one path prefix: set a single match with uri.prefix"
                .into(),
        )),
    }
}

fn services(canary: &Canary, primary: i32, canary_weight: i32) -> Value {
    let port = canary.spec.service.port;
    json!([
        { "name": canary.spec.primary_service_name(), "port": port, "weight": primary },
        { "name": canary.spec.canary_service_name(), "port": port, "weight": canary_weight },
    ])
}

/// The route fields every route carries: timeout, retries, header policies, prefix rewrite,
/// and Flagger's `l5d-dst-override` (so a Linkerd sidecar behind Contour routes by Service).
fn route_options(canary: &Canary) -> Result<Map<String, Value>, RouterError> {
    let s = &canary.spec.service;
    if s.cors_policy.is_some() {
        return Err(invalid(
            canary,
            "spec.service.corsPolicy".into(),
            "Contour sets CORS on the root HTTPProxy's virtual host, not on the included one fledge writes; remove it here".into(),
        ));
    }
    let mut out = Map::new();
    if let Some(timeout) = &s.timeout {
        out.insert("timeoutPolicy".into(), json!({ "response": timeout }));
    }
    if let Some(retries) = &s.retries {
        let mut r = Map::new();
        if let Some(n) = retries.attempts {
            r.insert("count".into(), json!(n));
        }
        if let Some(t) = &retries.per_try_timeout {
            r.insert("perTryTimeout".into(), json!(t));
        }
        out.insert("retryPolicy".into(), Value::Object(r));
    }
    if let Some(uri) = s.rewrite.as_ref().and_then(|r| r.uri.as_ref()) {
        out.insert(
            "pathRewritePolicy".into(),
            json!({ "replacePrefix": [{ "replacement": uri }] }),
        );
    }
    let ns = canary_namespace(canary)?;
    let mut request = vec![json!({
        "name": "l5d-dst-override",
        "value": format!("{}.{ns}.svc.cluster.local:{}", canary.spec.service_name(), s.port),
    })];
    let headers = s.headers.as_ref();
    if let Some(ops) = headers.and_then(|h| h.request.as_ref()) {
        for (k, v) in ops.set.iter().chain(&ops.add) {
            request.push(json!({ "name": k, "value": v }));
        }
    }
    let mut request_policy = json!({ "set": request });
    if let Some(ops) = headers.and_then(|h| h.request.as_ref())
        && !ops.remove.is_empty()
    {
        request_policy["remove"] = json!(ops.remove);
    }
    out.insert("requestHeadersPolicy".into(), request_policy);
    if let Some(ops) = headers.and_then(|h| h.response.as_ref()) {
        let set: Vec<Value> = ops
            .set
            .iter()
            .chain(&ops.add)
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect();
        let mut policy = Map::new();
        if !set.is_empty() {
            policy.insert("set".into(), json!(set));
        }
        if !ops.remove.is_empty() {
            policy.insert("remove".into(), json!(ops.remove));
        }
        if !policy.is_empty() {
            out.insert("responseHeadersPolicy".into(), Value::Object(policy));
        }
    }
    Ok(out)
}

/// `spec` of the HTTPProxy with split `routes`: one weighted route; for A/B testing one
/// weighted route per alternative (Contour prefers the route with more conditions) and a
/// default route to the primary.
pub fn http_proxy_spec(
    canary: &Canary,
    routes: Routes,
    ingress_class: Option<&str>,
) -> Result<Value, RouterError> {
    let options = route_options(canary)?;
    let path = json!({ "prefix": prefix(canary)? });
    let route = |mut conditions: Vec<Value>, primary: i32, canary_weight: i32| {
        conditions.insert(0, path.clone());
        let mut r = options.clone();
        r.insert("conditions".into(), json!(conditions));
        r.insert("services".into(), services(canary, primary, canary_weight));
        Value::Object(r)
    };
    let ab = canary
        .spec
        .analysis()
        .map(|a| a.r#match.as_slice())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, m) in ab.iter().enumerate() {
        out.push(route(
            ab_conditions(canary, i, m)?,
            routes.primary,
            routes.canary,
        ));
    }
    if ab.is_empty() {
        out.push(route(Vec::new(), routes.primary, routes.canary));
    } else {
        out.push(route(Vec::new(), 100, 0));
    }
    let mut spec = json!({ "routes": out });
    if let Some(class) = ingress_class {
        spec["ingressClassName"] = json!(class);
    }
    Ok(spec)
}

/// The HTTPProxy for `canary` with split `routes`. Pure.
pub fn build_http_proxy(
    canary: &Canary,
    routes: Routes,
    ingress_class: Option<&str>,
) -> Result<DynamicObject, RouterError> {
    let proxy = HttpProxy {
        ingress_class: ingress_class.map(str::to_string),
    };
    crate::object::build(&proxy, canary, routes)
}

/// The split an HTTPProxy says: the weights of its first route with both services.
pub fn routes_from_spec(spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
    spec["routes"].as_array()?.iter().find_map(|route| {
        let weight = |name: &str| {
            route["services"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == name)
                .map(|s| s["weight"].as_i64().unwrap_or(0))
                .and_then(|w| i32::try_from(w).ok())
        };
        let (p, c) = (weight(primary)?, weight(canary)?);
        (p + c == 100).then(|| Routes::canary(c, false))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    const PRIMARY: &str = "podinfo-primary";
    const CANARY: &str = "podinfo-canary";

    #[test]
    fn the_proxy_weighs_primary_and_canary_with_the_route_options() {
        let canary = testutil::canary("canary-contour.yaml");
        for w in [0, 10, 50, 100] {
            let spec = http_proxy_spec(&canary, Routes::canary(w, false), Some("contour")).unwrap();
            assert_eq!(spec["ingressClassName"], "contour");
            let route = &spec["routes"][0];
            assert_eq!(route["conditions"], json!([{"prefix": "/api"}]));
            assert_eq!(
                route["services"][0],
                json!({"name": PRIMARY, "port": 9898, "weight": 100 - w})
            );
            assert_eq!(route["services"][1]["weight"], w);
            assert_eq!(route["timeoutPolicy"], json!({"response": "30s"}));
            assert_eq!(
                route["retryPolicy"],
                json!({"count": 3, "perTryTimeout": "1s"})
            );
            assert_eq!(
                route["pathRewritePolicy"],
                json!({"replacePrefix": [{"replacement": "/"}]})
            );
            assert_eq!(
                route["requestHeadersPolicy"]["set"][0],
                json!({"name": "l5d-dst-override", "value": "podinfo.test.svc.cluster.local:9898"})
            );
            assert_eq!(
                routes_from_spec(&spec, PRIMARY, CANARY),
                Some(Routes::canary(w, false)),
                "set → get round trip"
            );
        }
    }

    #[test]
    fn ab_testing_adds_a_route_per_alternative_and_a_primary_default() {
        let canary = testutil::canary("canary-contour-ab.yaml");
        let spec = http_proxy_spec(&canary, Routes::ALL_CANARY, None).unwrap();
        let routes = spec["routes"].as_array().unwrap();
        assert_eq!(routes.len(), 3);
        assert_eq!(
            routes[0]["conditions"],
            json!([{"prefix": "/"}, {"header": {"name": "x-canary", "exact": "insider"}}])
        );
        assert_eq!(
            routes[1]["conditions"][1],
            json!({"header": {"name": "user-agent", "regex": ".*Firefox"}})
        );
        assert_eq!(routes[0]["services"][1]["weight"], 100);
        assert_eq!(routes[2]["conditions"], json!([{"prefix": "/"}]));
        assert_eq!(routes[2]["services"][0]["weight"], 100);
        assert!(spec.get("ingressClassName").is_none());
        assert_eq!(
            routes_from_spec(&spec, PRIMARY, CANARY),
            Some(Routes::ALL_CANARY)
        );
    }

    #[test]
    fn what_contour_cannot_express_is_refused_by_field() {
        let mut canary = testutil::canary("canary-contour.yaml");
        canary.spec.service.cors_policy = Some(Default::default());
        let err = http_proxy_spec(&canary, Routes::ALL_PRIMARY, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.service.corsPolicy: Contour sets CORS"),
            "{err}"
        );

        let mut canary = testutil::canary("canary-contour-ab.yaml");
        if let Some(a) = canary.spec.analysis.as_mut() {
            a.r#match[0].uri = Some(StringMatch {
                prefix: Some("/x".into()),
                ..Default::default()
            });
        }
        let err = http_proxy_spec(&canary, Routes::ALL_PRIMARY, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.analysis.match[0]: the contour provider matches"),
            "{err}"
        );
    }
}
