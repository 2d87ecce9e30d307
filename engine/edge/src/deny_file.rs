//! The deny-list file as the edge and the licence service hold it: parsed at start
//! ([`abmark_delivery::deny::DenyList`], the one format, which `abmark analytics --suspects`
//! writes), then re-read whenever the file changes, without a restart.
//!
//! A thread looks at the file's size, modification time, inode and change time every
//! [`POLL`] (a `stat`, no read); on a change it reads and parses the file and swaps the list in
//! whole, so the very next request sees the new one. Polling rather than inotify (`notify`):
//! one `stat` a second costs nothing, sees a rename over the file (how analytics and editors
//! write it) like an edit, and works the same on network file systems, where inotify does not.
//!
//! Failing closed: a file that does not parse, cannot be read or has been removed keeps the
//! previous list, and says so in one line on stderr naming the file (and the line); to clear
//! the list, empty the file. Only a file that parses replaces the list.
//!
//! May depend on: `abmark-delivery` (the format). Nothing of HTTP.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use abmark_delivery::deny::{DenyList, DenyListError};

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// The most bytes read from the file: [`abmark_delivery::deny::MAX_SUBJECTS`] subjects of
/// typical length with their comments fit; a runaway file is refused, not read into memory.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Why the file could not be (re)loaded. One line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DenyFileError {
    #[error("deny list {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("deny list {}: {source}", path.display())]
    Parse { path: PathBuf, source: DenyListError },
    #[error("deny list {}: larger than {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
}

/// What identifies one version of the file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    Ok(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        #[cfg(unix)]
        inode: (m.dev(), m.ino()),
        #[cfg(unix)]
        changed: (m.ctime(), m.ctime_nsec()),
    })
}

/// The list of a deny-list file, kept up to date with it.
pub struct DenyListFile {
    path: PathBuf,
    list: RwLock<Arc<DenyList>>,
    /// The version of the file the list was last read from (or last failed on, so a broken
    /// file is reported once, not every second).
    seen: std::sync::Mutex<Option<Stamp>>,
}

impl DenyListFile {
    /// Reads `path`, which must exist and parse (a typo in the path must not start an edge
    /// that denies nobody).
    pub fn open(path: &Path) -> Result<Arc<Self>, DenyFileError> {
        let before = stamp(path).ok();
        let list = read(path)?;
        Ok(Arc::new(Self {
            path: path.to_owned(),
            list: RwLock::new(Arc::new(list)),
            seen: std::sync::Mutex::new(before),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `subject` is on the list as last read.
    pub fn contains(&self, subject: &str) -> bool {
        // A poisoned lock only means a panic while swapping an Arc: the value is whole.
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        list.contains(subject)
    }

    /// Subjects on the list.
    pub fn len(&self) -> usize {
        self.list.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks at the file once and reloads it if it changed. `Ok(true)`: a new list is in
    /// place; `Ok(false)`: nothing changed; an error: the previous list stays (the error is
    /// returned once per version of the file).
    pub fn refresh(&self) -> Result<bool, DenyFileError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = match stamp(&self.path) {
            Ok(now) => now,
            Err(source) => {
                // Removed (or unreadable): reported once, until the file comes back.
                if seen.take().is_some() {
                    return Err(DenyFileError::Io { path: self.path.clone(), source });
                }
                return Ok(false);
            }
        };
        if *seen == Some(now) {
            return Ok(false);
        }
        *seen = Some(now);
        let list = read(&self.path)?;
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
        Ok(true)
    }

    /// Starts the thread that refreshes the list every `every`, reporting on stderr; it stops
    /// when the last holder of the list drops it.
    pub fn watch(self: &Arc<Self>, every: Duration) -> std::io::Result<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        std::thread::Builder::new().name("deny-list".into()).spawn(move || loop {
            std::thread::sleep(every);
            let Some(file) = weak.upgrade() else { return };
            match file.refresh() {
                Ok(true) => eprintln!(
                    "edge: deny list {} reloaded: {} subjects",
                    file.path.display(),
                    file.len()
                ),
                Ok(false) => {}
                Err(e) => eprintln!("edge: {e}; keeping the previous list ({})", file.len()),
            }
        })?;
        Ok(())
    }
}

fn read(path: &Path) -> Result<DenyList, DenyFileError> {
    let io = |source| DenyFileError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    use std::io::Read;
    let n = file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(io)?;
    if n as u64 > MAX_FILE_BYTES {
        return Err(DenyFileError::TooLarge { path: path.to_owned() });
    }
    DenyList::parse(&text).map_err(|source| DenyFileError::Parse { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` to `path` by rename, as analytics does.
    fn write(path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn reloads_on_change_and_keeps_the_list_on_a_bad_or_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deny.txt");
        write(&path, "# suspects\nalice\n");
        let file = DenyListFile::open(&path).unwrap();
        assert!(file.contains("alice") && !file.contains("bob"));
        assert!(!file.refresh().unwrap(), "unchanged");

        write(&path, "alice\nbob\n");
        assert!(file.refresh().unwrap());
        assert!(file.contains("bob"));

        write(&path, "carol\nbad\u{7}line\n");
        let e = file.refresh().unwrap_err().to_string();
        assert!(e.contains("deny.txt") && e.contains("line 2"), "{e}");
        assert!(file.contains("bob") && !file.contains("carol"), "previous list kept");
        assert!(!file.refresh().unwrap(), "a broken version is reported once");

        std::fs::remove_file(&path).unwrap();
        assert!(file.refresh().is_err());
        assert!(!file.refresh().unwrap());
        assert!(file.contains("bob"), "a removed file keeps the list");

        write(&path, "");
        assert!(file.refresh().unwrap());
        assert!(file.is_empty(), "an empty file clears it");
    }

    #[test]
    fn a_missing_or_broken_file_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.txt");
        let error = |p: &Path| DenyListFile::open(p).err().expect("refused").to_string();
        assert!(error(&path).contains("none.txt"));
        write(&path, &"x".repeat(300));
        assert!(error(&path).contains("line 1"));
    }
}
