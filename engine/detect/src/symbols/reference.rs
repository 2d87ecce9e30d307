//! The reference side of detection as a file: a sliding window of decoded reference frames,
//! each reduced by the core's [`ReferenceReducer`], around the copy's current time.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use abmark_media::{MediaError, VideoDecoder};
use abmark_wm::detector::{NearestFrames, Reference, ReferenceReducer};
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
    /// Starts reading `decoder` (of the file at `path`) on a thread; frames before
    /// `skip_before` seconds are decoded but not reduced (an excerpt's start). Every frame is
    /// also offered to `collect`.
    pub fn start(
        decoder: VideoDecoder,
        path: &Path,
        grid: BlockGrid,
        skip_before: f64,
        collect: NearestFrames,
    ) -> Result<Self, MediaError> {
        let (tx, frames) = sync_channel(FEED_AHEAD);
        let (spares, spare_rx) = channel::<Reference>();
        let (collected_tx, collected) = channel::<NearestFrames>();
        let path: PathBuf = path.to_owned();
        let shown = path.clone();
        let thread_path = path.clone();
        let spawned = std::thread::Builder::new().name("reference-feed".into()).spawn(move || {
            let sink = Sink { frames: &tx, spares: &spare_rx, collected: &collected_tx };
            let Some(decoder) = skip_ahead(decoder, &thread_path, skip_before, sink.frames) else {
                return;
            };
            feed(decoder, grid, skip_before, collect, sink)
        });
        if let Err(error) = spawned {
            return Err(MediaError::Io { path, error });
        }
        Ok(Self {
            frames,
            spares,
            registration: Some(collected),
            pending: VecDeque::new(),
            path: shown,
        })
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

/// Seconds of reference before an excerpt's start from which on jumping there beats decoding
/// through (a jump lands on the keyframe before, up to a GOP early).
const SEEK_FROM: f64 = 4.0;

/// Jumps to the keyframe before `skip_before` when that skips enough. If the container's
/// index is wrong and the jump lands after that time, starts again from the beginning (frames
/// would be missing otherwise). `None` after an error was sent.
fn skip_ahead(
    mut decoder: VideoDecoder,
    path: &Path,
    skip_before: f64,
    frames: &std::sync::mpsc::SyncSender<Result<Reference, MediaError>>,
) -> Option<VideoDecoder> {
    if skip_before < SEEK_FROM {
        return Some(decoder);
    }
    let late = skip_before + 0.5 / decoder.info().fps.max(1.0);
    let outcome = match decoder.seek_before(skip_before) {
        Ok(Some(at)) if at > late => VideoDecoder::open(path),
        Ok(_) => Ok(decoder),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(decoder) => Some(decoder),
        Err(e) => {
            let _ = frames.send(Err(e));
            None
        }
    }
}

/// Where the feed thread's output goes.
struct Sink<'a> {
    frames: &'a std::sync::mpsc::SyncSender<Result<Reference, MediaError>>,
    spares: &'a Receiver<Reference>,
    collected: &'a Sender<NearestFrames>,
}

fn feed(
    mut decoder: VideoDecoder,
    grid: BlockGrid,
    skip_before: f64,
    collect: NearestFrames,
    sink: Sink<'_>,
) {
    let fps = decoder.info().fps;
    let mut reducer = ReferenceReducer::new(grid);
    let mut collect = Some(collect);
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
        if let Some(c) = collect.as_mut() {
            if c.offer(frame.pts_seconds, &frame.luma(), fps) {
                hand_over(&mut collect, false);
            }
        }
        if frame.pts_seconds < skip_before {
            continue;
        }
        let mut reference = sink.spares.try_recv().unwrap_or_else(|_| Reference {
            pts: 0.0,
            means: Vec::new(),
            mask: Vec::new(),
        });
        reducer.reduce_into(&frame.luma(), frame.pts_seconds, &mut reference);
        if sink.frames.send(Ok(reference)).is_err() {
            return; // the detector stopped early
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
