use std::path::PathBuf;

use abmark_detect::symbols::{detect_symbols, SymbolOptions};
use abmark_wm::WatermarkParams;

#[derive(clap::Args)]
pub struct Args {
    /// The copy to examine (anything FFmpeg decodes).
    copy: PathBuf,
    /// The unmarked reference (the source the marked video was made from).
    #[arg(long = "ref")]
    reference: PathBuf,
    /// Watermark key file.
    #[arg(long)]
    key: PathBuf,
    /// Segment duration in seconds used when embedding.
    #[arg(long, default_value_t = 2.0, value_parser = super::positive)]
    segment_seconds: f64,
    /// Decide a segment only when |z| reaches this (z is standard normal without a watermark).
    #[arg(long, default_value_t = 4.5, value_parser = super::positive)]
    threshold: f64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let options = SymbolOptions {
        params: WatermarkParams { segment_seconds: args.segment_seconds, ..Default::default() },
        z_threshold: args.threshold,
        ..Default::default()
    };
    let bar = crate::progress::frames(None, args.json);
    bar.set_message("detecting");
    let report = detect_symbols(&args.copy, &args.reference, &key, &options, &mut |p| {
        if let (Some(total), None) = (p.total, bar.length()) {
            bar.set_length(total);
        }
        bar.set_position(p.frames);
    })?;
    bar.finish_and_clear();
    if args.json {
        return super::print_json(&report);
    }
    let t = &report.transform;
    println!(
        "copy {}x{} @ {:.3} fps vs reference {}x{}: scale {:.4} x {:.4}, offset ({:.1}, {:.1}), match {:.3}",
        report.copy.width,
        report.copy.height,
        report.copy.fps,
        report.reference.width,
        report.reference.height,
        t.sx,
        t.sy,
        t.offsets().0,
        t.offsets().1,
        report.match_correlation
    );
    println!(
        "{:>7} {:>8} {:>6} {:>6} {:>9} {:>9} {:>10}",
        "segment", "start_s", "frames", "symbol", "z", "llr", "confidence"
    );
    for s in &report.segments {
        let symbol = s.symbol.map_or("none".to_string(), |b| b.to_string());
        println!(
            "{:>7} {:>8.1} {:>6} {:>6} {:>9.2} {:>9.1} {:>10.6}",
            s.index, s.start_seconds, s.frames, symbol, s.z, s.llr, s.confidence
        );
    }
    println!(
        "{} of {} segments decided (|z| >= {}); median |z| {:.1}",
        report.decided(),
        report.segments.len(),
        report.z_threshold,
        report.signal_z
    );
    Ok(())
}
