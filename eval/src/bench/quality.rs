//! Picture quality of each variant against the clean encode: the benchmark's answer to "what does
//! the mark cost the viewer". It owns decoding the encodes with the FFmpeg CLI in lockstep,
//! sampling every `step`-th frame, and scoring each sample with luma PSNR and SSIM (the engine's
//! [`abmark_wm::quality`], comparable with FFmpeg's `psnr`/`ssim` filters) and SSIMULACRA2
//! (the `ssimulacra2` crate, on full 4:2:0 colour). It does not encode, embed or attack anything,
//! and it does not present the figures; the runner and the report writers do.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use abmark_wm::frame::Luma;
use abmark_wm::quality::{psnr_of_mse, sse, ssim};
use anyhow::{anyhow, bail, Context};
use rayon::prelude::*;
use ssimulacra2::{
    compute_frame_ssimulacra2, ColorPrimaries, Frame, MatrixCoefficients, Plane,
    TransferCharacteristic, Yuv, YuvConfig,
};

use super::model::VariantQuality;

/// Sampled frames held at once. SSIMULACRA2 costs far more than decoding, so frames are scored in
/// parallel a batch at a time; eight frames of every input keeps memory under 100 MB at 1080p
/// with two variants (plus SSIMULACRA2's working set per busy core) while giving rayon enough
/// jobs.
const BATCH: usize = 8;

/// Compares each distorted video with `clean`, frame by frame on every `step`-th frame (at most
/// `max_frames` frames compared).
///
/// All inputs must have the clean video's size; a distorted video with fewer frames than the
/// clean one is an error, one with more is compared on the clean video's frames only. Results
/// come back one per distorted input, in order.
pub fn compare(
    clean: &Path,
    distorted: &[(u8, &Path)],
    step: usize,
    max_frames: usize,
) -> anyhow::Result<Vec<VariantQuality>> {
    if step == 0 || max_frames == 0 {
        bail!("quality: step ({step}) and max_frames ({max_frames}) must be at least 1");
    }
    let shape = probe(clean)?;
    for &(_, path) in distorted {
        let other = probe(path)?;
        if (other.width, other.height) != (shape.width, shape.height) {
            bail!(
                "{} is {}x{}, {} is {}x{}: quality needs the same size",
                path.display(),
                other.width,
                other.height,
                clean.display(),
                shape.width,
                shape.height
            );
        }
        // The container's frame count catches a short file up front, even when the missing
        // frames fall between samples or beyond `max_frames`; the lockstep read below still
        // catches it when a container does not say.
        if let (Some(n), Some(c)) = (other.frames, shape.frames) {
            if n < c {
                bail!("{} has fewer frames ({n}) than {} ({c})", path.display(), clean.display());
            }
        }
    }
    let frame_bytes = shape.frame_bytes();

    let mut clean_dec = Decoder::spawn(clean, step, frame_bytes)?;
    let mut dist_dec = distorted
        .iter()
        .map(|&(_, path)| Decoder::spawn(path, step, frame_bytes))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // One clean picture and one per distorted input for each slot of the batch, allocated once.
    let mut batch: Vec<Vec<Vec<u8>>> =
        vec![vec![vec![0u8; frame_bytes]; 1 + distorted.len()]; BATCH];
    let mut totals = vec![Totals::default(); distorted.len()];
    let mut compared = 0usize;
    let mut clean_done = false;
    while !clean_done && compared < max_frames {
        let mut filled = 0;
        while filled < BATCH && compared + filled < max_frames {
            let (clean_buf, dist_bufs) = batch[filled].split_at_mut(1);
            if !clean_dec.next(&mut clean_buf[0])? {
                clean_done = true;
                break;
            }
            for (dec, buf) in dist_dec.iter_mut().zip(dist_bufs) {
                if !dec.next(buf)? {
                    bail!(
                        "{} has fewer frames than {} (ended before frame {})",
                        dec.path.display(),
                        clean.display(),
                        (compared + filled) * step
                    );
                }
            }
            filled += 1;
        }
        let jobs: Vec<(usize, usize)> =
            (0..filled).flat_map(|f| (0..distorted.len()).map(move |v| (f, v))).collect();
        let scores = jobs
            .par_iter()
            .map(|&(f, v)| score(&shape, &batch[f][0], &batch[f][1 + v]))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (&(_, v), s) in jobs.iter().zip(&scores) {
            totals[v].add(s);
        }
        compared += filled;
    }
    if compared == 0 {
        bail!("{} decoded to no frames", clean.display());
    }
    // Dropping the decoders kills any still running (we stopped at `max_frames`, or a distorted
    // input has frames beyond the clean one's) and reaps them.
    drop(clean_dec);
    drop(dist_dec);

    let pixels = (shape.width * shape.height) as f64;
    Ok(distorted
        .iter()
        .zip(&totals)
        .map(|(&(variant, _), t)| t.quality(variant, step, pixels))
        .collect())
}

