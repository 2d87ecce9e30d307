//! Small file helper of the packager and decrypter: copying the flat sidecar directories.

use std::path::Path;

use crate::error::CencError;

/// Copies a flat directory of small files (WMPaceInfo sidecars), if it exists.
pub(crate) fn copy_flat(from: &Path, to: &Path) -> Result<(), CencError> {
    let Ok(entries) = std::fs::read_dir(from) else { return Ok(()) };
    std::fs::create_dir_all(to).map_err(|e| CencError::io(to, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CencError::io(from, e))?;
        let target = to.join(entry.file_name());
        let bytes = read_regular(&entry.path())?;
        std::fs::write(&target, bytes).map_err(|e| CencError::io(&target, e))?;
    }
    Ok(())
}

/// Reads a file of an input directory that may not be ours (`decrypt` of a packaged output
/// someone sent): only a regular file is read. A symlink, which could point at any file the
/// user can read and so copy it into the output, is refused.
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>, CencError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| CencError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(CencError::input(path, "not a regular file (a symlink or a directory)"));
    }
    std::fs::read(path).map_err(|e| CencError::io(path, e))
}
