//! Turns routes and image profiles into requests: how many go to each pod per tick, which of
//! them fail, and how long each takes. Synthetic traffic is counted in exact shares (rate x
//! share x success rate, with fractions carried to the next tick) so success rates are exact;
//! latencies and proxied requests are drawn from a seeded RNG so runs are reproducible. Pure
//! apart from the RNG state it owns; it never touches the API store or the network.

use std::collections::HashMap;
use std::time::Duration;

use crate::exporter::{Edge, Outcome, Source};
use crate::scenario::{Latency, Scenario};

use super::routing::{self, Backend, Route, Via, World};

/// The z-score of the 99th percentile of a standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// One routed request, owning its labels (see [`Outcome`] for the meaning of each field).
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub source: Source,
    pub namespace: String,
    pub service: String,
    pub backend: String,
    pub backend_port: String,
    pub deployment: Option<String>,
    pub pod: Option<String>,
    pub image: Option<String>,
    /// The edge proxy the request entered through, if any (mirrored copies have none).
    pub edge: Option<Edge>,
    pub code: u16,
    pub latency: Duration,
    /// Headers the route adds to the response.
    pub response_headers: Vec<(String, String)>,
}

impl Served {
    pub fn outcome(&self) -> Outcome<'_> {
        Outcome {
            source: self.source,
            namespace: &self.namespace,
            service: &self.service,
            backend: &self.backend,
            backend_port: &self.backend_port,
            deployment: self.deployment.as_deref(),
            pod: self.pod.as_deref(),
            edge: self.edge.as_ref(),
            code: self.code,
            latency: self.latency,
        }
    }
}

