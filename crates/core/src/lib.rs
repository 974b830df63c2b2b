//! fledge-core (placeholder; see DESIGN.md).
