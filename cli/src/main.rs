//! `dbvault`: the command-line edge. Each command is a small function in [`commands`] that turns
//! validated options into a library call and prints the result (human or `--json`); errors become
//! messages and the exit codes documented in [`exit`].

mod child;
mod cli;
mod commands;
mod drill;
mod exit;
mod interrupt;
mod metrics;
mod output;
mod password;
mod ping;
mod process_tree;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_allocator();
    diagnostics();
    let json_asked = std::env::args_os().any(|a| a == "--json");
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version: printed to standard output, which may fail too.
        Err(e) if !e.use_stderr() => {
            return match e.print().and_then(|()| std::io::stdout().flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(err) => {
                    output::errln(format_args!("dbvault: error: writing to standard output: {err}"));
                    ExitCode::from(exit::ERROR)
                }
            };
        }
        Err(e) => {
            let _ = e.print();
            if json_asked {
                let first = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
                output::json_error(&first, exit::USAGE, None, false);
            }
            return ExitCode::from(exit::USAGE);
        }
    };
    let quiet = cli.global.quiet;
    let json = cli.global.json;
    // Where a --json document goes: standard error when standard output carries a dump.
    let json_on_stderr = cli.command.writes_dump_to_stdout();
    let result = commands::run(cli).and_then(|()| std::io::stdout().flush().map_err(|e| output::StdoutFailed(e).into()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::stdout_closed(&err) => {
            // The work is done; only its report found no reader (`dbvault snapshots | head -1`).
            ExitCode::SUCCESS
        }
        Err(err) => {
            let code = exit::code_for(&err);
            let message = output::error_chain(&err);
            let hint = exit::hint_for(&err);
            if !quiet || code != exit::OK {
                output::errln(format_args!("dbvault: error: {message}"));
                if let Some(hint) = &hint {
                    output::errln(format_args!("dbvault: {hint}"));
                }
            }
            if json && !exit::reported_in_json(&err) {
                output::json_error(&message, code, hint.as_deref(), json_on_stderr);
            }
            ExitCode::from(code)
        }
    }
}

/// Keep chunk-sized buffers in glibc's heap: by default a buffer above 128 KiB (most chunks and
/// every batch) is a fresh mmap, whose page faults and clearing slow restores
/// (benches/log/2026-11-21-cheaper-deltas.md).
/// `RUST_LOG=dbvault=debug`: what each step does and how long it took, on standard error (never
/// in a `--json` document, which goes to standard output).
fn diagnostics() {
    if std::env::var_os("RUST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(true).try_init();
    }
}

fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}
