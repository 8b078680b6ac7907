//! Who and where a drill's processes run (its throwaway server, the server's setup programs and
//! its clients): when dbvault runs as root, as an account of the drill alone (a user id no other
//! process or file has; not `postgres` or `mysql`, which own the host's own databases, nor
//! `nobody`, which other services and drills share), and, where the kernel allows it, in
//! namespaces of their own: a network namespace (no network at all: a Unix socket is all they
//! reach) and a mount namespace in which `/tmp`, `/var/tmp`, `/dev/shm` and `/run` are empty
//! (so no other server's socket, and nothing shared with the host, is within reach) but for the
//! drill's own folder. All of them are killed by the kernel when dbvault dies.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

/// The account a throwaway server runs as: `None` for dbvault's own.
#[derive(Clone, Debug)]
pub struct Account {
    /// Its name.
    pub name: String,
    uid: u32,
    gid: u32,
}

impl Account {
    /// The account to run a server as: dbvault's own, unless that is root; then `candidates`' first
    /// that exists (`None` when root may run it and none exists).
    pub fn for_server(candidates: &[&str], root_allowed: bool) -> Result<Option<Account>> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        for name in candidates {
            if let Some(a) = lookup(name) {
                return Ok(Some(a));
            }
        }
        if root_allowed {
            return Ok(None);
        }
        bail!(
            "dbvault runs as root, and the server refuses to: it runs as the `{}` account, which does not exist here (it comes with the server's package; or run dbvault as another user)",
            candidates.join("` or `")
        )
    }

    /// An account of this drill alone, for a process in a drill's mount namespace (where
    /// `/etc/passwd` and `/etc/group` name it; see [`Confinement::for_server`]): a user and group
    /// id no account and no group of the host has, so nothing else runs as it.
    fn ephemeral() -> Account {
        loop {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes).expect("the system's random numbers");
            let id = 0x4000_0000 + u32::from_le_bytes(bytes) % 0x3000_0000;
            // SAFETY: lookups in the account databases; only null is tested.
            let free = unsafe { libc::getpwuid(id).is_null() && libc::getgrgid(id).is_null() };
            if free {
                return Account { name: EPHEMERAL.into(), uid: id, gid: id };
            }
        }
    }

    /// Give `path` to this account.
    pub fn own(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).with_context(|| format!("giving {} to the `{}` account", path.display(), self.name))
    }

    /// Whether this account may pass through every folder above `path` (by their permission bits).
    pub fn reaches(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        path.ancestors().skip(1).all(|dir| {
            let Ok(m) = std::fs::metadata(dir) else { return false };
            let bit = if m.uid() == self.uid {
                0o100
            } else if m.gid() == self.gid {
                0o010
            } else {
                0o001
            };
            m.mode() & bit != 0
        })
    }
}

/// How the processes of a drill are confined ([module docs](self)).
#[derive(Clone, Debug, Default)]
pub struct Confinement {
    account: Option<Account>,
    namespaces: Option<Arc<Namespaces>>,
}

/// What the namespaces of a confined process hold, prepared before it starts (nothing may be
/// allocated between its fork and its exec).
#[derive(Debug)]
struct Namespaces {
    /// The drill's folder's path.
    folder_path: CString,
    /// Folders made empty (a fresh tmpfs on each).
    emptied: Vec<CString>,
    /// The folders to make in an emptied folder, outermost first, so that the folder's path exists
    /// again (none when the folder is not below one).
    path_to_folder: Vec<CString>,
    /// Files bound over others once the folder is back (`/etc/passwd` naming the drill's account).
    files: Vec<(CString, CString)>,
}

/// The name of a drill's own account ([`Account::ephemeral`]).
const EPHEMERAL: &str = "dbvault-drill";

/// Folders emptied in a drill's mount namespace.
const EMPTIED: [&str; 4] = ["/run", "/tmp", "/var/tmp", "/dev/shm"];

