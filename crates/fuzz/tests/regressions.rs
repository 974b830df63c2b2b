//! Replays every input kept under `regressions/<target>/` (crashes the fuzzer found, after the
//! fix) and `seeds/<target>/` (the starting corpus) through its target.

use std::path::Path;

#[test]
fn every_kept_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for dir in ["regressions", "seeds"] {
        for (name, target) in fledge_fuzz::TARGETS {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("a readable directory entry").path();
                let data = std::fs::read(&path).expect("a readable input");
                println!("{}", path.display());
                target(&data);
                replayed += 1;
            }
        }
    }
    assert!(
        replayed > 0,
        "no kept inputs found under {}",
        root.display()
    );
}

#[test]
fn every_kept_input_names_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["regressions", "seeds"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("a readable directory entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                fledge_fuzz::target(&name).is_some(),
                "{dir}/{name} is not a fuzz target"
            );
        }
    }
}
