//! `abmark`: the command-line face of the abmark engine.
//!
//! Only parsing, opening files, progress and printing live here; every algorithm and format is
//! in the engine crates (`engine/*`). Errors print as one line on stderr; the exit status says
//! what kind of failure it was (`exit`, documented in the README).

mod commands;
mod exit;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::Status;

#[derive(Parser)]
#[command(name = "abmark", version, about = "Forensic A/B video watermarking")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new 256-bit watermark key (file mode 0600).
    Keygen(commands::keygen::Args),
    /// Embed one watermark symbol into every frame of a video.
    Embed(commands::embed::Args),
    /// Decide, per segment, which symbol a copy carries (informed: needs the unmarked source).
    Symbols(commands::symbols::Args),
    /// Encode both watermark variants of a source as aligned CMAF outputs with HLS and DASH.
    Variants(commands::variants::Args),
    /// Name the session a pirated copy was leaked from, with the evidence.
    Detect(commands::detect::Args),
    /// Mint a viewer's WM token (ETSI TS 104 002 CWT, or JWT) and print it.
    Token(commands::token::Args),
    /// Serve personalised HLS/DASH manifests (and the ETSI edge mode) for a variants output.
    // Boxed: its flags make it several times larger than any other command's.
    Serve(Box<commands::serve::Args>),
    /// Write the exact stream one session receives as a single MP4.
    Mix(commands::mix::Args),
    /// Encrypt a variants output with CENC (cenc or cbcs) and signal the DRM systems.
    Package(commands::package::Args),
    /// Decrypt a packaged output, a track directory or an fMP4 file (cenc or cbcs).
    Decrypt(commands::decrypt::Args),
    /// The CPIX key service (SPEKE v2.0) for encoders, and its API keys.
    KeyService(commands::key_service::Args),
    /// Rank subjects and sessions by evidence of abuse in the delivery logs; write the report
    /// and the deny list (`analytics simulate`: labelled test traffic).
    Analytics(commands::analytics::Args),
    /// The detection service: submit copies over HTTP, get the leaking session with evidence.
    Investigate(commands::investigate::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; anything else clap refused is a usage error.
            let _ = e.print();
            return if e.use_stderr() { Status::Usage.into() } else { Status::Success.into() };
        }
    };
    let done = |r: anyhow::Result<()>| r.map(|()| Status::Success);
    let result = match cli.command {
        Command::Keygen(args) => done(commands::keygen::run(args)),
        Command::Embed(args) => done(commands::embed::run(args)),
        Command::Symbols(args) => done(commands::symbols::run(args)),
        Command::Variants(args) => done(commands::variants::run(args)),
        Command::Detect(args) => commands::detect::run(args),
        Command::Token(args) => done(commands::token::run(args)),
        Command::Serve(args) => done(commands::serve::run(*args)),
        Command::Mix(args) => done(commands::mix::run(args)),
        Command::Package(args) => done(commands::package::run(args)),
        Command::Decrypt(args) => done(commands::decrypt::run(args)),
        Command::KeyService(args) => done(commands::key_service::run(args)),
        Command::Analytics(args) => done(commands::analytics::run(args)),
        Command::Investigate(args) => done(commands::investigate::run(args)),
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("abmark: error: {}", one_line(&err));
            exit::status_of(&err).into()
        }
    }
}

/// The error and its causes on one line, without repeating a cause the message already holds.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line.replace('\n', " ")
}
