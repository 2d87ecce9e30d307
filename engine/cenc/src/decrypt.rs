//! `abmark decrypt`: the way back for both schemes, used to check a packaging round trip and
//! by operators who must open what they (or another packager) encrypted. It reads
//!
//! - a packaged abmark output (a directory with `job.json`): every rendition of both variants
//!   and the audio, written back as a clear variants output;
//! - a directory of one track's `init*.mp4` and `*.m4s` segments (DASH packagers' layout);
//! - one fragmented MP4 file (header, then `moof`/`mdat` pairs), written back as one file.
//!
//! Keys are looked up by the KID of the `tenc` or of a fragment's `seig` group (rotation).

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use abmark_bmff::cmaf::header_len;
use abmark_delivery::layout::{manifests, JobFile};
use abmark_delivery::manifest::SegmentSource;
use abmark_files::output::Staging;

use crate::boxes::TrackEncryption;
use crate::error::CencError;
use crate::files::{copy_flat, read_regular};
use crate::init::clear_init;
use crate::keys::{ContentKey, Kid};
use crate::segment::decrypt_segment;
use abmark_files::output::write_atomic;

/// What a decryption run did.
#[derive(Debug, Clone, Serialize)]
pub struct DecryptReport {
    pub out: String,
    pub files: u64,
    pub bytes: u64,
}

