//! `-o yaml`: the same document as `-o json`, so the field names are the same contract.

use std::io::{self, Write};

use serde::Serialize;

pub fn write<T: Serialize>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    // Serialized to a string first so that a closed pipe still reaches the caller as an io error
    // (BrokenPipe), not wrapped in a YAML error.
    let text = serde_yaml_ng::to_string(value).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}
