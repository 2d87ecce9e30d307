//! The unmarked picture rebuilt from a variants output, for detection once the source is gone.
//!
//! Variant 0 adds the watermark signal to each frame and variant 1 subtracts the same signal
//! (`abmark_wm::embed`), so the mean of the two decoded pictures is the host: the marks cancel,
//! and what is left is the two encodes' own noise. No extra file is written at encode time: the
//! segments the edge serves are the reference.
//!
//! [`HostReference`] picks the rendition to read: the smallest whose watermark block grid has
//! the same blocks as the top rendition's (at the default ladder, the half-size rung: a quarter
//! of the pixels to decode, with every block mean of the top rendition's grid), and
//! [`HostDecoder`] reads both variants of it in step, from any segment on.
//!
//! May depend on: the variants layout (`abmark_delivery::layout`), [`VideoDecoder`]. Knows
//! nothing about scoring (that is `abmark-detect`).

use std::path::{Path, PathBuf};

use abmark_delivery::layout::{JobFile, RenditionEntry};
use abmark_delivery::manifest::PathScheme;
use abmark_wm::frame::{Luma, OwnedLuma};
use abmark_wm::BlockGrid;

use crate::{MediaError, VideoDecoder, VideoInfo};

/// Below this block size (pixels) a rung's blocks hold too few pixels to stand for the top
/// rendition's: the encode at that size blurs the pattern's detail within a block.
const MIN_BLOCK: usize = 4;

/// A variants output read as the unmarked reference.
#[derive(Clone, Debug)]
pub struct HostReference {
    out: PathBuf,
    rendition: String,
    /// The rendition the pictures are decoded at.
    decoded: (usize, usize),
    /// The top rendition's size: the geometry the watermark grid (and the copy) is read in.
    geometry: (usize, usize),
    /// Start of each segment in seconds.
    starts: Vec<f64>,
    fps: f64,
}

impl HostReference {
    /// Reads `out/job.json`; `rendition` names the rung to rebuild the host from (default: the
    /// smallest with the top rendition's block grid).
    pub fn open(out: &Path, rendition: Option<&str>) -> Result<Self, MediaError> {
        let job = JobFile::load(out).map_err(|e| bad(out, e.to_string()))?;
        if job.protection.is_some() {
            let reason = "the segments are encrypted: detect against the clear variants output";
            return Err(bad(out, reason.into()));
        }
        let top = job
            .renditions
            .iter()
            .max_by_key(|r| u64::from(r.width) * u64::from(r.height))
            .ok_or_else(|| bad(out, "no video rendition".into()))?;
        let chosen = match rendition {
            Some(id) => job.rendition(Some(id)).map_err(|e| bad(out, e.to_string()))?,
            None => smallest_on_grid(&job.renditions, top),
        };
        if !same_grid(chosen, top) {
            let reason = format!(
                "rendition {} does not have the block grid of the top rendition {}",
                chosen.id, top.id
            );
            return Err(bad(out, reason));
        }
        let (num, den) = job.frame_rate;
        if num == 0 || den == 0 || job.timescale == 0 {
            return Err(bad(out, "job.json has no usable frame rate or timescale".into()));
        }
        let mut starts = Vec::with_capacity(job.segment_count);
        let mut at = 0u64;
        for d in &job.segment_durations {
            starts.push(at as f64 / f64::from(job.timescale));
            at = at.saturating_add(*d);
        }
        Ok(Self {
            out: out.to_owned(),
            rendition: chosen.id.clone(),
            decoded: (chosen.width as usize, chosen.height as usize),
            geometry: (top.width as usize, top.height as usize),
            starts,
            fps: f64::from(num) / f64::from(den),
        })
    }

    /// The variants output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The rendition the host is rebuilt from.
    pub fn rendition(&self) -> &str {
        &self.rendition
    }

    /// Size of the top rendition: the geometry the copy is registered and scored in.
    pub fn geometry(&self) -> (usize, usize) {
        self.geometry
    }

    /// Size of the pictures [`HostDecoder`] hands out.
    pub fn decoded_size(&self) -> (usize, usize) {
        self.decoded
    }

    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// Reads both variants from the segment that holds `from` seconds (its first frame is a
    /// keyframe); frames before `from` still come, the caller skips them by time.
    pub fn decoder(&self, from: f64) -> Result<HostDecoder, MediaError> {
        let first = self.starts.partition_point(|&s| s <= from).saturating_sub(1);
        let scheme = PathScheme::variant_dirs();
        let open = |variant: u8| {
            let parts: Vec<PathBuf> = std::iter::once(scheme.video_init(variant, &self.rendition))
                .chain(
                    (first..self.starts.len())
                        .map(|i| scheme.video_segment(variant, &self.rendition, i)),
                )
                .map(|p| self.out.join(p))
                .collect();
            let label = self.out.join(format!("{variant}/{}", self.rendition));
            VideoDecoder::open_concatenated(&parts, &label)
        };
        let (a, b) = (open(0)?, open(1)?);
        let size = (a.info().width, a.info().height);
        if size != self.decoded || (b.info().width, b.info().height) != size {
            let reason = format!(
                "the segments are {}x{}, job.json says {}x{}",
                size.0, size.1, self.decoded.0, self.decoded.1
            );
            return Err(bad(&self.out, reason));
        }
        let offset = self.starts.get(first).copied().unwrap_or(0.0);
        let info = VideoInfo { fps: self.fps, ..a.info().clone() };
        Ok(HostDecoder { a, b, offset, info, label: self.out.clone() })
    }
}

