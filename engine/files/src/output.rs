//! All-or-nothing output. Everything abmark writes is built under a temporary sibling of its
//! destination (same directory, so the same file system and an atomic rename) and renamed into
//! place only when complete, so a failed or interrupted run never leaves something at OUT that
//! looks finished. This module owns the shapes of that rule: [`Staging`] for an output
//! directory, [`TempFile`] for a file another writer fills (FFmpeg's muxer, a concatenation),
//! and [`write_atomic`] / [`write_private`] for bytes already in memory (the latter for key
//! material: mode 0600). Stages wrap [`OutputError`] in their own error types.
//!
//! Temporary names start with a dot, so they are hidden from listings. Files are `tempfile`'s
//! (`.NAME.TAG-XXXXXX`, created exclusively, removed on drop unless persisted). A staging
//! directory is named `.OUT.partial-HOST-PID-XXXXXX` instead: the next run on the same host
//! removes those a dead process left behind — a variants output is gigabytes — and only the host
//! and PID tell an abandoned one from one a live run is still filling. The host matters because
//! OUT may be on a file system several machines share (a cluster's chunks): a PID says nothing
//! about another machine's processes, and in containers every job may be PID 1; the random
//! tail keeps two runs apart even then.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why an output could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The destination exists and the caller did not ask to replace it.
    #[error("{} exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// Creating, writing or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_owned(), source }
}

/// `.NAME.TAG-HOST-PID-` beside `out` (a random tail follows); `None` when `out` has no file
/// name (`/`, `..`).
fn sibling_prefix(out: &Path, tag: &str) -> Option<(PathBuf, String)> {
    let name = out.file_name()?.to_string_lossy();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Some((parent, format!(".{name}.{tag}-{}-{}-", host(), std::process::id())))
}

/// A fresh, empty directory `.NAME.TAG-HOST-PID-XXXXXX` beside `out`, made exclusively.
fn fresh_sibling_dir(out: &Path, tag: &str) -> Result<PathBuf, OutputError> {
    let (parent, prefix) = sibling_prefix(out, tag).ok_or_else(|| no_file_name(out))?;
    let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent).map_err(io(&parent))?;
    Ok(dir.keep())
}

/// This machine's name as a file-name part (`-` and `/` replaced), or `localhost`.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

fn no_file_name(out: &Path) -> OutputError {
    OutputError::Io {
        path: out.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    }
}

/// An output directory while it is being built.
///
/// A failed or interrupted run leaves at most a `.OUT.partial-HOST-PID-XXXXXX` directory; the
/// next [`Staging::begin`] for the same OUT on the same host removes those of dead processes. With `replace`, an
/// existing OUT is moved aside and deleted only after the new one is in place.
pub struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    replace: bool,
}

impl Staging {
    /// Creates the temporary directory for `out`; fails if `out` exists and `!replace`.
    pub fn begin(out: &Path, replace: bool) -> Result<Self, OutputError> {
        if out.exists() && !replace {
            return Err(OutputError::Exists(out.to_owned()));
        }
        remove_stale(out);
        let tmp = fresh_sibling_dir(out, "partial")?;
        Ok(Self { out: out.to_owned(), tmp, replace })
    }

    /// Where to build the output.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the finished directory to OUT (moving an old OUT aside first when replacing).
    pub fn commit(self) -> Result<(), OutputError> {
        let replaced = self.replace && self.out.exists();
        // An empty directory of a unique name, which the rename replaces.
        let old = if replaced { fresh_sibling_dir(&self.out, "old")? } else { PathBuf::new() };
        if replaced {
            std::fs::rename(&self.out, &old).map_err(io(&self.out))?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.out) {
            if replaced {
                let _ = std::fs::rename(&old, &self.out);
            }
            let _ = std::fs::remove_dir_all(&self.tmp);
            return Err(io(&self.out)(e));
        }
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }

