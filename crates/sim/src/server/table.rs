//! `meta.k8s.io/v1` `Table` responses for `kubectl get`: the real server's columns for builtin
//! kinds and a CRD's `additionalPrinterColumns` for custom resources, with server-rendered ages.
//! Pure apart from reading the clock.

use serde_json::{Value, json};

use super::jsonpath;
use crate::store::ResourceDef;

/// `includeObject`: what each row's `object` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// Whether an Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// Whether an Accept header asks for metadata only (`PartialObjectMetadata[List]`, as kube-rs
/// metadata watchers do).
pub fn wants_metadata(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=PartialObjectMetadata"))
}

/// The `PartialObjectMetadata` form of an object.
pub fn metadata_only(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn col(name: &str, ty: &str, priority: u8, description: &str) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

/// A label selector as `app=podinfo,tier in (a,b)`.
fn selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = s(&e["key"]);
        let values: Vec<String> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key,
            _ => format!("!{key}"),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn containers_images(spec: &Value) -> (String, String) {
    let cs = spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn map_string(m: &Value) -> String {
    match m.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", s(v)))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

/// Column definitions for a kind.
pub fn columns(def: &ResourceDef) -> Vec<Value> {
    let name = col(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    if let Some(cols) = &def.printer_columns {
        let mut out = vec![name];
        if cols.is_empty() {
            out.push(age);
        }
        for c in cols {
            out.push(json!({"name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
                "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c["priority"].as_i64().unwrap_or(0)}));
        }
        return out;
    }
    let c = |n: &str, t: &str, p: u8| col(n, t, p, "");
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => vec![name, c("Status", "string", 0), age],
        ("", "configmaps") => vec![name, c("Data", "string", 0), age],
        ("", "secrets") => vec![name, c("Type", "string", 0), c("Data", "string", 0), age],
        ("", "serviceaccounts") => vec![name, c("Secrets", "string", 0), age],
        ("", "services") => vec![
            name,
            c("Type", "string", 0),
            c("Cluster-IP", "string", 0),
            c("External-IP", "string", 0),
            c("Port(s)", "string", 0),
            age,
            c("Selector", "string", 1),
        ],
        ("", "endpoints") => vec![name, c("Endpoints", "string", 0), age],
        ("", "events") | ("events.k8s.io", "events") => vec![
            c("Last Seen", "string", 0),
            c("Type", "string", 0),
            c("Reason", "string", 0),
            c("Object", "string", 0),
            c("Message", "string", 0),
        ],
        ("", "pods") => vec![
            name,
            c("Ready", "string", 0),
            c("Status", "string", 0),
            c("Restarts", "string", 0),
            age,
            c("IP", "string", 1),
            c("Node", "string", 1),
            c("Nominated Node", "string", 1),
            c("Readiness Gates", "string", 1),
        ],
        ("apps", "deployments") => vec![
            name,
            c("Ready", "string", 0),
            c("Up-to-date", "string", 0),
            c("Available", "string", 0),
            age,
            c("Containers", "string", 1),
            c("Images", "string", 1),
            c("Selector", "string", 1),
        ],
        ("apps", "replicasets") => vec![
            name,
            c("Desired", "integer", 0),
            c("Current", "integer", 0),
            c("Ready", "integer", 0),
            age,
            c("Containers", "string", 1),
            c("Images", "string", 1),
            c("Selector", "string", 1),
        ],
        ("apps", "daemonsets") => vec![
            name,
            c("Desired", "integer", 0),
            c("Current", "integer", 0),
            c("Ready", "integer", 0),
            c("Up-to-date", "integer", 0),
            c("Available", "integer", 0),
            c("Node Selector", "string", 0),
            age,
            c("Containers", "string", 1),
            c("Images", "string", 1),
            c("Selector", "string", 1),
        ],
        ("apps", "statefulsets") => vec![
            name,
            c("Ready", "string", 0),
            age,
            c("Containers", "string", 1),
            c("Images", "string", 1),
        ],
        ("autoscaling", "horizontalpodautoscalers") => vec![
            name,
            c("Reference", "string", 0),
            c("Targets", "string", 0),
            c("MinPods", "string", 0),
            c("MaxPods", "string", 0),
            c("Replicas", "string", 0),
            age,
        ],
        ("networking.k8s.io", "ingresses") => vec![
            name,
            c("Class", "string", 0),
            c("Hosts", "string", 0),
            c("Address", "string", 0),
            c("Ports", "string", 0),
            age,
        ],
        ("coordination.k8s.io", "leases") => vec![name, c("Holder", "string", 0), age],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![name, col("Created At", "date", 0, "")]
        }
        _ => vec![name, age],
    }
}

/// Cells of one row, in the order of [`columns`].
pub fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let age = json!(super::age::age(&o["metadata"]["creationTimestamp"]));
    let spec = &o["spec"];
    let st = &o["status"];
    if let Some(cols) = &def.printer_columns {
        let mut out = vec![name];
        if cols.is_empty() {
            out.push(age);
        }
        for c in cols {
            let found = jsonpath::select(o, c["jsonPath"].as_str().unwrap_or_default());
            let cell = match (c["type"].as_str(), found.as_slice()) {
                (_, []) => Value::Null,
                (Some("date"), [v, ..]) => json!(super::age::age(v)),
                (Some("integer" | "number" | "boolean"), [v]) => (*v).clone(),
                (_, [v]) => json!(s(v)),
                (_, many) => json!(many.iter().map(|v| s(v)).collect::<Vec<_>>().join(",")),
            };
            out.push(cell);
        }
        return out;
    }
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => vec![name, json!(s(&st["phase"])), age],
        ("", "configmaps") => {
            let n = o["data"].as_object().map(|m| m.len()).unwrap_or(0)
                + o["binaryData"].as_object().map(|m| m.len()).unwrap_or(0);
            vec![name, json!(n), age]
        }
        ("", "secrets") => vec![
            name,
            json!(s(&o["type"])),
            json!(o["data"].as_object().map(|m| m.len()).unwrap_or(0)),
            age,
        ],
        ("", "serviceaccounts") => vec![
            name,
            json!(o["secrets"].as_array().map(Vec::len).unwrap_or(0)),
            age,
        ],
        ("", "services") => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!("{}:{np}/{}", p["port"], s(&p["protocol"])),
                    None => format!("{}/{}", p["port"], s(&p["protocol"])),
                })
                .collect();
            let external = st["loadBalancer"]["ingress"]
                .as_array()
                .map(|a| a.iter().map(|i| s(&i["ip"])).collect::<Vec<_>>().join(","))
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| {
                    if spec["type"] == "LoadBalancer" {
                        "<pending>".into()
                    } else {
                        "<none>".into()
                    }
                });
            let ports = if ports.is_empty() {
                "<none>".to_string()
            } else {
                ports.join(",")
            };
            vec![
                name,
                json!(s(&spec["type"])),
                json!(s(&spec["clusterIP"])),
                json!(external),
                json!(ports),
                age,
                json!(map_string(&spec["selector"])),
            ]
        }
        ("", "endpoints") => {
            let mut eps = Vec::new();
            for subset in o["subsets"].as_array().into_iter().flatten() {
                for a in subset["addresses"].as_array().into_iter().flatten() {
                    for p in subset["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", s(&a["ip"]), p["port"]));
                    }
                }
            }
            vec![
                name,
                json!(if eps.is_empty() {
                    "<none>".into()
                } else {
                    eps.join(",")
                }),
                age,
            ]
        }
        ("", "events") | ("events.k8s.io", "events") => {
            let last = [
                &o["lastTimestamp"],
                &o["deprecatedLastTimestamp"],
                &o["eventTime"],
                &o["metadata"]["creationTimestamp"],
            ]
            .into_iter()
            .find(|v| v.is_string())
            .cloned()
            .unwrap_or(Value::Null);
            let obj = if o["involvedObject"].is_object() {
                &o["involvedObject"]
            } else {
                &o["regarding"]
            };
            let msg = if o["message"].is_string() {
                &o["message"]
            } else {
                &o["note"]
            };
            vec![
                json!(super::age::age(&last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&obj["kind"]).to_ascii_lowercase(),
                    s(&obj["name"])
                )),
                json!(s(msg)),
            ]
        }
        ("", "pods") => {
            let statuses = st["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map(Vec::len).unwrap_or(0);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            let waiting = statuses
                .iter()
                .find_map(|c| c["state"]["waiting"]["reason"].as_str());
            let phase = if o["metadata"]
                .get("deletionTimestamp")
                .is_some_and(|t| !t.is_null())
            {
                "Terminating".to_string()
            } else {
                waiting.map(String::from).unwrap_or_else(|| s(&st["phase"]))
            };
            let none = |v: &Value| if v.is_string() { s(v) } else { "<none>".into() };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!(restarts),
                age,
                json!(none(&st["podIP"])),
                json!(none(&spec["nodeName"])),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("apps", "deployments") => {
            let (cs, is) = containers_images(&spec["template"]["spec"]);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    st["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(0)
                )),
                int(&st["updatedReplicas"]),
                int(&st["availableReplicas"]),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(&spec["selector"])),
            ]
        }
        ("apps", "replicasets") => {
            let (cs, is) = containers_images(&spec["template"]["spec"]);
            vec![
                name,
                int(&spec["replicas"]),
                int(&st["replicas"]),
                int(&st["readyReplicas"]),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(&spec["selector"])),
            ]
        }
        ("apps", "daemonsets") => {
            let (cs, is) = containers_images(&spec["template"]["spec"]);
            vec![
                name,
                int(&st["desiredNumberScheduled"]),
                int(&st["currentNumberScheduled"]),
                int(&st["numberReady"]),
                int(&st["updatedNumberScheduled"]),
                int(&st["numberAvailable"]),
                json!(map_string(&spec["template"]["spec"]["nodeSelector"])),
                age,
                json!(cs),
                json!(is),
                json!(selector_string(&spec["selector"])),
            ]
        }
        ("apps", "statefulsets") => {
            let (cs, is) = containers_images(&spec["template"]["spec"]);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    st["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(0)
                )),
                age,
                json!(cs),
                json!(is),
            ]
        }
        ("autoscaling", "horizontalpodautoscalers") => {
            let target = &spec["scaleTargetRef"];
            let targets: Vec<String> = spec["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let goal = &m["resource"]["target"];
                    let want = goal["averageUtilization"]
                        .as_i64()
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| s(&goal["averageValue"]));
                    format!("{}: <unknown>/{want}", s(&m["resource"]["name"]))
                })
                .collect();
            vec![
                name,
                json!(format!("{}/{}", s(&target["kind"]), s(&target["name"]))),
                json!(if targets.is_empty() {
                    "<none>".into()
                } else {
                    targets.join(", ")
                }),
                json!(spec["minReplicas"].as_i64().unwrap_or(1)),
                int(&spec["maxReplicas"]),
                int(&st["currentReplicas"]),
                age,
            ]
        }
        ("networking.k8s.io", "ingresses") => {
            let hosts: Vec<String> = spec["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["host"].as_str().map(String::from))
                .collect();
            let ports = if spec["tls"].as_array().is_some_and(|t| !t.is_empty()) {
                "80, 443"
            } else {
                "80"
            };
            vec![
                name,
                json!(spec["ingressClassName"].as_str().unwrap_or("<none>")),
                json!(if hosts.is_empty() {
                    "*".into()
                } else {
                    hosts.join(",")
                }),
                json!(""),
                json!(ports),
                age,
            ]
        }
        ("coordination.k8s.io", "leases") => vec![name, json!(s(&spec["holderIdentity"])), age],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![name, json!(s(&o["metadata"]["creationTimestamp"]))]
        }
        _ => vec![name, age],
    }
}

/// One row, with the object as `include` asks.
pub fn row(def: &ResourceDef, obj: &Value, include: Include) -> Value {
    let object = match include {
        Include::None => Value::Null,
        Include::Object => obj.clone(),
        Include::Metadata => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
        }
    };
    json!({"cells": cells(def, obj), "object": object})
}

/// A full Table for a list.
pub fn table(
    def: &ResourceDef,
    items: &[Value],
    resource_version: &str,
    cont: Option<&str>,
    include: Include,
) -> Value {
    let rows: Vec<Value> = items.iter().map(|o| row(def, o, include)).collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns(def), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Registry;

    #[test]
    fn deployment_row() {
        let reg = Registry::default();
        let def = reg.find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "podinfo", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "img:1"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        let c = cells(def, &d);
        assert_eq!(c[..4], [json!("podinfo"), json!("1/2"), json!(2), json!(1)]);
        assert_eq!(c[5..], [json!("c"), json!("img:1"), json!("app=podinfo")]);
        let cols = columns(def);
        let names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
    }

    #[test]
    fn wants_table_only_when_first_choice() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }
}
