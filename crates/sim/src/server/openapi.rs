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
        schemas.insert(schema_name(d), object_schema(d));
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
