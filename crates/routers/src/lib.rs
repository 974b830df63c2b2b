//! fledge-routers (placeholder; see DESIGN.md).
