//! The strategies beyond weights, end to end on the routers that have them, in both worlds: the
//! controller binary with the sim (its own, or joined to the real control plane) as the
//! network, which reads each routing object with its own code, routes real
//! requests through its service proxy by their headers and cookies, adds the response headers
//! a route asks for, mirrors copies, and exports each provider's metrics to a real Prometheus.
//!
//! - Blue/green with mirroring (istio, gatewayapi): users are answered by the primary only,
//!   the canary gets a copy of every request, and the analysis judges the canary on those
//!   copies: a healthy one is promoted, a faulty one rolled back without a user seeing it.
//! - Session affinity (istio, gatewayapi): a user the weights send to the canary gets a cookie
//!   and stays there; a primary user stays on the primary; after the release the cookie is
//!   expired and its holders are back on the primary.
//! - A/B testing on gatewayapi: only matching requests reach the canary.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::prometheus::Prometheus;
use support::receiver::Receiver;
use support::routed::{FAULTY, HEALTHY, held_ab, success_rates};
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(150);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const ISTIO: &str = include_str!("../testdata/e2e/canary-istio-analysis.yaml");
const GATEWAY: &str = include_str!("../testdata/e2e/canary-gatewayapi-analysis.yaml");
const GATEWAY_AB: &str = include_str!("../testdata/routers/canary-gatewayapi-ab.yaml");
const SCHEDULE: &str = "    stepWeight: 20\n    maxWeight: 60\n";

#[derive(Clone, Copy, Debug)]
enum Router {
    Istio,
    GatewayApi,
}

impl Router {
    fn manifest(self) -> &'static str {
        match self {
            Router::Istio => ISTIO,
            Router::GatewayApi => GATEWAY,
        }
    }

    fn crds(self) -> &'static [&'static str] {
        match self {
            Router::Istio => &["istio-virtualservices.yaml", "istio-destinationrules.yaml"],
            Router::GatewayApi => &["gateway-api-httproutes.yaml"],
        }
    }

    /// Whether the live routing object mirrors to the canary, with all traffic on the primary.
    fn mirroring_to_canary(self, c: &Cluster) -> bool {
        match self {
            Router::Istio => c.get("virtualservice", NS, "podinfo").is_some_and(|vs| {
                let http = &vs["spec"]["http"][0];
                http["mirror"]["host"] == "podinfo-canary"
                    && http["route"][0]["weight"] == 100
                    && http["route"][1]["weight"] == 0
            }),
            Router::GatewayApi => c.get("httproute", NS, "podinfo").is_some_and(|hr| {
                let rule = &hr["spec"]["rules"][0];
                let mirrored = rule["filters"].as_array().is_some_and(|f| {
                    f.iter().any(|f| {
                        f["type"] == "RequestMirror"
                            && f["requestMirror"]["backendRef"]["name"] == "podinfo-canary"
                    })
                });
                mirrored && support::route_weights(&hr) == Some((100, 0))
            }),
        }
    }
}

/// `c` (either world, with traffic to test/podinfo) with Prometheus, podinfo at IMG1,
/// `router`'s CRDs, the Canary (`manifest`) and a controller; returns once the Canary is
/// Initialized.
fn world_in(mut c: Cluster, router: Router, manifest: &str) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    for crd in router.crds() {
        c.apply_file(&repo().join("testdata/crds").join(crd));
    }
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(&manifest.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// Blue/green for 20 checks with every request copied to the canary.
fn mirrored(router: Router) -> String {
    let manifest = router.manifest();
    assert!(manifest.contains(SCHEDULE), "{manifest}");
    manifest.replace(
        SCHEDULE,
        "    iterations: 20\n    mirror: true\n    mirrorWeight: 100\n",
    )
}

/// While the route mirrors, users are answered by the primary only and the canary gets a copy
/// of each of their requests: 100 real requests, 0 canary answers, 100 copies.
fn users_see_the_primary_while_the_canary_gets_copies(router: Router, c: &Cluster) {
    c.wait_for("the route mirroring to the canary", T, |c| {
        router.mirroring_to_canary(c).then_some(())
    });
    let copies = || {
        c.sim_requests(&[
            ("backend", "podinfo-canary"),
            ("deployment", "podinfo"),
            ("source", "proxy"),
        ])
    };
    let before = copies();
    assert_eq!(c.canary_answers(NS, 100, &[]), 0, "{router:?}");
    assert_eq!(copies() - before, 100.0, "{router:?}: one copy per request");
    assert!(router.mirroring_to_canary(c), "still mirroring");
}

#[test]
fn blue_green_with_mirroring_promotes_a_canary_judged_on_copies() {
    for router in [Router::Istio, Router::GatewayApi] {
        for c in worlds(SCENARIO) {
            let (c, _prom) = world_in(c, router, &mirrored(router));
            c.set_image(NS, "podinfo", HEALTHY);
            users_see_the_primary_while_the_canary_gets_copies(router, &c);
            let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
            assert_eq!(c.image(NS, "podinfo-primary"), HEALTHY, "{router:?}");
            let passed = success_rates(&done, "Pass");
            assert!(!passed.is_empty(), "{router:?}: {:#}", done["status"]);
            assert!(
                !router.mirroring_to_canary(&c),
                "{router:?}: the mirror is gone"
            );
            c.assert_no_refusals();
        }
    }
}

#[test]
fn blue_green_with_mirroring_rolls_back_a_faulty_canary_no_user_reached() {
    for router in [Router::Istio, Router::GatewayApi] {
        for c in worlds(SCENARIO) {
            // Failed checks tolerated for long enough that the rollback waits for the requests.
            let manifest = mirrored(router).replace("threshold: 3", "threshold: 15");
            let (c, _prom) = world_in(c, router, &manifest);
            c.set_image(NS, "podinfo", FAULTY);
            users_see_the_primary_while_the_canary_gets_copies(router, &c);
            let done = c.wait_phase_not(NS, "podinfo", "Failed", "Succeeded", RELEASE);
            let failed = success_rates(&done, "Fail");
            assert!(!failed.is_empty(), "{router:?}: {:#}", done["status"]);
            for v in failed {
                assert!((50.0..90.0).contains(&v), "{router:?}: success rate {v}");
            }
            assert_eq!(c.image(NS, "podinfo-primary"), IMG1);
            // The canary never answered a user: all its requests were copies.
            let answered = c.sim_requests(&[
                ("backend", "podinfo-canary"),
                ("deployment", "podinfo"),
                ("source", "proxy"),
            ]);
            assert_eq!(answered, 100.0, "{router:?}: only the copies");
            c.assert_no_refusals();
        }
    }
}

/// `name=value` of the first `Set-Cookie` in `answers` for cookie `name`, with its attributes.
fn set_cookie<'a>(answers: &'a [support::routed::Answer], name: &str) -> Option<&'a str> {
    answers
        .iter()
        .flat_map(|a| &a.set_cookies)
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

