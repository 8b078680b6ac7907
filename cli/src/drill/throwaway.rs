//! A throwaway database server's life: a fresh folder in the temporary folder, a server process
//! listening on a Unix socket there (no TCP), and, however the drill ends (success, failure,
//! Ctrl-C, SIGTERM), the process stopped and the folder removed.
//!
//! PostgreSQL refuses to run as root, so when dbvault runs as root (cron) the server runs as an
//! unprivileged account that owns the folder ([`Confinement`]: the drill's own, or `nobody`). The
//! folder is reachable by that account alone (and root), and so is the socket in it. The server
//! and its setup programs get an empty environment (no secret of dbvault's reaches them), and die
//! with dbvault even when it is killed outright (SIGKILL); folders such a death left behind are
//! removed by the next drill.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use super::confinement::{Account, Confinement};
use crate::interrupt;

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to stop before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);


/// Throwaway folders' names begin so.
const PREFIX: &str = "dbvault-drill-";
/// The file in a throwaway folder naming the dbvault process it belongs to.
const OWNER: &str = "dbvault.pid";

/// The folder throwaway folders are made in: `TMPDIR` when it names an absolute path, else /tmp.
fn base_dir() -> PathBuf {
    let t = std::env::temp_dir();
    if t.is_absolute() { t } else { PathBuf::from("/tmp") }
}

/// Remove throwaway folders in `base` whose dbvault process is gone (killed outright: its server
/// died with it, by the parent-death signal).
fn reap(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with(PREFIX)) {
            continue;
        }
        let Some(pid) = std::fs::read_to_string(e.path().join(OWNER)).ok().and_then(|p| p.trim().parse::<libc::pid_t>().ok()) else { continue };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone && std::fs::remove_dir_all(e.path()).is_ok() {
            crate::errln!("dbvault: removed {}, left by a drill whose dbvault process was killed", e.path().display());
        }
    }
}


/// A temporary folder and the server running in it. Dropped, it stops the server (`stop_signal`,
/// then SIGKILL after [`STOP_TIMEOUT`]) and removes the folder; interrupted, dbvault kills it
/// and removes the folder ([`crate::interrupt`]).
pub struct Throwaway {
    dir: PathBuf,
    account: Option<Account>,
    confinement: Confinement,
    child: Option<Child>,
    stop_signal: i32,
    log: PathBuf,
    // Dropped after the server stopped: the folder goes last.
    _child_guard: Option<interrupt::Guard>,
    _dir_guard: interrupt::Guard,
}

impl Throwaway {
    /// A new empty folder (`dbvault-drill-XXXXXX` in the temporary folder, `TMPDIR`), owned by
    /// `account` and reachable by it alone (and root): its socket accepts anyone who reaches it.
    /// As root the server runs as an account of the drill alone where the kernel allows
    /// namespaces, else as `fallback` ([`Confinement::for_server`]).
    pub fn create(fallback: Option<Account>) -> Result<Throwaway> {
        let account = fallback;
        let base = base_dir();
        if !base.is_dir() {
            bail!("the temporary folder {} does not exist or is no folder: set TMPDIR to one (such as /tmp)", base.display());
        }
        if let Some(a) = account.as_ref().filter(|a| !a.reaches(&base.join("x"))) {
            bail!("the temporary folder {} is not reachable by the `{}` account the server runs as: set TMPDIR to a folder it can reach (such as /tmp)", base.display(), a.name);
        }
        // A Unix socket's path holds at most 107 bytes: the folder's, `/`, and `.s.PGSQL.5432`.
        if base.as_os_str().len() + "/dbvault-drill-XXXXXX/.s.PGSQL.5432".len() > 107 {
            bail!("the temporary folder {} has too long a path for the server's Unix socket (at most 107 bytes in all): set TMPDIR to a shorter one (such as /tmp)", base.display());
        }
        reap(&base);
        let private = std::fs::Permissions::from_mode(0o700);
        let (dir, guard) = interrupt::create_watched_dir(|| tempfile::Builder::new().prefix(PREFIX).permissions(private).tempdir_in(&base).map(|d| d.keep()), |d: &PathBuf| d.clone())
            .with_context(|| format!("creating a temporary folder for the drill's server in {}", base.display()))?;
        std::fs::write(dir.join(OWNER), std::process::id().to_string())?;
        let (confinement, account) = Confinement::for_server(account, &dir);
        let t = Throwaway { log: dir.join("server.log"), dir, account, confinement, child: None, stop_signal: libc::SIGTERM, _child_guard: None, _dir_guard: guard };
        if let Some(a) = &t.account {
            a.own(&t.dir)?;
        }
        Ok(t)
    }

    /// The account the server runs as (none: dbvault's own).
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// How the server's processes (and its clients) are confined.
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// A command for `program` as the server's account, confined ([`Confinement`]), in the folder,
    /// with an empty environment (but `PATH`, `TMPDIR` the folder, and the C locale).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        self.confinement.clean_env(&mut c);
        c.env("TMPDIR", &self.dir).current_dir(&self.dir);
        self.confinement.apply(&mut c);
        c
    }

    /// Run a setup program (`initdb`, `mariadb-install-db`) to its end, killed if dbvault is
    /// interrupted meanwhile; its temporary files go into the folder. An error with its output if
    /// it fails.
    pub fn setup(&self, mut cmd: Command, what: &str) -> Result<()> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let (child, _watched) = interrupt::spawn_watched(|| cmd.spawn()).with_context(|| format!("running {what}"))?;
        let out = child.wait_with_output().with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!("{what} failed: {}{}", String::from_utf8_lossy(&out.stdout).trim(), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start the server (`cmd`, its output into the folder's `server.log`); `stop_signal` asks it
    /// to stop.
    pub fn start(&mut self, mut cmd: Command, stop_signal: i32) -> Result<()> {
        let log = std::fs::File::create(&self.log).with_context(|| format!("creating {}", self.log.display()))?;
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let shown = format!("{:?}", cmd.get_program());
        let (child, guard) = interrupt::spawn_watched(|| cmd.spawn()).with_context(|| format!("starting {shown}"))?;
        self.child = Some(child);
        self._child_guard = Some(guard);
        self.stop_signal = stop_signal;
        Ok(())
    }

    /// Wait until `ready` says the server accepts connections; an error with the end of its log
    /// if it exits or takes too long.
    pub fn wait_ready(&mut self, what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
        let start = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("the throwaway {what} server {}; its log ends:\n{}", crate::child::describe(status).unwrap_or_else(|| "exited".into()), self.log_tail());
            }
            if start.elapsed() > START_TIMEOUT {
                bail!("the throwaway {what} server did not accept connections within {} s; its log ends:\n{}", START_TIMEOUT.as_secs(), self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill only sends a signal to our own child.
            unsafe {
                libc::kill(c.id() as libc::pid_t, self.stop_signal);
            }
            let start = Instant::now();
            // (An error: reaped already, by a drill's timeout.)
            while matches!(c.try_wait(), Ok(None)) && start.elapsed() < STOP_TIMEOUT {
                std::thread::sleep(Duration::from_millis(50));
            }
            crate::process_tree::kill_tree(c.id());
            let _ = c.wait();
        }
        // What the server started and left behind (`COPY ... TO PROGRAM 'setsid daemon &'`) was
        // re-parented to dbvault, a subreaper: nothing else of dbvault's runs now.
        crate::process_tree::kill_descendants();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
