//! `abmark key-service`: the CPIX key service (`serve`) and its API keys (`api-key add`,
//! `revoke`, `list`). Parses flags and opens the state store; the service is
//! `abmark_edge::keyservice`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use abmark_cenc::exchange::AnswerOptions;
use abmark_edge::apikey::new_api_key;
use abmark_edge::keyservice::{run as serve, KeyService};
use abmark_edge::licence::store::{LicenceStore, RedisStore, SqliteStore};
use abmark_edge::serve::ConnectionLimits;
use anyhow::{bail, Context};

use crate::exit::UsageError;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Answer CPIX key requests (SPEKE v2.0) at POST /speke/v2.0/copyProtection.
    Serve(ServeArgs),
    /// Manage the API keys encoders authenticate with.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

/// The state store: the licence service's (`abmark serve` reads the keys from it).
#[derive(clap::Args)]
struct StoreArgs {
    /// Embedded state store (SQLite; created 0600), shared with `abmark serve --state`.
    #[arg(long, default_value = "licence-state.db", conflicts_with = "redis")]
    state: PathBuf,
    /// Shared state store (e.g. redis://127.0.0.1:6379/0). A URL with a password belongs in
    /// ABMARK_REDIS_URL: the command line is visible in `ps`.
    #[arg(long, env = "ABMARK_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
}

impl StoreArgs {
    fn open(&self) -> anyhow::Result<Arc<dyn LicenceStore>> {
        Ok(match &self.redis {
            Some(url) => Arc::new(RedisStore::connect(url)?),
            None => Arc::new(SqliteStore::open(&self.state)?),
        })
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Master key file (`abmark keygen`; the one `abmark serve --master-key` uses): keys are
    /// stored sealed under it.
    #[arg(long)]
    master_key: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on; port 0 picks a free port (the address is printed on start).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// Licence server URL written into PlayReady headers (LA_URL) of the PSSH boxes answered.
    #[arg(long)]
    la_url: Option<String>,
    /// Connections open at once; more wait in the accept backlog.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a connection has to send a complete request head; also the keep-alive idle
    /// timeout.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// HTTPS: answers carry clear content keys, so without it put the service behind a
    /// TLS-terminating proxy.
    #[command(flatten)]
    tls: super::https::CertArgs,
}

#[derive(clap::Subcommand)]
enum ApiKeyCommand {
    /// Make an API key for customer NAME and print it once, alone on stdout (only its SHA-256
    /// is stored).
    Add {
        /// The customer's name (unique).
        name: String,
        /// Content ids the key may ask keys for: exact ids, `prefix*`, or `*` for any.
        #[arg(long = "content", value_name = "PATTERN", required = true, num_args = 1..)]
        content: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke the API key of customer NAME.
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the API keys (names and content patterns; keys are not stored, so not shown).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Serve(args) => run_serve(args),
        Command::ApiKey(ApiKeyCommand::Add { name, content, store }) => {
            let key = new_api_key(&name, &content).map_err(|e| UsageError(e.to_string()))?;
            if !store.open()?.add_api_key(&key.entry)? {
                bail!(UsageError(format!("an API key named {name:?} exists (revoke it first)")));
            }
            // Alone on stdout, so `KEY=$(abmark key-service api-key add ...)` takes it.
            println!("{}", *key.text);
            eprintln!(
                "API key for {name} (content {}): shown once, stored as SHA-256",
                content.join(" ")
            );
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Revoke { name, store }) => {
            if !store.open()?.remove_api_key(&name)? {
                bail!(UsageError(format!("no API key named {name:?}")));
            }
            eprintln!("API key of {name} revoked");
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::List { store }) => {
            for entry in store.open()?.api_keys()? {
                println!("{}\t{}", entry.name, entry.scope.join(" "));
            }
            Ok(())
        }
    }
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let master = abmark_files::keyfile::load_key(&args.master_key).context("master key")?;
    let tls = args.tls.load()?;
    let store = args.store.open()?;
    eprintln!("key-service: keys sealed into {}", store.describe());
    let service =
        KeyService::new(&master, store, AnswerOptions { license_url: args.la_url.clone() });
    // The service keeps what it derived; the master key is wiped here.
    drop(master);
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: args.max_connections as usize,
    };
    super::run_service(&args.listen, tls.is_some(), |listener| async move {
        serve(service, listener, limits, tls).await;
        Ok(())
    })
}
