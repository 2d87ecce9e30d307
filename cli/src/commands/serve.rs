use std::io::Write;
use std::path::PathBuf;

use std::sync::Arc;
use std::time::Duration;

use abmark_cenc::load_cpix;
use abmark_delivery::ids::ContentId;
use abmark_edge::licence::backend::AuthBackend;
use abmark_edge::licence::sealed::Sealer;
use abmark_edge::licence::store::{LicenceStore, RedisStore, SqliteStore};
use abmark_edge::licence::token::LicenceKey;
use abmark_edge::licence::{LicencePolicy, LicenceService};
use abmark_edge::serve::{run as serve, Edge, ServeOptions};
use abmark_files::jsonl::JsonlAppender;
use abmark_wm::key::WatermarkKey;
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
    /// Serve only tokens whose content claim is this id (1 to 128 printable ASCII characters,
    /// no spaces).
    #[arg(long)]
    content: Option<ContentId>,
    /// Session log (JSONL, appended, created 0600).
    #[arg(long, default_value = "sessions.jsonl")]
    session_log: PathBuf,
    /// Seconds of clock skew tolerated on token expiry and not-before.
    #[arg(long, default_value_t = 30)]
    leeway: u64,
    #[command(flatten)]
    licence: LicenceArgs,
}

/// The ClearKey licence service (`POST /license`): on when `--master-key` is given.
#[derive(clap::Args)]
struct LicenceArgs {
    /// Master key file (any abmark 256-bit key, `abmark keygen`): content keys are kept sealed
    /// under it (AES-256-GCM) in the state store. Turns the licence service on.
    #[arg(long)]
    master_key: Option<PathBuf>,
    /// Content keys to import (CPIX: the document `abmark package --cpix-out` wrote or the key
    /// service sent). Once imported they stay, sealed, in the state store.
    #[arg(long, requires = "master_key")]
    keys: Option<PathBuf>,
    /// Embedded state store (SQLite; created 0600).
    #[arg(long, default_value = "licence-state.db", conflicts_with = "redis")]
    state: PathBuf,
    /// Shared state store for several serve replicas (e.g. redis://127.0.0.1:6379/0).
    #[arg(long)]
    redis: Option<String>,
    /// Ask this authorization backend before every licence (POST; 200 allows, anything else
    /// refuses).
    #[arg(long)]
    auth_backend: Option<String>,
    /// Timeout for the authorization backend, milliseconds (a timeout refuses).
    #[arg(long, default_value_t = 2000)]
    auth_timeout_ms: u64,
    /// Concurrent streams per subject (a stream is active for --licence-seconds after its
    /// last licence request).
    #[arg(long)]
    max_streams: Option<u32>,
    /// Licence duration in seconds.
    #[arg(long, default_value_t = 600)]
    licence_seconds: u64,
    /// Allow persistent-license sessions (the token must allow them too).
    #[arg(long)]
    allow_persistent: bool,
    /// Put a subject on the deny list (repeat for several).
    #[arg(long = "deny", value_name = "SUBJECT")]
    deny: Vec<String>,
    /// Take a subject off the deny list (repeat for several).
    #[arg(long = "undeny", value_name = "SUBJECT")]
    undeny: Vec<String>,
    /// Licence log (JSONL, appended, created 0600).
    #[arg(long, default_value = "licences.jsonl")]
    licence_log: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let options = ServeOptions {
        content: args.content.clone(),
        session_log: args.session_log.clone(),
        leeway: args.leeway,
    };
    let mut edge = Edge::open(&args.out, &key, options)?;
    if let Some(service) = licence_service(&args.licence, &key, args.content.clone())? {
        edge = edge.with_licence(service);
    }
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

fn licence_service(
    args: &LicenceArgs,
    key: &WatermarkKey,
    content: Option<ContentId>,
) -> anyhow::Result<Option<LicenceService>> {
    let Some(master) = &args.master_key else { return Ok(None) };
    let master = abmark_files::keyfile::load_key(master).context("master key")?;
    let store: Arc<dyn LicenceStore> = match &args.redis {
        Some(url) => Arc::new(RedisStore::connect(url)?),
        None => Arc::new(SqliteStore::open(&args.state)?),
    };
    for subject in &args.deny {
        store.set_denied(subject, true)?;
    }
    for subject in &args.undeny {
        store.set_denied(subject, false)?;
    }
    let backend = args
        .auth_backend
        .as_deref()
        .map(|u| AuthBackend::new(u, Duration::from_millis(args.auth_timeout_ms)));
    let policy = LicencePolicy {
        content,
        licence_seconds: args.licence_seconds,
        max_streams: args.max_streams,
        allow_persistent: args.allow_persistent,
    };
    let log = JsonlAppender::open(&args.licence_log, "licence-log")
        .with_context(|| format!("{}", args.licence_log.display()))?;
    let service = LicenceService::new(
        LicenceKey::derive(key),
        Sealer::new(&master),
        store,
        backend,
        policy,
        log,
    );
    if let Some(path) = &args.keys {
        let doc = load_cpix(path)?;
        let keys: Vec<_> = doc.keys.iter().map(|k| (k.kid, k.key)).collect();
        let n = service.import_keys(&keys)?;
        eprintln!("licence: {n} content keys imported from {} (sealed)", path.display());
    }
    Ok(Some(service))
}
