//! The builtin metrics `request-success-rate` (percent of non-5xx requests) and
//! `request-duration` (milliseconds), and the request count used for `minSampleCount`, as
//! PromQL templates per traffic provider. The success-rate and duration queries are Flagger's
//! (`pkg/metrics/observers`), so thresholds tuned for Flagger keep their meaning; the only
//! change is that durations are converted to milliseconds inside the query, so the recorded
//! value is exactly what Prometheus returns. Every query selects the canary workload only:
//! Prometheus regex matchers are anchored, so `{{ target }}` never matches `{{ target }}-primary`.
//!
//! This table is data. Rendering happens in [`crate::plan`] with the API's one renderer.

use fledge_api::Provider;
use fledge_api::analysis::{METRIC_REQUEST_DURATION, METRIC_REQUEST_SUCCESS_RATE};

/// A builtin metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    RequestSuccessRate,
    RequestDuration,
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            METRIC_REQUEST_SUCCESS_RATE => Some(Self::RequestSuccessRate),
            METRIC_REQUEST_DURATION => Some(Self::RequestDuration),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RequestSuccessRate => METRIC_REQUEST_SUCCESS_RATE,
            Self::RequestDuration => METRIC_REQUEST_DURATION,
        }
    }
}

/// The builtin query templates for one family of providers.
#[derive(Debug, PartialEq, Eq)]
pub struct BuiltinQueries {
    /// Which metrics the queries read, for docs and messages (e.g. `istio`).
    pub observer: &'static str,
    pub success_rate: &'static str,
    pub duration: &'static str,
    /// Requests to the canary within `{{ interval }}`: the default count for `minSampleCount`.
    pub request_count: &'static str,
    /// How the same three are asked of the primary, for `comparePrimary`.
    pub primary: PrimaryQueries,
}

/// How the builtin queries select the primary, for `comparePrimary`.
#[derive(Debug, PartialEq, Eq)]
pub enum PrimaryQueries {
    /// The canary's queries with `{{ target }}` rendered as the primary Deployment
    /// (`<target>-primary`): these metrics name the workload that answered.
    Retarget,
    /// Queries of their own: these metrics name the canary's Service or Ingress backend, and
    /// the primary's differs in more than the workload's name.
    Own {
        success_rate: &'static str,
        duration: &'static str,
        request_count: &'static str,
    },
}

impl BuiltinQueries {
    pub fn query(&self, builtin: Builtin) -> &'static str {
        match builtin {
            Builtin::RequestSuccessRate => self.success_rate,
            Builtin::RequestDuration => self.duration,
        }
    }

    /// The query of `builtin` for the primary, and whether it must be rendered with
    /// `{{ target }}` as the primary Deployment.
    pub fn primary_query(&self, builtin: Builtin) -> (&'static str, bool) {
        match &self.primary {
            PrimaryQueries::Retarget => (self.query(builtin), true),
            PrimaryQueries::Own {
                success_rate,
                duration,
                ..
            } => match builtin {
                Builtin::RequestSuccessRate => (success_rate, false),
                Builtin::RequestDuration => (duration, false),
            },
        }
    }

    /// The primary's request count, as [`BuiltinQueries::primary_query`].
    pub fn primary_request_count(&self) -> (&'static str, bool) {
        match &self.primary {
            PrimaryQueries::Retarget => (self.request_count, true),
            PrimaryQueries::Own { request_count, .. } => (request_count, false),
        }
    }

    /// Every query template in the table, the primary's included.
    pub fn all(&self) -> Vec<&'static str> {
        let mut all = vec![self.success_rate, self.duration, self.request_count];
        if let PrimaryQueries::Own {
            success_rate,
            duration,
            request_count,
        } = &self.primary
        {
            all.extend([*success_rate, *duration, *request_count]);
        }
        all
    }
}

/// No builtin queries exist for this provider.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "fledge has no builtin metrics for provider {provider:?} (it has them for {with}); use a MetricTemplate (spec.analysis.metrics[].templateRef)",
    with = Provider::ALL
        .into_iter()
        .filter(|p| p.has_builtin_metrics())
        .map(Provider::as_str)
        .collect::<Vec<_>>()
        .join(", ")
)]
pub struct NoBuiltinQueries {
    pub provider: String,
}

/// The builtin queries for the traffic provider a canary uses (`spec.provider`, else the
/// controller's `--mesh-provider`).
pub fn queries_for(provider: Provider) -> Result<&'static BuiltinQueries, NoBuiltinQueries> {
    match provider {
        Provider::Kubernetes | Provider::GatewayApiV1 | Provider::GatewayApiV1beta1 => Ok(&HTTP),
        Provider::Istio => Ok(&ISTIO),
        Provider::Linkerd => Ok(&LINKERD),
        Provider::Nginx => Ok(&NGINX),
        Provider::Contour => Ok(&CONTOUR),
        Provider::Traefik => Ok(&TRAEFIK),
        other => Err(NoBuiltinQueries {
            provider: other.as_str().to_string(),
        }),
    }
}

