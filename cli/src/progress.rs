//! Progress bars on a terminal, silence everywhere else.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A frame counter with rate and ETA when stderr is a terminal and `quiet` is off; hidden
/// otherwise (pipes, CI, `--json`).
pub fn frames(total: Option<u64>, quiet: bool) -> ProgressBar {
    counter(total, "frames", quiet)
}

/// A counter of `unit`s (frames, segments...) with rate and ETA, on a terminal only.
pub fn counter(total: Option<u64>, unit: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        format!("{{spinner}} {{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}")
    } else {
        format!("{{spinner}} {{msg}} {{pos}} {unit}  {{per_sec}}")
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