/// What the quality pass needs to know of an input before decoding it.
struct Shape {
    width: usize,
    height: usize,
    /// Frames the container declares (`nb_frames`), when it does.
    frames: Option<u64>,
}

impl Shape {
    /// Bytes of one 8-bit 4:2:0 picture as `-pix_fmt yuv420p` writes it (chroma rounded up).
    fn frame_bytes(&self) -> usize {
        self.width * self.height + 2 * self.width.div_ceil(2) * self.height.div_ceil(2)
    }
}

fn probe(path: &Path) -> anyhow::Result<Shape> {
    let info = abmark_media::probe(path)?;
    let (width, height) = (info.width, info.height);
    // SSIMULACRA2's 4:2:0 input needs even sides and at least 8x8.
    if width % 2 != 0 || height % 2 != 0 || width < 8 || height < 8 {
        bail!("{} is {width}x{height}: quality needs even sides of at least 8", path.display());
    }
    Ok(Shape { width, height, frames: info.frame_count })
}

/// An FFmpeg child writing every `step`-th decoded frame of one file as raw yuv420p.
struct Decoder {
    path: PathBuf,
    child: Child,
    stdout: ChildStdout,
    /// Drains stderr so a chatty decoder can never block on a full pipe while we read stdout.
    stderr: Option<JoinHandle<Vec<u8>>>,
    frame_bytes: usize,
}

impl Decoder {
    fn spawn(path: &Path, step: usize, frame_bytes: usize) -> anyhow::Result<Self> {
        // The select filter drops frames inside FFmpeg so the pipe carries only samples; frames
        // are numbered from 0 in decode output order, the same in every input. Passthrough
        // timing keeps the muxer from duplicating frames to fill the dropped ones' time.
        let select = format!("select='not(mod(n\\,{step}))'");
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-vf", &select, "-fps_mode", "passthrough"])
            .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running ffmpeg")?;
        let (Some(stdout), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("ffmpeg for {}: no pipes", path.display());
        };
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        });
        Ok(Self { path: path.to_owned(), child, stdout, stderr: Some(stderr), frame_bytes })
    }

    /// Reads the next sampled frame into `buf`; `false` when the decoder ended cleanly.
    fn next(&mut self, buf: &mut [u8]) -> anyhow::Result<bool> {
        let mut got = 0;
        while got < self.frame_bytes {
            match self.stdout.read(&mut buf[got..self.frame_bytes]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", self.path.display()))
                }
            }
        }
        if got == self.frame_bytes {
            return Ok(true);
        }
        // End of output: a failed decode must not pass for a short file, nor a short one for
        // a complete one.
        let status =
            self.child.wait().with_context(|| format!("ffmpeg {}", self.path.display()))?;
        if !status.success() {
            let err = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
            bail!("decoding {} failed ({status}): {}", self.path.display(), last_line(&err));
        }
        if got != 0 {
            bail!("{}: decoder output ends inside a frame", self.path.display());
        }
        Ok(false)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Already exited children make kill fail harmlessly; wait reaps either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
    }
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(no message)").trim().to_owned()
}