/// Metrics the application exposes itself (Flagger's `HttpObserver`, used for the kubernetes
/// and Gateway API providers): a `http_request_duration_seconds` histogram with a `status`
/// label, scraped with `kubernetes_namespace` and `kubernetes_pod_name` labels. The pod-name
/// regex matches `<target>-<replicaset hash>-<pod suffix>` and not `<target>-primary-...`.
pub const HTTP: BuiltinQueries = BuiltinQueries {
    observer: "http (application metrics)",
    success_rate: r#"
sum(
  rate(
    http_request_duration_seconds_count{
      kubernetes_namespace="{{ namespace }}",
      kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
      status!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    http_request_duration_seconds_count{
      kubernetes_namespace="{{ namespace }}",
      kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      http_request_duration_seconds_bucket{
        kubernetes_namespace="{{ namespace }}",
        kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
      }[{{ interval }}]
    )
  ) by (le)
)
* 1000"#,
    request_count: r#"
sum(
  increase(
    http_request_duration_seconds_count{
      kubernetes_namespace="{{ namespace }}",
      kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Retarget,
};

/// Istio's standard metrics, as reported by the destination's sidecar.
pub const ISTIO: BuiltinQueries = BuiltinQueries {
    observer: "istio",
    success_rate: r#"
sum(
  rate(
    istio_requests_total{
      reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ target }}",
      response_code!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    istio_requests_total{
      reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ target }}"
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      istio_request_duration_milliseconds_bucket{
        reporter="destination",
        destination_workload_namespace="{{ namespace }}",
        destination_workload=~"{{ target }}"
      }[{{ interval }}]
    )
  ) by (le)
)"#,
    request_count: r#"
sum(
  increase(
    istio_requests_total{
      reporter="destination",
      destination_workload_namespace="{{ namespace }}",
      destination_workload=~"{{ target }}"
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Retarget,
};

/// Linkerd proxy metrics of inbound traffic. Linkerd classifies responses itself
/// (`classification="failure"` is a 5xx or a gRPC error), so this is Flagger's definition of
/// success, not a status-code filter.
pub const LINKERD: BuiltinQueries = BuiltinQueries {
    observer: "linkerd",
    success_rate: r#"
sum(
  rate(
    response_total{
      namespace="{{ namespace }}",
      deployment=~"{{ target }}",
      classification!="failure",
      direction="inbound"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    response_total{
      namespace="{{ namespace }}",
      deployment=~"{{ target }}",
      direction="inbound"
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      response_latency_ms_bucket{
        namespace="{{ namespace }}",
        deployment=~"{{ target }}",
        direction="inbound"
      }[{{ interval }}]
    )
  ) by (le)
)"#,
    request_count: r#"
sum(
  increase(
    response_total{
      namespace="{{ namespace }}",
      deployment=~"{{ target }}",
      direction="inbound"
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Retarget,
};

/// ingress-nginx controller metrics of requests through the canary Ingress (`canary!=""`).
/// As in Flagger, the duration is the *average* upstream response time, not the P99.
pub const NGINX: BuiltinQueries = BuiltinQueries {
    observer: "nginx",
    success_rate: r#"
sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary!="",
      status!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary!=""
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
sum(
  rate(
    nginx_ingress_controller_response_duration_seconds_sum{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary!=""
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    nginx_ingress_controller_response_duration_seconds_count{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary!=""
    }[{{ interval }}]
  )
)
* 1000"#,
    request_count: r#"
sum(
  increase(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary!=""
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Own {
        success_rate: r#"
sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary="",
      status!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary=""
    }[{{ interval }}]
  )
)
* 100"#,
        duration: r#"
sum(
  rate(
    nginx_ingress_controller_response_duration_seconds_sum{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary=""
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    nginx_ingress_controller_response_duration_seconds_count{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary=""
    }[{{ interval }}]
  )
)
* 1000"#,
        request_count: r#"
sum(
  increase(
    nginx_ingress_controller_requests{
      namespace="{{ namespace }}",
      ingress="{{ ingress }}",
      canary=""
    }[{{ interval }}]
  )
)"#,
    },
};

/// Envoy's upstream cluster stats of the canary Service, as Contour names the cluster
/// (`<namespace>_<service>_<port>`); Flagger's queries.
pub const CONTOUR: BuiltinQueries = BuiltinQueries {
    observer: "contour",
    success_rate: r#"
sum(
  rate(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+",
      envoy_response_code!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      envoy_cluster_upstream_rq_time_bucket{
        envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"
      }[{{ interval }}]
    )
  ) by (le)
)"#,
    request_count: r#"
sum(
  increase(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Own {
        success_rate: r#"
sum(
  rate(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-primary_[0-9a-zA-Z-]+",
      envoy_response_code!~"5.*"
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-primary_[0-9a-zA-Z-]+"
    }[{{ interval }}]
  )
)
* 100"#,
        duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      envoy_cluster_upstream_rq_time_bucket{
        envoy_cluster_name=~"{{ namespace }}_{{ service }}-primary_[0-9a-zA-Z-]+"
      }[{{ interval }}]
    )
  ) by (le)
)"#,
        request_count: r#"
sum(
  increase(
    envoy_cluster_upstream_rq{
      envoy_cluster_name=~"{{ namespace }}_{{ service }}-primary_[0-9a-zA-Z-]+"
    }[{{ interval }}]
  )
)"#,
    },
};

/// Traefik's service metrics for the canary Service as the Kubernetes CRD provider names it
/// (`<namespace>-<service>-<port>@kubernetescrd`); the request duration histogram is in
/// seconds. The Service is `{{ service }}-canary`, the one fledge's TraefikService routes to
/// (Flagger's query says `{{ target }}`, which misses when `service.name` differs). Flagger reads the success rate from the histogram's `+Inf` bucket; the request
/// counter Traefik exports next to it counts the same requests.
pub const TRAEFIK: BuiltinQueries = BuiltinQueries {
    observer: "traefik",
    success_rate: r#"
sum(
  rate(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-canary-[0-9a-zA-Z-]+@kubernetescrd",
      code!~"5.."
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-canary-[0-9a-zA-Z-]+@kubernetescrd"
    }[{{ interval }}]
  )
)
* 100"#,
    duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      traefik_service_request_duration_seconds_bucket{
        service=~"{{ namespace }}-{{ service }}-canary-[0-9a-zA-Z-]+@kubernetescrd"
      }[{{ interval }}]
    )
  ) by (le)
)
* 1000"#,
    request_count: r#"
sum(
  increase(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-canary-[0-9a-zA-Z-]+@kubernetescrd"
    }[{{ interval }}]
  )
)"#,
    primary: PrimaryQueries::Own {
        success_rate: r#"
sum(
  rate(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-primary-[0-9a-zA-Z-]+@kubernetescrd",
      code!~"5.."
    }[{{ interval }}]
  )
)
/
sum(
  rate(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-primary-[0-9a-zA-Z-]+@kubernetescrd"
    }[{{ interval }}]
  )
)
* 100"#,
        duration: r#"
histogram_quantile(
  0.99,
  sum(
    rate(
      traefik_service_request_duration_seconds_bucket{
        service=~"{{ namespace }}-{{ service }}-primary-[0-9a-zA-Z-]+@kubernetescrd"
      }[{{ interval }}]
    )
  ) by (le)
)
* 1000"#,
        request_count: r#"
sum(
  increase(
    traefik_service_requests_total{
      service=~"{{ namespace }}-{{ service }}-primary-[0-9a-zA-Z-]+@kubernetescrd"
    }[{{ interval }}]
  )
)"#,
    },
};

