//! `fledge crds` through the binary: three CRDs that decode as typed CustomResourceDefinitions.

use std::process::Command;

fn crds_output() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn prints_three_crds_as_multi_document_yaml() {
    let text = crds_output();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "canaries.fledge.dev",
            "metrictemplates.fledge.dev",
            "alertproviders.fledge.dev"
        ]
    );
    for doc in &docs {
        assert_eq!(doc["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(doc["kind"], "CustomResourceDefinition");
        assert_eq!(doc["spec"]["group"], "fledge.dev");
        assert_eq!(doc["spec"]["versions"][0]["name"], "v1beta1");
    }
}

#[test]
fn output_decodes_as_typed_crds_with_the_canary_schema() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&crds_output()).unwrap();
    assert_eq!(crds.len(), 3);
    let schema = crds[0].spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    let spec = &schema.properties.as_ref().unwrap()["spec"];
    assert_eq!(
        spec.required.as_deref(),
        Some(&["targetRef".to_string()][..])
    );
    let props = spec.properties.as_ref().unwrap();
    for field in [
        "targetRef",
        "service",
        "analysis",
        "canaryAnalysis",
        "provider",
        "progressDeadlineSeconds",
    ] {
        assert!(
            props.contains_key(field),
            "spec.{field} missing from the Canary schema"
        );
    }
}
