//! The `abmark` exit status: one documented code per kind of failure, so a script or a crawler
//! can tell a bad flag from a damaged file from a busy port without parsing the message.
//!
//! Each engine crate has its own typed errors; this module is the one place that maps them to a
//! status, by walking the error chain and matching the types it knows. Codes follow the BSD
//! `sysexits.h` convention where one fits; `2` is kept for "detect ran and named nobody", as
//! documented before these codes existed.

use std::io::ErrorKind;
use std::process::ExitCode;

use abmark_analytics::read::ReadError;
use abmark_bmff::BmffError;
use abmark_cenc::CencError;
use abmark_delivery::layout::LayoutError;
use abmark_delivery::manifest::ManifestError;
use abmark_delivery::pace::PaceError;
use abmark_detect::symbols::SymbolsError;
use abmark_detect::DetectError;
use abmark_edge::licence::store::StoreError;
use abmark_edge::licence::LicenceError;
use abmark_edge::serve::ServeError;
use abmark_edge::token::TokenError;
use abmark_files::keyfile::KeyFileError;
use abmark_files::output::OutputError;
use abmark_media::mix::MixError;
use abmark_media::variants::{LadderError, VariantsError};
use abmark_media::MediaError;
use abmark_wm::payload::PayloadError;

/// What went wrong, as far as the exit status tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: the command did what it was asked (`detect`: a session is named).
    Success,
    /// 1: a failure none of the codes below describes (a bug, an encoder thread lost...).
    Failure,
    /// 2: `detect` ran to the end and named nobody; the message and `--json` say why.
    NamedNobody,
    /// 64: the command line is wrong (unknown flag, bad value, options that exclude each other).
    Usage,
    /// 65: an input is not what the command needs: corrupt, truncated, wrong codec, not a
    /// variants output, a CPIX or key file that does not parse, a key that does not fit.
    BadInput,
    /// 66: an input file is missing or cannot be opened.
    NoInput,
    /// 69: a service the command needs is unavailable (cannot listen, store unreachable).
    Unavailable,
    /// 73: the output cannot be created (it exists without `--force`, its folder is missing).
    CannotCreate,
    /// 74: reading or writing failed midway (disk full, I/O error).
    Io,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failure => 1,
            Status::NamedNobody => 2,
            Status::Usage => 64,
            Status::BadInput => 65,
            Status::NoInput => 66,
            Status::Unavailable => 69,
            Status::CannotCreate => 73,
            Status::Io => 74,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status.code())
    }
}

/// A command-line mistake found after parsing (a missing key source, options that exclude each
/// other): exit 64 like a flag clap refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The status for an error: the first error in the chain whose type says what happened.
pub fn status_of(err: &anyhow::Error) -> Status {
    err.chain().find_map(classify).unwrap_or(Status::Failure)
}

fn classify(e: &(dyn std::error::Error + 'static)) -> Option<Status> {
    if e.is::<UsageError>() {
        return Some(Status::Usage);
    }
    if let Some(e) = e.downcast_ref::<std::io::Error>() {
        return Some(io(e));
    }
    macro_rules! by_type {
        ($($ty:ty => $f:expr),* $(,)?) => {
            $(if let Some(e) = e.downcast_ref::<$ty>() { return Some($f(e)); })*
        };
    }
    by_type! {
        MediaError => media,
        VariantsError => variants,
        MixError => mix,
        LadderError => |_| Status::Usage,
        BmffError => |_| Status::BadInput,
        CencError => cenc,
        LayoutError => layout,
        ManifestError => |_| Status::BadInput,
        PaceError => |_| Status::BadInput,
        OutputError => output,
        KeyFileError => keyfile,
        DetectError => detect,
        SymbolsError => symbols,
        PayloadError => |_| Status::BadInput,
        ServeError => serve,
        LicenceError => |_| Status::Unavailable,
        StoreError => |_| Status::Unavailable,
        TokenError => |_| Status::Usage,
        ReadError => |e: &ReadError| match e {
            ReadError::Io { source, .. } => io(source),
            ReadError::BadLine { .. } => Status::BadInput,
        },
    }
    None
}

fn io(e: &std::io::Error) -> Status {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::PermissionDenied => Status::NoInput,
        ErrorKind::AlreadyExists => Status::CannotCreate,
        ErrorKind::InvalidData | ErrorKind::UnexpectedEof => Status::BadInput,
        _ => Status::Io,
    }
}

fn media(e: &MediaError) -> Status {
    use MediaError as M;
    match e {
        M::Open { path, .. } if !path.exists() => Status::NoInput,
        M::Open { .. }
        | M::NoVideoStream { .. }
        | M::BadStream { .. }
        | M::Decoder { .. }
        | M::Read { .. }
        | M::Truncated { .. }
        | M::Decode { .. }
        | M::Convert { .. }
        | M::NoFrames { .. }
        | M::Unsupported { .. } => Status::BadInput,
        M::NonUtf8Path { .. } | M::Settings { .. } => Status::Usage,
        M::Encoder { .. } | M::Callback { .. } => Status::Failure,
        M::Encode { .. } | M::Write { .. } => Status::Io,
        M::Io { error, .. } => io(error),
    }
}

