//! One module per subcommand. Each exposes `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

pub mod controller;
pub mod crds;
pub mod demo;
pub mod plan;
pub mod sim;
pub mod validate;
