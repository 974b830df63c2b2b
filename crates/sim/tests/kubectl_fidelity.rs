//! Fidelity of the simulated API server, judged by a client nobody here wrote: the real
//! `/usr/bin/kubectl` (v1.32) driving `apply`, `get`, `describe`, `set image`, `rollout status`,
//! `wait`, `patch`, `annotate`, `label`, `scale`, `delete`, `get -w` and `explain`. Each test
//! runs the same steps against the sim and against a real kube-apiserver (`FLEDGE_TEST_WORLD`).

mod kubectl_support;

use kubectl_support::{Kubectl, app_dir, canary_crd, eventually, worlds};

async fn install_app(k: &Kubectl) -> (std::path::PathBuf, &'static str) {
    let (crd, api_version) = canary_crd();
    let out = k.ok(&["apply", "-f", crd.to_str().unwrap()]).await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/canaries."),
        "{out}"
    );
    let dir = app_dir(k, api_version);
    let out = k.ok(&["apply", "-f", dir.to_str().unwrap()]).await;
    for line in [
        "namespace/test created",
        "deployment.apps/podinfo created",
        "service/podinfo created",
        "configmap/podinfo-config created",
        "secret/podinfo-secret created",
        "horizontalpodautoscaler.autoscaling/podinfo created",
        "ingress.networking.k8s.io/podinfo created",
        "/podinfo created",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("<unknown>"), "{out}");
    (dir, api_version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_directory_then_get_every_kind_in_every_format() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        let (dir, _) = install_app(&k).await;

        // Second apply of the same files changes nothing.
        let again = k.ok(&["apply", "-f", dir.to_str().unwrap()]).await;
        assert!(
            again.contains("deployment.apps/podinfo unchanged"),
            "{again}"
        );
        assert!(
            again.contains("canary.") && again.contains("/podinfo unchanged"),
            "{again}"
        );

        // Default tables have the real server's columns.
        let deploy = k.ok(&["get", "deploy", "-n", "test"]).await;
        let header: Vec<&str> = deploy.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
        assert!(
            eventually(10, || async {
                k.ok(&["get", "deploy", "podinfo", "-n", "test"])
                    .await
                    .contains("2/2")
            })
            .await
        );
        for (kind, want) in [
            ("svc", "9898/TCP"),
            ("cm", "podinfo-config"),
            ("secret", "Opaque"),
            ("hpa", "Deployment/podinfo"),
            ("ing", "app.example.com"),
            ("canary", "podinfo"),
            ("rs", "podinfo-"),
            ("pods", "Running"),
            ("ns", "Active"),
        ] {
            let out = k.ok(&["get", kind, "-n", "test"]).await;
            assert!(out.contains(want), "get {kind}: {out}");
        }
        let wide = k.ok(&["get", "deploy", "-n", "test", "-o", "wide"]).await;
        assert!(
            wide.contains("SELECTOR")
                && wide.contains("app=podinfo")
                && wide.contains("podinfo:6.0.0"),
            "{wide}"
        );
        let yaml = k
            .ok(&["get", "deploy", "podinfo", "-n", "test", "-o", "yaml"])
            .await;
        assert!(
            yaml.contains("progressDeadlineSeconds: 600") && yaml.contains("protocol: TCP"),
            "defaults missing:\n{yaml}"
        );
        let json = k
            .ok(&["get", "svc", "podinfo", "-n", "test", "-o", "json"])
            .await;
        let svc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert!(
            svc["spec"]["clusterIP"]
                .as_str()
                .unwrap()
                .starts_with("10.96.")
        );
        let jp = k
            .ok(&[
                "get",
                "cm",
                "podinfo-config",
                "-n",
                "test",
                "-o",
                "jsonpath={.data.color}",
            ])
            .await;
        assert_eq!(jp, "blue");
        let names = k.ok(&["get", "all", "-n", "test", "-o", "name"]).await;
        assert!(
            names.contains("deployment.apps/podinfo") && names.contains("service/podinfo"),
            "{names}"
        );
        let labelled = k
            .ok(&["get", "deploy", "-A", "-l", "app=podinfo", "-o", "name"])
            .await;
        assert_eq!(labelled.trim(), "deployment.apps/podinfo");
        let none = k
            .run(&["get", "deploy", "-n", "test", "-l", "app!=podinfo"])
            .await;
        assert!(
            none.stderr
                .contains("No resources found in test namespace."),
            "{}",
            none.stderr
        );

        // Edit and apply again: the three-way merge changes replicas and image, removes the env var.
        let path = dir.join("10-deployment.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text
        .replace("replicas: 2", "replicas: 3")
        .replace("podinfo:6.0.0", "podinfo:6.0.1")
        .replace("          env:\n            - name: PODINFO_UI_COLOR\n              value: \"#34577c\"\n", "");
        assert_ne!(edited, text);
        std::fs::write(&path, edited).unwrap();
        let out = k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
        assert!(out.contains("deployment.apps/podinfo configured"), "{out}");
        let d: serde_json::Value = serde_json::from_str(
            &k.ok(&["get", "deploy", "podinfo", "-n", "test", "-o", "json"])
                .await,
        )
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "ghcr.io/stefanprodan/podinfo:6.0.1");
        assert!(c.get("env").is_none(), "env should be removed: {c}");
        assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "podinfo-config");
        assert_eq!(d["metadata"]["generation"], 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_events_of_a_deployment_and_a_canary() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        let (_, api_version) = install_app(&k).await;
        let deploy_uid = k
            .ok(&[
                "get",
                "deploy",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.metadata.uid}",
            ])
            .await;
        let canary_uid = k
            .ok(&[
                "get",
                "canary",
                "podinfo",
                "-n",
                "test",
                "-o",
                "jsonpath={.metadata.uid}",
            ])
            .await;
        // A core/v1 Event, as client-go recorders write them.
        let core_event = format!(
            "apiVersion: v1\nkind: Event\nmetadata:\n  name: podinfo.1\n  namespace: test\ninvolvedObject:\n  apiVersion: apps/v1\n  kind: Deployment\n  name: podinfo\n  namespace: test\n  uid: {deploy_uid}\nreason: ScalingReplicaSet\nmessage: Scaled up replica set podinfo-abc to 2\ntype: Normal\ncount: 1\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\nsource:\n  component: deployment-controller\n"
        );
        k.ok_stdin(&["apply", "-f", "-"], &core_event).await;
        // An events.k8s.io/v1 Event, as kube-rs's Recorder writes them.
        let new_event = format!(
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: podinfo.2\n  namespace: test\nregarding:\n  apiVersion: {api_version}\n  kind: Canary\n  name: podinfo\n  namespace: test\n  uid: {canary_uid}\nreason: Synced\nnote: Advance podinfo.test canary weight 10\ntype: Normal\naction: Reconcile\neventTime: \"2026-01-01T00:00:00.000000Z\"\nreportingController: fledge\nreportingInstance: fledge-0\n"
        );
        k.ok_stdin(&["apply", "-f", "-"], &new_event).await;

        let d = k.ok(&["describe", "deploy", "podinfo", "-n", "test"]).await;
        assert!(d.contains("Scaled up replica set podinfo-abc to 2"), "{d}");
        assert!(d.contains("NewReplicaSet:"), "{d}");
        assert!(d.contains("9898/TCP"), "{d}");
        let c = k.ok(&["describe", "canary", "podinfo", "-n", "test"]).await;
        assert!(c.contains("Advance podinfo.test canary weight 10"), "{c}");
        assert!(c.contains("Step Weight:") && c.contains("Synced"), "{c}");
    }
}

