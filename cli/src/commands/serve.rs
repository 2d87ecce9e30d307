use std::io::Write;
use std::path::PathBuf;

use abmark_engine::serve::{run as serve, Edge, ServeOptions};
use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// A variants output (the directory `abmark variants` wrote).
    out: PathBuf,
    /// Watermark key file (token keys and session codes derive from it).
    #[arg(long)]
    key: PathBuf,
    /// Address to listen on; port 0 picks a free port (the address is printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Serve only tokens whose content claim is this id.
    #[arg(long)]
    content: Option<String>,
    /// Session log (JSONL, appended, created 0600).
    #[arg(long, default_value = "sessions.jsonl")]
    session_log: PathBuf,
    /// Seconds of clock skew tolerated on token expiry and not-before.
    #[arg(long, default_value_t = 30)]
    leeway: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let options =
        ServeOptions { content: args.content, session_log: args.session_log, leeway: args.leeway };
    let edge = Edge::open(&args.out, &key, options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("listening socket")?;
        // The first line of stdout is the address: scripts and tests read it.
        println!("listening on http://{addr}");
        std::io::stdout().flush().ok();
        serve(edge, listener).await?;
        anyhow::Ok(())
    })
}
