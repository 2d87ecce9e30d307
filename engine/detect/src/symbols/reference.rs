//! The reference side of detection as a file: a sliding window of decoded reference frames,
//! each reduced by the core's [`ReferenceReducer`], around the copy's current time.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use crate::video::{ReferenceFrames, ReferenceVideo};
use abmark_media::MediaError;
use abmark_wm::detector::{NearestFrames, Reference, ReferenceReducer};
use abmark_wm::frame::{Luma, OwnedLuma};
use abmark_wm::BlockGrid;

/// Reduced reference frames, decoded and reduced on their own thread so that the caller's
/// thread can score copy frames meanwhile (FFmpeg's frame threads decode either way; reduction
/// and scoring are what overlap). Buffers of frames the window no longer needs come back
/// through [`ReferenceFeed::recycle`].
///
/// The same pass gathers the reference's registration frames ([`NearestFrames`]), so the
/// reference is decoded once: the caller takes them with [`ReferenceFeed::registration`],
/// which holds the reduced frames decoded meanwhile (the first seconds) until scoring starts.
pub struct ReferenceFeed {
    frames: Receiver<Result<Reference, MediaError>>,
    spares: Sender<Reference>,
    registration: Option<Receiver<NearestFrames>>,
    /// Frames received while waiting for the registration frames, oldest first.
    pending: VecDeque<Reference>,
    path: PathBuf,
}

/// Frames decoded ahead of the window.
const FEED_AHEAD: usize = 12;

impl ReferenceFeed {
    /// Starts reading `reference` on a thread from the keyframe before `skip_before` seconds;
    /// frames before that time are decoded but not reduced (an excerpt's start). Every frame is
    /// also offered to `collect` (at the reference geometry `geometry`). `grid`: the watermark
    /// grid of the pictures as decoded.
    pub fn start(
        reference: &ReferenceVideo,
        grid: BlockGrid,
        geometry: (usize, usize),
        skip_before: f64,
        collect: NearestFrames,
    ) -> Result<Self, MediaError> {
        let (tx, frames) = sync_channel(FEED_AHEAD);
        let (spares, spare_rx) = channel::<Reference>();
        let (collected_tx, collected) = channel::<NearestFrames>();
        let path: PathBuf = reference.path().to_owned();
        let reference = reference.clone();
        let spawned = std::thread::Builder::new().name("reference-feed".into()).spawn(move || {
            let sink = Sink { frames: &tx, spares: &spare_rx, collected: &collected_tx };
            let frames = match reference.frames_from(skip_before) {
                Ok(frames) => frames,
                Err(e) => {
                    let _ = sink.frames.send(Err(e));
                    return;
                }
            };
            feed(frames, grid, geometry, skip_before, collect, sink)
        });
        if let Err(error) = spawned {
            return Err(MediaError::Io { path, error });
        }
        Ok(Self { frames, spares, registration: Some(collected), pending: VecDeque::new(), path })
    }

    /// The reference's registration frames, once the feed has passed them (or the reference
    /// ended). Reduced frames decoded meanwhile are kept for [`ReferenceWindow`].
    pub fn registration(&mut self) -> Result<NearestFrames, MediaError> {
        let stopped = |path: &Path| MediaError::BadStream {
            path: path.to_owned(),
            reason: "the reference reader stopped before its registration frames".into(),
        };
        let Some(collected) = self.registration.take() else {
            return Err(stopped(&self.path)); // asked twice
        };
        loop {
            if let Ok(frames) = collected.try_recv() {
                return Ok(frames);
            }
            match self.frames.recv() {
                Ok(Ok(r)) => self.pending.push_back(r),
                Ok(Err(e)) => return Err(e),
                // The thread sends what it collected before it finishes.
                Err(_) => return collected.recv().map_err(|_| stopped(&self.path)),
            }
        }
    }

    fn next(&mut self) -> Result<Option<Reference>, MediaError> {
        if let Some(r) = self.pending.pop_front() {
            return Ok(Some(r));
        }
        match self.frames.recv() {
            Ok(Ok(r)) => Ok(Some(r)),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None), // the thread finished: end of the reference
        }
    }

    fn recycle(&self, r: Reference) {
        // The thread may have finished; the buffer is then simply dropped.
        let _ = self.spares.send(r);
    }
}

/// Where the feed thread's output goes.
struct Sink<'a> {
    frames: &'a std::sync::mpsc::SyncSender<Result<Reference, MediaError>>,
    spares: &'a Receiver<Reference>,
    collected: &'a Sender<NearestFrames>,
}

