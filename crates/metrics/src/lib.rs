//! fledge-metrics (placeholder; see DESIGN.md).