/// One sampled frame of one variant.
struct FrameScore {
    sse: u64,
    ssim: f64,
    ssimulacra2: f64,
}

fn score(shape: &Shape, clean: &[u8], distorted: &[u8]) -> anyhow::Result<FrameScore> {
    let (w, h) = (shape.width, shape.height);
    let luma = |data| Luma::new(data, w, h, w).context("frame smaller than its luma plane");
    let (a, b) = (luma(clean)?, luma(distorted)?);
    let ssimulacra2 = compute_frame_ssimulacra2(yuv(shape, clean)?, yuv(shape, distorted)?)
        .map_err(|e| anyhow!("SSIMULACRA2: {e}"))?;
    Ok(FrameScore { sse: sse(&a, &b), ssim: ssim(&a, &b), ssimulacra2 })
}

/// Wraps a raw yuv420p picture for SSIMULACRA2. The files carry no colour tags (FFmpeg reports
/// them unknown), and the crate would otherwise guess from the size and log a warning per frame;
/// the benchmark's encodes are 8-bit limited-range BT.709, so say so.
fn yuv(shape: &Shape, data: &[u8]) -> anyhow::Result<Yuv<u8>> {
    let (w, h) = (shape.width, shape.height);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, uv) = data.split_at(w * h);
    let (u, v) = uv.split_at(cw * ch);
    let mut planes = [
        Plane::new(w, h, 0, 0, 0, 0),
        Plane::new(cw, ch, 1, 1, 0, 0),
        Plane::new(cw, ch, 1, 1, 0, 0),
    ];
    for (plane, (src, stride)) in planes.iter_mut().zip([(y, w), (u, cw), (v, cw)]) {
        plane.copy_from_raw_u8(src, stride, 1);
    }
    let config = YuvConfig {
        bit_depth: 8,
        subsampling_x: 1,
        subsampling_y: 1,
        full_range: false,
        matrix_coefficients: MatrixCoefficients::BT709,
        transfer_characteristics: TransferCharacteristic::BT1886,
        color_primaries: ColorPrimaries::BT709,
    };
    Yuv::new(Frame { planes }, config).map_err(|e| anyhow!("yuv420p frame {w}x{h}: {e}"))
}

/// Running sums for one variant.
#[derive(Clone, Default)]
struct Totals {
    frames: usize,
    sse: u128,
    ssim: f64,
    ssim_min: f64,
    ssimulacra2: f64,
    ssimulacra2_min: f64,
}

impl Totals {
    fn add(&mut self, s: &FrameScore) {
        let first = self.frames == 0;
        self.frames += 1;
        self.sse += u128::from(s.sse);
        self.ssim += s.ssim;
        self.ssimulacra2 += s.ssimulacra2;
        self.ssim_min = if first { s.ssim } else { self.ssim_min.min(s.ssim) };
        self.ssimulacra2_min =
            if first { s.ssimulacra2 } else { self.ssimulacra2_min.min(s.ssimulacra2) };
    }

