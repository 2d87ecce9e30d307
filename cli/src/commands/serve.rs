use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use abmark_cenc::load_cpix;
use abmark_delivery::ids::{ContentId, Kid};
use abmark_edge::deny_file::{DenyListFile, POLL as DENY_POLL};
use abmark_edge::licence::backend::AuthBackend;
use abmark_edge::licence::sealed::Sealer;
use abmark_edge::licence::store::{LicenceStore, RedisStore, SqliteStore};
use abmark_edge::licence::token::LicenceKey;
use abmark_edge::licence::{LicencePolicy, LicenceService};
use abmark_edge::origin::{NoOrigin, OriginPattern, OriginPolicy};
use abmark_edge::serve::access::AccessLog;
use abmark_edge::serve::live_rules::LiveRuleOptions;
use abmark_edge::serve::watch::PlayerScript;
use abmark_edge::serve::{
    parse_trusted_proxy, run as serve, ConnectionLimits, Edge, IpNet, ServeOptions, TrustedProxies,
};
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
    /// no spaces). Required with the licence service (--master-key): content keys are bound
    /// to it.
    #[arg(long)]
    content: Option<ContentId>,
    /// Session log (JSONL, appended, created 0600).
    #[arg(long, default_value = "sessions.jsonl")]
    session_log: PathBuf,
    /// Seconds of clock skew tolerated on token expiry and not-before.
    #[arg(long, default_value_t = 30)]
    leeway: u64,
    /// Serve only WM tokens whose issuer (`iss`) is this.
    #[arg(long)]
    issuer: Option<String>,
    /// Serve only WM tokens whose audience (`aud`) is this (this edge's name).
    #[arg(long)]
    audience: Option<String>,
    /// Connections open at once; more wait in the accept backlog. Keep it below the
    /// descriptor limit (LimitNOFILE) less about 64 (docs/security.md).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a connection has to send a complete request head; also the keep-alive idle
    /// timeout.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Sites whose pages may play: exact origins (https://watch.example.com) or a wildcard in
    /// the leftmost label (https://*.example.com), comma-separated or repeated. Licence
    /// requests, manifests and the player page from pages elsewhere get 403 (logged), CORS
    /// answers only these, and the player page may be framed only by them. Default: any site.
    #[arg(long = "allow-origin", value_name = "ORIGINS", value_parser = origin_list)]
    allow_origin: Vec<Vec<OriginPattern>>,
    /// What a request naming no site (neither Origin nor Referer) gets when sites are
    /// restricted: allow (apps, curl, pages with no-referrer) or deny.
    #[arg(long, value_name = "allow|deny", default_value = "allow", value_parser = no_origin)]
    no_origin: NoOrigin,
    /// Turn the player page on (`/watch/<content>`): shaka-player's compiled build, e.g.
    /// `$(bash scripts/tools.sh browser)/node_modules/shaka-player/dist/shaka-player.compiled.js`
    /// (the pinned release the project's setup installs).
    #[arg(long, value_name = "FILE")]
    player_js: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    watch: WatchArgs,
    #[command(flatten)]
    licence: LicenceArgs,
}

/// Watching viewers: the access log, the deny-list file and the live rules.
#[derive(clap::Args)]
struct WatchArgs {
    /// Access log (JSONL, appended, created 0600): one line per request answered for a viewer
    /// (manifests, playlists, init and media segments, licences, the player page), what
    /// `abmark analytics --access` reads. Off by default.
    #[arg(long, value_name = "FILE")]
    access_log: Option<PathBuf>,
    /// Subjects to refuse (one per line, `#` comments: what `abmark analytics --suspects`
    /// writes): manifests, playlists, segments and licences. Re-read when it changes, without a
    /// restart; a file that does not parse, or is removed, keeps the previous list.
    #[arg(long, value_name = "FILE")]
    deny_list: Option<PathBuf>,
    /// Refuse segments (429, too-fast) to a session fetching them far faster than real time:
    /// more than --live-ahead seconds of content ahead of --live-speed times the wall-clock
    /// time since its first segment.
    #[arg(long)]
    live_rules: bool,
    /// Seconds of content a session may be ahead (start-up burst and the player's buffer).
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS", requires = "live_rules",
          value_parser = positive)]
    live_ahead: f64,
    /// Seconds of content a session earns per second (1 = real time; the slack above 1 allows
    /// seeks and re-buffering).
    #[arg(long, default_value_t = 1.5, value_name = "X", requires = "live_rules",
          value_parser = positive)]
    live_speed: f64,
    /// Seconds a session over the rule is refused segments.
    #[arg(long, default_value_t = 300, value_name = "SECONDS", requires = "live_rules",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    live_block: u64,
    /// Sessions followed at once (the least recently seen is forgotten beyond it).
    #[arg(long, default_value_t = 100_000, value_name = "N", requires = "live_rules",
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    live_sessions: u32,
}

