//! Label selectors: the `labelSelector=` string form and `metav1.LabelSelector`
//! objects. `!=` and `notin` also match objects that lack the label, as on the
//! API server. Parsing and matching only; never I/O.

use std::fmt;

use serde_json::{Map, Value};

use crate::Error;

/// The operator of one label requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value`.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`.
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
}

/// One term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: Operator,
    /// The values (one for `=`/`!=`, none for `Exists`/`DoesNotExist`).
    pub values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.key).and_then(Value::as_str);
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(listed),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => labels.contains_key(&self.key),
            Operator::DoesNotExist => !labels.contains_key(&self.key),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sorted = &self.values;
        let first = sorted.first().map(String::as_str).unwrap_or("");
        match self.operator {
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, sorted.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, sorted.join(",")),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A parsed label selector: all requirements must hold.
///
/// `Display` prints the canonical form the API server prints (requirements
/// sorted by key), e.g. for `Scale.status.selector`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::BadRequest(format!("label selector {input:?}: {reason}"));
        let tokens = lex(input);
        let mut parser = Parser { tokens, pos: 0 };
        let mut requirements = Vec::new();
        if parser.peek().is_none() {
            return Ok(Self::default());
        }
        loop {
            requirements.push(parser.requirement().map_err(err)?);
            match parser.next() {
                None => break,
                Some(Token::Comma) => {}
                Some(t) => return Err(err(format!("found {t}, expected ',' or end of string"))),
            }
        }
        Ok(Self::new(requirements))
    }

    /// Builds a selector from a `metav1.LabelSelector` object
    /// (`matchLabels` and `matchExpressions` with `In`, `NotIn`, `Exists`,
    /// `DoesNotExist`). `{}` matches everything.
    pub fn from_label_selector(selector: &Value) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadRequest(format!("label selector: {reason}"));
        let obj = selector
            .as_object()
            .ok_or_else(|| bad(format!("must be an object, got {selector}")))?;
        let mut requirements = Vec::new();
        if let Some(labels) = obj.get("matchLabels").filter(|v| !v.is_null()) {
            let labels = labels
                .as_object()
                .ok_or_else(|| bad("matchLabels: must be an object of strings".into()))?;
            for (key, value) in labels {
                let value = value
                    .as_str()
                    .ok_or_else(|| bad(format!("matchLabels.{key}: must be a string")))?;
                validate_key(key).map_err(bad)?;
                validate_value(value).map_err(bad)?;
                requirements.push(Requirement {
                    key: key.clone(),
                    operator: Operator::Equals,
                    values: vec![value.to_string()],
                });
            }
        }
        if let Some(exprs) = obj.get("matchExpressions").filter(|v| !v.is_null()) {
            let exprs = exprs
                .as_array()
                .ok_or_else(|| bad("matchExpressions: must be a list".into()))?;
            for (i, expr) in exprs.iter().enumerate() {
                requirements.push(
                    expression(expr).map_err(|r| bad(format!("matchExpressions[{i}]: {r}")))?,
                );
            }
        }
        Ok(Self::new(requirements))
    }

    fn new(mut requirements: Vec<Requirement>) -> Self {
        // Values are a set on the API server; sorting makes equal selectors equal.
        for r in &mut requirements {
            r.values.sort();
            r.values.dedup();
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Matches a labels map (non-string values never match a value).
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an object by its `metadata.labels` (absent labels = none).
    pub fn matches_object(&self, object: &Value) -> bool {
        let empty = Map::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.matches(labels)
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

fn expression(expr: &Value) -> Result<Requirement, String> {
    let key = expr
        .get("key")
        .and_then(Value::as_str)
        .ok_or("key: required string")?;
    validate_key(key)?;
    let op = expr
        .get("operator")
        .and_then(Value::as_str)
        .ok_or("operator: required string")?;
    let values: Vec<String> = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(vs)) => vs
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or("values: must be strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("values: must be a list of strings".into()),
    };
    for v in &values {
        validate_value(v)?;
    }
    let operator = match op {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(format!(
                "operator: {other:?} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)"
            ));
        }
    };
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            Err(format!("values: must be non-empty for operator {op}"))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            Err(format!("values: must be empty for operator {op}"))
        }
        _ => Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        }),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Equals,
    DoubleEquals,
    NotEquals,
    Not,
    Comma,
    Open,
    Close,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "'{s}'"),
            Token::Equals => f.write_str("'='"),
            Token::DoubleEquals => f.write_str("'=='"),
            Token::NotEquals => f.write_str("'!='"),
            Token::Not => f.write_str("'!'"),
            Token::Comma => f.write_str("','"),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
        }
    }
}

