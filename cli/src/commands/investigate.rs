//! `abmark investigate`: the detection service (`serve`) and its API keys (`key add`,
//! `revoke`, `list`). Parses flags, reads the config and opens the state; the service is
//! `abmark_investigate`.

use std::path::PathBuf;
use std::time::Duration;

use abmark_edge::apikey::new_api_key;
use abmark_edge::serve::ConnectionLimits;
use abmark_investigate::{Config, ServiceOptions, Store};
use anyhow::{bail, Context};

use crate::exit::UsageError;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run the detection service (HTTP API and web page; docs/investigate.md).
    Serve(ServeArgs),
    /// Manage the API keys the service accepts.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The catalogue (TOML, one [[content]] table per title) and the limits.
    #[arg(long)]
    config: PathBuf,
    /// State directory: the job store (jobs.db), uploads, reports. Created 0700.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on; port 0 picks a free port (the address is printed on start).
    #[arg(long, default_value = "127.0.0.1:8095")]
    listen: String,
    /// Detections run at once (each a child process using the machine's cores).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Connections open at once; more wait in the accept backlog.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a connection has to send a complete request head; also the keep-alive idle
    /// timeout.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// HTTPS: API keys and copies travel in the requests, so without it put the service behind
    /// a TLS-terminating proxy.
    #[command(flatten)]
    tls: super::https::CertArgs,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Make an API key named NAME and print it once, alone on stdout (only its SHA-256 is
    /// stored).
    Add {
        name: String,
        #[arg(long)]
        state: PathBuf,
        /// Content ids the key may submit copies of: exact ids, `prefix*`, or `*` (default).
        #[arg(long = "content", value_name = "PATTERN", num_args = 1.., default_value = "*")]
        content: Vec<String>,
    },
    /// Revoke the API key named NAME.
    Revoke {
        name: String,
        #[arg(long)]
        state: PathBuf,
    },
    /// List the API keys (names and content patterns; the keys themselves are not stored).
    List {
        #[arg(long)]
        state: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Serve(args) => serve(args),
        Command::Key(KeyCommand::Add { name, state, content }) => {
            let key = new_api_key(&name, &content).map_err(|e| UsageError(e.to_string()))?;
            if !Store::open(&state)?.add_api_key(&key.entry)? {
                bail!(UsageError(format!("an API key named {name:?} exists (revoke it first)")));
            }
            // Alone on stdout, so `KEY=$(abmark investigate key add ...)` takes it.
            println!("{}", *key.text);
            eprintln!(
                "API key {name} (content {}): shown once, stored as SHA-256",
                content.join(" ")
            );
            Ok(())
        }
        Command::Key(KeyCommand::Revoke { name, state }) => {
            if !Store::open(&state)?.remove_api_key(&name)? {
                bail!(UsageError(format!("no API key named {name:?}")));
            }
            eprintln!("API key {name} revoked");
            Ok(())
        }
        Command::Key(KeyCommand::List { state }) => {
            for entry in Store::open(&state)?.api_keys()? {
                println!("{}\t{}", entry.name, entry.scope.join(" "));
            }
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let tls = args.tls.load()?;
    let detector = std::env::current_exe().context("cannot find the abmark binary")?;
    eprintln!(
        "investigate: {} title(s), state in {}, {} worker(s)",
        config.content.len(),
        args.state.display(),
        args.workers
    );
    let store = Store::open(&args.state)?;
    let options = ServiceOptions {
        config,
        store,
        state: args.state,
        detector,
        workers: args.workers as usize,
        limits: ConnectionLimits {
            header_timeout: Duration::from_secs(args.header_timeout),
            max_connections: args.max_connections as usize,
        },
        tls,
    };
    let https = options.tls.is_some();
    super::run_service(&args.listen, https, |listener| async move {
        abmark_investigate::run(options, listener).await?;
        Ok(())
    })
}
