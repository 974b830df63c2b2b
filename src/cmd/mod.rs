//! One module per subcommand. Each exposes `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

pub mod controller;
pub mod crds;
#[cfg(feature = "sim")]
pub mod demo;
pub mod plan;
#[cfg(feature = "sim")]
pub mod sim;
pub mod validate;
