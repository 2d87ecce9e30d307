use std::path::PathBuf;

use abmark_media::variants::{make_variants, VariantsJob};
use abmark_media::EncodeSettings;

#[derive(clap::Args)]
pub struct Args {
    /// Source video (anything FFmpeg decodes).
    source: PathBuf,
    /// Output directory (created; refused if it exists, unless --force).
    #[arg(short, long)]
    output: PathBuf,
    /// Watermark key file.
    #[arg(long)]
    key: PathBuf,
    /// Segment duration in seconds (rounded to a whole number of frames).
    #[arg(long, default_value_t = 2.0, value_parser = super::positive)]
    segment_seconds: f64,
    /// Rendition ladder by height, e.g. 1080p,720p,360p (default: source size and half of it).
    #[arg(long)]
    renditions: Option<String>,
    /// x264 constant rate factor.
    #[arg(long, default_value_t = 20.0, conflicts_with = "bitrate")]
    crf: f32,
    /// Average bitrate in kbit/s for the top rendition, instead of --crf; lower renditions get
    /// a share proportional to their pixel count.
    #[arg(long)]
    bitrate: Option<u32>,
    /// x264 preset.
    #[arg(long, default_value = "veryfast")]
    preset: String,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// Print the result (job.json) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let info = abmark_media::probe(&args.source)?;
    let job = VariantsJob {
        segment_seconds: args.segment_seconds,
        renditions: args.renditions.clone(),
        encode: EncodeSettings {
            crf: args.crf,
            preset: args.preset.clone(),
            bitrate_kbps: args.bitrate,
            ..Default::default()
        },
        force: args.force,
    };
    let total =
        info.frame_count.or_else(|| info.duration_seconds.map(|d| (d * info.fps).round() as u64));
    let bar = crate::progress::frames(total, args.json);
    bar.set_message("variants");
    let started = std::time::Instant::now();
    let report =
        make_variants(&args.source, &args.output, &key, &job, &mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if args.json {
        return super::print_json(&report);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {}: {} frames in {:.1} s ({:.1} fps), {} segments of {:.3} s, key {}",
        args.output.display(),
        report.frames,
        secs,
        report.frames as f64 / secs.max(1e-9),
        report.segment_count,
        report.segment_seconds,
        report.key_fingerprint
    );
    for r in &report.renditions {
        println!(
            "  {:>6} {}x{} {} avg {:.0} kb/s, peak {:.0} kb/s",
            r.id,
            r.width,
            r.height,
            r.codecs,
            r.bitrate as f64 / 1000.0,
            r.peak_bitrate as f64 / 1000.0
        );
    }
    Ok(())
}
