//! What `eval bench` measures, as data: the report the Markdown and HTML writers read and the
//! JSON it is saved as. Nothing here computes; the runner fills it, the writers present it.

use serde::{Deserialize, Serialize};

/// The whole benchmark run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BenchReport {
    /// The command that reproduces this report.
    pub command: String,
    /// A reduced matrix (`--quick`).
    pub quick: bool,
    /// Wall-clock duration of the run, seconds.
    pub seconds: f64,
    /// Logical cores of the machine that ran it.
    pub cores: usize,
    /// Sessions in the simulated session log (candidate mode).
    pub log_size: usize,
    pub clips: Vec<ClipReport>,
    /// Every attack of the run, in order, with its sweep position if it belongs to one.
    pub attacks: Vec<AttackInfo>,
    /// clip x attack x session.
    pub cells: Vec<CellReport>,
    /// Two viewers' streams mixed segment by segment, then attacked.
    pub collusion: Vec<CollusionReport>,
    /// Copies that carry no session (the unmarked source attacked, unrelated content).
    pub innocent: Vec<InnocentReport>,
    /// The open-source peers on the same clip and attacks (`eval peers`), when run.
    pub peers: Vec<PeerMethod>,
}

/// One marked clip: its variants, their quality, and how fast they were made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClipReport {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
    pub frames: u64,
    pub segments: usize,
    /// Wall time of `variants` (decode once, embed both symbols, encode both), seconds.
    pub variants_seconds: f64,
    /// Source frames per second of wall time through `variants` on all cores.
    pub variants_fps: f64,
    /// Frames per second one core embeds (mask, pattern, apply; no decode or encode).
    pub embed_fps_per_core: f64,
    /// Each variant against the clean encode (same encoder settings, no watermark).
    pub quality: Vec<VariantQuality>,
}

/// A variant's encoded pictures against the clean encode's, on sampled frames.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VariantQuality {
    /// 0 or 1.
    pub variant: u8,
    /// Frames compared (every `step`-th frame).
    pub frames: usize,
    pub step: usize,
    /// Luma PSNR, mean over frames, dB.
    pub psnr_y: f64,
    /// Luma SSIM, mean and worst frame.
    pub ssim: f64,
    pub ssim_min: f64,
    /// SSIMULACRA2 (100 = identical, 90 = visually lossless), mean and worst frame.
    pub ssimulacra2: f64,
    pub ssimulacra2_min: f64,
}

/// An attack and, for attacks that form a sweep (CRF, scale), its axis and value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AttackInfo {
    pub name: String,
    pub sweep: Option<Sweep>,
}

/// Where an attack sits on a chart axis: `{"axis": "crf", "value": 28}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sweep {
    pub axis: String,
    pub value: f64,
}

/// One attacked copy of one viewer's stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CellReport {
    pub clip: String,
    pub attack: String,
    pub session: u32,
    /// Seconds of copy (what the detector placed in the reference).
    pub copy_seconds: f64,
    /// Segments scored, and of those: decided right, decided wrong, undecided.
    pub segments: usize,
    pub correct: usize,
    pub wrong: usize,
    pub undecided: usize,
    /// wrong / decided (0 when nothing is decided).
    pub symbol_error_rate: f64,
    /// The weakest segment's LLR signed towards the true bit (negative: it pointed the wrong way).
    pub worst_llr_margin: f64,
    /// Median |z| over the segments with a known bit (the typical strength of the reading).
    #[serde(default)]
    pub median_abs_z: f64,
    /// The detector's verdict (`named`, `too_short`, `no_session`, ...).
    pub verdict: String,
    pub blind_named: bool,
    pub candidate_named: bool,
    /// Bound on any innocent matching as well, in each mode (None: that mode named nobody).
    pub blind_p: Option<f64>,
    pub candidate_p: Option<f64>,
    /// Shortest start of the copy, in seconds, after which candidate mode names the session.
    pub seconds_needed: Option<f64>,
    /// Would any session of a log of others only be named from this copy?
    pub false_accusation: bool,
    pub detect_seconds: f64,
}

/// Two viewers' streams mixed segment by segment at random, then attacked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CollusionReport {
    pub clip: String,
    pub attack: String,
    pub sessions: [u32; 2],
    /// Share of segments taken from the first viewer.
    pub share_first: f64,
    pub verdict: String,
    /// The session named, if any (blind or candidate).
    pub named: Option<u32>,
    /// Probability that one innocent session agrees with the copy as well as each colluder
    /// does (times the log size, at most 1: the bound candidate mode would need below alpha).
    pub colluder_p: [f64; 2],
    /// An innocent named (must never happen).
    pub innocent_named: bool,
}

/// A copy that carries no session: nobody may be named.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InnocentReport {
    pub clip: String,
    pub what: String,
    pub verdict: String,
    pub accused: bool,
}

/// A peer watermarker's figures from `eval peers`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeerMethod {
    pub method: String,
    pub psnr_y: f64,
    pub embed_ms_per_frame: f64,
    pub read_ms_per_frame: f64,
    /// attack name -> share of payload bits right after a majority vote over frames.
    pub accuracy: Vec<(String, f64)>,
}
