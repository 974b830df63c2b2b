//! `fledge crds`: print the CustomResourceDefinitions generated from the API types, as one
//! multi-document YAML stream (the same bytes as `deploy/crds/fledge-crds.yaml`).

use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let yaml = fledge_api::crd::crds_yaml()?;
    std::io::stdout().lock().write_all(yaml.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
