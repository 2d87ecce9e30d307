//! The customer's authorization backend: for every licence request the service asks it whether
//! this viewer may watch this content, and only a `200` lets a key leave. `403` is a refusal;
//! anything else — another status, a redirect, a timeout, a connection error — is a refusal too
//! (fail closed), reported with its cause. Redirects are never followed: a backend that
//! answers 302 to a login page (which answers 200) has not said yes.
//!
//! The call: `POST <url>` with `Content-Type: application/json` and
//! `{"token": "<the viewer's licence token>", "content_id": "…", "subject": "…", "session": N}`,
//! and the token also as `Authorization: Bearer`, so a backend may validate it or look the
//! viewer up.

use std::time::Duration;

use abmark_delivery::ids::{ContentId, SessionId};

/// What the backend said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// The reason, for the licence log (status or error), never the token.
    Deny(String),
}

/// A configured backend.
#[derive(Clone)]
pub struct AuthBackend {
    url: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for AuthBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthBackend({})", self.url)
    }
}

impl AuthBackend {
    /// A backend at `url`, with `timeout` for the whole exchange.
    pub fn new(url: &str, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Self { url: url.to_owned(), agent: ureq::Agent::new_with_config(config) }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the backend (blocking: call from a blocking task).
    pub fn ask(
        &self,
        token: &str,
        content: &ContentId,
        subject: &str,
        session: SessionId,
    ) -> Verdict {
        let body = serde_json::json!({
            "token": token, "content_id": content.as_str(), "subject": subject, "session": session,
        })
        .to_string();
        let response = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(&body);
        match response {
            Ok(r) if r.status() == 200 => Verdict::Allow,
            Ok(r) if r.status() == 403 => {
                Verdict::Deny("authorization backend denied (403)".into())
            }
            Ok(r) if r.status().is_redirection() => Verdict::Deny(format!(
                "authorization backend answered {} (a redirect is a refusal)",
                r.status().as_u16()
            )),
            Ok(r) => Verdict::Deny(format!(
                "authorization backend answered {} (fail closed)",
                r.status().as_u16()
            )),
            Err(e) => Verdict::Deny(format!(
                "authorization backend unreachable: {} (fail closed)",
                kind(&e)
            )),
        }
    }
}

/// The error's kind without URLs or bodies that could carry the token.
fn kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timeout",
        ureq::Error::Io(_) => "connection failed",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::ConnectionFailed => "connection failed",
        _ => "error",
    }
}
