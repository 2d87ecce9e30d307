//! `package --cpix-url`: asks a CPIX key service for the keys of a packaging run. The request
//! and the check of the answer are `abmark_cenc::exchange`'s; this file only carries them over
//! HTTP (SPEKE v2.0 headers, bearer API key from the environment) and turns a refusal into one
//! line with the status and the service's reason.

use std::time::Duration;

use abmark_cenc::cpix::{read_cpix, write_cpix_request, CpixDocument};
use abmark_cenc::exchange::{check_answer, key_request};
use abmark_cenc::{Drm, Scheme};
use anyhow::{bail, Context};

use crate::exit::UsageError;

/// The environment variable the API key comes from.
pub const API_KEY_ENV: &str = "ABMARK_CPIX_API_KEY";
/// Longest answer read: a CPIX answer for hundreds of rotated keys is well below this.
const MAX_ANSWER_BYTES: u64 = 16 << 20;
/// The whole exchange, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Fetches keys for `content_id` (a video and an audio key, per key period when `periods`)
/// from the key service at `url`, and checks that every KID asked for came back.
pub fn fetch_keys(
    url: &str,
    content_id: &str,
    scheme: Scheme,
    systems: &[Drm],
    periods: Option<usize>,
) -> anyhow::Result<CpixDocument> {
    let api_key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.trim().is_empty());
    let Some(api_key) = api_key.map(zeroize::Zeroizing::new) else {
        bail!(UsageError(format!("--cpix-url needs the key service's API key in {API_KEY_ENV}")));
    };
    // Shown in errors without its query string (which could carry a credential).
    let shown = url.split(['?', '#']).next().unwrap_or_default();
    let request = key_request(content_id, scheme, systems, periods)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {}", api_key.trim()))
        .header("Content-Type", "application/xml")
        .header("X-Speke-Version", "2.0")
        .send(write_cpix_request(&request))
        .with_context(|| format!("key service {shown}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .with_context(|| format!("key service {shown}: HTTP {status}: reading the answer"))?;
    if status != 200 {
        let reason: String = body.lines().next().unwrap_or("").chars().take(200).collect();
        bail!("key service {shown}: HTTP {status}: {reason}");
    }
    let doc = read_cpix(&body).with_context(|| format!("key service {shown}: answer"))?;
    check_answer(&request, &doc).with_context(|| format!("key service {shown}"))?;
    Ok(doc)
}
