//! `abmark variants`: both watermarked variants of a source (`abmark_media::variants`), on one
//! machine or as chunks (`--chunk I/N`) that `abmark variants assemble OUT` puts together.

use std::path::PathBuf;

use abmark_media::variants::{assemble, make_chunk, make_variants, ChunkSpec, VariantsJob};
use abmark_media::EncodeSettings;

use crate::exit::UsageError;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Source video (anything FFmpeg decodes).
    #[arg(required = true)]
    source: Option<PathBuf>,
    /// Output directory (created; refused if it exists, unless --force; with --chunk, shared
    /// by the chunks and created if missing).
    #[arg(short, long, required = true)]
    output: Option<PathBuf>,
    /// Watermark key file.
    #[arg(long, required = true)]
    key: Option<PathBuf>,
    /// Encode only chunk I (from 0) of N: a run of whole segments, written under
    /// OUTPUT/.chunks/ for `variants assemble` (chunks may run at once on machines sharing
    /// OUTPUT; a re-run replaces its chunk).
    #[arg(long, value_name = "I/N")]
    chunk: Option<ChunkSpec>,
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
    /// Print the result (job.json; with --chunk, the chunk's chunk.json) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Check the chunks of OUT (all present, same source, key and settings) and write the
    /// output the one-machine run writes, in place.
    Assemble(AssembleArgs),
}

#[derive(clap::Args)]
struct AssembleArgs {
    /// The output directory the chunks were written into.
    out: PathBuf,
    /// Print the result (job.json) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Sub::Assemble(a)) = args.command {
        return run_assemble(a);
    }
    let (Some(source), Some(output), Some(key)) = (&args.source, &args.output, &args.key) else {
        return Err(UsageError("variants needs SOURCE, --output and --key".into()).into());
    };
    let key = super::load_key(key)?;
    let info = abmark_media::probe(source)?;
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
    let mut total =
        info.frame_count.or_else(|| info.duration_seconds.map(|d| (d * info.fps).round() as u64));
    if let (Some(spec), Some(frames)) = (args.chunk, total) {
        // About this chunk's share, for the bar.
        total = Some(frames.div_ceil(u64::from(spec.count)));
    }
    let bar = crate::progress::frames(total, args.json);
    bar.set_message("variants");
    let started = std::time::Instant::now();
    if let Some(spec) = args.chunk {
        let chunk = make_chunk(source, output, &key, &job, spec, &mut |n| bar.set_position(n))?;
        bar.finish_and_clear();
        if args.json {
            return super::print_json(&chunk);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "wrote chunk {spec} of {}: segments {}-{} ({} frames, {} decoded before its start) in {:.1} s, key {}",
            output.display(),
            chunk.first_segment + 1,
            chunk.first_segment + chunk.segment_count(),
            chunk.frames,
            chunk.dropped_frames,
            secs,
            chunk.key_fingerprint
        );
        return Ok(());
    }
    let report = make_variants(source, output, &key, &job, &mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if args.json {
        return super::print_json(&report);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {}: {} frames in {:.1} s ({:.1} fps), {} segments of {:.3} s, key {}",
        output.display(),
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

fn run_assemble(args: AssembleArgs) -> anyhow::Result<()> {
    let job = assemble(&args.out)?;
    if args.json {
        return super::print_json(&job);
    }
    println!(
        "assembled {}: {} frames, {} segments of {:.3} s, {} renditions, key {}",
        args.out.display(),
        job.frames,
        job.segment_count,
        job.segment_seconds,
        job.renditions.len(),
        job.key_fingerprint
    );
    Ok(())
}
