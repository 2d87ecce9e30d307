use std::path::PathBuf;

use crate::exit::UsageError;
use abmark_cenc::{decrypt, load_cpix, ContentKey};
use anyhow::bail;

#[derive(clap::Args)]
pub struct Args {
    /// A packaged output (directory with job.json), a directory of one track's init*.mp4 and
    /// *.m4s segments, or one fragmented MP4 file.
    input: PathBuf,
    /// Where the clear output goes (same form as the input).
    #[arg(short, long)]
    output: PathBuf,
    /// Content key as KID:KEY in hex (repeat for several KIDs). Visible to other users in `ps`:
    /// prefer --cpix on a shared machine.
    #[arg(long = "key", value_name = "KID:KEY")]
    keys: Vec<String>,
    /// Take the keys from a CPIX document.
    #[arg(long)]
    cpix: Option<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut keys = args.keys.iter().map(|k| ContentKey::parse(k)).collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = &args.cpix {
        for k in load_cpix(path)?.keys {
            keys.push(ContentKey::new(k.kid, k.key, k.explicit_iv));
        }
    }
    if keys.is_empty() {
        bail!(UsageError("no keys: give --key KID:KEY or --cpix FILE".into()));
    }
    let report = decrypt(&args.input, &args.output, &keys, args.force)?;
    if args.json {
        return super::print_json(&report);
    }
    println!(
        "decrypted {} files ({:.1} MB) into {}",
        report.files,
        report.bytes as f64 / 1e6,
        report.out
    );
    Ok(())
}