/// A finite number above zero.
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("{text:?} is not a number above 0")),
    }
}

fn origin_list(text: &str) -> Result<Vec<OriginPattern>, String> {
    abmark_edge::origin::parse_list(text).map_err(|e| e.to_string())
}

fn no_origin(text: &str) -> Result<NoOrigin, String> {
    text.parse()
}

/// HTTPS (`--tls-cert` with `--tls-key`) and the proxies in front of the edge.
#[derive(clap::Args)]
struct TlsArgs {
    #[command(flatten)]
    cert: super::https::CertArgs,
    /// A proxy or CDN in front of the edge (CIDR or address; repeat for several): from these
    /// peers, Forwarded / X-Forwarded-For name the client in the session and licence logs.
    /// From anyone else those headers are ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_trusted_proxy)]
    trusted_proxies: Vec<IpNet>,
}

/// The ClearKey licence service (`POST /license`): on when `--master-key` is given.
#[derive(clap::Args)]
struct LicenceArgs {
    /// Master key file (any abmark 256-bit key, `abmark keygen`): content keys are kept sealed
    /// under it (AES-256-GCM) in the state store. Turns the licence service on, and needs
    /// --content: keys are imported for, and licensed only to, that content.
    #[arg(long, requires = "content")]
    master_key: Option<PathBuf>,
    /// Content keys to import (CPIX: the document `abmark package --cpix-out` wrote or the key
    /// service sent). Once imported they stay, sealed, in the state store.
    #[arg(long, requires = "master_key")]
    keys: Option<PathBuf>,
    /// Embedded state store (SQLite; created 0600).
    #[arg(long, default_value = "licence-state.db", conflicts_with = "redis")]
    state: PathBuf,
    /// Shared state store for several serve replicas (e.g. redis://127.0.0.1:6379/0). A URL
    /// with a password belongs in ABMARK_REDIS_URL: the command line is visible in `ps`.
    #[arg(long, env = "ABMARK_REDIS_URL", hide_env_values = true)]
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
    // Every input is read and checked before anything is created (logs, the state store), so a
    // refused start leaves nothing behind.
    let key = super::load_key(&args.key)?;
    let tls = args.tls.cert.load()?;
    let licence = match &args.licence.master_key {
        Some(master) => {
            // clap enforces `--content` with `--master-key`; this keeps a refactor from losing
            // it.
            let content = args.content.clone().context("--master-key needs --content")?;
            let master = abmark_files::keyfile::load_key(master).context("master key")?;
            let keys = args.licence.keys.as_deref().map(|p| keys_for(p, &content)).transpose()?;
            Some((master, content, keys))
        }
        None => None,
    };
    let options = ServeOptions {
        content: args.content.clone(),
        session_log: args.session_log.clone(),
        leeway: args.leeway,
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        origins: Arc::new(OriginPolicy::new(
            args.allow_origin.iter().flatten().cloned().collect(),
            args.no_origin,
        )),
        trusted_proxies: TrustedProxies::new(args.tls.trusted_proxies.clone()),
    };
    let player = args.player_js.as_deref().map(PlayerScript::load).transpose()?;
    let deny = args.watch.deny_list.as_deref().map(DenyListFile::open).transpose()?;
    let mut edge = Edge::open(&args.out, &key, options)?;
    if let Some(player) = player {
        edge = edge.with_player(player);
    }
    if let Some((master, content, keys)) = licence {
        let mut service = licence_service(&args.licence, &master, &key, content, keys)?;
        if let Some(deny) = &deny {
            service = service.with_deny_file(deny.clone());
        }
        edge = edge.with_licence(service);
    }
    if let Some(deny) = deny {
        deny.watch(DENY_POLL).context("deny list: cannot start its watcher")?;
        eprintln!("edge: deny list {}: {} subjects", deny.path().display(), deny.len());
        edge = edge.with_deny_list(deny);
    }
    if args.watch.live_rules {
        edge = edge.with_live_rules(LiveRuleOptions {
            ahead: args.watch.live_ahead,
            speed: args.watch.live_speed,
            block: Duration::from_secs(args.watch.live_block),
            sessions: args.watch.live_sessions as usize,
        });
    }
    // Last: a refused start leaves no empty access log behind.
    if let Some(path) = &args.watch.access_log {
        edge = edge.with_access_log(AccessLog::open(path)?);
    }
    // Everything the edge needs is derived: neither the watermark key nor the master key (dropped
    // above) stays in memory while it serves (both are wiped on drop).
    drop(key);
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: args.max_connections as usize,
    };
    super::run_service(&args.listen, tls.is_some(), |listener| async move {
        serve(edge, listener, limits, tls).await?;
        Ok(())
    })
}

