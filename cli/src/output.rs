//! Shared output helpers: writing to standard output without panicking, sizes, times, tables,
//! progress bars, error chains.
//!
//! Standard output may be a closed pipe (`dbvault snapshots | head -1`) or a full disk: every line
//! goes through [`line()`], which returns [`StdoutFailed`] instead of panicking, and the command
//! stops there. A closed pipe then ends dbvault quietly with the work's own exit code; any other
//! failure is an error. Messages to standard error never stop anything ([`errln`]).

use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

/// Standard output could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing to standard output: {0}")]
pub struct StdoutFailed(#[source] pub std::io::Error);

/// Write one line to standard output.
pub fn line(args: fmt::Arguments) -> Result<(), StdoutFailed> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.write_all(b"\n")).map_err(StdoutFailed)
}

/// `println!` that returns [`StdoutFailed`] from the calling function instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))?
    };
}

/// Write one line to standard error, ignoring failure (a closed standard error must not turn a
/// good backup into a failed one).
pub fn errln(args: fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `eprintln!` that never panics ([`errln`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::errln(format_args!($($arg)*))
    };
}

/// Whether `err` is standard output found closed (its reader went away).
pub fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<StdoutFailed>().is_some_and(|s| s.0.kind() == std::io::ErrorKind::BrokenPipe))
}

/// A `--json` document as one line of text, its keys sorted: the order dbvault's documents have
/// always had (they were built as `serde_json::Value`s, whose objects keep their keys sorted), so
/// the document goes through a `Value` on its way out.
pub fn json_text(doc: &impl Serialize) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_value(doc)?.to_string())
}

/// Print a `--json` document ([`json_text`]) on standard output.
pub fn json(doc: &impl Serialize) -> anyhow::Result<()> {
    line(format_args!("{}", json_text(doc)?))?;
    Ok(())
}

/// The `--json` document of a failed command.
#[derive(Serialize)]
struct ErrorDoc<'a> {
    /// Always false.
    ok: bool,
    /// The error and its causes, on one line.
    error: &'a str,
    /// The exit code dbvault ends with.
    exit_code: u8,
    /// Advice, when the next step is not obvious from the message.
    hint: Option<&'a str>,
}

/// The one JSON document of a failed command: `{"ok": false, "error", "exit_code", "hint"}`, on
/// standard output (or standard error when standard output carries a dump).
pub fn json_error(message: &str, code: u8, hint: Option<&str>, on_stderr: bool) {
    let doc = json_text(&ErrorDoc { ok: false, error: message, exit_code: code, hint }).expect("strings and numbers make a JSON document");
    if on_stderr {
        errln(format_args!("{doc}"));
    } else {
        let _ = line(format_args!("{doc}"));
    }
}

/// `s` safe to print on a terminal: control characters (escape sequences, carriage returns,
/// newlines) are shown as `\u{1b}`-style escapes.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return s.into();
    }
    s.chars().map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() }).collect::<String>().into()
}

/// `1.4 MiB`-style size.
pub fn size(n: u64) -> String {
    humansize::format_size(n, humansize::BINARY)
}

/// Throughput of `bytes` over `d`.
pub fn rate(bytes: u64, d: Duration) -> String {
    let secs = d.as_secs_f64().max(1e-6);
    format!("{}/s", size((bytes as f64 / secs) as u64))
}

/// What an ingest's deltas saved, in words; `None` when it stored no deltas.
pub fn deltas(a: &repo_format::manifest::Added) -> Option<String> {
    (a.delta_chunks > 0).then(|| {
        format!(
            "{} of the new chunks ({}) stored as deltas in {}, {} less than compressed alone",
            a.delta_chunks,
            size(a.delta_raw_bytes),
            size(a.delta_stored_bytes),
            size(a.delta_alone_bytes.saturating_sub(a.delta_stored_bytes))
        )
    })
}

/// A timestamp in local time, to the second.
pub fn local_time(t: Timestamp) -> String {
    t.to_zoned(TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Print rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Result<(), StdoutFailed> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let row = |cells: Vec<&str>| {
        let s: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{:<w$}", printable(c))).collect();
        line(format_args!("{}", s.join("  ").trim_end()))
    };
    row(header.to_vec())?;
    for r in rows {
        row(r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet.
pub fn progress(total: Option<u64>, quiet: bool, what: &str) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}").expect("valid template"),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}").expect("valid template")),
    };
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// An error and its causes on one line, without repeating a cause its parent already quotes.
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// A progress callback for multi-phase work (`phase`, done, total) driving `bar`, if any.
pub fn phase_progress(bar: &Option<ProgressBar>) -> impl Fn(&str, u64, u64) + Sync + '_ {
    move |phase: &str, done: u64, total: u64| {
        if let Some(b) = bar {
            b.set_message(phase.to_string());
            b.set_length(total);
            b.set_position(done);
        }
    }
}
