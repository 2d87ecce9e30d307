//! Common Encryption (ISO/IEC 23001-7): the packager that encrypts abmark's CMAF outputs with
//! `cenc` (AES-CTR) or `cbcs` (AES-CBC pattern) and signals Widevine, PlayReady, FairPlay and
//! W3C ClearKey; the decrypter that undoes it; and the CPIX key exchange with key services.
//!
//! Owns: keys and the key plan (`keys`, `plan`: `--key`, CPIX, generated, rotation), the
//! H.264 subsample map (`slice_header`, `subsample`: NAL headers and slice headers stay clear),
//! the ciphers over a sample (`crypt`, RustCrypto AES), the boxes (`boxes`: `sinf`/`tenc`,
//! `senc`/`saiz`/`saio`; `rotation`: `seig` groups), PSSH data per DRM system (`pssh`, `drm`),
//! segments and headers (`segment`, `init`), whole outputs (`package`, `decrypt`; any MP4 through
//! `source` and `package_file`) and CPIX
//! documents (`cpix`). Does not own: the CMAF bytes themselves (`cmaf` writes and reads them;
//! this module only adds boxes through its hooks), manifests (`manifest` renders the
//! [`crate::manifest::Protection`] built here), or licences (the serve stage).
//!
//! Secrets: content keys are only ever handed to the cipher. They are redacted from `Debug`,
//! absent from every error message, and never written into a packaged output (the CPIX
//! document with the keys goes to a separate path, mode 0600).

mod boxes;
pub mod cpix;
mod crypt;
mod decrypt;
mod drm;
mod encryptor;
mod error;
mod files;
mod init;
mod keyfile;
mod keys;
mod package;
mod package_file;
mod plan;
pub mod pssh;
mod rotation;
mod scheme;
mod segment;
mod slice_header;
mod source;
mod subsample;

pub use boxes::{parse_senc, parse_sinf, SampleInfo, TrackEncryption};
pub use decrypt::{decrypt, decrypt_file, DecryptReport};
pub use drm::{pssh_boxes, Drm, DrmOptions};
pub use encryptor::SegmentEncryptor;
pub use error::CencError;
pub use init::clear_init;
pub use keyfile::{load_cpix, plan_document, write_cpix_file};
pub use keys::{ContentKey, KeyId};
pub use package::{package_variants, PackageJob, PackageReport};
pub use package_file::{package_file, FILE_SEGMENT_SECONDS};
pub use plan::{KeyPlan, TrackType};
pub use rotation::{parse_seig, KeyGroup};
pub use scheme::Scheme;
pub use segment::segment_samples;
pub use source::{import_file, Imported, ImportedTrack, TrackKind};
pub use subsample::{video_subsamples, AvcParams, Subsample};