/// Generator state: the RNG and the fractional request counts carried between ticks.
#[derive(Debug)]
pub struct Generator {
    rng: fastrand::Rng,
    carries: HashMap<String, f64>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: fastrand::Rng::with_seed(seed),
            carries: HashMap::new(),
        }
    }

    /// Adds `expected` to the carry under `key` and takes out the whole part.
    fn take(&mut self, touched: &mut HashMap<String, f64>, key: String, expected: f64) -> u64 {
        let carry = self.carries.get(&key).copied().unwrap_or(0.0) + expected.max(0.0);
        // The epsilon keeps float noise (5 x 0.8 = 3.9999...) from delaying a request a tick.
        let whole = (carry + 1e-9).floor();
        touched.insert(key, carry - whole);
        whole as u64
    }

    /// Draws a latency from the log-normal through `p50` and `p99`.
    pub fn latency(&mut self, l: Latency) -> Duration {
        let median = l.p50.as_secs_f64();
        if median <= 0.0 {
            return l.p99.min(Duration::from_millis(1));
        }
        let sigma = (l.p99.as_secs_f64() / median).ln().max(0.0) / Z99;
        // Box-Muller; 1 - f64() lies in (0, 1], so the log is finite.
        let u1 = 1.0 - self.rng.f64();
        let u2 = self.rng.f64();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        Duration::from_secs_f64(median * (sigma * z).exp())
    }

    /// Generates `elapsed` worth of every Service's synthetic load and hands each request to
    /// `sink`.
    pub fn tick(
        &mut self,
        world: &World,
        scenario: &Scenario,
        elapsed: Duration,
        sink: &mut dyn FnMut(&Served),
    ) {
        let mut touched = HashMap::new();
        for load in &scenario.services {
            // Clients cannot resolve a Service that does not exist yet: no load.
            if !routing::service_exists(world, &load.namespace, &load.name) {
                continue;
            }
            let expected = load.rps * elapsed.as_secs_f64();
            let route = routing::route(world, &load.namespace, &load.name);
            let call = Call {
                world,
                scenario,
                namespace: &load.namespace,
                service: &load.name,
                route: &route,
            };
            for b in &route.backends {
                self.serve_many(&call, b, false, expected * b.share, &mut touched, sink);
            }
            if let Some(m) = &route.mirror {
                self.serve_many(&call, m, true, expected * m.share, &mut touched, sink);
            }
        }
        // Carries of pods, backends and services that are gone would only grow the map.
        self.carries = touched;
    }

    /// Sends `expected` requests (fractions carried over) to the ready pods of `backend`.
    fn serve_many(
        &mut self,
        call: &Call<'_>,
        backend: &Backend,
        mirrored: bool,
        expected: f64,
        touched: &mut HashMap<String, f64>,
        sink: &mut dyn FnMut(&Served),
    ) {
        let kind = if mirrored { "mirror" } else { "route" };
        let key = format!(
            "{}/{}>{kind}>{}",
            call.namespace, call.service, backend.service
        );
        let n = self.take(touched, key.clone(), expected);
        let eps = routing::endpoints(call.world, call.namespace, &backend.service);
        let base = call.template(Source::Synthetic, backend, mirrored);
        if eps.ready.is_empty() {
            let failed = Served {
                deployment: eps.deployment.clone(),
                code: 503,
                latency: Duration::ZERO,
                ..base
            };
            for _ in 0..n {
                sink(&failed);
            }
            return;
        }
        let per_pod = n as f64 / eps.ready.len() as f64;
        for ep in &eps.ready {
            let pod_key = format!("{key}>{}", ep.pod);
            let count = self.take(touched, pod_key.clone(), per_pod);
            let profile = call.scenario.image_profile(&ep.image);
            let ok = self
                .take(
                    touched,
                    format!("{pod_key}>ok"),
                    count as f64 * profile.success_rate,
                )
                .min(count);
            for i in 0..count {
                let served = Served {
                    deployment: ep.deployment.clone(),
                    pod: Some(ep.pod.clone()),
                    image: Some(ep.image.clone()),
                    code: if i < ok { 200 } else { 500 },
                    latency: self.latency(profile.latency),
                    ..base.clone()
                };
                sink(&served);
            }
        }
    }

    /// Routes one real request: picks a backend by weight and a ready pod at random, and draws
    /// its status from the image's success rate. Mirrored copies, if the route has a mirror,
    /// come back in the second element.
    pub fn serve_one(
        &mut self,
        world: &World,
        scenario: &Scenario,
        namespace: &str,
        service: &str,
        request: &routing::Request,
    ) -> (Served, Option<Served>) {
        let route = routing::route_request(world, namespace, service, request);
        let call = Call {
            world,
            scenario,
            namespace,
            service,
            route: &route,
        };
        let draw = self.rng.f64();
        let mut acc = 0.0;
        let backend = route
            .backends
            .iter()
            .find(|b| {
                acc += b.share;
                b.share > 0.0 && draw < acc
            })
            .or_else(|| route.backends.iter().rev().find(|b| b.share > 0.0));
        let main = match backend {
            Some(b) => self.serve_single(&call, b, false),
            // No backend with weight: nothing can answer.
            None => call.template(
                Source::Proxy,
                &Backend {
                    service: service.to_string(),
                    ..Backend::default()
                },
                false,
            ),
        };
        let mirror = match &route.mirror {
            Some(m) if self.rng.f64() < m.share => Some(self.serve_single(&call, m, true)),
            _ => None,
        };
        (main, mirror)
    }

    fn serve_single(&mut self, call: &Call<'_>, backend: &Backend, mirrored: bool) -> Served {
        let eps = routing::endpoints(call.world, call.namespace, &backend.service);
        let base = call.template(Source::Proxy, backend, mirrored);
        if eps.ready.is_empty() {
            return Served {
                deployment: eps.deployment,
                code: 503,
                ..base
            };
        }
        let ep = &eps.ready[self.rng.usize(..eps.ready.len())];
        let profile = call.scenario.image_profile(&ep.image);
        Served {
            deployment: ep.deployment.clone(),
            pod: Some(ep.pod.clone()),
            image: Some(ep.image.clone()),
            code: if self.rng.f64() < profile.success_rate {
                200
            } else {
                500
            },
            latency: self.latency(profile.latency),
            ..base
        }
    }
}

/// What one Service's requests are being routed with.
struct Call<'a> {
    world: &'a World,
    scenario: &'a Scenario,
    namespace: &'a str,
    service: &'a str,
    route: &'a Route,
}

impl Call<'_> {
    /// A 503 with no pod behind it; callers fill in the pod that answered, if any.
    fn template(&self, source: Source, backend: &Backend, mirrored: bool) -> Served {
        let edge = match &self.route.via {
            _ if mirrored => None,
            Via::Ingress { name, host, path } => Some(Edge::Nginx {
                name: name.clone(),
                host: host.clone(),
                path: path.clone(),
                canary: backend.canary,
            }),
            Via::TraefikService(_) => Some(Edge::Traefik),
            _ => None,
        };
        Served {
            source,
            namespace: self.namespace.to_string(),
            service: self.service.to_string(),
            backend: backend.service.clone(),
            backend_port: backend.port.clone(),
            deployment: None,
            pod: None,
            image: None,
            edge,
            code: 503,
            latency: Duration::ZERO,
            response_headers: backend.response_headers.clone(),
        }
    }
}
