//! The two things embedder and detector must agree on: the [`Symbol`] a segment carries and
//! the [`WatermarkParams`] of an output.

/// One of the two watermark symbols a segment carries. Written as the number `0` or `1` (JSON
/// reports, job files, the command line): the same number as the variant that carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Symbol {
    Zero,
    One,
}

impl Symbol {
    /// +1 for symbol 0 and -1 for symbol 1: the sign the pattern is added with.
    pub fn sign(self) -> f32 {
        match self {
            Symbol::Zero => 1.0,
            Symbol::One => -1.0,
        }
    }

    /// The symbol from its number (0 or 1).
    pub fn from_bit(bit: u8) -> Option<Self> {
        match bit {
            0 => Some(Symbol::Zero),
            1 => Some(Symbol::One),
            _ => None,
        }
    }

    pub fn bit(self) -> u8 {
        match self {
            Symbol::Zero => 0,
            Symbol::One => 1,
        }
    }
}

impl From<Symbol> for u8 {
    fn from(symbol: Symbol) -> u8 {
        symbol.bit()
    }
}

impl TryFrom<u8> for Symbol {
    type Error = String;

    fn try_from(bit: u8) -> Result<Self, String> {
        Symbol::from_bit(bit).ok_or_else(|| format!("symbol {bit}: a symbol is 0 or 1"))
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.bit())
    }
}

impl std::str::FromStr for Symbol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "0" => Ok(Symbol::Zero),
            "1" => Ok(Symbol::One),
            other => Err(format!("'{other}' is not a symbol (0 or 1)")),
        }
    }
}

/// Parameters shared by embedder and detector. Both sides must agree on every field, so they are
/// fixed per output and recorded alongside it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WatermarkParams {
    /// Segment duration in seconds: the pattern is constant within a segment.
    pub segment_seconds: f64,
    /// Amplitude in grey levels of the pattern in an average-textured, mid-grey block.
    pub strength: f32,
    /// Upper bound on the RMS of the added signal in one frame, in grey levels (PSNR floor).
    pub max_frame_rms: f32,
    /// Duration of the raised-cosine fade at each end of a segment, in seconds. Variants switch at
    /// segment boundaries; fading hides the switch from the eye at a small cost in signal.
    pub fade_seconds: f64,
}

impl Default for WatermarkParams {
    fn default() -> Self {
        Self { segment_seconds: 2.0, strength: 1.0, max_frame_rms: 1.25, fade_seconds: 0.16 }
    }
}

impl WatermarkParams {
    /// Which segment a presentation time falls in (times before zero count as segment 0).
    pub fn segment_of(&self, pts_seconds: f64) -> u64 {
        // A small tolerance so that a frame stamped 1.999999 s by a rational time base lands
        // in the segment its frame number says.
        ((pts_seconds.max(0.0) + 1e-6) / self.segment_seconds).floor() as u64
    }

    /// Gain in [0, 1] of the pattern at a presentation time: 1 inside the segment, a raised cosine
    /// over `fade_seconds` at both ends.
    pub fn fade_gain(&self, pts_seconds: f64) -> f32 {
        if self.fade_seconds <= 0.0 {
            return 1.0;
        }
        let t = pts_seconds.max(0.0) + 1e-6;
        let start = self.segment_of(t) as f64 * self.segment_seconds;
        let into = t - start;
        let left = self.segment_seconds - into;
        let edge = into.min(left) / self.fade_seconds;
        if edge >= 1.0 {
            1.0
        } else {
            (0.5 - 0.5 * (std::f64::consts::PI * edge).cos()) as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_written_and_read_as_their_number() {
        assert_eq!(serde_json::to_string(&Symbol::One).unwrap(), "1");
        assert_eq!(serde_json::from_str::<Symbol>("0").unwrap(), Symbol::Zero);
        assert!(serde_json::from_str::<Symbol>("2").is_err());
        assert_eq!("1".parse::<Symbol>(), Ok(Symbol::One));
        assert!("one".parse::<Symbol>().is_err());
        assert_eq!(Symbol::Zero.to_string(), "0");
    }

    #[test]
    fn segments_and_fades_follow_time() {
        let p = WatermarkParams::default();
        assert_eq!(p.segment_of(0.0), 0);
        assert_eq!(p.segment_of(1.96), 0);
        assert_eq!(p.segment_of(2.0), 1);
        assert_eq!(p.segment_of(50.0 * 0.04), 1);
        assert!(p.fade_gain(0.0) < 0.05);
        assert_eq!(p.fade_gain(1.0), 1.0);
        assert!(p.fade_gain(1.96) < 0.5);
        assert!((p.fade_gain(0.08) - 0.5).abs() < 0.02);
    }
}
