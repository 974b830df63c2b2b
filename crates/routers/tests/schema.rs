//! The objects fledge generates, checked by validators nobody here wrote: HTTPRoutes against
//! the official Gateway API CRD schema with `check-jsonschema`, Services against the upstream
//! Kubernetes 1.32 OpenAPI with `kubernetes-validate`. Each test also feeds a deliberately
//! broken object to prove the validator is really looking.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fledge_api::Canary;
use fledge_routers::gatewayapi::{ApiVersion, build_route};
use fledge_routers::nginx::build_canary_ingress;
use fledge_routers::{DEFAULT_SELECTOR_LABELS, Routes, TargetWorkload, build_services};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = repo().join("testdata/routers").join(file);
    serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn run(program: &str, args: &[&OsStr], install: &str) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); install it with: {install}"))
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// `spec.versions[name=v1].schema.openAPIV3Schema` of the official HTTPRoute CRD.
fn httproute_schema(version: &str) -> Value {
    crd_schema("gateway-api-httproutes.yaml", version)
}

/// OpenAPI 3.0's boolean `exclusiveMaximum`/`exclusiveMinimum` (with `maximum`/`minimum`) as
/// the JSON Schema `check-jsonschema` reads: the bound itself.
fn json_schema_bounds(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (flag, bound) in [
                ("exclusiveMaximum", "maximum"),
                ("exclusiveMinimum", "minimum"),
            ] {
                if let Some(Value::Bool(exclusive)) = map.get(flag).cloned() {
                    map.remove(flag);
                    if exclusive && let Some(b) = map.remove(bound) {
                        map.insert(flag.into(), b);
                    }
                }
            }
            map.values_mut().for_each(json_schema_bounds);
        }
        Value::Array(items) => items.iter_mut().for_each(json_schema_bounds),
        _ => {}
    }
}

/// `spec.versions[name=version].schema.openAPIV3Schema` of a vendored CRD in testdata/crds.
fn crd_schema(file: &str, version: &str) -> Value {
    let mut schema = crd_schema_as_is(file, version);
    json_schema_bounds(&mut schema);
    schema
}

fn crd_schema_as_is(file: &str, version: &str) -> Value {
    let path = repo().join("testdata/crds").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the third-party CRDs live in testdata/crds/)",
            path.display()
        )
    });
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .unwrap_or_else(|| panic!("no {version} in {}", path.display()))
}

fn check_jsonschema(schema: &Path, instance: &Path) -> Output {
    let args = [
        OsStr::new("--schemafile"),
        schema.as_os_str(),
        instance.as_os_str(),
    ];
    run("check-jsonschema", &args, "pip install check-jsonschema")
}

