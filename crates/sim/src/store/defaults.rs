//! Server-side defaulting for builtin kinds: the fields the real API server fills in that
//! controllers and `kubectl describe` read (Deployment strategy and deadlines, container port
//! protocols, Service clusterIPs, ...). Pure functions over JSON; never validates or rejects.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Insert `value` at `key` when the key is absent or null.
fn default_field(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let slot = map.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

fn ensure_object<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

fn default_probe(probe: &mut Value) {
    if probe.is_object() {
        default_field(probe, "timeoutSeconds", json!(1));
        default_field(probe, "periodSeconds", json!(10));
        default_field(probe, "successThreshold", json!(1));
        default_field(probe, "failureThreshold", json!(3));
    }
}

fn default_container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    let image = c["image"].as_str().unwrap_or_default().to_string();
    let tag = image
        .rsplit('/')
        .next()
        .and_then(|last| last.split_once(':'))
        .map(|(_, t)| t.to_string());
    let policy = match tag.as_deref() {
        _ if image.contains('@') => "IfNotPresent",
        None | Some("latest") => "Always",
        Some(_) => "IfNotPresent",
    };
    default_field(c, "imagePullPolicy", json!(policy));
    default_field(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(c, "terminationMessagePolicy", json!("File"));
    default_field(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default_field(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe) {
            default_probe(p);
        }
    }
}

/// Defaults of a PodSpec (pods and every pod template).
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(default_container);
        }
    }
}

fn default_template(spec: &mut Value) {
    if let Some(t) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        default_pod_spec(t);
    }
}

/// Apply the defaults of `kind` (group-qualified plural, e.g. `deployments.apps`) to `obj`.
/// `old` is the stored object on updates (a Service keeps its allocated clusterIP).
/// `next_ip` allocates Service cluster IPs.
pub fn apply(resource: &str, obj: &mut Value, old: Option<&Value>, next_ip: &mut u32) {
    match resource {
        "deployments.apps" => {
            let Some(spec) = ensure_object(obj, "spec") else {
                return;
            };
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "progressDeadlineSeconds", json!(600));
            let strategy = ensure_object(spec, "strategy");
            if let Some(strategy) = strategy {
                default_field(strategy, "type", json!("RollingUpdate"));
                if strategy["type"] == "RollingUpdate"
                    && let Some(ru) = ensure_object(strategy, "rollingUpdate")
                {
                    default_field(ru, "maxUnavailable", json!("25%"));
                    default_field(ru, "maxSurge", json!("25%"));
                }
            }
            default_template(spec);
        }
        "replicasets.apps" => {
            let Some(spec) = ensure_object(obj, "spec") else {
                return;
            };
            default_field(spec, "replicas", json!(1));
            default_template(spec);
        }
        "statefulsets.apps" => {
            let Some(spec) = ensure_object(obj, "spec") else {
                return;
            };
            default_field(spec, "replicas", json!(1));
            default_field(spec, "podManagementPolicy", json!("OrderedReady"));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            default_template(spec);
        }
        "daemonsets.apps" => {
            let Some(spec) = ensure_object(obj, "spec") else {
                return;
            };
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            default_template(spec);
        }
        "pods" => {
            if let Some(spec) = ensure_object(obj, "spec") {
                default_pod_spec(spec);
            }
        }
        "services" => default_service(obj, old, next_ip),
        "secrets" => {
            default_field(obj, "type", json!("Opaque"));
            if let Some(Value::Object(string_data)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
                && let Some(data) = ensure_object(obj, "data")
            {
                for (k, v) in string_data {
                    let raw = v.as_str().unwrap_or_default();
                    data[k] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
                }
            }
        }
        "namespaces" => {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(meta) = ensure_object(obj, "metadata")
                && let Some(labels) = ensure_object(meta, "labels")
            {
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
            if let Some(spec) = ensure_object(obj, "spec") {
                default_field(spec, "finalizers", json!(["kubernetes"]));
            }
        }
        _ => {}
    }
}

fn default_service(obj: &mut Value, old: Option<&Value>, next_ip: &mut u32) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default_field(spec, "type", json!("ClusterIP"));
    let external_name = spec["type"] == "ExternalName";
    if !external_name {
        if spec
            .get("clusterIP")
            .is_none_or(|ip| ip.is_null() || ip == "")
        {
            let ip = match old.and_then(|o| o["spec"]["clusterIP"].as_str()) {
                Some(ip) => ip.to_string(),
                None => {
                    *next_ip += 1;
                    let n = *next_ip;
                    format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
                }
            };
            spec["clusterIP"] = json!(ip);
        }
        let ip = spec["clusterIP"].clone();
        default_field(spec, "clusterIPs", json!([ip]));
        default_field(spec, "ipFamilies", json!(["IPv4"]));
        default_field(spec, "ipFamilyPolicy", json!("SingleStack"));
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    default_field(spec, "sessionAffinity", json!("None"));
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default_field(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            default_field(p, "targetPort", port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults_match_the_real_server() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "ghcr.io/stefanprodan/podinfo:6.0.0", "ports": [{"containerPort": 9898}]}]}}}});
        apply("deployments.apps", &mut d, None, &mut 0);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn recreate_strategy_gets_no_rolling_update() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("deployments.apps", &mut d, None, &mut 0);
        assert!(d["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn service_keeps_its_cluster_ip_across_updates() {
        let mut ip = 0;
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply("services", &mut s, None, &mut ip);
        assert_eq!(s["spec"]["clusterIP"], "10.96.0.1");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        let mut s2 = json!({"spec": {"ports": [{"port": 81}]}});
        apply("services", &mut s2, Some(&s), &mut ip);
        assert_eq!(s2["spec"]["clusterIP"], "10.96.0.1");
    }

    #[test]
    fn secret_string_data_is_encoded() {
        let mut s = json!({"stringData": {"a": "hi"}});
        apply("secrets", &mut s, None, &mut 0);
        assert_eq!(s["data"]["a"], "aGk=");
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
    }
}
