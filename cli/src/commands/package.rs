use std::path::PathBuf;

use crate::exit::UsageError;
use abmark_cenc::{
    load_cpix, package_variants, plan_document, write_cpix_file, ContentKey, Drm, DrmOptions,
    KeyPlan, PackageJob, Scheme,
};
use abmark_delivery::layout::JobFile;
use abmark_files::output::resolved;
use abmark_media::package_file::{package_file, FILE_SEGMENT_SECONDS};
use abmark_media::probe;
use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// An `abmark variants` output (both variants, every rendition, audio).
    input: PathBuf,
    /// Where the encrypted output goes (a directory for a CDN: no keys are written into it).
    #[arg(short, long)]
    output: PathBuf,
    /// Content key as KID:KEY[:IV] in hex (repeat: video then audio, or one per key period).
    /// Visible to other users in `ps`: prefer --cpix on a shared machine.
    #[arg(long = "key", value_name = "KID:KEY[:IV]")]
    keys: Vec<String>,
    /// Take the keys from a DASH-IF CPIX document.
    #[arg(long, conflicts_with_all = ["keys", "generate_keys"])]
    cpix: Option<PathBuf>,
    /// Fetch the keys from a CPIX key service (SPEKE v2.0, e.g. `abmark key-service serve`'s
    /// http://HOST/speke/v2.0/copyProtection) for --content-id; the API key comes from
    /// ABMARK_CPIX_API_KEY only (the command line is visible in `ps`).
    #[arg(long, value_name = "URL", requires = "content_id",
          conflicts_with_all = ["keys", "cpix", "generate_keys"])]
    cpix_url: Option<String>,
    /// Draw fresh random keys (requires --cpix-out).
    #[arg(long, conflicts_with = "keys")]
    generate_keys: bool,
    /// Write the keys used as a CPIX document (mode 0600).
    #[arg(long)]
    cpix_out: Option<PathBuf>,
    /// Protection scheme: cenc (AES-CTR) or cbcs (AES-CBC 1:9 pattern).
    #[arg(long, default_value = "cenc")]
    scheme: String,
    /// DRM systems to signal, comma separated: widevine, playready, clearkey, fairplay
    /// (default: all the scheme supports).
    #[arg(long)]
    drm: Option<String>,
    /// Licence server URL (PlayReady LA_URL, ClearKey dashif:laurl).
    #[arg(long)]
    la_url: Option<String>,
    /// Content id for the Widevine PSSH and the CPIX document.
    #[arg(long)]
    content_id: Option<String>,
    /// Rotate keys every N segments (a new KID per key period).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rotate_every: Option<u32>,
    /// Keep the ETSI TS 104 002 `wmpi` box inside segments (browsers' MSE refuses unknown
    /// top-level boxes, so it is dropped by default; the WMPaceInfo sidecars are always kept).
    #[arg(long)]
    keep_wmpi: bool,
    /// Replace OUT (and --cpix-out) if they exist.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let scheme: Scheme = args.scheme.parse()?;
    let systems = match &args.drm {
        Some(list) => Drm::parse_list(list, scheme)?,
        None => Drm::all_for(scheme),
    };
    if args.generate_keys && args.cpix_out.is_none() {
        bail!(UsageError(
            "--generate-keys needs --cpix-out: keys that are not written down cannot be licensed"
                .into()
        ));
    }
    if let Some(cpix_out) = &args.cpix_out {
        // Resolved paths (symlinks followed, `..` applied), or `IN/../OUT/keys.xml` would pass.
        let keys = resolved(cpix_out)?;
        for (dir, name) in [(&args.output, "OUT"), (&args.input, "the input")] {
            if keys.starts_with(resolved(dir)?) {
                bail!(UsageError(format!(
                    "--cpix-out {} is inside {name}: keys must not land where the CDN reads",
                    cpix_out.display()
                )));
            }
        }
    }
    let rotate_every = args.rotate_every.map(|n| n as usize);
    // Segments to plan keys for: a variants output says; for a file it is estimated from the
    // duration (2-s segments cut at keyframes, plus slack for late keyframes).
    let (variants, segments, segment_seconds) = if args.input.is_dir() {
        let job =
            JobFile::load(&args.input).with_context(|| format!("{}", args.input.display()))?;
        let segments = job.segment_count.max(job.audio().map_or(0, |a| a.segments.len()));
        let seconds = job.segment_seconds;
        (Some(job), segments, seconds)
    } else {
        let info = probe(&args.input).with_context(|| format!("{}", args.input.display()))?;
        let duration = info.duration_seconds.unwrap_or(0.0);
        (None, (duration / FILE_SEGMENT_SECONDS).ceil() as usize + 2, FILE_SEGMENT_SECONDS)
    };
    let plan = if let Some(url) = &args.cpix_url {
        let content_id = args.content_id.as_deref().context("--cpix-url needs --content-id")?;
        let periods = rotate_every.map(|_| KeyPlan::periods_needed(rotate_every, segments));
        let doc = super::cpix_url::fetch_keys(url, content_id, scheme, &systems, periods)?;
        KeyPlan::from_cpix(&doc, rotate_every, segment_seconds)?
    } else if let Some(path) = &args.cpix {
        KeyPlan::from_cpix(&load_cpix(path)?, rotate_every, segment_seconds)?
    } else if args.generate_keys {
        KeyPlan::generate(rotate_every, KeyPlan::periods_needed(rotate_every, segments))?
    } else if !args.keys.is_empty() {
        let keys = args.keys.iter().map(|k| ContentKey::parse(k)).collect::<Result<Vec<_>, _>>()?;
        KeyPlan::from_keys(keys, rotate_every)?
    } else {
        bail!(UsageError(
            "no keys: give --key KID:KEY, --cpix FILE, --cpix-url URL or --generate-keys".into()
        ));
    };
    let needed = KeyPlan::periods_needed(plan.rotate_every, segments);
    if variants.is_some() && plan.rotate_every.is_some() && plan.video.len() < needed {
        bail!(UsageError(format!(
            "rotation every {} segments needs {needed} keys, {} given",
            plan.rotate_every.unwrap_or(0),
            plan.video.len()
        )));
    }
    let drm = DrmOptions {
        systems,
        license_url: args.la_url.clone(),
        content_id: args.content_id.clone(),
        passthrough: plan.supplied_pssh.clone(),
    };
    let job = PackageJob { scheme, drm: drm.clone(), force: args.force, keep_wmpi: args.keep_wmpi };
    let total = variants.as_ref().map(|j| j.outputs.iter().map(|o| o.segments.len() as u64).sum());
    let bar = crate::progress::counter(total, "segments", args.json);
    bar.set_message("encrypting");
    let progress = |done: u64, _| bar.set_position(done);
    let report = match &variants {
        Some(_) => package_variants(&args.input, &args.output, &plan, &job, &progress)?,
        None => package_file(&args.input, &args.output, &plan, &job, &progress)?,
    };
    bar.finish_and_clear();
    if let Some(path) = &args.cpix_out {
        let doc = plan_document(&plan, scheme, &drm, args.content_id.as_deref());
        write_cpix_file(path, &doc, args.force)?;
    }
    if args.json {
        return super::print_json(&report);
    }
    println!(
        "packaged {} segments ({:.1} MB) with {} into {} in {:.1} s ({:.0} MB/s); KIDs {}; DRM {}",
        report.segments,
        report.media_bytes as f64 / 1e6,
        report.scheme,
        report.out,
        report.seconds,
        report.megabytes_per_second,
        report.kids.join(", "),
        report.drm_systems.join(", ")
    );
    if let Some(path) = &args.cpix_out {
        println!("keys written to {} (CPIX, mode 0600)", path.display());
    }
    Ok(())
}