/// Both variants of one rendition, decoded in step and averaged.
pub struct HostDecoder {
    a: VideoDecoder,
    b: VideoDecoder,
    /// Time of the first segment read: frame times count from the start of the title.
    offset: f64,
    info: VideoInfo,
    label: PathBuf,
}

/// One rebuilt host picture.
pub struct HostFrame {
    /// Presentation time from the start of the title.
    pub pts_seconds: f64,
    pub picture: OwnedLuma,
}

impl HostFrame {
    pub fn luma(&self) -> Luma<'_> {
        self.picture.view()
    }
}

impl HostDecoder {
    /// The rendition's stream as decoded (its own size, the title's frame rate).
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// The next host picture, `None` at the end. The two variants must end together and show
    /// the same times: they were cut from one encode's timing.
    pub fn next_frame(&mut self) -> Result<Option<HostFrame>, MediaError> {
        let (a, b) = (self.a.next_frame()?, self.b.next_frame()?);
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (None, None) => return Ok(None),
            _ => return Err(bad(&self.label, "variant 0 and 1 hold different frames".into())),
        };
        if (a.pts_seconds - b.pts_seconds).abs() > 0.25 / self.info.fps.max(1.0) {
            let reason = format!(
                "variant 0 and 1 disagree in time ({:.3} s and {:.3} s)",
                a.pts_seconds, b.pts_seconds
            );
            return Err(bad(&self.label, reason));
        }
        let mut picture = OwnedLuma::new(a.width(), a.height());
        average(&a.luma(), &b.luma(), &mut picture);
        Ok(Some(HostFrame { pts_seconds: a.pts_seconds + self.offset, picture }))
    }
}

/// The per-pixel mean of `a` and `b`, rounded half up (both the same size).
fn average(a: &Luma<'_>, b: &Luma<'_>, out: &mut OwnedLuma) {
    let width = out.width;
    for (y, row) in out.data.chunks_exact_mut(width).enumerate() {
        for ((o, &p), &q) in row.iter_mut().zip(a.row(y)).zip(b.row(y)) {
            *o = ((u16::from(p) + u16::from(q) + 1) >> 1) as u8;
        }
    }
}

/// The smallest rendition whose grid has the top rendition's blocks, at least [`MIN_BLOCK`]
/// pixels wide; the top one when none smaller fits.
fn smallest_on_grid<'a>(
    renditions: &'a [RenditionEntry],
    top: &'a RenditionEntry,
) -> &'a RenditionEntry {
    renditions
        .iter()
        .filter(|r| same_grid(r, top) && grid(r).block >= MIN_BLOCK)
        .min_by_key(|r| u64::from(r.width) * u64::from(r.height))
        .unwrap_or(top)
}

/// `r`'s blocks cover exactly the picture areas of `top`'s: the same number of columns and rows,
/// and the block size in the same proportion as the picture.
fn same_grid(r: &RenditionEntry, top: &RenditionEntry) -> bool {
    let (g, t) = (grid(r), grid(top));
    g.cols == t.cols
        && g.rows == t.rows
        && g.block * t.width == t.block * g.width
        && g.block * t.height == t.block * g.height
}

fn grid(r: &RenditionEntry) -> BlockGrid {
    BlockGrid::for_frame(r.width as usize, r.height as usize)
}

fn bad(path: &Path, reason: String) -> MediaError {
    MediaError::BadStream { path: path.to_owned(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(id: &str, width: u32, height: u32) -> RenditionEntry {
        RenditionEntry {
            id: id.into(),
            width,
            height,
            codecs: String::new(),
            bitrate: 0,
            peak_bitrate: 0,
        }
    }

    #[test]
    fn the_half_size_rung_stands_for_the_top_one_when_its_blocks_match() {
        let ladder = [rung("720p", 1280, 720), rung("360p", 640, 360)];
        assert_eq!(smallest_on_grid(&ladder, &ladder[0]).id, "360p");
        let ladder = [rung("1080p", 1920, 1080), rung("540p", 960, 540), rung("270p", 480, 270)];
        // 270p's blocks would be 3 pixels: too small; 540p's are 6, half of 1080p's 12.
        assert_eq!(smallest_on_grid(&ladder, &ladder[0]).id, "540p");
        // 480p of a 720p title: 854 wide, 5-pixel blocks, 171 columns: not the same grid.
        let ladder = [rung("720p", 1280, 720), rung("480p", 854, 480)];
        assert_eq!(smallest_on_grid(&ladder, &ladder[0]).id, "720p");
    }

    #[test]
    fn the_average_rounds_half_up_and_cancels_opposite_marks() {
        let (w, h) = (4, 2);
        let host: Vec<u8> = (0..8).map(|i| 100 + i * 3).collect();
        let plus: Vec<u8> = host.iter().map(|&p| p + 2).collect();
        let minus: Vec<u8> = host.iter().map(|&p| p - 2).collect();
        fn view(d: &[u8], w: usize, h: usize) -> Luma<'_> {
            Luma::new(d, w, h, w).expect("a packed plane")
        }
        let mut out = OwnedLuma::new(w, h);
        average(&view(&plus, w, h), &view(&minus, w, h), &mut out);
        assert_eq!(out.data, host);
        let odd: Vec<u8> = host.iter().map(|&p| p + 1).collect();
        average(&view(&odd, w, h), &view(&host, w, h), &mut out);
        assert_eq!(out.data, odd);
    }
}