#[cfg(test)]
mod tests {
    use fledge_api::template::{TemplateVars, render};

    use super::*;

    #[test]
    fn providers_map_to_their_observer() {
        let cases = [
            (Provider::Kubernetes, Some("http (application metrics)")),
            (Provider::GatewayApiV1, Some("http (application metrics)")),
            (
                Provider::GatewayApiV1beta1,
                Some("http (application metrics)"),
            ),
            (Provider::Istio, Some("istio")),
            (Provider::Linkerd, Some("linkerd")),
            (Provider::Nginx, Some("nginx")),
            (Provider::Contour, Some("contour")),
            (Provider::Traefik, Some("traefik")),
            (Provider::AppMesh, None),
        ];
        for (provider, want) in cases {
            assert_eq!(
                queries_for(provider).ok().map(|q| q.observer),
                want,
                "{provider:?}"
            );
        }
        let err = queries_for(Provider::Kuma).unwrap_err().to_string();
        assert!(
            err.contains("\"kuma\"") && err.contains("contour, ") && err.contains("MetricTemplate"),
            "{err}"
        );
    }

    /// Every builtin template renders with the API's renderer from the canary's namespace,
    /// its target or ingress and the interval alone: no user variable can be missing.
    #[test]
    fn every_builtin_query_renders_without_variables() {
        let vars = TemplateVars {
            namespace: "ns-x".into(),
            target: "target-x".into(),
            ingress: "ingress-x".into(),
            interval: "7m".into(),
            ..TemplateVars::default()
        };
        for queries in [&HTTP, &ISTIO, &LINKERD, &NGINX, &CONTOUR, &TRAEFIK] {
            for query in queries.all() {
                let out = render(query, &vars).expect("builtin query must render");
                assert!(out.contains("ns-x") && out.contains("[7m]"), "{out}");
                assert!(!out.contains("{{"), "{out}");
            }
        }
    }

    /// docs/metrics.md shows every query verbatim; this keeps it honest.
    #[test]
    fn the_docs_show_the_queries_that_run() {
        let docs = include_str!("../../../docs/metrics.md");
        for queries in [&HTTP, &ISTIO, &LINKERD, &NGINX, &CONTOUR, &TRAEFIK] {
            for query in queries.all() {
                assert!(
                    docs.contains(&format!("```promql\n{}\n```", query.trim())),
                    "docs/metrics.md lacks the {} query:\n{query}",
                    queries.observer
                );
            }
        }
    }

    #[test]
    fn builtin_names_round_trip() {
        for b in [Builtin::RequestSuccessRate, Builtin::RequestDuration] {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
        }
        assert_eq!(Builtin::from_name("error-rate"), None);
    }
}
