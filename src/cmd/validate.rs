//! `fledge validate`: check Canary, MetricTemplate and AlertProvider manifests without a
//! cluster. Reads files, directories (recursively, `*.yaml`/`*.yml`) or stdin; the rules
//! themselves live in `fledge_api::validate` and are shared with the controller.
//!
//! Output: one line per problem on stdout (`FILE:DOC: Kind ns/name: path: message`, warnings
//! prefixed with `warning:`), a summary on stderr. Exit 0 valid, 1 invalid, 2 unreadable input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fledge_api::validate::{
    Level, Problem, ValidateOptions, check_document, validate_template_refs,
};
use fledge_api::{Canary, MetricTemplate};
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// A file, a directory (searched recursively for *.yaml and *.yml) or `-` for stdin.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// Shortest analysis interval accepted (Go duration). Lower it only for tests and demos;
    /// the controller takes the same flag.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_min_interval)]
    min_interval: Duration,
}

fn parse_min_interval(s: &str) -> Result<Duration, String> {
    fledge_api::parse_duration(s).map_err(|e| e.to_string())
}

/// One input: its display name and text, or why it couldn't be read.
struct Input {
    name: String,
    text: Result<String, String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = ValidateOptions {
        min_interval: args.min_interval,
    };
    let mut inputs = Vec::new();
    for path in &args.files {
        collect(path, &mut inputs);
    }
    let mut unreadable = false;
    let mut parsed: Vec<(String, Vec<Value>)> = Vec::new();
    for input in inputs {
        match input.text {
            Err(err) => {
                eprintln!("{}: cannot read: {err}", input.name);
                unreadable = true;
            }
            Ok(text) => match serde_saphyr::from_multiple::<Value>(&text) {
                Ok(docs) => parsed.push((input.name, docs)),
                Err(err) => {
                    eprintln!("{}: not valid YAML: {err}", input.name);
                    unreadable = true;
                }
            },
        }
    }
    // Templates anywhere in the input let Canaries be checked against the ones they use.
    let templates: Vec<MetricTemplate> = parsed
        .iter()
        .flat_map(|(_, docs)| docs)
        .filter(|doc| is_ours(doc, "MetricTemplate"))
        .filter_map(|doc| serde_json::from_value(doc.clone()).ok())
        .collect();
    let (mut checked, mut invalid) = (0usize, 0usize);
    for (name, docs) in &parsed {
        for (i, doc) in docs.iter().enumerate() {
            let Some(mut result) = check_document(doc, &opts) else {
                continue;
            };
            if is_ours(doc, "Canary")
                && let Ok(canary) = serde_json::from_value::<Canary>(doc.clone())
            {
                result
                    .problems
                    .extend(validate_template_refs(&canary, &templates));
                // Said once: a field the schema rules already reported isn't repeated.
                if let Some(problem) = router_problem(&canary)
                    && !result.problems.iter().any(|p| p.path == problem.path)
                {
                    result.problems.push(problem);
                }
            }
            checked += 1;
            if !result.is_valid() {
                invalid += 1;
            }
            for problem in &result.problems {
                let prefix = match problem.severity {
                    Level::Error => "",
                    Level::Warning => "warning: ",
                };
                println!("{name}:{}: {prefix}{problem}", i + 1);
            }
        }
    }
    eprintln!(
        "checked {checked} objects: {} valid, {invalid} invalid",
        checked - invalid
    );
    Ok(if unreadable {
        ExitCode::from(2)
    } else if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What the Canary's router can't express (the same check the controller stalls on). Only
/// with `spec.provider` set: without it the controller's `--mesh-provider` decides.
fn router_problem(canary: &Canary) -> Option<Problem> {
    let provider = canary.spec.provider.filter(|p| p.is_routed())?;
    let options = fledge_routers::RouterOptions::default();
    match fledge_routers::check_spec(provider, canary, &options) {
        Err(fledge_routers::RouterError::InvalidSpec { field, message, .. }) => Some(Problem {
            kind: "Canary".into(),
            object: format!(
                "{}/{}",
                canary.metadata.namespace.as_deref().unwrap_or("default"),
                canary.metadata.name.as_deref().unwrap_or_default()
            ),
            path: field,
            message,
            severity: Level::Error,
        }),
        _ => None,
    }
}

/// One of our kinds, in our group or Flagger's.
fn is_ours(doc: &Value, kind: &str) -> bool {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    doc.get("kind").and_then(Value::as_str) == Some(kind)
        && (api_version == fledge_api::API_VERSION
            || api_version == fledge_api::FLAGGER_API_VERSION)
}

fn collect(path: &Path, out: &mut Vec<Input>) {
    if path == Path::new("-") {
        let mut text = String::new();
        let text = std::io::stdin()
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|e| e.to_string());
        out.push(Input {
            name: "<stdin>".into(),
            text,
        });
        return;
    }
    let name = path.display().to_string();
    if path.is_dir() {
        match walk(path) {
            Ok(files) => out.extend(files.into_iter().map(|f| Input {
                name: f.display().to_string(),
                text: std::fs::read_to_string(&f).map_err(|e| e.to_string()),
            })),
            Err(err) => out.push(Input {
                name,
                text: Err(err.to_string()),
            }),
        }
    } else {
        out.push(Input {
            name,
            text: std::fs::read_to_string(path).map_err(|e| e.to_string()),
        });
    }
}

/// `*.yaml` and `*.yml` under `dir`, sorted so output is stable.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
