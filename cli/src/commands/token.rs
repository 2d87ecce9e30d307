use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use abmark_delivery::ids::{ContentId, SessionId};
use abmark_delivery::sessions::TokenMode;
use abmark_edge::licence::clearkey::SessionType;
use abmark_edge::licence::token::{self as licence, LicenceKey, DEFAULT_TTL_SECONDS};
use abmark_edge::origin::SiteList;
use abmark_edge::serve::viewer::SESSION_CODE_KEY_VERSION;
use abmark_edge::token::{
    mint, TokenFormat, TokenKeys, WmClaims, WmPattern, ABMARK_VENDOR, WM_VERSION,
};
use abmark_wm::key::WatermarkKey;
use abmark_wm::payload::{SessionCoder, CODE_BITS};
use anyhow::Context;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// CBOR Web Token (RFC 8392), base64url: the form ETSI TS 104 002 specifies.
    Cwt,
    /// JSON Web Token (HS256) with the same claims.
    Jwt,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Mode {
    /// The token carries the viewer's pattern, encrypted (COSE_Encrypt0, A256GCM).
    Direct,
    /// The token carries the session index (`wmid`); the edge derives the pattern.
    Indirect,
}

#[derive(clap::Args)]
pub struct Args {
    /// Watermark key file (the token keys are derived from it).
    #[arg(long)]
    key: PathBuf,
    /// Session index: what detection recovers from a leaked copy.
    #[arg(long)]
    session: SessionId,
    /// Who the session is for (the `sub` claim; written to the session log).
    #[arg(long)]
    subject: Option<String>,
    /// `iss` of a WM token: who minted it (an edge started with --issuer checks it).
    #[arg(long, conflicts_with = "licence")]
    issuer: Option<String>,
    /// `aud` of a WM token: the edge it is meant for (an edge started with --audience checks
    /// it).
    #[arg(long, conflicts_with = "licence")]
    audience: Option<String>,
    /// Content id the token is valid for (`serve --content` checks it): 1 to 128 printable
    /// ASCII characters, no spaces.
    #[arg(long)]
    content: Option<ContentId>,
    /// The sites whose pages may use the token: origin patterns, comma-separated
    /// (`https://watch.example.com,https://*.example.net`). The edge refuses the token's
    /// manifests and licences to pages elsewhere, even on sites its --allow-origin allows.
    #[arg(long = "origin", value_name = "ORIGINS")]
    origins: Option<SiteList>,
    /// Lifetime in seconds (default: 3600 for a WM token, 600 for a licence token).
    #[arg(long)]
    ttl: Option<u64>,
    /// Mint a licence token instead (for `POST /license`: bound to --subject, --content and
    /// --session, HMAC-signed, short-lived).
    #[arg(long, requires_all = ["subject", "content"])]
    licence: bool,
    /// With --licence: allow persistent-license sessions (if the server allows them too).
    #[arg(long, requires = "licence")]
    persistent: bool,
    #[arg(long, value_enum, default_value = "cwt")]
    format: Format,
    #[arg(long, value_enum, default_value = "direct")]
    mode: Mode,
    /// Print the token with its claims as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).context("system clock")?.as_secs();
    if args.licence {
        return licence_token(&args, &key, now);
    }
    let ttl = args.ttl.unwrap_or(3600);
    let coder = SessionCoder::new(&key)?;
    let pattern = match args.mode {
        Mode::Direct => WmPattern::Direct {
            bytes: coder.encode(args.session.index()).to_bytes().to_vec(),
            bits: CODE_BITS as u16,
        },
        Mode::Indirect => WmPattern::Indirect {
            wmid: args.session.to_string(),
            opid: 0,
            keyver: SESSION_CODE_KEY_VERSION,
            bits: CODE_BITS as u16,
        },
    };
    let claims = WmClaims {
        version: WM_VERSION,
        vendor: ABMARK_VENDOR,
        segment_duration: None,
        pattern,
        issuer: args.issuer.clone(),
        subject: args.subject.clone(),
        audience: args.audience.clone(),
        session: Some(args.session),
        content: args.content.clone(),
        origins: args.origins.clone(),
        issued_at: now,
        not_before: None,
        expires_at: now.checked_add(ttl).context("--ttl is too large")?,
        token_id: None,
    };
    let format = match args.format {
        Format::Cwt => TokenFormat::Cwt,
        Format::Jwt => TokenFormat::Jwt,
    };
    let token = mint(&TokenKeys::derive(&key), &claims, format)?;
    if args.json {
        return super::print_json(&serde_json::json!({
            "token": token,
            "session": args.session,
            "subject": args.subject,
            "content": args.content,
            "origins": args.origins,
            "issued_at": claims.issued_at,
            "expires_at": claims.expires_at,
            "format": match args.format { Format::Cwt => "cwt", Format::Jwt => "jwt" },
            "mode": match args.mode { Mode::Direct => TokenMode::Direct, Mode::Indirect => TokenMode::Indirect },
        }));
    }
    println!("{token}");
    Ok(())
}

fn licence_token(args: &Args, key: &WatermarkKey, now: u64) -> anyhow::Result<()> {
    let ttl = args.ttl.unwrap_or(DEFAULT_TTL_SECONDS);
    let subject = args.subject.as_deref().unwrap_or_default();
    // clap requires --content with --licence.
    let content = args.content.as_ref().context("--licence needs --content")?;
    let lic = args.persistent.then_some(SessionType::PersistentLicense);
    let mut claims = licence::claims(subject, content, args.session, lic, now, ttl)?;
    claims.org = args.origins.clone();
    let token = licence::sign(&LicenceKey::derive(key), &claims)?;
    if args.json {
        return super::print_json(&serde_json::json!({
            "token": token,
            "kind": "licence",
            "session": args.session,
            "subject": subject,
            "content": content,
            "issued_at": now,
            "expires_at": now.saturating_add(ttl),
            "persistent": args.persistent,
            "origins": args.origins,
        }));
    }
    println!("{token}");
    Ok(())
}
