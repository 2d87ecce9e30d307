//! The rendition ladder: which sizes `abmark variants` encodes.
//!
//! Renditions are named by height (`1080p`, `720p`, `360p`) and keep the source's aspect ratio
//! with even dimensions (H.264 4:2:0). The default ladder is the source size and half of it.
//! No rendition is larger than the source: upscaling would only cost bits.

/// One rung of the ladder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendition {
    /// Directory name and manifest id, e.g. `720p`.
    pub id: String,
    pub width: u32,
    pub height: u32,
}

/// Why a ladder specification was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LadderError {
    #[error("rendition '{0}' is not of the form <height>p (e.g. 720p)")]
    Syntax(String),
    #[error("rendition {0}p is taller than the {1}-line source")]
    Upscale(u32, u32),
    #[error("rendition {0}p is listed twice")]
    Duplicate(u32),
}

/// The default ladder for a `width` x `height` source: the source size and half of it.
pub fn default_ladder(width: u32, height: u32) -> Vec<Rendition> {
    let mut ladder = vec![at_height(width, height, height & !1)];
    let half = (height / 2) & !1;
    if half >= 144 {
        ladder.push(at_height(width, height, half));
    }
    ladder
}

/// Parses `1080p,720p,360p` against the source size. Order is kept (highest first is usual).
pub fn parse_ladder(spec: &str, width: u32, height: u32) -> Result<Vec<Rendition>, LadderError> {
    let mut out: Vec<Rendition> = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let h: u32 = item
            .strip_suffix('p')
            .and_then(|n| n.parse().ok())
            .filter(|&h| h >= 16)
            .ok_or_else(|| LadderError::Syntax(item.to_string()))?;
        if h > height {
            return Err(LadderError::Upscale(h, height));
        }
        if out.iter().any(|r| r.height == h & !1) {
            return Err(LadderError::Duplicate(h));
        }
        out.push(at_height(width, height, h & !1));
    }
    if out.is_empty() {
        return Err(LadderError::Syntax(spec.to_string()));
    }
    Ok(out)
}

fn at_height(src_w: u32, src_h: u32, h: u32) -> Rendition {
    let w = if h == src_h & !1 {
        src_w & !1
    } else {
        // Nearest even width for the source's aspect ratio.
        (((src_w as f64 * h as f64 / src_h as f64) / 2.0).round() as u32 * 2).max(2)
    };
    Rendition { id: format!("{h}p"), width: w, height: h }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders() {
        let d = default_ladder(1280, 720);
        assert_eq!(
            d,
            vec![
                Rendition { id: "720p".into(), width: 1280, height: 720 },
                Rendition { id: "360p".into(), width: 640, height: 360 },
            ]
        );
        let p = parse_ladder("1080p, 720p,360p", 1920, 1080).unwrap();
        assert_eq!(
            p.iter().map(|r| (r.width, r.height)).collect::<Vec<_>>(),
            [(1920, 1080), (1280, 720), (640, 360)]
        );
        assert_eq!(parse_ladder("480p", 1280, 720).unwrap()[0].width, 854);
        assert_eq!(parse_ladder("1080p", 1280, 720), Err(LadderError::Upscale(1080, 720)));
        assert!(matches!(parse_ladder("hd", 1280, 720), Err(LadderError::Syntax(_))));
        assert_eq!(parse_ladder("720p,720p", 1280, 720), Err(LadderError::Duplicate(720)));
    }
}
