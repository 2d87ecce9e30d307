//! The service's configuration file (TOML): the catalogue of titles a copy may be checked
//! against and the service's limits. Relative paths are taken from the file's directory.
//!
//! ```toml
//! [service]                        # optional; defaults shown
//! max_upload_mb = 4096             # larger copies get 413
//! queue_limit = 32                 # jobs queued or running at once; beyond: 429
//! retention_hours = 720            # finished jobs (copy, report, plot) are removed after this
//! job_timeout_minutes = 120        # a detection running longer is stopped and fails
//! job_memory_mb = 8192             # address space of one detection; beyond it the job fails
//!
//! [[content]]
//! id = "film-1"                    # the ?content= of a submission
//! variants = "out/film-1"          # the variants output (abmark variants -o)
//! key = "keys/film-1.key"          # the watermark key file
//! source = "mezzanine/film-1.mp4"  # optional: the unmarked source, if job.json's path is gone
//! sessions = ["logs/sessions.jsonl"]   # optional: session logs of abmark serve
//! licences = ["logs/licences.jsonl"]   # optional: licence logs
//! candidates = "suspects.txt"      # optional: limit the logs' sessions to these subjects
//! alpha = 0.001                    # optional: detect --alpha
//! ```
//!
//! Everything a job needs is checked when the service starts (files exist, ids are valid and
//! unique, the subject list parses), so a typo fails the start in one line, not a job later.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abmark_delivery::deny::DenyList;
use abmark_delivery::ids::ContentId;
use serde::Deserialize;

/// Why the configuration cannot be used. One line, naming the file and the entry.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: content {id:?}: {message}", path.display())]
    Content { path: PathBuf, id: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Limits,
    #[serde(default)]
    content: Vec<ContentFile>,
}

/// The smallest `job_memory_mb` accepted.
pub const MIN_JOB_MEMORY_MB: u64 = 256;

/// The service's limits (`[service]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_upload_mb: u64,
    pub queue_limit: u64,
    pub retention_hours: f64,
    pub job_timeout_minutes: f64,
    /// The detector child's address-space limit (`RLIMIT_AS`), MiB: a copy made to exhaust
    /// memory fails its job instead of pushing the machine into swap or the OOM killer.
    pub job_memory_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_mb: 4096,
            queue_limit: 32,
            retention_hours: 720.0,
            job_timeout_minutes: 120.0,
            job_memory_mb: 8192,
        }
    }
}

impl Limits {
    pub fn job_memory_bytes(&self) -> u64 {
        self.job_memory_mb.saturating_mul(1 << 20)
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb.saturating_mul(1 << 20)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentFile {
    id: String,
    variants: PathBuf,
    key: PathBuf,
    source: Option<PathBuf>,
    #[serde(default)]
    sessions: Vec<PathBuf>,
    #[serde(default)]
    licences: Vec<PathBuf>,
    candidates: Option<PathBuf>,
    alpha: Option<f64>,
}

/// One title: what `abmark detect` is run with for its copies.
#[derive(Clone, Debug)]
pub struct Content {
    pub id: ContentId,
    pub variants: PathBuf,
    pub key: PathBuf,
    pub source: Option<PathBuf>,
    pub sessions: Vec<PathBuf>,
    pub licences: Vec<PathBuf>,
    pub candidates: Option<PathBuf>,
    pub alpha: Option<f64>,
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub limits: Limits,
    pub content: BTreeMap<String, Content>,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| match e {
            Invalid::Parse(message) => ConfigError::Parse { path: path.to_owned(), message },
            Invalid::Content(id, message) => {
                ConfigError::Content { path: path.to_owned(), id, message }
            }
        })
    }

