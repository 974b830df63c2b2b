//! OpenAPI v3 as far as kubectl needs it: the `/openapi/v3` index, and per group version a
//! document whose PATCH operations declare the GVK and the `fieldValidation` parameter (so
//! kubectl leaves validation to the server) and whose `components.schemas` carry each kind's
//! schema with the GVK extension (for `kubectl explain`; a CRD's full `openAPIV3Schema`).
//! `/openapi/v2` is deliberately absent (kubectl would only accept protobuf there). Read-only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ServerState, error_response, json_response};
use crate::store::{ApiError, Registry, ResourceDef};

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub async fn index(State(st): State<ServerState>) -> Response {
    st.stats.request();
    let registry = st.store.registry();
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for v in versions {
            let key = gv_key(&group, &v);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}")}),
            );
        }
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

pub async fn group_version(State(st): State<ServerState>, Path(rest): Path<String>) -> Response {
    st.stats.request();
    let registry = st.store.registry();
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return error_response(&ApiError::no_route()),
    };
    match document(&registry, group, version) {
        Some(doc) => json_response(StatusCode::OK, &doc),
        None => error_response(&ApiError::no_route()),
    }
}

/// `io.k8s.api.apps.v1.Deployment` for builtins, `dev.fledge.v1beta1.Canary` for CRDs.
fn schema_name(def: &ResourceDef) -> String {
    if def.custom {
        let reversed: Vec<&str> = def.group.split('.').rev().collect();
        format!("{}.{}.{}", reversed.join("."), def.version, def.kind)
    } else {
        let group = if def.group.is_empty() {
            "core"
        } else {
            def.group.split('.').next().unwrap_or_default()
        };
        format!("io.k8s.api.{group}.{}.{}", def.version, def.kind)
    }
}

/// A builtin kind's schema from the k8s-openapi types (the real server's descriptions and
/// structure, for `kubectl explain deployment.spec`): the root schema and the definitions it
/// refers to as `#/components/schemas/...`.
fn builtin_schema(def: &ResourceDef) -> Option<(Value, Map<String, Value>)> {
    use k8s_openapi::api::{apps, autoscaling, coordination, core, events, networking};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    fn generate<T: schemars::JsonSchema>() -> Value {
        let schema = schemars::generate::SchemaSettings::openapi3()
            .into_generator()
            .into_root_schema_for::<T>();
        serde_json::to_value(schema).unwrap_or_default()
    }
    let mut root = match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => generate::<core::v1::Namespace>(),
        ("", "configmaps") => generate::<core::v1::ConfigMap>(),
        ("", "secrets") => generate::<core::v1::Secret>(),
        ("", "services") => generate::<core::v1::Service>(),
        ("", "endpoints") => generate::<core::v1::Endpoints>(),
        ("", "events") => generate::<core::v1::Event>(),
        ("", "pods") => generate::<core::v1::Pod>(),
        ("", "serviceaccounts") => generate::<core::v1::ServiceAccount>(),
        ("apps", "deployments") => generate::<apps::v1::Deployment>(),
        ("apps", "replicasets") => generate::<apps::v1::ReplicaSet>(),
        ("apps", "daemonsets") => generate::<apps::v1::DaemonSet>(),
        ("apps", "statefulsets") => generate::<apps::v1::StatefulSet>(),
        ("autoscaling", "horizontalpodautoscalers") => {
            generate::<autoscaling::v2::HorizontalPodAutoscaler>()
        }
        ("networking.k8s.io", "ingresses") => generate::<networking::v1::Ingress>(),
        ("coordination.k8s.io", "leases") => generate::<coordination::v1::Lease>(),
        ("events.k8s.io", "events") => generate::<events::v1::Event>(),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            generate::<apiext::CustomResourceDefinition>()
        }
        _ => return None,
    };
    let obj = root.as_object_mut()?;
    obj.remove("$schema");
    obj.remove("title");
    let defs = match obj.remove("components") {
        Some(Value::Object(mut c)) => match c.remove("schemas") {
            Some(Value::Object(d)) => d,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    Some((root, defs))
}

fn object_schema(def: &ResourceDef) -> Value {
    let mut schema = def.schema.clone().unwrap_or_else(|| {
        json!({"type": "object", "description": format!("{} is a Kubernetes {} (schema not published by the fledge simulator).", def.kind, def.api_version()),
               "properties": {"spec": {"type": "object"}, "status": {"type": "object"}}})
    });
    if !schema["properties"].is_object() {
        schema["properties"] = json!({});
    }
    let props = &mut schema["properties"];
    props["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
    props["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
    props["metadata"] = json!({"type": "object", "description": "Standard object's metadata."});
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": def.group, "version": def.version, "kind": def.kind}]);
    schema
}

/// The OpenAPI v3 document of one group version, or `None` when nothing is served there.
pub fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = registry
        .all()
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for d in defs {
        let item = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", d.plural)
        } else {
            format!("{prefix}/{}/{{name}}", d.plural)
        };
        let gvk = json!({"group": d.group, "version": d.version, "kind": d.kind});
        let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(d))});
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", d.kind),
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
            })
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        if let Some((root, defs)) = builtin_schema(d) {
            for (name, schema) in defs {
                schemas.entry(name).or_insert(schema);
            }
            let mut root = root;
            root["x-kubernetes-group-version-kind"] =
                json!([{"group": d.group, "version": d.version, "kind": d.kind}]);
            schemas.insert(schema_name(d), root);
        } else {
            schemas.insert(schema_name(d), object_schema(d));
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_ops_declare_gvk_and_field_validation() {
        let doc = document(&Registry::default(), "apps", "v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(op.get("requestBody").is_none());
        let schema = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        assert!(document(&Registry::default(), "nope", "v1").is_none());
    }
}
