//! What the Prometheus provider sends and how it reads odd answers, checked with a small HTTP
//! server on loopback that records each request and answers like (or unlike) Prometheus.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fledge_api::MetricTemplate;
use fledge_metrics::{
    Auth, Credentials, MetricProvider, PrometheusConfig, PrometheusProvider, ProviderError,
    template_provider,
};
use k8s_openapi::ByteString;
use k8s_openapi::jiff::Timestamp;

#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    params: BTreeMap<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn json(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers by query text, so one server covers every case.
async fn answer(
    State(log): State<Log>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let query = params.get("query").cloned().unwrap_or_default();
    log.lock().unwrap().push(Seen { headers, params });
    match query.as_str() {
        "two_series" => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"pod":"a"},"value":[1700000000,"1"]},{"metric":{"pod":"b"},"value":[1700000000,"2"]}]}}"#,
        ),
        "matrix" => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"1"],[1700000060,"2"]]}]}}"#,
        ),
        "nan" => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}"#,
        ),
        "inf" => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#,
        ),
        "execution_error" => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples"}"#,
        ),
        "bad_gateway" => (StatusCode::BAD_GATEWAY, "upstream connect error").into_response(),
        "unauthorized_json" => json(StatusCode::UNAUTHORIZED, r#"{"message":"invalid token"}"#),
        "login_page" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>Sign in</html>",
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            json(StatusCode::OK, "{}")
        }
        _ => json(
            StatusCode::OK,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"42.5"]}]}}"#,
        ),
    }
}

struct FakePrometheus {
    address: String,
    log: Log,
    server: tokio::task::JoinHandle<()>,
}

impl FakePrometheus {
    async fn start(prefix: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let log: Log = Arc::default();
        let app = Router::new()
            .route(&format!("{prefix}/api/v1/query"), get(answer))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}{prefix}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            log,
            server,
        }
    }

    fn last(&self) -> Seen {
        self.log
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request arrived")
    }
}

impl Drop for FakePrometheus {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn header(seen: &Seen, name: &str) -> Vec<String> {
    seen.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn bearer_token_custom_headers_and_evaluation_time_are_sent() {
    let fake = FakePrometheus::start("").await;
    let template: MetricTemplate = serde_saphyr::from_str(&format!(
        r#"
apiVersion: fledge.dev/v1beta1
kind: MetricTemplate
metadata: {{name: t, namespace: test}}
spec:
  provider:
    type: prometheus
    address: {address}
    secretRef: {{name: prom-auth}}
    headers:
      X-Scope-OrgID: [tenant-a]
      X-Extra: [one, two]
  query: unused
"#,
        address = fake.address
    ))
    .unwrap();
    let secret = BTreeMap::from([("token".to_string(), ByteString(b"t0k3n\n".to_vec()))]);
    let credentials = Credentials::from_secret_data("test/prom-auth", &secret).unwrap();
    let provider = template_provider(&template, Some(credentials), Duration::from_secs(5)).unwrap();

    let at = Timestamp::from_second(1_700_000_123).unwrap();
    let value = provider
        .query("sum(\n  rate(x{a=\"b  c\"}[1m])\n)\n", at)
        .await
        .unwrap();
    assert_eq!(value, Some(42.5));
    let seen = fake.last();
    assert_eq!(header(&seen, "authorization"), ["Bearer t0k3n"]);
    assert_eq!(header(&seen, "x-scope-orgid"), ["tenant-a"]);
    assert_eq!(header(&seen, "x-extra"), ["one", "two"]);
    assert_eq!(seen.params["query"], "sum( rate(x{a=\"b  c\"}[1m]) )");
    assert_eq!(seen.params["time"], "1700000123");
    assert_eq!(seen.params["timeout"], "5000ms");
}

#[tokio::test]
async fn basic_auth_is_sent_and_a_path_prefix_is_kept() {
    let fake = FakePrometheus::start("/prometheus").await;
    let provider = PrometheusProvider::new(PrometheusConfig {
        credentials: Some(Credentials::from(Auth::Basic {
            username: "user".into(),
            password: "pass".into(),
        })),
        // A trailing slash must not produce `//api/v1/query`.
        ..PrometheusConfig::new(format!("{}/", fake.address))
    })
    .unwrap();
    provider.health_check().await.unwrap_err(); // the fake answers 42.5, not 1
    let seen = fake.last();
    assert_eq!(header(&seen, "authorization"), ["Basic dXNlcjpwYXNz"]);
    assert_eq!(seen.params["query"], "vector(1)");
    assert_eq!(provider.describe(), format!("prometheus {}/", fake.address));
}

#[tokio::test]
async fn odd_answers_are_values_no_data_or_errors_never_guesses() {
    let fake = FakePrometheus::start("").await;
    let token = "s3cr3t-token";
    let provider = PrometheusProvider::new(PrometheusConfig {
        credentials: Some(Auth::BearerToken(token.into()).into()),
        timeout: Duration::from_millis(300),
        ..PrometheusConfig::new(&fake.address)
    })
    .unwrap();
    let now = Timestamp::now();

    // Several series: the last one wins, as in Flagger.
    assert_eq!(provider.query("two_series", now).await.unwrap(), Some(2.0));
    assert_eq!(provider.query("nan", now).await.unwrap(), None);
    assert_eq!(
        provider.query("inf", now).await.unwrap(),
        Some(f64::INFINITY)
    );

    #[rustfmt::skip]
    type IsKind = fn(&ProviderError) -> bool;
    let cases: Vec<(&str, IsKind, &str)> = vec![
        (
            "matrix",
            |e| matches!(e, ProviderError::RangeResult { .. }),
            "the query returned a range vector",
        ),
        (
            "execution_error",
            |e| matches!(e, ProviderError::QueryRejected { .. }),
            "rejected the query (execution): query processing would load too many samples",
        ),
        (
            "bad_gateway",
            |e| matches!(e, ProviderError::BadResponse { .. }),
            "unexpected answer: HTTP 502 Bad Gateway: upstream connect error",
        ),
        (
            "unauthorized_json",
            |e| matches!(e, ProviderError::BadResponse { .. }),
            "HTTP 401 Unauthorized: {\"message\":\"invalid token\"}",
        ),
        (
            "login_page",
            |e| matches!(e, ProviderError::BadResponse { .. }),
            "not a Prometheus API response",
        ),
        (
            "slow",
            |e| matches!(e, ProviderError::Unreachable { .. }),
            "request failed: no answer within 300ms",
        ),
    ];
    for (query, kind, want) in cases {
        let err = provider.query(query, now).await.unwrap_err();
        let msg = err.to_string();
        assert!(kind(&err), "{query}: {err:?}");
        assert!(msg.contains(want), "{query}: {msg}");
        assert!(
            msg.contains(&fake.address),
            "{query}: the address is named: {msg}"
        );
        assert!(!msg.contains(token), "{query}: the token leaked: {msg}");
    }
}

#[tokio::test]
async fn user_info_in_the_address_authenticates_but_is_never_shown() {
    let fake = FakePrometheus::start("").await;
    let with_user = fake.address.replace("http://", "http://alice:pw0rd@");
    let provider = PrometheusProvider::new(PrometheusConfig::new(&with_user)).unwrap();
    provider.query("x", Timestamp::now()).await.unwrap();
    assert_eq!(
        header(&fake.last(), "authorization"),
        ["Basic YWxpY2U6cHcwcmQ="]
    );
    let err = provider
        .query("bad_gateway", Timestamp::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("pw0rd") && !err.contains("alice"), "{err}");
    assert!(
        !provider.describe().contains("pw0rd"),
        "{}",
        provider.describe()
    );
}
