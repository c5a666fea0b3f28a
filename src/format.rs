//! Formatting shared by the rules (evidence sentences) and the renderers (tables), so that a time
//! reads the same in both. Imports nothing of the crate: it sits below both.

use jiff::Timestamp;

/// Formats a time for evidence: to the second, UTC, as kubectl prints it.
pub fn when(t: Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}
