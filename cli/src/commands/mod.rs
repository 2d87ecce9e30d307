mod cpix_url;
pub mod decrypt;
pub mod detect;
pub mod embed;
pub mod key_service;
pub mod keygen;
pub mod mix;
pub mod package;
pub mod serve;
pub mod symbols;
pub mod token;
pub mod variants;

use std::path::Path;

use abmark_wm::key::WatermarkKey;
use anyhow::Context;

/// Loads a watermark key, naming the file on failure (never the key).
pub fn load_key(path: &Path) -> anyhow::Result<WatermarkKey> {
    abmark_files::keyfile::load_key(path).context("watermark key")
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Clap parser for a finite, strictly positive number.
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}
