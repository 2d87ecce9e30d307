//! All-or-nothing output: build in a temporary sibling of OUT, rename it into place at the end.
//!
//! A failed or interrupted run leaves at most a `.OUT.partial-PID` directory (never something
//! named OUT that looks complete); the next run removes stale partial directories of dead
//! processes. With `--force` an existing OUT is moved aside and deleted only after the new one
//! is in place.

use std::path::{Path, PathBuf};

use super::VariantsError;

pub struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    force: bool,
}

impl Staging {
    pub fn begin(out: &Path, force: bool) -> Result<Self, VariantsError> {
        if out.exists() && !force {
            return Err(VariantsError::Exists(out.to_owned()));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_stale(&parent, &name);
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| VariantsError::io(&tmp, e))?;
        Ok(Self { out: out.to_owned(), tmp, force })
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn commit(self) -> Result<(), VariantsError> {
        let old = self.out.with_file_name(format!(
            ".{}.old-{}",
            self.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        let replaced = self.force && self.out.exists();
        if replaced {
            std::fs::rename(&self.out, &old).map_err(|e| VariantsError::io(&self.out, e))?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.out) {
            if replaced {
                let _ = std::fs::rename(&old, &self.out);
            }
            let _ = std::fs::remove_dir_all(&self.tmp);
            return Err(VariantsError::io(&self.out, e));
        }
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }

    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Removes `.NAME.partial-PID` directories whose process is gone (an interrupted earlier run).
fn remove_stale(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
