//! docs/routers.md's strategy matrix says what `Provider::supports_*` says: the code's list is
//! the one truth, and the docs can't drift from it.

use fledge_api::Provider;

fn providers(column: &str) -> Vec<Provider> {
    match column.trim().trim_matches('`') {
        "kubernetes" => vec![Provider::Kubernetes],
        "gatewayapi:*" => vec![Provider::GatewayApiV1, Provider::GatewayApiV1beta1],
        "istio" => vec![Provider::Istio],
        "contour" => vec![Provider::Contour],
        "nginx" => vec![Provider::Nginx],
        "traefik" => vec![Provider::Traefik],
        "linkerd`, `smi:*" => vec![
            Provider::Linkerd,
            Provider::SmiV1alpha1,
            Provider::SmiV1alpha2,
            Provider::SmiV1alpha3,
        ],
        other => panic!("docs/routers.md: unknown provider column {other:?}"),
    }
}

#[test]
fn the_routers_matrix_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/routers.md");
    let text = std::fs::read_to_string(path).expect("docs/routers.md");
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip_while(|l| !l.starts_with("| strategy |"))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert!(rows.len() > 3, "no strategy matrix in docs/routers.md");
    let columns: Vec<Vec<Provider>> = rows[0][1..].iter().map(|c| providers(c)).collect();
    let mut covered = Vec::new();
    for row in &rows[2..] {
        let feature: fn(Provider) -> bool = match row[0].as_str() {
            "A/B testing (`analysis.match`)" => Provider::supports_ab_testing,
            "mirroring" => Provider::supports_mirroring,
            "session affinity" => Provider::supports_session_affinity,
            _ => continue,
        };
        covered.push(row[0].clone());
        for (cell, providers) in row[1..].iter().zip(&columns) {
            for p in providers {
                assert_eq!(
                    cell != "no",
                    feature(*p),
                    "docs/routers.md says {cell:?} for {} / {p}",
                    row[0]
                );
            }
        }
    }
    assert_eq!(covered.len(), 3, "rows checked: {covered:?}");
    // Every routed provider has a column.
    let documented: Vec<Provider> = columns.into_iter().flatten().collect();
    for p in Provider::ROUTED {
        assert!(documented.contains(&p), "{p} has no column in the matrix");
    }
}