    /// Removes the temporary directory (the run failed; OUT is untouched).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Removes `.NAME.partial-HOST-PID-XXXXXX` directories beside `out` that a process of this
/// host left behind (it is gone). Another host's are left alone: their PID says nothing here.
fn remove_stale(out: &Path) {
    let Some((parent, _)) = sibling_prefix(out, "partial") else { return };
    let Some(name) = out.file_name() else { return };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    let here = host();
    let Ok(entries) = std::fs::read_dir(&parent) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        // HOST-PID-RANDOM; the host has no '-' (see `host`).
        let mut parts = rest.splitn(3, '-');
        let (Some(host), Some(pid)) = (parts.next(), parts.next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if host == here && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A file while it is being written: removed on drop unless persisted.
pub struct TempFile {
    path: tempfile::TempPath,
}

impl TempFile {
    /// A fresh, empty file beside `out` (unique, so threads and processes do not collide).
    pub fn beside(out: &Path) -> Result<Self, OutputError> {
        Self::tagged(out, "partial")
    }

    /// Like [`TempFile::beside`], with `tag` in the name to tell several scratch files apart.
    pub fn tagged(out: &Path, tag: &str) -> Result<Self, OutputError> {
        let file = temp_beside(out, tag, Access::Default)?;
        Ok(Self { path: file.into_temp_path() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the finished file to `out`.
    pub fn persist(self, out: &Path) -> Result<(), OutputError> {
        self.path.persist(out).map_err(|e| io(out)(e.error))
    }
}

/// Who may read a file this module creates.
#[derive(Clone, Copy)]
enum Access {
    /// What `File::create` gives: 0666 less the umask.
    Default,
    /// The owner only (0600), whatever the umask: key material.
    Private,
}

/// An empty `.NAME.TAG-XXXXXX` beside `out`, created exclusively.
fn temp_beside(
    out: &Path,
    tag: &str,
    access: Access,
) -> Result<tempfile::NamedTempFile, OutputError> {
    let name = out.file_name().ok_or_else(|| no_file_name(out))?.to_string_lossy();
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{name}.{tag}-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match access {
            Access::Default => 0o666,
            Access::Private => 0o600,
        };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    builder.tempfile_in(dir).map_err(|e| io(out)(without_temp_name(e, dir)))
}

/// tempfile's error carries the random temporary name; the caller only ever named `out`, so
/// keep the reason alone: the directory's own error when it cannot be reached, else the kind.
fn without_temp_name(e: std::io::Error, dir: &Path) -> std::io::Error {
    match std::fs::metadata(dir) {
        Err(reason) => reason,
        Ok(_) => std::io::Error::from(e.kind()),
    }
}

/// Writes `bytes` to `path` through a temporary sibling; fails if `path` exists and `!replace`
/// (also when it appears while writing: the final link never replaces a file then).
pub fn write_atomic(path: &Path, bytes: &[u8], replace: bool) -> Result<(), OutputError> {
    write_new(path, bytes, replace, Access::Default)
}

/// [`write_atomic`] for key material: the file is the owner's alone (mode 0600) from its
/// creation on, and on disk before it takes the name `path`.
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<(), OutputError> {
    write_new(path, bytes, replace, Access::Private)
}

fn write_new(path: &Path, bytes: &[u8], replace: bool, access: Access) -> Result<(), OutputError> {
    if !replace && path.exists() {
        return Err(OutputError::Exists(path.to_owned()));
    }
    let mut temp = temp_beside(path, "partial", access)?;
    temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(io(path))?;
    let placed = if replace { temp.persist(path) } else { temp.persist_noclobber(path) };
    placed.map(drop).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => OutputError::Exists(path.to_owned()),
        _ => io(path)(e.error),
    })
}

/// `path` as the file system will resolve it once it exists: absolute, the symlinks of its
/// existing part followed, and `.` / `..` of the part still to be created applied. Two paths are
/// the same place iff their resolutions are equal; a path is inside a directory iff its
/// resolution starts with the directory's. (`std::path::absolute` keeps `..`, so
/// `out/variants/../pk/keys.xml` would not look inside `out/pk`.)
pub fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    // The longest existing ancestor, canonicalised; then the rest, lexically.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let base = loop {
        match existing.canonicalize() {
            Ok(base) => break base,
            Err(_) => {
                let Some(parent) = existing.parent() else { break PathBuf::from("/") };
                rest.push(existing.file_name().map(|n| n.to_owned()));
                existing = parent;
            }
        }
    };
    let mut out = base;
    for part in rest.into_iter().rev() {
        match part {
            Some(name) if name == "." => {}
            Some(name) => out.push(name),
            // `file_name` is None for a trailing `..`: go up.
            None => {
                out.pop();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolved_sees_through_dot_dot_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("variants")).unwrap();
        // `pk` does not exist yet: `..` is applied to the part still to be created.
        let sneaky = root.join("variants/../pk/0/keys.xml");
        assert_eq!(super::resolved(&sneaky).unwrap(), root.join("pk/0/keys.xml"));
        assert!(super::resolved(&sneaky)
            .unwrap()
            .starts_with(super::resolved(&root.join("pk")).unwrap()));
        let up = root.join("new/a/../../variants/./x");
        assert_eq!(super::resolved(&up).unwrap(), root.join("variants/x"));
        std::os::unix::fs::symlink(root.join("variants"), root.join("link")).unwrap();
        assert_eq!(super::resolved(&root.join("link/k.xml")).unwrap(), root.join("variants/k.xml"));
    }

    use super::*;

    fn dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("abmark-output-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn staging_is_all_or_nothing() {
        let d = dir("staging");
        let out = d.join("out");
        let s = Staging::begin(&out, false).unwrap();
        std::fs::write(s.path().join("a"), b"1").unwrap();
        assert!(!out.exists(), "nothing at OUT before commit");
        s.commit().unwrap();
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"1");
        assert!(matches!(Staging::begin(&out, false), Err(OutputError::Exists(_))));

        // Replacing: the old OUT stays until the new one is in place; a failed run leaves it.
        let s = Staging::begin(&out, true).unwrap();
        std::fs::write(s.path().join("b"), b"2").unwrap();
        s.abandon();
        assert_eq!(names(&out), ["a"]);
        let s = Staging::begin(&out, true).unwrap();
        std::fs::write(s.path().join("b"), b"2").unwrap();
        s.commit().unwrap();
        assert_eq!(names(&out), ["b"]);
        assert_eq!(names(&d), ["out"], "no temporary left beside OUT");
    }

    #[test]
    fn stale_partials_of_dead_processes_are_removed() {
        let d = dir("stale");
        // PID 0 never names a user process, so /proc/0 does not exist.
        let stale = d.join(format!(".out.partial-{}-0-a1b2c3", host()));
        // Another machine's (a shared file system): its PID means nothing here; it stays.
        let elsewhere = d.join(".out.partial-other_host-0-d4e5f6");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        let s = Staging::begin(&d.join("out"), false).unwrap();
        let tmp = s.path().file_name().unwrap().to_string_lossy().into_owned();
        let mine = format!(".out.partial-{}-{}-", host(), std::process::id());
        assert!(tmp.starts_with(&mine), "{tmp}");
        // Two runs of one process (or PID 1 in two containers) still get their own.
        let t = Staging::begin(&d.join("out"), false).unwrap();
        assert_ne!(s.path(), t.path());
        s.abandon();
        t.abandon();
        assert!(!stale.exists());
        assert!(elsewhere.exists());
    }

    #[test]
    fn temp_files_vanish_unless_persisted() {
        let d = dir("temp");
        let out = d.join("f.mp4");
        let t = TempFile::beside(&out).unwrap();
        std::fs::write(t.path(), b"x").unwrap();
        drop(t);
        assert!(names(&d).is_empty());
        let t = TempFile::tagged(&out, "video").unwrap();
        assert!(t.path().file_name().unwrap().to_string_lossy().starts_with(".f.mp4.video-"));
        std::fs::write(t.path(), b"y").unwrap();
        t.persist(&out).unwrap();
        assert_eq!(names(&d), ["f.mp4"]);

        write_atomic(&out, b"z", true).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"z");
        assert!(matches!(write_atomic(&out, b"w", false), Err(OutputError::Exists(_))));
        assert_eq!(std::fs::read(&out).unwrap(), b"z");
        assert!(matches!(TempFile::beside(Path::new("/")), Err(OutputError::Io { .. })));
        // A missing directory: the message names the destination, not the random temp name.
        let dir = tempfile::tempdir().unwrap();
        let nowhere = dir.path().join("no/such/out.bin");
        let e = TempFile::beside(&nowhere).err().unwrap();
        let text = e.to_string();
        assert!(text.starts_with(&format!("{}: ", nowhere.display())), "{text}");
        assert!(!text.contains("partial"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_public_ones_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir("private");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let key = d.join("keys.xml");
        write_private(&key, b"k", false).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(matches!(write_private(&key, b"x", false), Err(OutputError::Exists(_))));
        write_private(&key, b"k2", true).unwrap();
        assert_eq!((mode(&key), std::fs::read(&key).unwrap()), (0o600, b"k2".to_vec()));
        let plot = d.join("plot.svg");
        write_atomic(&plot, b"p", false).unwrap();
        let created = d.join("created");
        std::fs::write(&created, b"c").unwrap();
        assert_eq!(mode(&plot), mode(&created), "as if written in place");
        let t = TempFile::beside(&d.join("f.mp4")).unwrap();
        assert_eq!(mode(t.path()), mode(&created));
        drop(t);
        assert_eq!(names(&d), ["created", "keys.xml", "plot.svg"], "no temporary left");
    }
}
