//! The JSONPath subset CRD `additionalPrinterColumns` use: `.a.b`, `[n]`, `[*]` and filters
//! `[?(@.type=="Ready")]`. Returns every match; pure.

use serde_json::Value;

#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter { key: Vec<String>, value: String },
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut steps = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            rest = &r[end + 1..];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Ok(i) = inner.parse() {
                steps.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, value) = f.split_once("==")?;
                let value = value
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_string();
                steps.push(Step::Filter {
                    key: key.trim().split('.').map(String::from).collect(),
                    value,
                });
            } else {
                let key = inner.trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Field(key.to_string()));
            }
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    Some(steps)
}

/// All values `path` selects in `obj` (empty when nothing matches or the path is not supported).
pub fn select<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut current = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in current {
            match step {
                Step::Field(f) => next.extend(v.get(f.as_str())),
                Step::Index(i) => next.extend(v.get(*i)),
                Step::All => next.extend(v.as_array().into_iter().flatten()),
                Step::Filter { key, value } => {
                    next.extend(v.as_array().into_iter().flatten().filter(|item| {
                        let mut x = *item;
                        for k in key {
                            x = &x[k.as_str()];
                        }
                        match x {
                            Value::String(s) => s == value,
                            Value::Null => false,
                            other => {
                                serde_json::from_str::<Value>(value).is_ok_and(|v| v == *other)
                            }
                        }
                    }))
                }
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects() {
        let o = json!({"status": {"phase": "Progressing", "conditions": [
            {"type": "Promoted", "status": "Unknown"}, {"type": "Ready", "status": "False"}]},
            "spec": {"ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(select(&o, ".status.phase"), vec![&json!("Progressing")]);
        assert_eq!(
            select(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            vec![&json!("False")]
        );
        assert_eq!(
            select(&o, ".spec.ports[*].port"),
            vec![&json!(80), &json!(443)]
        );
        assert_eq!(select(&o, ".spec.ports[1].port"), vec![&json!(443)]);
        assert!(select(&o, ".status.nope").is_empty());
    }
}