fn lex(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' | '(' | ')' => {
                chars.next();
                tokens.push(match c {
                    ',' => Token::Comma,
                    '(' => Token::Open,
                    _ => Token::Close,
                });
            }
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::DoubleEquals);
                } else {
                    tokens.push(Token::Equals);
                }
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::NotEquals);
                } else {
                    tokens.push(Token::Not);
                }
            }
            _ => {
                let mut ident = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, ',' | '(' | ')' | '=' | '!') {
                        break;
                    }
                    ident.push(c);
                    chars.next();
                }
                tokens.push(Token::Ident(ident));
            }
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let negated = self.peek() == Some(&Token::Not);
        if negated {
            self.pos += 1;
        }
        let key = match self.next() {
            Some(Token::Ident(k)) => k,
            Some(t) => return Err(format!("found {t}, expected a label key")),
            None => return Err("expected a label key at end of string".into()),
        };
        validate_key(&key)?;
        if negated {
            return Ok(Requirement {
                key,
                operator: Operator::DoesNotExist,
                values: vec![],
            });
        }
        let operator = match self.peek() {
            None | Some(Token::Comma) => {
                return Ok(Requirement {
                    key,
                    operator: Operator::Exists,
                    values: vec![],
                });
            }
            Some(Token::Equals | Token::DoubleEquals) => Operator::Equals,
            Some(Token::NotEquals) => Operator::NotEquals,
            Some(Token::Ident(w)) if w == "in" => Operator::In,
            Some(Token::Ident(w)) if w == "notin" => Operator::NotIn,
            Some(t) => {
                return Err(format!(
                    "found {t}, expected one of '=', '==', '!=', 'in', 'notin'"
                ));
            }
        };
        self.pos += 1;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => match self.peek() {
                Some(Token::Ident(v)) => {
                    let v = v.clone();
                    self.pos += 1;
                    vec![v]
                }
                // `a=` selects the empty value, as on the API server.
                None | Some(Token::Comma) => vec![String::new()],
                Some(t) => return Err(format!("found {t}, expected a label value")),
            },
        };
        for v in &values {
            validate_value(v)?;
        }
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    fn value_set(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::Open) {
            return Err("expected '(' after 'in'/'notin'".into());
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(v)) => values.push(v),
                Some(t) => return Err(format!("found {t}, expected a value in the set")),
                None => return Err("unterminated value set, expected ')'".into()),
            }
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(values),
                Some(t) => return Err(format!("found {t}, expected ',' or ')'")),
                None => return Err("unterminated value set, expected ')'".into()),
            }
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A label name or value: at most 63 characters, alphanumerics plus `-_.`,
/// beginning and ending with an alphanumeric.
fn valid_name(s: &str) -> bool {
    s.len() <= 63
        && s.chars().all(is_name_char)
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    if prefix_ok && valid_name(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid label key {key:?}: must be an optional DNS subdomain prefix and '/', then a name of at most 63 alphanumerics, '-', '_' or '.', beginning and ending with an alphanumeric"
        ))
    }
}

fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() || valid_name(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {value:?}: must be empty or at most 63 alphanumerics, '-', '_' or '.', beginning and ending with an alphanumeric"
        ))
    }
}

#[cfg(test)]
mod tests;
