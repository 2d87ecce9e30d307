pub mod analytics;
mod cpix_url;
pub mod decrypt;
pub mod detect;
pub mod embed;
mod https;
pub mod investigate;
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

/// Runs a network service: starts the async runtime, binds `listen`, prints `listening on URL`
/// as the first line of stdout (scripts and tests read it), then runs `serve` on the listener.
pub fn run_service<F, Fut>(listen: &str, https: bool, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listening socket")?;
        let scheme = if https { "https" } else { "http" };
        println!("listening on {scheme}://{addr}");
        std::io::Write::flush(&mut std::io::stdout()).ok();
        serve(listener).await
    })
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