impl Kubectl {
    async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, Some(stdin)).await;
        assert!(out.ok, "kubectl {args:?} failed: {}", out.stderr);
        out.stdout
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_rollout_status_and_wait() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        install_app(&k).await;
        let out = k
            .ok(&[
                "rollout",
                "status",
                "deploy/podinfo",
                "-n",
                "test",
                "--timeout=30s",
            ])
            .await;
        assert!(out.contains("successfully rolled out"), "{out}");
        let out = k
            .ok(&[
                "set",
                "image",
                "deploy/podinfo",
                "podinfod=ghcr.io/stefanprodan/podinfo:6.0.3",
                "-n",
                "test",
            ])
            .await;
        assert!(
            out.contains("deployment.apps/podinfo image updated"),
            "{out}"
        );
        let out = k
            .ok(&[
                "rollout",
                "status",
                "deploy/podinfo",
                "-n",
                "test",
                "--timeout=30s",
            ])
            .await;
        assert!(
            out.contains("deployment \"podinfo\" successfully rolled out"),
            "{out}"
        );
        let out = k
            .ok(&[
                "wait",
                "--for=condition=Available",
                "deploy/podinfo",
                "-n",
                "test",
                "--timeout=30s",
            ])
            .await;
        assert!(
            out.contains("deployment.apps/podinfo condition met"),
            "{out}"
        );

        // A bad image never becomes ready: rollout status times out.
        k.ok(&[
            "set",
            "image",
            "deploy/podinfo",
            "podinfod=ghcr.io/stefanprodan/podinfo:bad",
            "-n",
            "test",
        ])
        .await;
        let err = k
            .fails(&[
                "rollout",
                "status",
                "deploy/podinfo",
                "-n",
                "test",
                "--timeout=3s",
            ])
            .await;
        assert!(err.contains("timed out waiting for the condition"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_annotate_label_and_scale() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        install_app(&k).await;
        let ns = ["-n", "test"];
        let run = |extra: &'static [&'static str]| {
            let mut args: Vec<&str> = extra.to_vec();
            args.extend(ns);
            args
        };
        assert!(
            k.ok(&run(&[
                "patch",
                "deploy",
                "podinfo",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"replicas":4}}"#
            ]))
            .await
            .contains("patched")
        );
        assert!(
            k.ok(&run(&[
                "patch",
                "deploy",
                "podinfo",
                "--type",
                "json",
                "-p",
                r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#
            ]))
            .await
            .contains("patched")
        );
        let strategic = r#"{"spec":{"template":{"spec":{"containers":[{"name":"podinfod","env":[{"name":"EXTRA","value":"1"}]}]}}}}"#;
        let args = ["patch", "deploy", "podinfo", "-p", strategic, "-n", "test"];
        assert!(
            k.ok(&args)
                .await
                .contains("deployment.apps/podinfo patched")
        );
        // The same strategic patch again is a no-op that keeps the resourceVersion, once the
        // rollout it started is over: until then a real controller-manager is still writing the
        // Deployment's status, and kubectl says `patched` for any change it sees.
        k.ok(&[
            "rollout",
            "status",
            "deploy/podinfo",
            "-n",
            "test",
            "--timeout=60s",
        ])
        .await;
        assert!(k.ok(&args).await.contains("patched (no change)"));
        let d: serde_json::Value = serde_json::from_str(
            &k.ok(&run(&["get", "deploy", "podinfo", "-o", "json"]))
                .await,
        )
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        assert_eq!(env.len(), 2, "merged by name: {env:?}");

        assert!(
            k.ok(&run(&["annotate", "deploy", "podinfo", "team=a"]))
                .await
                .contains("annotated")
        );
        assert!(
            k.ok(&run(&["label", "deploy", "podinfo", "tier=web"]))
                .await
                .contains("labeled")
        );
        assert!(
            k.ok(&run(&["scale", "deploy", "podinfo", "--replicas=2"]))
                .await
                .contains("scaled")
        );
        let out = k
            .ok(&run(&[
                "get",
                "deploy",
                "podinfo",
                "-o",
                "jsonpath={.metadata.annotations.team} {.metadata.labels.tier} {.spec.replicas}",
            ]))
            .await;
        assert_eq!(out, "a web 2");

        // Custom resources take merge patches but refuse strategic ones, as the real server does.
        let out = k
            .ok(&run(&[
                "patch",
                "canary",
                "podinfo",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"analysis":{"stepWeight":20}}}"#,
            ]))
            .await;
        assert!(out.contains("patched"), "{out}");
        let err = k
            .fails(&run(&[
                "patch",
                "canary",
                "podinfo",
                "-p",
                r#"{"spec":{"analysis":{"stepWeight":30}}}"#,
            ]))
            .await;
        assert!(
            err.contains("application/strategic-merge-patch+json is not supported"),
            "{err}"
        );
        let sw = k
            .ok(&run(&[
                "get",
                "canary",
                "podinfo",
                "-o",
                "jsonpath={.spec.analysis.stepWeight} {.metadata.generation}",
            ]))
            .await;
        assert_eq!(sw, "20 2");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascades_to_owned_objects() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        install_app(&k).await;
        assert!(
            eventually(10, || async {
                k.ok(&["get", "pods", "-n", "test", "-o", "name"])
                    .await
                    .lines()
                    .count()
                    == 2
            })
            .await
        );
        let out = k.ok(&["delete", "deploy", "podinfo", "-n", "test"]).await;
        assert!(out.contains("deployment.apps \"podinfo\" deleted"), "{out}");
        let gone = eventually(10, || async {
            let rs = k.ok(&["get", "rs", "-n", "test", "-o", "name"]).await;
            let pods = k.ok(&["get", "pods", "-n", "test", "-o", "name"]).await;
            rs.trim().is_empty() && pods.trim().is_empty()
        })
        .await;
        assert!(
            gone,
            "ReplicaSets and pods owned by the Deployment were not collected"
        );

        // Foreground: kubectl waits until the owner is gone, after its dependents.
        k.ok(&[
            "apply",
            "-f",
            kubectl_support::fixtures()
                .join("app/10-deployment.yaml")
                .to_str()
                .unwrap(),
        ])
        .await;
        assert!(
            eventually(10, || async {
                !k.ok(&["get", "rs", "-n", "test", "-o", "name"])
                    .await
                    .trim()
                    .is_empty()
            })
            .await
        );
        let out = k
            .ok(&[
                "delete",
                "deploy",
                "podinfo",
                "-n",
                "test",
                "--cascade=foreground",
                "--timeout=20s",
            ])
            .await;
        assert!(out.contains("deleted"), "{out}");
        assert!(
            k.ok(&["get", "rs", "-n", "test", "-o", "name"])
                .await
                .trim()
                .is_empty()
        );

        let err = k.fails(&["delete", "deploy", "nope", "-n", "test"]).await;
        assert!(
            err.contains("Error from server (NotFound): deployments.apps \"nope\" not found"),
            "{err}"
        );
        // Deleting the namespace removes what is in it.
        k.ok(&["delete", "ns", "test", "--timeout=20s"]).await;
        let ns = k.ok(&["get", "ns", "-o", "name"]).await;
        assert!(!ns.contains("namespace/test"), "{ns}");
        let left = k.run(&["get", "cm", "-n", "test", "-o", "name"]).await;
        assert!(
            left.stdout.trim().is_empty(),
            "{}: {}",
            world.name(),
            left.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_receives_a_change() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        install_app(&k).await;
        let mut cmd = tokio::process::Command::new(kubectl_support::KUBECTL);
        cmd.args([
            "get",
            "cm",
            "podinfo-config",
            "-n",
            "test",
            "-w",
            "--output-watch-events",
            "--request-timeout=20s",
        ])
        .env("HOME", k.dir())
        .env("KUBECONFIG", k.kubeconfig())
        .env("KUBECACHEDIR", k.dir().join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        use tokio::io::AsyncBufReadExt as _;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(first.contains("EVENT"), "{first}");
        let added = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            added.contains("ADDED") && added.contains("podinfo-config"),
            "{added}"
        );
        k.ok(&[
            "patch",
            "cm",
            "podinfo-config",
            "-n",
            "test",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"extra":"1"}}"#,
        ])
        .await;
        let modified = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            modified.contains("MODIFIED")
                && modified.contains("podinfo-config")
                && modified.contains(" 2 "),
            "{modified}"
        );
        child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_server_side_validation() {
    for world in worlds().await {
        let k = Kubectl::of(&world);
        install_app(&k).await;
        let out = k.ok(&["explain", "canary.spec.analysis"]).await;
        assert!(
            out.contains("KIND:       Canary") && out.contains("FIELD: analysis <Object>"),
            "{out}"
        );
        assert!(out.contains("stepWeight"), "{out}");
        // Builtin kinds explain from the k8s-openapi schemas.
        let out = k.ok(&["explain", "deployment.spec.strategy"]).await;
        assert!(
            out.contains("FIELD: strategy <DeploymentStrategy>") && out.contains("rollingUpdate"),
            "{out}"
        );

        // Unknown fields are refused under kubectl's default strict validation.
        let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: test\ndata:\n  a: b\nbogus: 1\n";
        let out = k.run_stdin(&["apply", "-f", "-"], Some(bad)).await;
        assert!(!out.ok);
        assert!(
            out.stderr
                .contains("strict decoding error: unknown field \"bogus\""),
            "{}",
            out.stderr
        );
        // And produce a warning with --validate=warn.
        let out = k
            .run_stdin(&["apply", "--validate=warn", "-f", "-"], Some(bad))
            .await;
        assert!(
            out.ok && out.stderr.contains("Warning: unknown field \"bogus\""),
            "{}",
            out.stderr
        );

        // Schema violations of a custom resource are Invalid with the field path.
        let (_, api_version) = canary_crd();
        let invalid = kubectl_support::canary_yaml(api_version)
            .replace("name: podinfo\n  namespace", "name: broken\n  namespace")
            .replace("stepWeight: 10", "stepWeight: \"ten\"");
        let out = k.run_stdin(&["apply", "-f", "-"], Some(&invalid)).await;
        assert!(!out.ok);
        assert!(
            out.stderr.contains("is invalid") && out.stderr.contains("spec.analysis.stepWeight"),
            "{}",
            out.stderr
        );

        // Server-side apply creates and then updates.
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: test\ndata:\n  a: \"1\"\n";
        let out = k
            .run_stdin(&["apply", "--server-side", "-f", "-"], Some(cm))
            .await;
        assert!(
            out.ok && out.stdout.contains("configmap/ssa serverside-applied"),
            "{} {}",
            out.stdout,
            out.stderr
        );
        let out = k
            .run_stdin(
                &["apply", "--server-side", "-f", "-"],
                Some(&cm.replace("\"1\"", "\"2\"")),
            )
            .await;
        assert!(out.ok, "{}", out.stderr);
        assert_eq!(
            k.ok(&["get", "cm", "ssa", "-n", "test", "-o", "jsonpath={.data.a}"])
                .await,
            "2"
        );
    }
}
