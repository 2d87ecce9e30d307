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
        std::fs::copy(entry.path(), &target).map_err(|e| CencError::io(&target, e))?;
    }
    Ok(())
}