fn variants(e: &VariantsError) -> Status {
    use VariantsError as V;
    match e {
        V::Media(m) => media(m),
        V::Cmaf(_) | V::UnsupportedAudio { .. } => Status::BadInput,
        V::Ladder(_) => Status::Usage,
        V::Io { source, .. } => io(source),
        V::Output(o) => output(o),
        V::Layout(l) => layout(l),
        V::Manifest(_) | V::Misaligned { .. } | V::Pace(_) | V::WorkerLost => Status::Failure,
        V::TooManyChunks { .. } => Status::Usage,
        V::NoChunks { .. } | V::ChunkMissing { .. } | V::ChunkUnfinished { .. } => Status::NoInput,
        V::FrameTiming { .. }
        | V::UnknownLength { .. }
        | V::ChunkMismatch { .. }
        | V::BadChunk { .. } => Status::BadInput,
        V::Assembled { .. } => Status::CannotCreate,
    }
}

fn mix(e: &MixError) -> Status {
    match e {
        MixError::Layout(l) => layout(l),
        MixError::Output(o) => output(o),
        MixError::Media(m) => media(m),
        MixError::Io { source, .. } => io(source),
        MixError::ChoiceCount { .. } | MixError::BadVariant(_) => Status::Usage,
    }
}

fn cenc(e: &CencError) -> Status {
    use CencError as C;
    match e {
        C::UnsupportedScheme(_) | C::BadKeyArgument(_) | C::UnknownDrm(_) | C::Usage(_) => {
            Status::Usage
        }
        C::Random(_) => Status::Failure,
        C::SubsampleMismatch { .. }
        | C::MissingKey { .. }
        | C::Input { .. }
        | C::Media { .. }
        | C::Cmaf(_)
        | C::Subsample(_)
        | C::Pssh(_)
        | C::Cpix(_) => Status::BadInput,
        C::Io { source, .. } => io(source),
        C::Output(o) => output(o),
        C::Layout(l) => layout(l),
    }
}

fn layout(e: &LayoutError) -> Status {
    match e {
        LayoutError::Io { source, .. } => io(source),
        LayoutError::BadOutput { .. } | LayoutError::Pace(_) | LayoutError::Manifest(_) => {
            Status::BadInput
        }
        LayoutError::UnknownRendition { .. } => Status::Usage,
    }
}

fn output(e: &OutputError) -> Status {
    match e {
        OutputError::Exists(_) => Status::CannotCreate,
        OutputError::Io { source, .. } if source.kind() == ErrorKind::NotFound => {
            Status::CannotCreate
        }
        OutputError::Io { source, .. } => io(source),
    }
}

fn keyfile(e: &KeyFileError) -> Status {
    match e {
        KeyFileError::Read { source, .. } => io(source),
        KeyFileError::WrongLength { .. } | KeyFileError::Exposed { .. } => Status::BadInput,
        KeyFileError::Exists { .. } => Status::CannotCreate,
        KeyFileError::Write { source, .. } => match source.kind() {
            ErrorKind::NotFound | ErrorKind::AlreadyExists => Status::CannotCreate,
            _ => Status::Io,
        },
    }
}

fn detect(e: &DetectError) -> Status {
    match e {
        DetectError::Media(m) => media(m),
        DetectError::Symbols(s) => symbols(s),
        DetectError::Payload(_) | DetectError::SessionLog { .. } => Status::BadInput,
        DetectError::Io { source, .. } => io(source),
        DetectError::Layout(l) => layout(l),
    }
}

fn symbols(e: &SymbolsError) -> Status {
    match e {
        SymbolsError::Media(m) => media(m),
        SymbolsError::Empty { .. } => Status::BadInput,
    }
}

fn serve(e: &ServeError) -> Status {
    match e {
        ServeError::Layout(l) => layout(l),
        ServeError::Payload(_) | ServeError::Pace(_) => Status::BadInput,
        ServeError::Io { source, .. } => io(source),
        ServeError::Listen { .. } => Status::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn status(e: impl std::error::Error + Send + Sync + 'static) -> Status {
        status_of(&anyhow::Error::new(e))
    }

    #[test]
    fn wrapped_errors_are_classified_by_their_innermost_known_type() {
        let missing = PathBuf::from("/nonexistent/abmark/clip.mp4");
        let gone = std::io::Error::from(ErrorKind::NotFound);
        let media = MediaError::Io { path: missing.clone(), error: gone };
        assert_eq!(status(VariantsError::Media(media)), Status::NoInput);
        let empty = MediaError::NoFrames { path: missing.clone() };
        assert_eq!(status(VariantsError::Media(empty)), Status::BadInput);
        let exists = OutputError::Exists(PathBuf::from("out"));
        assert_eq!(status(VariantsError::Output(exists)), Status::CannotCreate);
        let bad = LayoutError::BadOutput { path: missing, reason: "no job.json".into() };
        assert_eq!(status(CencError::Layout(bad)), Status::BadInput);
        assert_eq!(status(CencError::BadKeyArgument("KID".into())), Status::Usage);
    }

    #[test]
    fn context_does_not_hide_the_cause_and_unknown_errors_are_failures() {
        let err = anyhow::Error::new(UsageError("no keys".into())).context("package");
        assert_eq!(status_of(&err), Status::Usage);
        assert_eq!(status_of(&anyhow::anyhow!("something else")), Status::Failure);
        let io = std::io::Error::from(ErrorKind::NotFound);
        assert_eq!(status_of(&anyhow::Error::new(io).context("reading")), Status::NoInput);
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Status::Success,
            Status::Failure,
            Status::NamedNobody,
            Status::Usage,
            Status::BadInput,
            Status::NoInput,
            Status::Unavailable,
            Status::CannotCreate,
            Status::Io,
        ];
        let codes: std::collections::BTreeSet<u8> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