/// The content keys of the CPIX document at `path`, which must not name other content.
fn keys_for(path: &Path, content: &ContentId) -> anyhow::Result<ImportedKeys> {
    let doc = load_cpix(path)?;
    // A CPIX that names its content must name this one: importing film-2's document under
    // --content film-1 would license film-2's keys to film-1's viewers.
    if let Some(named) = doc.content_id.as_deref().filter(|c| *c != content.as_str()) {
        anyhow::bail!(
            "{}: the CPIX document is for content {named:?}, not --content {content}",
            path.display()
        );
    }
    let keys = doc.keys.iter().map(|k| (k.kid, k.key)).collect();
    Ok(ImportedKeys { path: path.to_owned(), keys })
}

/// Keys read from `--keys`, to import once the store is open.
struct ImportedKeys {
    path: PathBuf,
    keys: Vec<(Kid, [u8; 16])>,
}

impl Drop for ImportedKeys {
    fn drop(&mut self) {
        for (_, key) in &mut self.keys {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

fn licence_service(
    args: &LicenceArgs,
    master: &WatermarkKey,
    key: &WatermarkKey,
    content: ContentId,
    keys: Option<ImportedKeys>,
) -> anyhow::Result<LicenceService> {
    let store: Arc<dyn LicenceStore> = match &args.redis {
        Some(url) => Arc::new(RedisStore::connect(url)?),
        None => {
            let store = SqliteStore::open(&args.state)?;
            let dropped = store.unbound_keys_dropped();
            if dropped > 0 {
                eprintln!(
                    "licence: {dropped} stored keys had no content id (written by an older \
                     abmark) and were dropped from {}; import them again with --content and \
                     --keys",
                    args.state.display()
                );
            }
            Arc::new(store)
        }
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
        content: content.clone(),
        licence_seconds: args.licence_seconds,
        max_streams: args.max_streams,
        allow_persistent: args.allow_persistent,
    };
    let log = JsonlAppender::open(&args.licence_log, "licence-log")
        .with_context(|| format!("{}", args.licence_log.display()))?;
    let service = LicenceService::new(
        LicenceKey::derive(key),
        Sealer::new(master),
        store,
        backend,
        policy,
        log,
    );
    if let Some(imported) = keys {
        let n = service.import_keys(&imported.keys)?;
        eprintln!(
            "licence: {n} content keys for {content} imported from {} (sealed)",
            imported.path.display()
        );
    }
    Ok(service)
}