impl Confinement {
    /// The confinement of a throwaway server with its folder `dir`, and the account it runs as.
    /// As root, where the kernel allows namespaces (tried with `/bin/true`): an account of this
    /// drill alone ([`Account::ephemeral`], named in the namespace's own `/etc/passwd` and
    /// `/etc/group`, files in `dir`), so no other process, drill or service shares its rights.
    /// Otherwise `fallback` (`nobody`, ...) without namespaces, and a note says so.
    pub fn for_server(fallback: Option<Account>, dir: &Path) -> (Confinement, Option<Account>) {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return (Confinement { account: None, namespaces: None }, None);
        }
        let own = Account::ephemeral();
        if let Ok(n) = Namespaces::prepare(dir, &own) {
            let with = Confinement { account: Some(own.clone()), namespaces: Some(Arc::new(n)) };
            let mut probe = Command::new("/bin/true");
            with.apply(&mut probe);
            if probe.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success()) {
                return (with, Some(own));
            }
        }
        crate::errln!("dbvault: note: this kernel refuses dbvault namespaces: the drill's server and clients keep the host's network and folders");
        (Confinement { account: fallback.clone(), namespaces: None }, fallback)
    }

    /// An empty environment but `PATH` and the C locale.
    pub fn clean_env(&self, c: &mut Command) {
        c.env_clear().env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").env("LC_ALL", "C");
    }

    /// Confine `c` when it starts.
    pub fn apply(&self, c: &mut Command) {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        let ids = self.account.as_ref().map(|a| (a.uid, a.gid));
        let ns = self.namespaces.clone();
        // SAFETY: only async-signal-safe system calls on memory prepared before the fork. The
        // namespaces first (they need root), then the account (supplementary groups dropped),
        // then the parent-death signal (a change of user clears it); a parent already gone by
        // then is caught by the check.
        unsafe {
            c.pre_exec(move || {
                if let Some(ns) = &ns {
                    ns.enter()?;
                }
                if let Some((uid, gid)) = ids
                    && (libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                    return Err(std::io::Error::other("dbvault ended"));
                }
                Ok(())
            });
        }
    }
}

impl Namespaces {
    /// Everything [`Namespaces::enter`] needs for `dir`, with `account` named in the namespace's
    /// account files (written into `dir`).
    fn prepare(dir: &Path, account: &Account) -> Result<Namespaces> {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).context("a path with a NUL byte");
        let emptied: Vec<&Path> = EMPTIED.iter().map(Path::new).filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())).collect();
        let below = emptied.iter().find(|e| dir.starts_with(e));
        let path_to_folder = match below {
            Some(e) => dir.ancestors().filter(|a| a.starts_with(e) && a != e).collect::<Vec<_>>().into_iter().rev().map(c).collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let mut files = Vec::new();
        for (host, line) in [
            ("/etc/passwd", format!("{EPHEMERAL}:x:{}:{}:dbvault drill:/nonexistent:/usr/sbin/nologin\n", account.uid, account.gid)),
            ("/etc/group", format!("{EPHEMERAL}:x:{}:\n", account.gid)),
        ] {
            let mut text = std::fs::read_to_string(host).with_context(|| format!("reading {host}"))?;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            let copy = dir.join(&host[5..]);
            std::fs::write(&copy, text).with_context(|| format!("writing {}", copy.display()))?;
            std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
            files.push((c(&copy)?, c(Path::new(host))?));
        }
        Ok(Namespaces { folder_path: c(dir)?, emptied: emptied.iter().map(|p| c(p)).collect::<Result<_>>()?, path_to_folder, files })
    }

    /// Enter a network and a mount namespace of their own: no mount event reaches the host's,
    /// every emptied folder gets a fresh tmpfs, and the drill's folder (opened in the new
    /// namespace before it is covered) is bound back at its path. Called between fork and exec:
    /// system calls only, and no allocation.
    fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
        // SAFETY: system calls on NUL-terminated strings prepared before the fork, or on the
        // stack.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS))?;
            check(libc::mount(c"none".as_ptr(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()))?;
            let folder = libc::open(self.folder_path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC);
            if folder < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for dir in &self.emptied {
                let flags = libc::MS_NOSUID | libc::MS_NODEV;
                check(libc::mount(c"tmpfs".as_ptr(), dir.as_ptr(), c"tmpfs".as_ptr(), flags, c"mode=1777,size=64m".as_ptr().cast()))?;
            }
            if !self.path_to_folder.is_empty() {
                for dir in &self.path_to_folder {
                    if libc::mkdir(dir.as_ptr(), 0o755) != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                let source = fd_path(folder);
                check(libc::mount(source.as_ptr().cast(), self.folder_path.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()))?;
            }
            libc::close(folder);
            for (from, to) in &self.files {
                check(libc::mount(from.as_ptr(), to.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()))?;
            }
        }
        Ok(())
    }
}

/// `/proc/self/fd/N` of `fd`, NUL-terminated, on the stack (no allocation after a fork).
fn fd_path(fd: libc::c_int) -> [u8; 32] {
    let mut out = [0u8; 32];
    let prefix = b"/proc/self/fd/";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let (mut n, mut len) = (fd.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        out[prefix.len() + i] = digits[len - 1 - i];
    }
    out
}

/// The account named `name`, if it exists.
fn lookup(name: &str) -> Option<Account> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam reads the account database; the pointer is used before any other call.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null result of getpwnam.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Some(Account { name: name.to_string(), uid, gid })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fd_paths_are_written_without_allocating() {
        for fd in [0, 7, 10, 255, 1_000_000] {
            let p = super::fd_path(fd);
            let end = p.iter().position(|&b| b == 0).unwrap();
            assert_eq!(std::str::from_utf8(&p[..end]).unwrap(), format!("/proc/self/fd/{fd}"));
        }
    }
}
