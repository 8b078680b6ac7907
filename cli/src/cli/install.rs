//! Arguments of the commands that install dbvault as a system tool: shell completions and man
//! pages, generated from the same definitions as `--help`, so they never drift from it.

use std::path::PathBuf;

use clap::Args;

/// `completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` options.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder to write `dbvault.1`, `dbvault-ingest.1`, ... into (created if absent).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}