    fn quality(&self, variant: u8, step: usize, pixels: f64) -> VariantQuality {
        let n = self.frames.max(1) as f64;
        // PSNR of the mean MSE over all sampled frames, as FFmpeg's `psnr` filter averages, so a
        // few identical frames (infinite PSNR each) cannot swamp the mean. When every compared
        // pixel is identical we report the PSNR that a single pixel off by one level in the
        // whole comparison would give: finite (serde_json writes infinity as null, which does
        // not read back into f64), and still above any figure a real difference can produce.
        let samples = pixels * n;
        let mse = (self.sse as f64 / samples).max(1.0 / samples);
        VariantQuality {
            variant,
            frames: self.frames,
            step,
            psnr_y: psnr_of_mse(mse),
            ssim: self.ssim / n,
            ssim_min: self.ssim_min,
            ssimulacra2: self.ssimulacra2 / n,
            ssimulacra2_min: self.ssimulacra2_min,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A scratch directory removed when the test ends (pass or fail).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("abmark-quality-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create scratch dir");
            Self(dir)
        }
        fn path(&self, file: &str) -> PathBuf {
            self.0.join(file)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ffmpeg(args: &[&str]) {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-v", "error", "-nostdin", "-y"])
            .args(args)
            .output()
            .expect("run ffmpeg");
        assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn real_clip() -> Option<PathBuf> {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/cache/abmark-720p-short.mp4");
        p.is_file().then_some(p)
    }

    /// A 25-frame 320x180 H.264 clip: a second of the real 720p clip when it is cached, else
    /// FFmpeg's synthetic `testsrc2`. `extra` is appended to the filter chain.
    fn make_clip(out: &Path, frames: usize, extra: &str) {
        let frames = frames.to_string();
        let out = out.to_str().expect("utf-8 temp path");
        let vf = format!("scale=320:180{extra}");
        let enc =
            ["-vf", &vf, "-frames:v", &frames, "-c:v", "libx264", "-crf", "18", "-preset", "fast"];
        let enc = enc.iter().copied().chain(["-pix_fmt", "yuv420p", "-an", out]);
        match real_clip() {
            Some(src) => {
                let src = src.to_str().expect("utf-8 clip path").to_owned();
                let args: Vec<&str> = ["-ss", "5", "-i", &src].into_iter().chain(enc).collect();
                ffmpeg(&args);
            }
            None => {
                let src = "testsrc2=size=640x360:rate=25";
                let args: Vec<&str> = ["-f", "lavfi", "-i", src].into_iter().chain(enc).collect();
                ffmpeg(&args);
            }
        }
    }

    #[test]
    fn identical_is_perfect_and_noise_costs() {
        let dir = Scratch::new("noise");
        let (clean, noisy) = (dir.path("clean.mp4"), dir.path("noisy.mp4"));
        make_clip(&clean, 25, "");
        // Noise added before encoding, from the same source frames: same size and frame count.
        make_clip(&noisy, 25, ",noise=alls=20:allf=t");

        let q = compare(&clean, &[(0, &clean), (1, &noisy)], 3, 100).expect("compare");
        assert_eq!(q.len(), 2);
        assert_eq!((q[0].variant, q[1].variant), (0, 1));
        // 25 frames, every 3rd: 0, 3, ..., 24.
        assert_eq!((q[0].frames, q[0].step), (9, 3));
        assert_eq!(q[1].frames, 9);

        let same = &q[0];
        assert!(same.psnr_y.is_finite() && same.psnr_y > 100.0, "{same:?}");
        assert!((same.ssim - 1.0).abs() < 1e-9 && (same.ssim_min - 1.0).abs() < 1e-9, "{same:?}");
        assert!(same.ssimulacra2 > 99.9 && same.ssimulacra2_min > 99.9, "{same:?}");

        let worse = &q[1];
        assert!(
            worse.psnr_y.is_finite() && worse.psnr_y > 15.0 && worse.psnr_y < 45.0,
            "{worse:?}"
        );
        assert!(worse.ssim < 0.98 && worse.ssim_min <= worse.ssim, "{worse:?}");
        // SSIMULACRA2 goes negative for heavy damage; this much noise on 320x180 gets there.
        assert!(worse.ssimulacra2 < 90.0 && worse.ssimulacra2.is_finite(), "{worse:?}");
        assert!(worse.ssimulacra2_min <= worse.ssimulacra2, "{worse:?}");

        // ceil(25 / 4) = 7 samples (0, 4, ..., 24), and max_frames caps them.
        let q = compare(&clean, &[(1, &noisy)], 4, 100).expect("compare");
        assert_eq!(q[0].frames, 7);
        let q = compare(&clean, &[(1, &noisy)], 4, 5).expect("compare");
        assert_eq!(q[0].frames, 5);
    }

    #[test]
    fn missing_file_is_named() {
        let dir = Scratch::new("missing");
        let clean = dir.path("clean.mp4");
        make_clip(&clean, 5, "");
        let missing = dir.path("no-such-variant.mp4");
        let err = compare(&clean, &[(0, &missing)], 1, 10).expect_err("missing file");
        let msg = format!("{err:#}");
        assert!(msg.contains("no-such-variant.mp4") && !msg.contains('\n'), "{msg}");
        let err = compare(&missing, &[(0, &clean)], 1, 10).expect_err("missing clean");
        assert!(format!("{err:#}").contains("no-such-variant.mp4"), "{err:#}");
    }

    #[test]
    fn shorter_distorted_is_an_error() {
        let dir = Scratch::new("short");
        let (clean, short) = (dir.path("clean.mp4"), dir.path("short.mp4"));
        make_clip(&clean, 25, "");
        make_clip(&short, 20, "");
        let err = compare(&clean, &[(0, &clean), (1, &short)], 5, 100).expect_err("short file");
        let msg = format!("{err:#}");
        assert!(msg.contains("short.mp4") && msg.contains("fewer frames"), "{msg}");

        // The same shortness found while decoding, for a container that does not count frames.
        let raw = dir.path("short.h264");
        ffmpeg(&["-i", short.to_str().expect("utf-8"), "-c", "copy", raw.to_str().expect("utf-8")]);
        let err = compare(&clean, &[(1, &raw)], 1, 100).expect_err("short stream");
        let msg = format!("{err:#}");
        assert!(msg.contains("short.h264") && msg.contains("fewer frames"), "{msg}");
    }

    /// Timing on real 720p frames: `cargo test -p eval --release -- --ignored --nocapture timing`.
    /// Prints wall time and CPU time (this process's scoring, and the FFmpeg decoders'), so the
    /// figure means something on a loaded machine too.
    #[test]
    #[ignore = "measurement, needs datasets/cache/abmark-720p-short.mp4"]
    fn timing_720p() {
        let Some(src) = real_clip() else { return };
        let dir = Scratch::new("timing");
        let (clean, crf35) = (dir.path("clean.mp4"), dir.path("crf35.mp4"));
        let src = src.to_str().expect("utf-8").to_owned();
        for (out, crf) in [(&clean, "18"), (&crf35, "35")] {
            let out = out.to_str().expect("utf-8");
            ffmpeg(&["-i", &src, "-frames:v", "25", "-c:v", "libx264", "-crf", crf, "-an", out]);
        }
        for inputs in [1usize, 2] {
            let d: Vec<(u8, &Path)> = (0..inputs as u8).map(|v| (v, crf35.as_path())).collect();
            let (cpu0, t) = (cpu_seconds(), Instant::now());
            let q = compare(&clean, &d, 1, 25).expect("compare");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let cpu = cpu_seconds();
            let pairs = (q[0].frames * inputs) as f64;
            eprintln!(
                "720p, {inputs} distorted x {} frames, {} threads: wall {ms:.0} ms \
                 ({:.0} ms/pair); CPU scoring {:.0} ms/pair, decoding {:.0} ms/frame decoded; {:?}",
                q[0].frames,
                rayon::current_num_threads(),
                ms / pairs,
                (cpu.0 - cpu0.0) * 1e3 / pairs,
                (cpu.1 - cpu0.1) * 1e3 / (q[0].frames * (1 + inputs)) as f64,
                q[0]
            );
        }
    }

    /// (this process, its reaped children) CPU seconds, from /proc (Linux, 100 ticks/s).
    fn cpu_seconds() -> (f64, f64) {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let f: Vec<f64> = after.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
        // After the command name: state is field 3, utime..cstime are fields 14..17.
        let tick = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / 100.0;
        (tick(14) + tick(15), tick(16) + tick(17))
    }
}
