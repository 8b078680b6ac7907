//! `dbvault`: the command-line edge. Each command is a small function in [`commands`] that turns
//! validated options into a library call and prints the result (human or `--json`); errors become
//! messages and the exit codes documented in [`exit`].

mod child;
mod cli;
mod commands;
mod exit;
mod output;
mod password;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let quiet = cli.global.quiet;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit::code_for(&err);
            if !quiet || code != exit::OK {
                eprintln!("dbvault: error: {}", output::error_chain(&err));
                if let Some(hint) = exit::hint_for(&err) {
                    eprintln!("dbvault: {hint}");
                }
            }
            ExitCode::from(code)
        }
    }
}
