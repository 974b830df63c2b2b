//! fledge-sim (placeholder; see DESIGN.md).
