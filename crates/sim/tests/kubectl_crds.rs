//! The third-party CRDs the controller writes to (Gateway API, Istio, SMI, Contour, Traefik,
//! Flagger) and fledge's own install through kubectl and serve their resources in every served
//! version, with kubectl's default (strict) validation, in the sim and on a real kube-apiserver
//! (`FLEDGE_TEST_WORLD`).

mod kubectl_support;

use kubectl_support::{Kubectl, worlds};

const ROUTES: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: test
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: podinfo
  namespace: test
spec:
  parentRefs:
    - name: gateway
  rules:
    - backendRefs:
        - name: podinfo-primary
          port: 9898
          weight: 90
        - name: podinfo-canary
          port: 9898
          weight: 10
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: podinfo
  namespace: test
spec:
  hosts: [podinfo]
  http:
    - route:
        - destination:
            host: podinfo-primary
          weight: 90
        - destination:
            host: podinfo-canary
          weight: 10
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: podinfo
  namespace: test
spec:
  service: podinfo
  backends:
    - service: podinfo-primary
      weight: 90
    - service: podinfo-canary
      weight: 10
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_crds_install_and_serve() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(repo.join("testdata/crds"))
            .expect("testdata/crds in the repo")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        if let Ok(own) = std::fs::read_dir(repo.join("deploy/crds")) {
            files.extend(own.flatten().map(|e| e.path()));
        }
        assert!(files.len() >= 8, "{files:?}");
        for f in &files {
            let out = k.ok(&["apply", "-f", f.to_str().unwrap()]).await;
            assert!(out.contains("created"), "{f:?}: {out}");
        }
        let crds = k.ok(&["get", "crd", "-o", "name"]).await;
        for name in [
            "httproutes.gateway.networking.k8s.io",
            "virtualservices.networking.istio.io",
            "trafficsplits.split.smi-spec.io",
            "httpproxies.projectcontour.io",
            "traefikservices.traefik.io",
            "canaries.flagger.app",
        ] {
            assert!(crds.contains(name), "{name} missing: {crds}");
        }

        let out = k.ok_stdin(&["apply", "-f", "-"], ROUTES).await;
        for line in [
            "httproute.gateway.networking.k8s.io/podinfo created",
            "virtualservice.networking.istio.io/podinfo created",
            "trafficsplit.split.smi-spec.io/podinfo created",
        ] {
            assert!(out.contains(line), "{out}");
        }
        let w = k
            .ok(&[
                "get",
                "httproute",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.spec.rules[0].backendRefs[1].weight}",
            ])
            .await;
        assert_eq!(w, "10");
        // Discovery prefers v1alpha2 over the storage version v1alpha1, as the real server does.
        let ts = k
            .ok(&[
                "get",
                "trafficsplit",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.apiVersion}",
            ])
            .await;
        assert_eq!(ts, "split.smi-spec.io/v1alpha2");
        // The same objects are served in every version.
        let ts1 = k
            .ok(&[
                "get",
                "trafficsplits.v1alpha1.split.smi-spec.io",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.apiVersion} {.spec.backends[1].weight}",
            ])
            .await;
        assert_eq!(ts1, "split.smi-spec.io/v1alpha1 10");

        let patch = r#"[{"op":"replace","path":"/spec/http/0/route/0/weight","value":50},{"op":"replace","path":"/spec/http/0/route/1/weight","value":50}]"#;
        k.ok(&[
            "patch", "vs", "podinfo", "-n", "test", "--type", "json", "-p", patch,
        ])
        .await;
        let weights = k
            .ok(&[
                "get",
                "vs",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.spec.http[0].route[*].weight}",
            ])
            .await;
        assert_eq!(weights, "50 50");
        let all = k
            .ok(&[
                "get",
                "httproutes,virtualservices,trafficsplits",
                "-n",
                "test",
                "-o",
                "name",
            ])
            .await;
        assert_eq!(all.lines().count(), 3, "{all}");
    }
}

impl Kubectl {
    async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, Some(stdin)).await;
        assert!(out.ok, "kubectl {args:?} failed: {}", out.stderr);
        out.stdout
    }
}
