//! Demo helpers for the main job until session codes exist: a "viewer" manifest that takes
//! segment i from variant `pattern[i mod len]`, and a check of detected symbols against it.

use std::path::PathBuf;

use abmark_delivery::layout::{manifests, JobFile};
use abmark_delivery::manifest::SegmentSource;
use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct MixArgs {
    /// An `abmark variants` output directory.
    out: PathBuf,
    /// Manifest name (writes NAME.m3u8, NAME-*.m3u8, NAME.mpd).
    #[arg(long)]
    name: String,
    /// Bits, repeated along the segments, e.g. 0110.
    #[arg(long)]
    pattern: String,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// `abmark symbols --json` output.
    symbols: PathBuf,
    #[arg(long)]
    pattern: String,
}

fn bits(pattern: &str) -> anyhow::Result<Vec<u8>> {
    let bits: Vec<u8> = pattern
        .chars()
        .map(|c| match c {
            '0' => Ok(0),
            '1' => Ok(1),
            _ => bail!("pattern '{pattern}' must be made of 0 and 1"),
        })
        .collect::<anyhow::Result<_>>()?;
    if bits.is_empty() {
        bail!("empty pattern");
    }
    Ok(bits)
}

pub fn mix(args: MixArgs) -> anyhow::Result<()> {
    let pattern = bits(&args.pattern)?;
    let job_path = args.out.join("job.json");
    let job: JobFile = serde_json::from_slice(
        &std::fs::read(&job_path).with_context(|| format!("reading {}", job_path.display()))?,
    )
    .with_context(|| format!("parsing {}", job_path.display()))?;
    let choice: Vec<u8> = (0..job.segment_count).map(|i| pattern[i % pattern.len()]).collect();
    manifests::write(&args.out, &job, &args.name, SegmentSource::PerSegment(&choice))?;
    println!(
        "wrote {}/{}.m3u8 and .mpd: {} segments, bits {}",
        args.out.display(),
        args.name,
        choice.len(),
        choice.iter().map(|b| b.to_string()).collect::<String>()
    );
    Ok(())
}

pub fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let pattern = bits(&args.pattern)?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&args.symbols)?)?;
    let segments = report["segments"].as_array().context("no segments in the report")?;
    let (mut right, mut wrong, mut none) = (0, 0, 0);
    println!("{:>7} {:>8} {:>8} {:>8} {:>9}", "segment", "start_s", "viewer", "decided", "z");
    for s in segments {
        let i = s["index"].as_u64().unwrap_or(0) as usize;
        println!(
            "{:>7} {:>8.1} {:>8} {:>8} {:>9.2}",
            i,
            s["start_seconds"].as_f64().unwrap_or(0.0),
            pattern[i % pattern.len()],
            s["symbol"].as_u64().map_or("none".to_string(), |b| b.to_string()),
            s["z"].as_f64().unwrap_or(0.0)
        );
        match s["symbol"].as_u64() {
            Some(b) if b as u8 == pattern[i % pattern.len()] => right += 1,
            Some(_) => wrong += 1,
            None => none += 1,
        }
    }
    println!(
        "{right} of {} segments match the viewer's bits, {wrong} wrong, {none} undecided",
        segments.len()
    );
    if wrong > 0 {
        bail!("{wrong} segments decided against the viewer's bits");
    }
    Ok(())
}
