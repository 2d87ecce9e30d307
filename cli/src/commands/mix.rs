use std::path::PathBuf;

use abmark_delivery::ids::SessionId;
use abmark_delivery::layout::JobFile;
use abmark_delivery::pace::PaceTable;
use abmark_media::mix::{mix, session_choices};
use abmark_wm::payload::SessionCoder;

#[derive(clap::Args)]
pub struct Args {
    /// A variants output (the directory `abmark variants` wrote).
    out: PathBuf,
    /// The viewer's session index.
    #[arg(long)]
    session: SessionId,
    /// Watermark key file (the session code derives from it).
    #[arg(long)]
    key: PathBuf,
    /// Where to write the viewer's stream (MP4).
    #[arg(short, long)]
    output: PathBuf,
    /// Rendition id (default: the largest).
    #[arg(long)]
    rendition: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let coder = SessionCoder::new(&key)?;
    let job = JobFile::load(&args.out)?;
    let pace = PaceTable::load(&args.out, &job)?;
    let codeword = coder.encode(args.session.index());
    let choices = session_choices(pace.positions(), &codeword);
    let summary = mix(&args.out, &job, args.rendition.as_deref(), &choices, &args.output)?;
    let bits: String = choices.iter().map(|c| char::from(b'0' + c)).collect();
    if args.json {
        return super::print_json(&serde_json::json!({
            "output": args.output,
            "session": args.session,
            "rendition": summary.rendition,
            "segments": summary.segments,
            "from_variant": summary.from_variant,
            "with_audio": summary.with_audio,
            "pattern": hex::encode(codeword.to_bytes()),
            "segment_variants": bits,
        }));
    }
    println!(
        "wrote {}: session {}, {} segments of {} ({} from variant 0, {} from variant 1)",
        args.output.display(),
        args.session,
        summary.segments,
        summary.rendition,
        summary.from_variant[0],
        summary.from_variant[1]
    );
    println!("segment variants: {bits}");
    Ok(())
}
