//! `job.json` from a directory abmark did not write (`decrypt`, `serve`, `package` of someone
//! else's output): any bytes to `JobFile::parse`. An accepted job names only the layout's own
//! paths, so no reader or writer is led outside the directory.
#![no_main]

use abmark_delivery::layout::{is_safe_name, JobFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(job) = JobFile::parse(data, std::path::Path::new("job.json")) else { return };
    assert!(job.renditions.iter().all(|r| is_safe_name(&r.id)));
    for o in &job.outputs {
        assert!(!o.path.contains("..") && !o.path.starts_with('/'), "{:?}", o.path);
    }
});
