//! A reader for the OpenMetrics text that `/metrics` endpoints serve (the controller's, the
//! load tester's): enough to find a series by name and labels in a test. Not a validator.

/// One sample of the OpenMetrics text: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

pub fn parse_openmetrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => {
                let mut parts = line.split_whitespace();
                let name = parts.next().unwrap_or_default();
                let value = parts
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                out.push((name.to_string(), Vec::new(), value));
                continue;
            }
        };
        let mut labels = Vec::new();
        let mut chars = rest.chars().peekable();
        loop {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "label {key:?} in {line:?}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.push((key.trim_start_matches(',').to_string(), value));
            match chars.next() {
                Some(',') if chars.peek() == Some(&'}') => {
                    chars.next();
                    break;
                }
                Some(',') => continue,
                _ => break,
            }
        }
        let value = chars
            .collect::<String>()
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        out.push((name.to_string(), labels, value));
    }
    out
}
