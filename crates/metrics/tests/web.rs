//! The `web` provider against a real HTTP server on loopback: what it sends (GET with the
//! rendered query appended, POST with it as the body, headers and the Secret's token), how it
//! reads the JSON answer, and that a slow endpoint, an HTTP error or bad JSON is an error (a
//! failed check through `analyze`), never a value.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fledge_api::{Canary, MetricTemplate, Provider, Verdict};
use fledge_metrics::{Credentials, Providers, TemplateKey, analyze, plan, template_provider};
use k8s_openapi::ByteString;
use k8s_openapi::jiff::Timestamp;

#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    headers: HeaderMap,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn json(body: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn record(log: &Log, uri: &Uri, headers: HeaderMap, body: Bytes) {
    log.lock().unwrap().push(Seen {
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
}

async fn slo(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, &uri, headers, body).await;
    json(r#"{"data": {"service": "podinfo", "errorRate": 0.75, "healthy": true}}"#)
}

async fn query(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, &uri, headers, body.clone()).await;
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    json(&format!(
        r#"{{"results": [{{"service": {}, "p99": 0.25}}]}}"#,
        request["service"]
    ))
}

struct Endpoint {
    base: String,
    log: Log,
    server: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let log: Log = Arc::default();
        let app = Router::new()
            .route("/slo", get(slo))
            .route("/query", post(query))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    json("{}")
                }),
            )
            .route(
                "/html",
                get(|| async { (StatusCode::OK, "<html>Sign in</html>").into_response() }),
            )
            .route(
                "/broken",
                get(|| async { (StatusCode::BAD_GATEWAY, "upstream down").into_response() }),
            )
            .route("/empty", get(|| async { json(r#"{"data": {}}"#) }))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, log, server }
    }

    fn last(&self) -> Seen {
        self.log.lock().unwrap().last().cloned().expect("a request")
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn template(yaml: &str) -> MetricTemplate {
    serde_saphyr::from_str(yaml).expect("a MetricTemplate")
}

fn web_template(name: &str, provider: &str, query: &str) -> MetricTemplate {
    template(&format!(
        "apiVersion: fledge.dev/v1beta1\nkind: MetricTemplate\nmetadata: {{name: {name}, namespace: test}}\nspec:\n  provider:\n{provider}  query: {query:?}\n"
    ))
}

#[tokio::test]
async fn get_appends_the_query_and_sends_headers_and_the_token() {
    let endpoint = Endpoint::start().await;
    // The example in testdata, pointed at the loopback server.
    let t = template(
        &include_str!("../../../testdata/metrics/web-error-rate.yaml")
            .replace("http://slo.monitoring:8080", &endpoint.base),
    );
    let secret = BTreeMap::from([("token".to_string(), ByteString(b"s3cret\n".to_vec()))]);
    let credentials = Credentials::from_secret_data("test/slo-token", &secret).unwrap();
    let provider = template_provider(&t, Some(credentials), Duration::from_secs(5)).unwrap();
    let value = provider
        .query(
            "?service=podinfo&namespace=test&window=1m",
            Timestamp::now(),
        )
        .await;
    assert_eq!(value.unwrap(), Some(0.75));
    let seen = endpoint.last();
    assert_eq!(seen.uri, "/slo?service=podinfo&namespace=test&window=1m");
    assert_eq!(seen.headers["x-tenant"], "team-a");
    assert_eq!(seen.headers["authorization"], "Bearer s3cret");
    assert_eq!(provider.describe(), format!("web {}/slo", endpoint.base));
    provider.health_check().await.expect("the endpoint answers");
}

/// `header.<Name>` keys of the Secret become request headers (an API key), next to the token,
/// and replace a header of the same name from the template; the error on a bad one names the
/// header, never the value.
#[tokio::test]
async fn secret_headers_are_sent_and_never_shown() {
    let endpoint = Endpoint::start().await;
    let t = template(
        &include_str!("../../../testdata/metrics/web-error-rate.yaml")
            .replace("http://slo.monitoring:8080", &endpoint.base),
    );
    let secret = BTreeMap::from([
        ("token".to_string(), ByteString(b"s3cret".to_vec())),
        (
            "header.X-Api-Key".to_string(),
            ByteString(b"k3y\n".to_vec()),
        ),
        (
            "header.X-Tenant".to_string(),
            ByteString(b"team-b".to_vec()),
        ),
    ]);
    let credentials = Credentials::from_secret_data("test/slo-token", &secret).unwrap();
    let provider = template_provider(&t, Some(credentials), Duration::from_secs(5)).unwrap();
    let value = provider.query("?service=podinfo", Timestamp::now()).await;
    assert_eq!(value.unwrap(), Some(0.75));
    let seen = endpoint.last();
    assert_eq!(seen.headers["x-api-key"], "k3y");
    assert_eq!(seen.headers["x-tenant"], "team-b", "the Secret's wins");
    assert_eq!(seen.headers.get_all("x-tenant").iter().count(), 1);
    assert_eq!(seen.headers["authorization"], "Bearer s3cret");

    let bad = BTreeMap::from([(
        "header.X-Api-Key".to_string(),
        ByteString(b"line1\nline2-s3cret".to_vec()),
    )]);
    let credentials = Credentials::from_secret_data("test/slo-token", &bad).unwrap();
    let err = template_provider(&t, Some(credentials), Duration::from_secs(5))
        .err()
        .expect("a newline inside a header value is refused")
        .to_string();
    assert!(
        err.contains("\"X-Api-Key\"") && !err.contains("s3cret"),
        "{err}"
    );
}

#[tokio::test]
async fn post_sends_the_query_as_a_json_body() {
    let endpoint = Endpoint::start().await;
    let t = web_template(
        "p99",
        &format!(
            "    type: web\n    method: POST\n    address: {}/query\n    jsonPath: \"$.results[?@.service == 'podinfo'].p99\"\n",
            endpoint.base
        ),
        r#"{"service": "podinfo"}"#,
    );
    let provider = template_provider(&t, None, Duration::from_secs(5)).unwrap();
    let value = provider
        .query(r#"{"service": "podinfo"}"#, Timestamp::now())
        .await;
    assert_eq!(value.unwrap(), Some(0.25));
    let seen = endpoint.last();
    assert_eq!(seen.uri, "/query");
    assert_eq!(seen.body, r#"{"service": "podinfo"}"#);
    assert_eq!(seen.headers["content-type"], "application/json");
}

#[tokio::test]
async fn slow_broken_and_unreadable_answers_are_errors() {
    let endpoint = Endpoint::start().await;
    let provider = |path: &str, json_path: &str| {
        let t = web_template(
            "x",
            &format!(
                "    type: web\n    address: {}{path}\n    jsonPath: {json_path:?}\n",
                endpoint.base
            ),
            "",
        );
        template_provider(&t, None, Duration::from_millis(500)).unwrap()
    };
    let cases = [
        ("/slow", "$.v", "no answer within 500ms"),
        ("/broken", "$.v", "HTTP 502 Bad Gateway: upstream down"),
        ("/html", "$.v", "not JSON"),
        ("/slo", "$.data.service", "\"podinfo\", not a number"),
        ("/slo", "$.data.*", "found 3 values"),
    ];
    for (path, json_path, want) in cases {
        let err = provider(path, json_path)
            .query("", Timestamp::now())
            .await
            .expect_err(path);
        assert!(err.to_string().contains(want), "{path} {json_path}: {err}");
        assert!(
            err.to_string().contains(&endpoint.base),
            "names the endpoint: {err}"
        );
    }
    // Nothing at the path is no data, which the metric's onNoData decides.
    let empty = provider("/empty", "$.data.errorRate")
        .query("", Timestamp::now())
        .await;
    assert_eq!(empty.unwrap(), None);
}

/// Through a Canary's analysis: a rendered query reaches the endpoint, the value is judged
/// against the threshold, and an endpoint that times out fails the check.
#[tokio::test]
async fn analysis_judges_web_values_and_fails_on_a_timeout() {
    let endpoint = Endpoint::start().await;
    let canary: Canary = serde_saphyr::from_str(
        r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 2
    iterations: 2
    metrics:
      - name: error-rate
        templateRef: {name: error-rate}
        thresholdRange: {max: 1}
      - name: slow
        templateRef: {name: slow}
        thresholdRange: {max: 1}
"#,
    )
    .unwrap();
    let rate = web_template(
        "error-rate",
        &format!(
            "    type: web\n    address: {}/slo\n    jsonPath: $.data.errorRate\n",
            endpoint.base
        ),
        "?service={{ target }}&ns={{ namespace }}&window={{ interval }}",
    );
    let slow = web_template(
        "slow",
        &format!(
            "    type: web\n    address: {}/slow\n    jsonPath: $.v\n",
            endpoint.base
        ),
        "",
    );
    let templates = [Arc::new(rate), Arc::new(slow)];
    let checks = plan(&canary, Provider::Kubernetes, |key| {
        templates
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(key.name.as_str()))
            .cloned()
    });
    let mut providers = Providers::default();
    for t in &templates {
        providers.templates.insert(
            TemplateKey {
                namespace: "test".into(),
                name: t.metadata.name.clone().unwrap_or_default(),
            },
            Ok(template_provider(t.as_ref(), None, Duration::from_millis(500)).unwrap()),
        );
    }
    let measured = analyze(&checks, &providers, Timestamp::now()).await;
    let verdicts: Vec<(String, Verdict, Option<f64>)> = measured
        .iter()
        .map(|m| (m.record.name.clone(), m.record.verdict, m.record.value))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("error-rate".to_string(), Verdict::Pass, Some(0.75)),
            ("slow".to_string(), Verdict::Fail, None),
        ]
    );
    assert_eq!(
        endpoint.log.lock().unwrap()[0].uri,
        "/slo?service=podinfo&ns=test&window=1m"
    );
}
