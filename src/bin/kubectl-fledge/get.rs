//! `get NAME [-w] [-o json|yaml]`: the tree of one Canary, drawn from watched caches; with
//! `-w`, drawn again on every change until Ctrl-C.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use fledge_core::Config;
use jiff::Timestamp;

use crate::live::{Live, RouteMemo};
use crate::{tree, view};

/// `-o`: text for people (the tree, the table), JSON or YAML of the same model for scripts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[value(alias = "tree")]
    Text,
    Json,
    Yaml,
}

pub async fn get(
    client: &kube::Client,
    ns: &str,
    name: &str,
    watch: bool,
    output: Output,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let live = Live::start(client, Some(ns)).await?;
    let memo = RouteMemo::default();
    let terminal = std::io::stdout().is_terminal();
    let mut changed = live.changed.clone();
    loop {
        let snapshot = live.snapshot();
        let Some(canary) = snapshot.canary(ns, name) else {
            if watch {
                println!("canary {ns}/{name} is gone");
                return Ok(ExitCode::from(1));
            }
            anyhow::bail!(
                "canary {ns}/{name} not found; `kubectl fledge list` shows the Canaries in this namespace (-n to pick another)"
            );
        };
        let route = memo.route(client, canary, config).await;
        let detail = view::detail(canary, &snapshot.around(route), config, Timestamp::now());
        let text = match output {
            Output::Text => tree::render(&detail, terminal),
            Output::Json => format!("{}\n", serde_json::to_string_pretty(&detail)?),
            Output::Yaml => format!("---\n{}", serde_saphyr::to_string(&detail)?),
        };
        let mut stdout = std::io::stdout().lock();
        if watch && terminal && output == Output::Text {
            // Home and clear, then the new picture: a redraw, not a scroll.
            write!(stdout, "\x1b[H\x1b[2J")?;
        }
        write!(stdout, "{text}")?;
        stdout.flush()?;
        drop(stdout);
        if !watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            changed = changed.changed() => {
                if changed.is_err() {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}
