//! Shared output helpers: sizes, times, tables, progress bars, error chains.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;

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
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
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
