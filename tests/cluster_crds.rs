//! fledge's CRDs on a real kube-apiserver: `scripts/cluster up` builds kube-apiserver,
//! kube-controller-manager and etcd from the official Go modules (testenv/k8s) and runs them on
//! loopback. The CRDs in deploy/crds/ must be accepted (the server checks their schemas, their
//! defaults and their CEL rules' cost) and Established; every example in testdata/canaries/ must
//! be accepted; and every case in testdata/invalid/ must be rejected by the server itself on
//! `kubectl apply`, at the field path its `# expect:` line gives (which `fledge validate` prints,
//! tests/cli_validate.rs) and no other, unless the file says `# server: accepts`: a
//! case only `fledge validate` can catch, with the reason. Such a file the server rejects fails
//! too, so the list can't go stale.

mod support;

use std::path::PathBuf;

use support::control_plane::ControlPlane;
use support::repo;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .expect("testdata dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The field paths a server refusal names: `is invalid: a.b: ...`, `* a.b: ...`, strict
/// decoding's `unknown field "a.b"`, or `apiVersion` for a version it doesn't serve.
fn server_paths(message: &str) -> Vec<String> {
    if message.contains("no matches for kind") {
        return vec!["apiVersion".into()];
    }
    let mut paths = Vec::new();
    for part in message.split("unknown field \"").skip(1) {
        if let Some(path) = part.split('"').next() {
            paths.push(path.trim_end_matches('\\').to_string());
        }
    }
    for part in message
        .split("is invalid: ")
        .skip(1)
        .chain(message.split("* ").skip(1))
    {
        let part = part.trim_start();
        // `<nil>` is the server's "some rules were not checked" line, about no field.
        if let Some((path, rest)) = part.split_once(": ")
            && !path.contains(' ')
            && !path.starts_with('<')
            && rest.split(':').next().is_some_and(|r| {
                [
                    "Invalid value",
                    "Required value",
                    "Unsupported value",
                    "Duplicate value",
                    "Forbidden",
                    "Too many",
                    "Too long",
                ]
                .iter()
                .any(|k| r.starts_with(k))
            })
        {
            paths.push(path.to_string());
        }
    }
    paths
}

#[test]
fn the_crds_install_and_the_server_rejects_what_fledge_validate_rejects() {
    let cp = ControlPlane::up(support::DEFAULT_SCENARIO);
    cp.install_crds(&[
        &repo().join("deploy/crds/fledge-crds.yaml"),
        &repo().join("testdata/crds/flagger-crd.yaml"),
    ]);

    let mut failures = Vec::new();
    let canaries = yaml_files("testdata/canaries");
    assert!(canaries.len() >= 10, "{canaries:?}");
    for file in &canaries {
        if let Err(message) = cp.dry_run(file) {
            failures.push(format!("{}: refused: {message}", file.display()));
        }
    }

    let invalid = yaml_files("testdata/invalid");
    assert!(invalid.len() >= 40, "{invalid:?}");
    let (mut rejected, mut fledge_only) = (0, 0);
    for file in &invalid {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        // `# expect: [Kind ns/name: ]path: message`: the path is the first part without a space.
        let Some(expect) = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .and_then(|e| e.split(": ").find(|part| !part.contains(' ')))
        else {
            failures.push(format!("{name}: no `# expect: <path>: <message>` line"));
            continue;
        };
        let accepts = text.lines().any(|l| l.starts_with("# server: accepts"));
        match (cp.dry_run(file), accepts) {
            (Ok(()), true) => fledge_only += 1,
            (Ok(()), false) => failures.push(format!(
                "{name}: the server accepts it; make the CRD reject it at {expect}, or say `# server: accepts; only fledge validate catches it: <why>`"
            )),
            (Err(message), true) => failures.push(format!(
                "{name}: says `# server: accepts`, but the server rejects it now: {message}"
            )),
            (Err(message), false) => {
                rejected += 1;
                let paths = server_paths(&message);
                if !paths.iter().any(|p| p == expect) {
                    failures.push(format!(
                        "{name}: the server rejects it at {paths:?}, not at {expect}: {message}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(rejected >= 35, "only {rejected} rejected by the server");
    println!(
        "server rejects {rejected} of {}; fledge validate alone catches {fledge_only}",
        invalid.len()
    );
}

#[test]
fn server_refusals_are_read_for_their_field_paths() {
    let cases = [
        (
            r#"The Canary "podinfo" is invalid: spec.analysis.metrics[1]: Duplicate value: {"name":"x"}"#,
            vec!["spec.analysis.metrics[1]"],
        ),
        (
            "The Canary \"podinfo\" is invalid: \n* spec.type: Unsupported value: \"x\"\n* <nil>: Invalid value: null: some rules were not checked",
            vec!["spec.type"],
        ),
        (
            r#"Error from server (BadRequest): error when creating "f.yaml": Canary in version "v1beta1" cannot be handled as a Canary: strict decoding error: unknown field "spec.service.portname""#,
            vec!["spec.service.portname"],
        ),
        (
            r#"error: resource mapping not found for name: "podinfo": no matches for kind "Canary" in version "fledge.dev/v1""#,
            vec!["apiVersion"],
        ),
    ];
    for (message, want) in cases {
        assert_eq!(server_paths(message), want, "{message}");
    }
}
