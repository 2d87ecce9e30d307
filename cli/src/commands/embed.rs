use std::path::PathBuf;

use abmark_media::mark::{mark_file, MarkJob};
use abmark_media::EncodeSettings;
use abmark_wm::{Symbol, WatermarkParams};
use anyhow::bail;

#[derive(clap::Args)]
pub struct Args {
    /// Source video (anything FFmpeg decodes).
    source: PathBuf,
    /// Output MP4 (H.264, the source's audio copied).
    #[arg(short, long)]
    output: PathBuf,
    /// Watermark key file.
    #[arg(long)]
    key: PathBuf,
    /// Symbol to embed: 0 or 1.
    #[arg(long)]
    symbol: Symbol,
    /// Segment duration in seconds (the pattern changes per segment).
    #[arg(long, default_value_t = 2.0, value_parser = super::positive)]
    segment_seconds: f64,
    /// x264 constant rate factor.
    #[arg(long, default_value_t = 18.0)]
    crf: f32,
    /// x264 preset.
    #[arg(long, default_value = "medium")]
    preset: String,
    /// Measure PSNR and SSIM of every marked frame against its source frame (before encoding).
    #[arg(long)]
    quality: bool,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        bail!(abmark_files::output::OutputError::Exists(args.output.clone()));
    }
    let key = super::load_key(&args.key)?;
    let info = abmark_media::probe(&args.source)?;
    let symbol = args.symbol;
    let params = WatermarkParams { segment_seconds: args.segment_seconds, ..Default::default() };
    let keyint = (args.segment_seconds * info.fps).round().max(1.0) as u32;
    let settings = EncodeSettings {
        crf: args.crf,
        preset: args.preset.clone(),
        keyint: Some(keyint),
        ..Default::default()
    };
    let total =
        info.frame_count.or_else(|| info.duration_seconds.map(|d| (d * info.fps).round() as u64));
    let bar = crate::progress::frames(total, args.json);
    bar.set_message("embedding");
    let job = MarkJob { symbol, params, encode: settings, measure_quality: args.quality };
    let report = mark_file(&args.source, &args.output, &key, &job, &mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if args.json {
        return super::print_json(&report);
    }
    println!(
        "wrote {}: {} frames ({:.1} s) {}x{}, symbol {}, key {}",
        args.output.display(),
        report.frames,
        report.seconds_of_video,
        report.width,
        report.height,
        report.symbol,
        report.key_fingerprint
    );
    if let Some(q) = &report.quality {
        println!(
            "watermark cost (marked vs source, luma): PSNR mean {:.2} dB, global {:.2} dB, min {:.2} dB; SSIM mean {:.5}, min {:.5}",
            q.psnr_mean, q.psnr_global, q.psnr_min, q.ssim_mean, q.ssim_min
        );
    }
    Ok(())
}
