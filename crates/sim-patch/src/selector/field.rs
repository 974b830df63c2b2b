//! Field selectors (`fieldSelector=metadata.name=x,spec.nodeName!=y`),
//! matched against an object by dotted path. A missing field compares as the
//! empty string, as on the API server. Parsing and matching only; never I/O.

use std::fmt;

use serde_json::Value;

use crate::Error;

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Dotted path into the object, e.g. `metadata.name`, `involvedObject.uid`.
    pub field: String,
    /// `false` for `=`/`==`, `true` for `!=`.
    pub negated: bool,
    /// The value compared with, unescaped.
    pub value: String,
}

/// A parsed field selector (`metadata.name=x,spec.nodeName!=y`).
///
/// Which fields a resource supports is the server's decision (the real API
/// server answers 400 for unsupported ones); [`FieldSelector::requirements`]
/// lists them so it can check. Matching itself works on any dotted path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the string form. Backslash escapes `\,`, `\=`, `\!` and `\\`
    /// in values, as in `fields.ParseSelector`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut requirements = Vec::new();
        for term in split_unescaped(input) {
            if term.is_empty() {
                continue;
            }
            let (field, negated, raw) = split_term(&term).ok_or_else(|| {
                Error::BadRequest(format!(
                    "field selector {input:?}: invalid selector: {term:?}; expected field=value, field==value or field!=value"
                ))
            })?;
            let field = field.trim().to_string();
            if field.is_empty() || !field.split('.').all(|p| !p.is_empty()) {
                return Err(Error::BadRequest(format!(
                    "field selector {input:?}: invalid field path {field:?}"
                )));
            }
            requirements.push(FieldRequirement {
                field,
                negated,
                value: unescape(raw),
            });
        }
        Ok(Self { requirements })
    }

    /// The terms in the order given.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Matches an object. Strings compare as is, numbers and booleans by
    /// their JSON text; an absent or null field compares as `""`.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = field_text(object, &r.field);
            (actual == r.value) != r.negated
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                format!(
                    "{}{}{}",
                    r.field,
                    if r.negated { "!=" } else { "=" },
                    escape(&r.value)
                )
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn field_text(object: &Value, path: &str) -> String {
    let mut cur = object;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn split_unescaped(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if escaped {
        cur.push('\\');
    }
    out.push(cur);
    out
}

/// Finds the first unescaped operator (`!=`, `==`, `=`).
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                return Some((&term[..i], true, &term[i + 2..]));
            }
            b'=' if bytes.get(i + 1) == Some(&b'=') => {
                return Some((&term[..i], false, &term[i + 2..]));
            }
            b'=' => return Some((&term[..i], false, &term[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
