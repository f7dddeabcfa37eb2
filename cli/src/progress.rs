//! Progress bars on stderr (indicatif), drawn only when stderr is a terminal: a log or a pipe
//! gets no carriage returns, only the commands' line-per-event output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps drawn with `template` (indicatif's template syntax), hidden unless
/// stderr is a terminal.
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    ProgressBar::with_draw_target(Some(len), target).with_style(style)
}

/// Leaves `bar` drawn at its end, and what follows on a line of its own.
pub fn finish(bar: &ProgressBar) {
    bar.finish();
    if !bar.is_hidden() {
        eprintln!();
    }
}
