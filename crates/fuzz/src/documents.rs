//! Manifests, as `fledge validate` reads them: YAML (one or more documents), each Canary,
//! MetricTemplate and AlertProvider checked against the schema and the rules, and Canaries
//! against the templates in the same input.

use fledge_api::validate::{
    CheckedDocument, ValidateOptions, check_document, validate_template_refs,
};
use fledge_api::{Canary, MetricTemplate};
use serde_json::Value;

pub fn documents(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = serde_saphyr::from_multiple::<Value>(text) else {
        return;
    };
    let first = check_all(&docs);
    assert_eq!(
        first,
        check_all(&docs),
        "the same input gave different problems"
    );
    for problem in first.iter().flat_map(|d| &d.problems) {
        assert!(
            !problem.path.is_empty() && !problem.message.is_empty() && !problem.object.is_empty(),
            "a problem must name the object, the field and what is wrong: {problem:?}"
        );
    }
}

fn check_all(docs: &[Value]) -> Vec<CheckedDocument> {
    let opts = ValidateOptions::default();
    let templates: Vec<MetricTemplate> = docs
        .iter()
        .filter_map(|d| serde_json::from_value(d.clone()).ok())
        .collect();
    docs.iter()
        .filter_map(|doc| {
            let mut checked = check_document(doc, &opts)?;
            if checked.kind == "Canary"
                && let Ok(canary) = serde_json::from_value::<Canary>(doc.clone())
            {
                checked
                    .problems
                    .extend(validate_template_refs(&canary, &templates));
            }
            Some(checked)
        })
        .collect()
}
