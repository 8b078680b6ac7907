//! One module per command. Each builds options, calls the library, and prints the result.

mod browse;
pub(crate) mod check;
pub(crate) mod copy;
pub(crate) mod drill;
pub(crate) mod forget;
mod handover;
pub(crate) mod ingest;
mod init;
pub(crate) mod jobs;
mod contents;
mod key;
mod repair;
mod pitr;
mod restore;
mod routine;
mod rows_diff;
mod script_encoding;
mod selection;
pub(crate) mod snapshots;
pub(crate) mod status;
mod wal;

use std::time::Duration;

use anyhow::{Context, Result};
use store::{Access, Location, Repository};

use crate::cli::{Cli, Command, Global, RepairCommand};


/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, &a),
        Command::Ingest(a) => {
            let what = format!("db {}", a.db.as_deref().unwrap_or_default());
            pinged(a.ping.clone(), &what, "snapshot saved", || with_repo(g, |repo| ingest::run(g, repo, a)))
        }
        Command::Drill(a) => {
            let what = format!("drill of {} of db {}", a.snapshot, a.db.as_deref().unwrap_or("?"));
            pinged(a.ping.clone(), &what, "passed", || with_repo(g, |repo| drill::run(g, repo, &a)))
        }
        Command::Snapshots(a) => with_repo(g, |repo| snapshots::run(g, repo, &a)),
        Command::Status(a) => with_repo(g, |repo| status::run(g, repo, &a)),
        Command::Restore(a) => with_repo(g, |repo| restore::run(g, repo, &a)),
        Command::Log(a) => with_repo(g, |repo| browse::log(g, repo, &a)),
        Command::Show(a) => with_repo(g, |repo| browse::show(g, repo, &a)),
        Command::Ls(a) => with_repo(g, |repo| contents::ls(g, repo, &a)),
        Command::Diff(a) => with_repo(g, |repo| browse::diff(g, repo, &a)),
        Command::Stats(a) => with_repo(g, |repo| browse::stats(g, repo, &a)),
        Command::Forget(a) => with_repo(g, |repo| forget::run(g, repo, &a)),
        Command::Prune(a) => with_repo(g, |repo| forget::run_prune(g, repo, &a)),
        Command::Check(a) => with_repo(g, |repo| check::run(g, repo, &a)),
        Command::Copy(a) => copy::run(g, &a),
        Command::Key(c) => with_repo(g, |repo| key::run(g, repo, &c)),
        Command::Repair(RepairCommand::Index { read_data }) => with_repo(g, |repo| repair::index(g, repo, read_data)),
        Command::Repair(RepairCommand::Snapshots { forget }) => with_repo(g, |repo| repair::snapshots(g, repo, forget)),
        Command::Repair(RepairCommand::Config) => repair::config(g),
        Command::Run(a) => routine::run(g, &a),
        Command::Wal(c) => wal::run(g, c),
        Command::Completions(a) => {
            // Generated whole first: the generator panics on a failed write (`| head -1`).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut <Cli as clap::CommandFactory>::command(), "dbvault", &mut script);
            crate::outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(())
        }
        Command::Man(a) => {
            if a.out_dir.exists() && !a.out_dir.is_dir() {
                anyhow::bail!("{} exists and is not a folder: give a folder for the man pages", a.out_dir.display());
            }
            std::fs::create_dir_all(&a.out_dir).with_context(|| format!("creating {}", a.out_dir.display()))?;
            clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), &a.out_dir).with_context(|| format!("writing man pages into {}", a.out_dir.display()))?;
            keep_examples_verbatim(&a.out_dir).with_context(|| format!("writing man pages into {}", a.out_dir.display()))?;
            if !g.quiet {
                crate::outln!("man pages written into {}", a.out_dir.display());
            }
            Ok(())
        }
    }
}

/// In the man pages, indented lines (examples: commands, a configuration) are printed as written,
/// not filled into paragraphs (clap_mangen fills every line of a long help).
fn keep_examples_verbatim(dir: &std::path::Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("dbvault")) || path.extension().is_none_or(|e| e != "1") {
            continue;
        }
        let (mut out, mut verbatim) = (String::new(), false);
        for line in std::fs::read_to_string(&path)?.lines() {
            let indented = line.starts_with("  ");
            if indented != verbatim {
                out += if indented { ".nf\n" } else { ".fi\n" };
                verbatim = indented;
            }
            out += line;
            out.push('\n');
        }
        if verbatim {
            out += ".fi\n";
        }
        std::fs::write(&path, out)?;
    }
    Ok(())
}

/// Run `f` between pings of `url`, if given (Healthchecks convention): around the whole command, so
/// a repository that cannot be opened is a failure too.
fn pinged(url: Option<String>, what: &str, done: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let ping = url.as_deref().map(crate::ping::Ping::parse).transpose().map_err(crate::exit::usage)?;
    if let Some(p) = &ping {
        p.start();
    }
    let result = f();
    if let Some(p) = &ping {
        match &result {
            Ok(()) => p.success(format!("{what}: {done}")),
            Err(e) => p.fail(&format!("{what}: {}", crate::output::error_chain(e))),
        }
    }
    result
}

/// The repository from `--repo` / `DBVAULT_REPOSITORY`.
fn location(g: &Global) -> Result<Location> {
    let repo = g.repo.as_deref().ok_or_else(|| crate::exit::usage("no repository given: use --repo PATH (or s3:URL) or set DBVAULT_REPOSITORY"))?;
    Ok(Location::parse(repo)?)
}

/// How to reach remote repositories: `--cache-dir`, `--retry-timeout`.
fn access(g: &Global) -> Access {
    Access { cache_dir: g.cache_dir.clone(), retry_timeout: Duration::from_secs(g.retry_timeout) }
}

/// Open and unlock the repository at `location` with `password`; from here on signals clean up
/// before ending dbvault ([`crate::interrupt`]).
pub(crate) fn open(g: &Global, location: &Location, password: &str) -> Result<Repository> {
    crate::interrupt::install();
    let mut repo = Repository::open_at(location, password.as_bytes(), &access(g)).with_context(|| format!("opening repository {location}"))?;
    repo.set_lock_wait(Duration::from_secs(g.lock_wait));
    Ok(repo)
}

/// Print (and drain) the non-fatal problems `repo` met.
pub(crate) fn report_warnings(repo: &Repository) {
    for w in repo.take_warnings() {
        crate::errln!("dbvault: warning: {w}");
    }
}

/// Open and unlock the repository the global options name, with their password.
pub(crate) fn open_configured(g: &Global) -> Result<Repository> {
    let location = location(g)?;
    let password = crate::password::get(g)?;
    open(g, &location, &password)
}

/// Open and unlock the repository, run `f`, then report any non-fatal problems met.
fn with_repo(g: &Global, f: impl FnOnce(&Repository) -> Result<()>) -> Result<()> {
    let location = location(g)?;
    let password = crate::password::get(g)?;
    let repo = open(g, &location, &password)?;
    let result = f(&repo);
    report_warnings(&repo);
    if let Some(path) = &g.metrics_file
        && let Err(e) = crate::metrics::write(&repo, path)
    {
        crate::errln!("dbvault: warning: the metrics file {} was not written: {}", path.display(), crate::output::error_chain(&e));
    }
    result
}
