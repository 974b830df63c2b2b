//! The fledge controller as a library: everything `fledge controller` runs, so its pieces can be
//! unit-tested without a cluster. The CLI (`src/cmd/`) and the demo (`src/demo/`) are the
//! binary's; `main.rs` only parses flags, installs the crypto provider and dispatches.

pub mod controller;