/// Decrypts `input` (see the module doc for the three forms) into `out`.
pub fn decrypt(
    input: &Path,
    out: &Path,
    keys: &[ContentKey],
    force: bool,
) -> Result<DecryptReport, CencError> {
    let key_for = |kid: &Kid| keys.iter().find(|k| &k.kid == kid).cloned();
    if input.is_file() {
        let bytes = std::fs::read(input).map_err(|e| CencError::io(input, e))?;
        let clear = decrypt_file(&bytes, &key_for).map_err(|e| e.at(input))?;
        write_atomic(out, &clear, force)?;
        return Ok(DecryptReport {
            out: out.display().to_string(),
            files: 1,
            bytes: clear.len() as u64,
        });
    }
    if !input.is_dir() {
        return Err(CencError::input(input, "no such file or directory"));
    }
    let staging = Staging::begin(out, force)?;
    let result = if input.join("job.json").is_file() {
        decrypt_output(input, staging.path(), &key_for)
    } else {
        decrypt_track_dir(input, staging.path(), &key_for)
    };
    match result {
        Ok((files, bytes)) => {
            staging.commit()?;
            Ok(DecryptReport { out: out.display().to_string(), files, bytes })
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

type KeyLookup<'a> = dyn Fn(&Kid) -> Option<ContentKey> + Sync + 'a;

/// A whole fragmented MP4: clear header, then each `moof`+`mdat` (with whatever precedes it
/// since the last `mdat`) decrypted in turn.
pub fn decrypt_file(bytes: &[u8], key_for: &KeyLookup<'_>) -> Result<Vec<u8>, CencError> {
    let head = header_len(bytes);
    let (header, enc) = clear_init(&bytes[..head])?;
    let Some(enc) = enc else {
        return Err(CencError::Usage("not encrypted (no sinf in the sample entry)".into()));
    };
    let mut out = header;
    for piece in fragments(&bytes[head..])? {
        out.extend(decrypt_segment(piece, &enc, key_for)?);
    }
    Ok(out)
}

/// Slices of `bytes` that each end with one `mdat` after a `moof`.
fn fragments(bytes: &[u8]) -> Result<Vec<&[u8]>, CencError> {
    let boxes = abmark_bmff::boxes::read_boxes(bytes)?;
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut seen_moof = false;
    for b in boxes {
        let end = (b.offset() as usize) + b.size();
        match &b.kind().0 {
            b"moof" => seen_moof = true,
            b"mdat" if seen_moof => {
                out.push(&bytes[start..end]);
                start = end;
                seen_moof = false;
            }
            b"mfra" => start = end,
            _ => {}
        }
    }
    Ok(out)
}

/// A packaged abmark output back to a clear variants output.
fn decrypt_output(
    input: &Path,
    dir: &Path,
    key_for: &KeyLookup<'_>,
) -> Result<(u64, u64), CencError> {
    let mut job = JobFile::load(input).map_err(|e| CencError::input(input, e.to_string()))?;
    if job.protection.is_none() {
        return Err(CencError::input(input, "not packaged (job.json has no protection)"));
    }
    let (mut files, mut bytes) = (0, 0);
    for output in &mut job.outputs {
        let (from, to) = (input.join(&output.path), dir.join(&output.path));
        let sizes = decrypt_segments(&from, &to, "init.mp4", output.segments.len(), key_for)?;
        for (segment, size) in output.segments.iter_mut().zip(&sizes) {
            segment.bytes = *size;
        }
        files += sizes.len() as u64 + 1;
        bytes += sizes.iter().sum::<u64>();
        copy_flat(&from.join("WMPaceInfo"), &to.join("WMPaceInfo"))?;
    }
    job.protection = None;
    job.refresh_bitrates();
    job.write(dir)?;
    for (name, variant) in [("0", 0u8), ("1", 1u8)] {
        manifests::write(dir, &job, name, SegmentSource::Variant(variant))?;
    }
    Ok((files, bytes))
}

/// Decrypts `init` and `seg-1.m4s` … `seg-<count>.m4s` of one track directory.
fn decrypt_segments(
    from: &Path,
    to: &Path,
    init_name: &str,
    count: usize,
    key_for: &KeyLookup<'_>,
) -> Result<Vec<u64>, CencError> {
    std::fs::create_dir_all(to).map_err(|e| CencError::io(to, e))?;
    let enc = clear_header(&from.join(init_name), &to.join(init_name))?;
    (1..=count)
        .into_par_iter()
        .map(|n| {
            let name = format!("seg-{n}.m4s");
            decrypt_one(&from.join(&name), &to.join(&name), &enc, key_for)
        })
        .collect()
}

fn clear_header(from: &Path, to: &Path) -> Result<TrackEncryption, CencError> {
    let bytes = read_regular(from)?;
    let (clear, enc) = clear_init(&bytes).map_err(|e| e.at(from))?;
    let enc =
        enc.ok_or_else(|| CencError::input(from, "not encrypted (no sinf in the sample entry)"))?;
    std::fs::write(to, clear).map_err(|e| CencError::io(to, e))?;
    Ok(enc)
}

fn decrypt_one(
    from: &Path,
    to: &Path,
    enc: &TrackEncryption,
    key_for: &KeyLookup<'_>,
) -> Result<u64, CencError> {
    let bytes = read_regular(from)?;
    let clear = decrypt_segment(&bytes, enc, key_for).map_err(|e| e.at(from))?;
    std::fs::write(to, &clear).map_err(|e| CencError::io(to, e))?;
    Ok(clear.len() as u64)
}

/// One track's `init*.mp4` and every `*.m4s` next to it (any names).
fn decrypt_track_dir(
    input: &Path,
    dir: &Path,
    key_for: &KeyLookup<'_>,
) -> Result<(u64, u64), CencError> {
    let mut inits = Vec::new();
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(input).map_err(|e| CencError::io(input, e))? {
        let path = entry.map_err(|e| CencError::io(input, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with("init") && name.ends_with(".mp4") {
            inits.push(path);
        } else if name.ends_with(".m4s") {
            segments.push(path);
        }
    }
    let [init] = inits.as_slice() else {
        return Err(CencError::input(
            input,
            format!("expected one init*.mp4, found {}", inits.len()),
        ));
    };
    let name = init.file_name().unwrap_or_default();
    let enc = clear_header(init, &dir.join(name))?;
    let sizes: Vec<u64> = segments
        .par_iter()
        .map(|p| decrypt_one(p, &dir.join(p.file_name().unwrap_or_default()), &enc, key_for))
        .collect::<Result<_, _>>()?;
    Ok((sizes.len() as u64 + 1, sizes.iter().sum()))
}
