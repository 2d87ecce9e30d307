//! abmark-cenc: Common Encryption (ISO/IEC 23001-7): the packager that encrypts abmark's CMAF outputs with
//! `cenc` (AES-CTR) or `cbcs` (AES-CBC pattern) and signals Widevine, PlayReady, FairPlay and
//! W3C ClearKey; the decrypter that undoes it; and the CPIX key exchange with key services.
//!
//! Owns: keys and the key plan (`keys`, `plan`: `--key`, CPIX, generated, rotation), the
//! H.264 subsample map (`subsample`, from `abmark_bmff::h264`'s slice headers: NAL headers and
//! slice headers stay clear),
//! the ciphers over a sample (`crypt`, RustCrypto AES), the boxes (`boxes`: `sinf`/`tenc`,
//! `senc`/`saiz`/`saio`; `rotation`: `seig` groups), PSSH data per DRM system (`pssh`, `drm`),
//! segments and headers (`segment`, `init`), whole outputs (`package`, `decrypt`) and CPIX
//! documents (`cpix`) and both sides of a CPIX key exchange (`exchange`). Does not own: the CMAF bytes themselves (`abmark_bmff::cmaf` writes and
//! reads them; this crate only adds boxes through its hooks), manifests (`abmark-delivery`
//! renders the [`Protection`](abmark_delivery::manifest::Protection) built here), importing
//! other MP4s (`abmark-media` demuxes them into clear CMAF tracks first), or licences (the edge).
//!
//! May depend on: `abmark-bmff`, `abmark-delivery`, `abmark-files`, RustCrypto, quick-xml.
//! Must not: link FFmpeg or an async runtime (an edge may load CPIX documents through it).
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
pub mod exchange;
mod files;
mod init;
mod keyfile;
mod keys;
mod package;
mod plan;
pub mod pssh;
mod rotation;
mod scheme;
mod segment;
mod subsample;

pub use boxes::{parse_senc, parse_sinf, SampleInfo, TrackEncryption};
pub use decrypt::{decrypt, decrypt_file, DecryptReport};
pub use drm::protection;
pub use drm::{pssh_boxes, Drm, DrmOptions};
pub use encryptor::SegmentEncryptor;
pub use error::CencError;
pub use init::clear_init;
pub use keyfile::{load_cpix, plan_document, write_cpix_file};
pub use keys::{ContentKey, Kid};
pub use package::{package_output, package_variants, PackageJob, PackageReport};
pub use plan::KeyPlan;
pub use rotation::{parse_seig, KeyGroup};
pub use scheme::Scheme;
pub use segment::segment_samples;
pub use subsample::{video_subsamples, AvcParams, Subsample};
