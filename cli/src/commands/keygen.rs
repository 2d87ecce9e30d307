use std::path::PathBuf;

use abmark_wm::key::WatermarkKey;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the key (must not exist).
    #[arg(short, long)]
    output: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = WatermarkKey::generate()?;
    abmark_files::keyfile::save_new_key(&key, &args.output)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "path": args.output,
            "fingerprint": key.fingerprint(),
        }))
    } else {
        println!("wrote {} (fingerprint {})", args.output.display(), key.fingerprint());
        Ok(())
    }
}
