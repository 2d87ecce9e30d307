//! `mix`: the exact stream one viewer receives, as a single MP4 file.
//!
//! The edge gives each viewer segment `i` of a rendition from variant `choices[i]`. This module
//! assembles those same segment files — the init segment, then every chosen media segment — into
//! one video track, does the same for the shared audio, and stream-copies both into an MP4. No
//! frame is decoded or re-encoded, so the file holds the viewer's coded pictures bit for bit:
//! what tests, the evaluation and demos attack and detect.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{remux, MediaError};
use abmark_delivery::layout::{JobFile, LayoutError};
use abmark_delivery::manifest::PathScheme;
use abmark_files::output::TempFile;
use abmark_wm::payload::Codeword;

/// What [`mix`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MixSummary {
    pub rendition: String,
    pub segments: usize,
    /// How many segments came from variant 0 and from variant 1.
    pub from_variant: [usize; 2],
    pub with_audio: bool,
}

/// Why a mix failed. One line each; nothing is left at the destination.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Output(#[from] abmark_files::output::OutputError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{got} variant choices for {expected} segments")]
    ChoiceCount { expected: usize, got: usize },
    #[error("variant {0} does not exist (0 or 1)")]
    BadVariant(u8),
}

/// Writes to `dest` the stream of rendition `rendition` (the largest when `None`) of the
/// variants output `out` whose segment `i` comes from variant `choices[i]`.
pub fn mix(
    out: &Path,
    job: &JobFile,
    rendition: Option<&str>,
    choices: &[u8],
    dest: &Path,
) -> Result<MixSummary, MixError> {
    let rendition = job.rendition(rendition)?.id.clone();
    if choices.len() != job.segment_count {
        return Err(MixError::ChoiceCount { expected: job.segment_count, got: choices.len() });
    }
    if let Some(&bad) = choices.iter().find(|&&c| c > 1) {
        return Err(MixError::BadVariant(bad));
    }
    let scheme = PathScheme::variant_dirs();
    let video_files: Vec<PathBuf> = std::iter::once(scheme.video_init(0, &rendition))
        .chain(choices.iter().enumerate().map(|(i, &v)| scheme.video_segment(v, &rendition, i)))
        .map(|p| out.join(p))
        .collect();
    let video = TempFile::tagged(dest, "video")?;
    concatenate(&video_files, video.path())?;

    let audio = match job.audio() {
        Some(a) => {
            let files: Vec<PathBuf> = std::iter::once(scheme.audio_init("audio"))
                .chain((0..a.segments.len()).map(|i| scheme.audio_segment("audio", i)))
                .map(|p| out.join(p))
                .collect();
            let scratch = TempFile::tagged(dest, "audio")?;
            concatenate(&files, scratch.path())?;
            Some(scratch)
        }
        None => None,
    };
    let mut inputs = vec![video.path()];
    if let Some(a) = &audio {
        inputs.push(a.path());
    }
    remux(&inputs, dest)?;
    let ones = choices.iter().filter(|&&c| c == 1).count();
    Ok(MixSummary {
        rendition,
        segments: choices.len(),
        from_variant: [choices.len() - ones, ones],
        with_audio: audio.is_some(),
    })
}

/// The variant of every segment for a session: its codeword's bit at each segment's WMPaceInfo
/// position (`None`, not watermarked: variant 0). The same rule the edge applies.
pub fn session_choices(positions: &[Option<u16>], codeword: &Codeword) -> Vec<u8> {
    positions.iter().map(|p| p.map_or(0, |p| codeword.bit(usize::from(p)))).collect()
}

/// Appends `files` into one new file at `to` (a fragmented MP4: init segment, then fragments).
fn concatenate(files: &[PathBuf], to: &Path) -> Result<(), MixError> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(to).map_err(io(to))?);
    for f in files {
        let bytes = std::fs::read(f).map_err(io(f))?;
        w.write_all(&bytes).map_err(io(to))?;
    }
    w.flush().map_err(io(to))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> MixError + '_ {
    move |source| MixError::Io { path: path.to_owned(), source }
}