#[test]
fn session_affinity_keeps_each_user_on_the_side_they_first_reached() {
    for router in [Router::Istio, Router::GatewayApi] {
        for c in worlds(SCENARIO) {
            let gate = Receiver::start();
            gate.answer("/gate", 403);
            let manifest = router.manifest().replace(
            SCHEDULE,
            &format!(
                "{SCHEDULE}    sessionAffinity:\n      cookieName: canary-cookie\n      primaryCookieName: primary-cookie\n      maxAge: 3600\n    webhooks:\n      - {{name: gate, type: confirm-promotion, url: \"{}\"}}\n",
                gate.url("/gate")
            ),
        );
            let (c, _prom) = world_in(c, router, &manifest);
            c.set_image(NS, "podinfo", HEALTHY);
            c.wait_phase(NS, "podinfo", "WaitingPromotion", T);

            // New users split by weight, each side setting its own cookie. The gate holds the
            // release at maxWeight; 100 users land within 20 (four standard deviations) of it.
            let weight = c.must_get("canary", NS, "podinfo")["status"]["canaryWeight"]
                .as_i64()
                .unwrap_or_default();
            assert_eq!(weight, 60, "{router:?}: held at maxWeight");
            let first = c.proxied(NS, 100, &[]);
            let canary = first.iter().filter(|a| a.by_canary()).count() as i64;
            assert!(
                (canary - weight).abs() <= 20,
                "{router:?}: {canary} of 100 at {weight}%"
            );
            for a in &first {
                let (mine, other) = if a.by_canary() {
                    ("canary-cookie=", "primary-cookie=")
                } else {
                    ("primary-cookie=", "canary-cookie=")
                };
                assert!(
                    a.set_cookies
                        .iter()
                        .any(|c| c.starts_with(mine) && c.contains("Max-Age=3600"))
                        && !a.set_cookies.iter().any(|c| c.starts_with(other)),
                    "{router:?}: {a:?}"
                );
            }
            let canary_cookie = set_cookie(&first, "canary-cookie").expect("a canary cookie");
            let canary_cookie = canary_cookie
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string();
            let primary_cookie = set_cookie(&first, "primary-cookie").expect("a primary cookie");
            let primary_cookie = primary_cookie
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string();

            // Returning users stay where they were.
            assert_eq!(
                c.canary_answers(
                    NS,
                    100,
                    &[("cookie", &format!("session=1; {canary_cookie}"))]
                ),
                100,
                "{router:?}: canary cookie holders"
            );
            assert_eq!(
                c.canary_answers(NS, 100, &[("cookie", &primary_cookie)]),
                0,
                "{router:?}: primary cookie holders"
            );

            // Promotion: everyone on the primary, the canary cookie expired.
            gate.answer("/gate", 200);
            c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
            let after = c.proxied(NS, 20, &[("cookie", &canary_cookie)]);
            assert!(
                after.iter().all(|a| !a.by_canary()),
                "{router:?}: {after:?}"
            );
            let expired = set_cookie(&after, "canary-cookie").unwrap_or_default();
            assert!(expired.contains("Max-Age=-1"), "{router:?}: {after:?}");
            c.assert_no_refusals();
        }
    }
}

#[test]
fn ab_testing_on_gateway_api_sends_only_matching_requests_to_the_canary() {
    // Two iterations, then a closed gate holds the release with the match rules in place.
    // The fixture's service match is for /api; the proxied requests are for /.
    let manifest =
        held_ab(&GATEWAY_AB.replace("    match:\n      - uri:\n          prefix: /api\n", ""));
    for c in worlds(SCENARIO) {
        let (c, _prom) = world_in(c, Router::GatewayApi, &manifest);
        c.set_image(NS, "podinfo", HEALTHY);
        c.wait_phase(NS, "podinfo", "WaitingPromotion", T);
        let route: Value = c.must_get("httproute", NS, "podinfo");
        assert_eq!(
            route["spec"]["rules"][0]["matches"][0]["headers"][0]["name"], "x-canary",
            "{route:#}"
        );
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "insider")]), 200);
        // The fixture's cookie regex is Flagger's documented one: the cookie first or right
        // after a `;`.
        assert_eq!(
            c.canary_answers(NS, 200, &[("cookie", "canary=always")]),
            200
        );
        assert_eq!(
            c.canary_answers(NS, 200, &[("cookie", "a=b;canary=always")]),
            200
        );
        assert_eq!(c.canary_answers(NS, 200, &[]), 0);
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "outsider")]), 0);
    }
}
