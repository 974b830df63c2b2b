use super::*;

fn outcome<'a>(edge: Option<&'a Edge>, pod: Option<&'a str>, code: u16) -> Outcome<'a> {
    Outcome {
        source: Source::Synthetic,
        namespace: "test",
        service: "podinfo",
        backend: "podinfo-canary",
        backend_port: "80",
        deployment: Some("podinfo"),
        pod,
        edge,
        code,
        latency: Duration::from_millis(20),
    }
}

#[test]
fn series_carry_the_labels_flagger_queries() {
    let e = Exporter::new();
    let nginx = Edge::Nginx {
        name: "podinfo".into(),
        host: "app.example.com".into(),
        path: "/".into(),
        canary: true,
    };
    e.record(&outcome(Some(&nginx), Some("podinfo-7b9c4d5f6-x2x4k"), 200));
    e.record(&outcome(Some(&nginx), Some("podinfo-7b9c4d5f6-x2x4k"), 500));
    let text = e.encode();
    for needle in [
        "istio_requests_total{reporter=\"destination\",destination_workload=\"podinfo\",destination_workload_namespace=\"test\"",
        "istio_request_duration_milliseconds_bucket{",
        "response_total{direction=\"inbound\",namespace=\"test\",deployment=\"podinfo\",pod=\"podinfo-7b9c4d5f6-x2x4k\",status_code=\"500\",classification=\"failure\"} 1",
        "response_latency_ms_bucket{",
        "nginx_ingress_controller_requests{namespace=\"test\",ingress=\"podinfo\",service=\"podinfo-canary\",canary=\"test-podinfo-canary-80\"",
        "nginx_ingress_controller_response_duration_seconds_sum{",
        "nginx_ingress_controller_response_duration_seconds_count{",
        "http_request_duration_seconds_count{kubernetes_namespace=\"test\",kubernetes_pod_name=\"podinfo-7b9c4d5f6-x2x4k\",method=\"GET\",status=\"200\"} 1",
        "envoy_cluster_upstream_rq{kubernetes_namespace=\"test\",kubernetes_pod_name=\"podinfo-7b9c4d5f6-x2x4k\",envoy_cluster_name=\"test_podinfo-canary_80\",envoy_response_code=\"500\"} 1",
        "fledge_sim_requests_total{namespace=\"test\",service=\"podinfo\",backend=\"podinfo-canary\",deployment=\"podinfo\",code=\"200\",source=\"synthetic\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle}\n{text}");
    }
}

#[test]
fn traefik_series_name_the_service_as_its_crd_provider_does() {
    let e = Exporter::new();
    e.record(&outcome(
        Some(&Edge::Traefik),
        Some("podinfo-7b9c4d5f6-x2x4k"),
        500,
    ));
    let text = e.encode();
    for needle in [
        "traefik_service_requests_total{service=\"test-podinfo-canary-80@kubernetescrd\",code=\"500\",method=\"GET\",protocol=\"http\"} 1",
        "traefik_service_request_duration_seconds_bucket{le=\"+Inf\",service=\"test-podinfo-canary-80@kubernetescrd\",code=\"500\",method=\"GET\",protocol=\"http\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle}\n{text}");
    }
    assert!(
        !text.contains("nginx_ingress_controller_requests{"),
        "{text}"
    );
}

#[test]
fn requests_without_a_pod_stay_out_of_pod_series() {
    let e = Exporter::new();
    e.record(&outcome(None, None, 503));
    let text = e.encode();
    assert!(
        !text.contains("http_request_duration_seconds_count{"),
        "{text}"
    );
    assert!(!text.contains("envoy_cluster_upstream_rq{"), "{text}");
    assert!(!text.contains("traefik_service_requests_total{"), "{text}");
    assert!(text.contains("response_code=\"503\"} 1"), "{text}");
}