#[test]
fn generated_httproutes_validate_against_the_gateway_api_crd() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, Routes)> = vec![
        ("canary-gatewayapi.yaml", "initial", Routes::ALL_PRIMARY),
        ("canary-gatewayapi.yaml", "step", Routes::canary(30, false)),
        (
            "canary-gatewayapi.yaml",
            "mirrored",
            Routes {
                primary: 100,
                canary: 0,
                mirrored: true,
            },
        ),
        (
            "canary-gatewayapi-ab.yaml",
            "ab",
            Routes::canary(100, false),
        ),
        (
            "canary-gatewayapi-affinity.yaml",
            "affinity-step",
            Routes::canary(20, false),
        ),
        (
            "canary-gatewayapi-affinity.yaml",
            "affinity-done",
            Routes::ALL_PRIMARY,
        ),
    ];
    for (version, api) in [("v1", ApiVersion::V1), ("v1beta1", ApiVersion::V1beta1)] {
        let schema = write_json(
            dir.path(),
            &format!("schema-{version}.json"),
            &httproute_schema(version),
        );
        for (file, name, routes) in &cases {
            let canary: Canary = fixture(file);
            let route = build_route(&canary, api, *routes).unwrap();
            let value = serde_json::to_value(&route).unwrap();
            assert_eq!(
                value["apiVersion"],
                format!("gateway.networking.k8s.io/{version}")
            );
            assert_eq!(value["kind"], "HTTPRoute");
            let path = write_json(dir.path(), &format!("{name}-{version}.json"), &value);
            let out = check_jsonschema(&schema, &path);
            assert!(
                out.status.success(),
                "{file} {name} {version} is invalid:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // The validator must reject what the API server would: a weight above the maximum and a
    // path match type that doesn't exist.
    let schema = write_json(dir.path(), "schema.json", &httproute_schema("v1"));
    let canary: Canary = fixture("canary-gatewayapi.yaml");
    let good =
        serde_json::to_value(build_route(&canary, ApiVersion::V1, Routes::ALL_PRIMARY).unwrap())
            .unwrap();
    let breakages = [
        ("/spec/rules/0/backendRefs/0/weight", json!(1_000_001)),
        ("/spec/rules/0/matches/0/path/type", json!("Prefix")),
    ];
    for (pointer, bad) in breakages {
        let mut broken = good.clone();
        *broken.pointer_mut(pointer).unwrap() = bad;
        let path = write_json(dir.path(), "broken.json", &broken);
        let out = check_jsonschema(&schema, &path);
        assert!(!out.status.success(), "{pointer} broken but accepted");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.contains("Schema validation errors"),
            "{pointer}: {report}"
        );
    }
}

fn kubernetes_validate(file: &Path) -> Output {
    let args = ["-m", "kubernetes_validate", "--strict", "-k", "1.32.0"].map(OsStr::new);
    let args = [&args[..], &[file.as_os_str()]].concat();
    run("python3", &args, "pip install kubernetes-validate")
}

#[test]
fn generated_services_validate_against_kubernetes_1_32() {
    let dir = tempfile::tempdir().unwrap();
    let deployment: Deployment = fixture("deployment.yaml");
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    for file in ["canary-kubernetes.yaml", "canary-gatewayapi.yaml"] {
        let mut canary: Canary = fixture(file);
        // Exercise every optional field once.
        canary.spec.service.headless = Some(file == "canary-kubernetes.yaml");
        canary.spec.service.app_protocol = Some("http".into());
        canary.spec.service.traffic_distribution = Some("PreferClose".into());
        let set = build_services(&canary, &target).unwrap();
        for svc in set.in_write_order() {
            let mut value = serde_json::to_value(svc).unwrap();
            value["apiVersion"] = json!("v1");
            value["kind"] = json!("Service");
            let name = svc.metadata.name.clone().unwrap();
            let path = write_json(dir.path(), &format!("{file}-{name}.json"), &value);
            let out = kubernetes_validate(&path);
            assert!(
                out.status.success(),
                "{file} {name} is invalid:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let canary: Canary = fixture("canary-kubernetes.yaml");
    let set = build_services(&canary, &target).unwrap();
    let mut broken = serde_json::to_value(&set.apex).unwrap();
    broken["apiVersion"] = json!("v1");
    broken["kind"] = json!("Service");
    broken["spec"]["ports"][0]["port"] = json!("eighty");
    let path = write_json(dir.path(), "broken.json", &broken);
    let out = kubernetes_validate(&path);
    assert!(!out.status.success(), "a string port was accepted");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("did not validate"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn generated_canary_ingresses_validate_against_kubernetes_1_32() {
    let dir = tempfile::tempdir().unwrap();
    let main: k8s_openapi::api::networking::v1::Ingress = fixture("ingress-podinfo.yaml");
    let prefix = fledge_routers::nginx::DEFAULT_ANNOTATIONS_PREFIX;
    let mut cases = Vec::new();
    for weight in [0, 10, 50, 100] {
        cases.push(("canary-nginx.yaml", Routes::canary(weight, false)));
    }
    cases.push(("canary-nginx-ab.yaml", Routes::ALL_CANARY));
    for (file, routes) in cases {
        let canary: Canary = fixture(file);
        let ingress = build_canary_ingress(&canary, &main, routes, prefix).unwrap();
        let mut value = serde_json::to_value(&ingress).unwrap();
        value["apiVersion"] = json!("networking.k8s.io/v1");
        value["kind"] = json!("Ingress");
        let path = write_json(
            dir.path(),
            &format!("{file}-{}.json", routes.canary),
            &value,
        );
        let out = kubernetes_validate(&path);
        assert!(
            out.status.success(),
            "{file} at {routes:?} is invalid:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let canary: Canary = fixture("canary-nginx.yaml");
    let ingress = build_canary_ingress(&canary, &main, Routes::ALL_PRIMARY, prefix).unwrap();
    let mut broken = serde_json::to_value(&ingress).unwrap();
    broken["apiVersion"] = json!("networking.k8s.io/v1");
    broken["kind"] = json!("Ingress");
    broken["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] =
        json!("ninety");
    let path = write_json(dir.path(), "broken-ingress.json", &broken);
    let out = kubernetes_validate(&path);
    assert!(!out.status.success(), "a string port number was accepted");
}

/// The SMI CRD vendored in testdata/crds serves v1alpha1 and v1alpha2 (int-or-string and
/// numeric weights); v1alpha3's schema comes from smi-sdk-go's own CRD, an
/// `apiextensions.k8s.io/v1beta1` one kept in testdata/crds/v1beta1/ (only its schema is read).
#[test]
fn generated_traffic_splits_validate_against_the_smi_crds() {
    use fledge_routers::smi::{SmiVersion, build_split};
    let dir = tempfile::tempdir().unwrap();
    let canary: Canary = fixture("canary-smi.yaml");
    let v1alpha3 = {
        let path = repo().join("testdata/crds/v1beta1/smi-trafficsplits-v1alpha3.yaml");
        let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(crd["spec"]["version"], "v1alpha3");
        crd["spec"]["validation"]["openAPIV3Schema"].clone()
    };
    for (name, version, schema) in [
        (
            "v1alpha1",
            SmiVersion::V1alpha1,
            crd_schema("smi-trafficsplits.yaml", "v1alpha1"),
        ),
        (
            "v1alpha2",
            SmiVersion::V1alpha2,
            crd_schema("smi-trafficsplits.yaml", "v1alpha2"),
        ),
        ("v1alpha3", SmiVersion::V1alpha3, v1alpha3),
    ] {
        let schema = write_json(dir.path(), &format!("smi-{name}.json"), &schema);
        for weight in [0, 10, 50, 100] {
            let split = build_split(&canary, version, Routes::canary(weight, false)).unwrap();
            let value = serde_json::to_value(&split).unwrap();
            assert_eq!(value["apiVersion"], format!("split.smi-spec.io/{name}"));
            let path = write_json(dir.path(), &format!("split-{name}-{weight}.json"), &value);
            let out = check_jsonschema(&schema, &path);
            assert!(
                out.status.success(),
                "{name} at {weight}% is invalid:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A backend without its weight is refused: the validator is looking.
        let mut broken =
            serde_json::to_value(build_split(&canary, version, Routes::ALL_PRIMARY).unwrap())
                .unwrap();
        broken["spec"]["backends"][0]
            .as_object_mut()
            .unwrap()
            .remove("weight");
        let path = write_json(dir.path(), &format!("broken-{name}.json"), &broken);
        assert!(
            !check_jsonschema(&schema, &path).status.success(),
            "{name}: a backend without a weight was accepted"
        );
    }
}

/// Every VirtualService and DestinationRule the istio router writes (weights 0/10/50/100,
/// mirroring, A/B, session affinity, every route option) against Istio's own CRD schemas.
#[test]
fn generated_istio_objects_validate_against_the_istio_crds() {
    use fledge_routers::istio::{build_destination_rules, build_virtual_service};
    let dir = tempfile::tempdir().unwrap();
    let vs_schema = write_json(
        dir.path(),
        "vs.json",
        &crd_schema("istio-virtualservices.yaml", "v1beta1"),
    );
    let dr_schema = write_json(
        dir.path(),
        "dr.json",
        &crd_schema("istio-destinationrules.yaml", "v1beta1"),
    );
    let mut affinity: Canary = fixture("canary-istio.yaml");
    if let Some(a) = affinity.spec.analysis.as_mut() {
        a.session_affinity =
            serde_json::from_value(json!({"cookieName": "c", "primaryCookieName": "p"})).unwrap();
    }
    affinity.status = Some(fledge_api::CanaryStatus {
        last_applied_spec: Some("rev1".into()),
        ..Default::default()
    });
    let mut cases: Vec<(Canary, Routes, String)> = Vec::new();
    for w in [0, 10, 50, 100] {
        cases.push((
            fixture("canary-istio.yaml"),
            Routes::canary(w, false),
            format!("w{w}"),
        ));
    }
    cases.push((
        fixture("canary-istio.yaml"),
        Routes {
            primary: 100,
            canary: 0,
            mirrored: true,
        },
        "mirror".into(),
    ));
    cases.push((
        fixture("canary-istio-ab.yaml"),
        Routes::ALL_CANARY,
        "ab".into(),
    ));
    cases.push((
        affinity.clone(),
        Routes::canary(20, false),
        "affinity".into(),
    ));
    cases.push((affinity, Routes::ALL_PRIMARY, "affinity-done".into()));
    for (canary, routes, name) in &cases {
        let vs = serde_json::to_value(build_virtual_service(canary, *routes).unwrap()).unwrap();
        assert_eq!(vs["apiVersion"], "networking.istio.io/v1beta1");
        let path = write_json(dir.path(), &format!("vs-{name}.json"), &vs);
        let out = check_jsonschema(&vs_schema, &path);
        assert!(
            out.status.success(),
            "VirtualService {name} is invalid:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let canary: Canary = fixture("canary-istio.yaml");
    for rule in build_destination_rules(&canary).unwrap() {
        let value = serde_json::to_value(&rule).unwrap();
        let path = write_json(dir.path(), "dr.json-instance", &value);
        let out = check_jsonschema(&dr_schema, &path);
        assert!(
            out.status.success(),
            "DestinationRule is invalid:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The validator is looking: a weight that isn't an integer is refused.
    let mut broken =
        serde_json::to_value(build_virtual_service(&canary, Routes::canary(10, false)).unwrap())
            .unwrap();
    broken["spec"]["http"][0]["route"][0]["weight"] = json!("ninety");
    let path = write_json(dir.path(), "vs-broken.json", &broken);
    assert!(
        !check_jsonschema(&vs_schema, &path).status.success(),
        "a string weight was accepted"
    );
}

/// Every HTTPProxy the contour router writes (weights 0/10/50/100, A/B, every route option,
/// an ingress class) against Contour's own CRD schema.
#[test]
fn generated_http_proxies_validate_against_the_contour_crd() {
    use fledge_routers::contour::build_http_proxy;
    let dir = tempfile::tempdir().unwrap();
    let schema = write_json(
        dir.path(),
        "httpproxy.json",
        &crd_schema("contour-httpproxies.yaml", "v1"),
    );
    let mut cases: Vec<(&str, Routes)> = [0, 10, 50, 100]
        .into_iter()
        .map(|w| ("canary-contour.yaml", Routes::canary(w, false)))
        .collect();
    cases.push(("canary-contour-ab.yaml", Routes::ALL_CANARY));
    for (file, routes) in cases {
        let canary: Canary = fixture(file);
        let proxy = build_http_proxy(&canary, routes, Some("contour")).unwrap();
        let value = serde_json::to_value(&proxy).unwrap();
        assert_eq!(value["apiVersion"], "projectcontour.io/v1");
        let path = write_json(
            dir.path(),
            &format!("{file}-{}.json", routes.canary),
            &value,
        );
        let out = check_jsonschema(&schema, &path);
        assert!(
            out.status.success(),
            "{file} at {routes:?} is invalid:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let canary: Canary = fixture("canary-contour.yaml");
    let mut broken =
        serde_json::to_value(build_http_proxy(&canary, Routes::ALL_PRIMARY, None).unwrap())
            .unwrap();
    broken["spec"]["routes"][0]["services"][0]["port"] = json!("ninety");
    let path = write_json(dir.path(), "broken-proxy.json", &broken);
    assert!(
        !check_jsonschema(&schema, &path).status.success(),
        "a string port was accepted"
    );
}

/// Every TraefikService the traefik router writes (weights 0/10/50/100) against Traefik's own
/// CRD schema.
#[test]
fn generated_traefik_services_validate_against_the_traefik_crd() {
    use fledge_routers::traefik::build_traefik_service;
    let dir = tempfile::tempdir().unwrap();
    let schema = write_json(
        dir.path(),
        "traefikservice.json",
        &crd_schema("traefik-traefikservices.yaml", "v1alpha1"),
    );
    let canary: Canary = fixture("canary-traefik.yaml");
    for w in [0, 10, 50, 100] {
        let svc = build_traefik_service(&canary, Routes::canary(w, false)).unwrap();
        let value = serde_json::to_value(&svc).unwrap();
        assert_eq!(value["apiVersion"], "traefik.io/v1alpha1");
        let path = write_json(dir.path(), &format!("traefik-{w}.json"), &value);
        let out = check_jsonschema(&schema, &path);
        assert!(
            out.status.success(),
            "TraefikService at {w}% is invalid:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A service without its name is refused: the validator is looking.
    let mut broken =
        serde_json::to_value(build_traefik_service(&canary, Routes::ALL_PRIMARY).unwrap()).unwrap();
    broken["spec"]["weighted"]["services"][1]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let path = write_json(dir.path(), "broken-traefik.json", &broken);
    assert!(
        !check_jsonschema(&schema, &path).status.success(),
        "a weighted service without a name was accepted"
    );
}