fn feed(
    mut decoder: ReferenceFrames,
    grid: BlockGrid,
    geometry: (usize, usize),
    skip_before: f64,
    collect: NearestFrames,
    sink: Sink<'_>,
) {
    let fps = decoder.fps();
    let mut reducer = ReferenceReducer::new(grid);
    let mut collect = Some(collect);
    let mut resized = OwnedLuma::new(geometry.0, geometry.1);
    // Sends the registration frames (once): when complete, or when the stream ends first.
    let hand_over = |collect: &mut Option<NearestFrames>, ended: bool| {
        if let Some(mut c) = collect.take() {
            if ended {
                c.end();
            }
            let _ = sink.collected.send(c);
        }
    };
    loop {
        let frame = match decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return hand_over(&mut collect, true),
            Err(e) => {
                hand_over(&mut collect, true);
                let _ = sink.frames.send(Err(e));
                return;
            }
        };
        let (pts, luma) = (frame.pts(), frame.luma());
        if let Some(c) = collect.as_mut() {
            // Registration works in the reference geometry: a smaller rung is brought to it,
            // only for the frames the collector looks at (it reads nothing of the others).
            let done = if (luma.width, luma.height) == geometry {
                c.offer(pts, &luma, fps)
            } else {
                if c.wants(pts, fps) {
                    resize_bilinear(&luma, &mut resized);
                }
                c.offer(pts, &resized.view(), fps)
            };
            if done {
                hand_over(&mut collect, false);
            }
        }
        if pts < skip_before {
            continue;
        }
        let mut reference = sink.spares.try_recv().unwrap_or_else(|_| Reference {
            pts: 0.0,
            means: Vec::new(),
            mask: Vec::new(),
        });
        reducer.reduce_into(&luma, pts, &mut reference);
        if sink.frames.send(Ok(reference)).is_err() {
            return; // the detector stopped early
        }
    }
}

/// Resamples `from` to `to`'s size, bilinearly, pixel centres aligned (a half-size rung brought
/// to the reference geometry for registration, which reads block sums, not fine detail).
fn resize_bilinear(from: &Luma<'_>, to: &mut OwnedLuma) {
    let (sw, sh) = (from.width, from.height);
    let (dw, dh) = (to.width, to.height);
    if sw == 0 || sh == 0 {
        return;
    }
    let sx = sw as f32 / dw as f32;
    let sy = sh as f32 / dh as f32;
    let columns: Vec<(usize, usize, f32)> = (0..dw)
        .map(|x| {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (sw - 1) as f32);
            let x0 = fx.floor() as usize;
            (x0, (x0 + 1).min(sw - 1), fx - x0 as f32)
        })
        .collect();
    for (y, row) in to.data.chunks_exact_mut(dw).enumerate() {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (sh - 1) as f32);
        let y0 = fy.floor() as usize;
        let wy = fy - y0 as f32;
        let (r0, r1) = (from.row(y0), from.row((y0 + 1).min(sh - 1)));
        for (out, &(x0, x1, wx)) in row.iter_mut().zip(&columns) {
            let top = f32::from(r0[x0]) * (1.0 - wx) + f32::from(r0[x1]) * wx;
            let bottom = f32::from(r1[x0]) * (1.0 - wx) + f32::from(r1[x1]) * wx;
            *out = (top * (1.0 - wy) + bottom * wy + 0.5) as u8;
        }
    }
}

/// Reference frames within a frame and a half of the copy's time.
pub struct ReferenceWindow {
    reach: f64,
    frames: VecDeque<Reference>,
    ended: bool,
}

impl ReferenceWindow {
    pub fn new(fps: f64) -> Self {
        Self { reach: 1.5 / fps.max(1.0), frames: VecDeque::new(), ended: false }
    }

    /// Takes reference frames from `feed` until the window covers time `t`. Returns false when
    /// the reference has ended before `t`.
    pub fn advance_to(&mut self, t: f64, feed: &mut ReferenceFeed) -> Result<bool, MediaError> {
        while !self.ended && self.frames.back().is_none_or(|f| f.pts < t + self.reach) {
            match feed.next()? {
                Some(reference) => self.frames.push_back(reference),
                None => self.ended = true,
            }
        }
        while self.frames.len() > 1 && self.frames.front().is_some_and(|f| f.pts < t - self.reach) {
            if let Some(old) = self.frames.pop_front() {
                feed.recycle(old);
            }
        }
        self.frames.make_contiguous();
        Ok(self.frames.back().is_some_and(|f| f.pts >= t - self.reach))
    }

    /// The frames close enough in time to be the one the copy frame at `t` shows.
    pub fn candidates(&self, t: f64) -> &[Reference] {
        // `advance_to` leaves the deque contiguous.
        let slice = self.frames.as_slices().0;
        let start = slice.partition_point(|f| f.pts < t - self.reach);
        let end = slice.partition_point(|f| f.pts <= t + self.reach);
        if start < end {
            &slice[start..end]
        } else {
            // Nothing within reach (a gap in the reference): fall back to the nearest frame.
            let i = slice.partition_point(|f| f.pts < t).min(slice.len().saturating_sub(1));
            &slice[i..(i + 1).min(slice.len())]
        }
    }
}
