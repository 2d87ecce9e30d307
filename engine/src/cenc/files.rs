//! Small file helpers of the packager and decrypter: copying the flat sidecar directories, and
//! writing a file through a temporary sibling and a rename so no half-written file is left.

use std::path::Path;

use super::error::CencError;

/// Copies a flat directory of small files (WMPaceInfo sidecars), if it exists.
pub(crate) fn copy_flat(from: &Path, to: &Path) -> Result<(), CencError> {
    let Ok(entries) = std::fs::read_dir(from) else { return Ok(()) };
    std::fs::create_dir_all(to).map_err(|e| CencError::io(to, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CencError::io(from, e))?;
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).map_err(|e| CencError::io(&target, e))?;
    }
    Ok(())
}

/// Writes a file through a temporary sibling and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<(), CencError> {
    if path.exists() && !force {
        return Err(CencError::input(path, "exists (use --force to replace it)"));
    }
    let tmp = path.with_file_name(format!(
        ".{}.partial-{}",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| CencError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CencError::io(path, e)
    })
}
