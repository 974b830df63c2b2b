//! `deploy/crds/fledge-crds.yaml` must be exactly what `fledge crds` prints. When this fails,
//! regenerate with `fledge crds > deploy/crds/fledge-crds.yaml` (or `make crds`).

use std::process::Command;

#[test]
fn deploy_crds_match_generated() {
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fledge crds failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/crds/fledge-crds.yaml");
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        generated == committed,
        "{path} is out of date: run `fledge crds > deploy/crds/fledge-crds.yaml`"
    );
}