    fn parse(text: &str, base: &Path) -> Result<Self, Invalid> {
        let file: File =
            toml::from_str(text).map_err(|e| Invalid::Parse(e.message().replace('\n', " ")))?;
        let l = &file.service;
        if l.queue_limit == 0 || l.max_upload_mb == 0 {
            return Err(Invalid::Parse(
                "[service]: queue_limit and max_upload_mb must be > 0".into(),
            ));
        }
        if l.job_memory_mb < MIN_JOB_MEMORY_MB {
            return Err(Invalid::Parse(format!(
                "[service]: job_memory_mb must be at least {MIN_JOB_MEMORY_MB} (the detector's \
                 libraries alone map about 100 MiB)"
            )));
        }
        for (name, v) in
            [("retention_hours", l.retention_hours), ("job_timeout_minutes", l.job_timeout_minutes)]
        {
            if !(v.is_finite() && v > 0.0) {
                return Err(Invalid::Parse(format!("[service]: {name} must be a positive number")));
            }
        }
        let mut content = BTreeMap::new();
        for c in file.content {
            let bad = |m: String| Invalid::Content(c.id.clone(), m);
            let id = ContentId::new(&c.id).map_err(|e| bad(e.to_string()))?;
            let at = |p: &Path| base.join(p);
            let variants = at(&c.variants);
            if !variants.join("job.json").is_file() {
                return Err(bad(format!(
                    "{} is not a variants output (no job.json)",
                    variants.display()
                )));
            }
            let key = at(&c.key);
            let source = c.source.as_deref().map(at);
            let sessions: Vec<PathBuf> = c.sessions.iter().map(|p| at(p)).collect();
            let licences: Vec<PathBuf> = c.licences.iter().map(|p| at(p)).collect();
            let candidates = c.candidates.as_deref().map(at);
            for file in [Some(&key), source.as_ref(), candidates.as_ref()]
                .into_iter()
                .flatten()
                .chain(&sessions)
                .chain(&licences)
            {
                if !file.is_file() {
                    return Err(bad(format!("{}: no such file", file.display())));
                }
            }
            if let Some(list) = &candidates {
                let text = std::fs::read_to_string(list)
                    .map_err(|e| bad(format!("{}: {e}", list.display())))?;
                DenyList::parse(&text).map_err(|e| bad(format!("{}: {e}", list.display())))?;
                if sessions.is_empty() && licences.is_empty() {
                    return Err(bad(
                        "candidates limits the logs' sessions: give sessions or licences".into(),
                    ));
                }
            }
            if c.alpha.is_some_and(|a| !(a.is_finite() && a > 0.0 && a < 1.0)) {
                return Err(bad("alpha must be between 0 and 1".into()));
            }
            let entry = Content {
                id,
                variants,
                key,
                source,
                sessions,
                licences,
                candidates,
                alpha: c.alpha,
            };
            if content.insert(c.id.clone(), entry).is_some() {
                return Err(bad("listed twice".into()));
            }
        }
        if content.is_empty() {
            return Err(Invalid::Parse(
                "no [[content]] table: the service has nothing to check copies against".into(),
            ));
        }
        Ok(Self { limits: file.service, content })
    }
}

enum Invalid {
    Parse(String),
    Content(String, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("out")).unwrap();
        std::fs::write(d.join("out/job.json"), "{}").unwrap();
        std::fs::write(d.join("wm.key"), "k").unwrap();
        std::fs::write(d.join("s.jsonl"), "").unwrap();
        std::fs::write(d.join("suspects.txt"), "# x\nalice\n").unwrap();
        let good = "[service]\nqueue_limit = 2\n[[content]]\nid = \"film-1\"\nvariants = \"out\"\n\
                    key = \"wm.key\"\nsessions = [\"s.jsonl\"]\ncandidates = \"suspects.txt\"\n";
        let c = Config::parse(good, d).ok().unwrap();
        assert_eq!(c.limits.queue_limit, 2);
        assert_eq!(c.content["film-1"].sessions, [d.join("s.jsonl")]);
        let cases = [
            (good.replace("wm.key", "nokey"), "nokey: no such file"),
            (good.replace("\"out\"", "\"s.jsonl\""), "not a variants output"),
            (good.replace("sessions = [\"s.jsonl\"]\n", ""), "give sessions or licences"),
            (format!("{good}{}", &good[good.find("[[content]]").unwrap()..]), "listed twice"),
            (good.replace("queue_limit", "queue_limt"), "unknown field"),
            ("".to_owned(), "no [[content]]"),
        ];
        for (text, expected) in cases {
            let e = match Config::parse(&text, d) {
                Ok(_) => panic!("accepted: {text}"),
                Err(Invalid::Parse(m)) | Err(Invalid::Content(_, m)) => m,
            };
            assert!(e.contains(expected), "{e} / {expected}");
        }
    }
}
