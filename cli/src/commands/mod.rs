//! One module per command. Each builds options, calls the library, and prints the result.

mod browse;
mod check;
mod forget;
mod ingest;
mod init;
mod jobs;
mod key;
mod repair;
mod restore;
pub(crate) mod snapshots;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use store::Repository;

use crate::cli::{Cli, Command, Global, RepairCommand};

pub use check::CheckFailed;
pub use jobs::JobsFailed;

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, &a),
        Command::Ingest(a) => with_repo(g, |repo| ingest::run(g, repo, a)),
        Command::Snapshots(a) => with_repo(g, |repo| snapshots::run(g, repo, &a)),
        Command::Restore(a) => with_repo(g, |repo| restore::run(g, repo, &a)),
        Command::Log(a) => with_repo(g, |repo| browse::log(g, repo, &a)),
        Command::Show(a) => with_repo(g, |repo| browse::show(g, repo, &a)),
        Command::Diff(a) => with_repo(g, |repo| browse::diff(g, repo, &a)),
        Command::Stats(a) => with_repo(g, |repo| browse::stats(g, repo, &a)),
        Command::Forget(a) => with_repo(g, |repo| forget::run(g, repo, &a)),
        Command::Prune(a) => with_repo(g, |repo| forget::run_prune(g, repo, &a)),
        Command::Check(a) => with_repo(g, |repo| check::run(g, repo, &a)),
        Command::Key(c) => with_repo(g, |repo| key::run(g, repo, &c)),
        Command::Repair(RepairCommand::Index) => with_repo(g, |repo| repair::index(g, repo)),
    }
}

/// The repository folder from `--repo` / `DBVAULT_REPOSITORY`.
fn repo_path(g: &Global) -> Result<PathBuf> {
    g.repo.clone().context("no repository given: use --repo PATH or set DBVAULT_REPOSITORY")
}

/// Open and unlock the repository, run `f`, then report any non-fatal problems met.
fn with_repo(g: &Global, f: impl FnOnce(&Repository) -> Result<()>) -> Result<()> {
    let path = repo_path(g)?;
    let password = crate::password::get(g)?;
    let mut repo = Repository::open(&path, password.as_bytes()).with_context(|| format!("opening repository {}", path.display()))?;
    repo.set_lock_wait(Duration::from_secs(g.lock_wait));
    let result = f(&repo);
    for w in repo.take_warnings() {
        eprintln!("dbvault: warning: {w}");
    }
    result
}
