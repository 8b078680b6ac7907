//! Interruption. SIGINT, SIGTERM and SIGHUP end dbvault, but first:
//! - every process it runs (a dump command, the command a restore feeds) is killed with its
//!   descendants while its pipes are still open, so a restore's command never sees a clean end
//!   of input and a dump command never outlives dbvault as an orphan;
//! - temporary files that hold decrypted data (a restore into `-o FILE`) are removed, and so are
//!   temporary folders (a drill's throwaway database server, killed first);
//! - registered clean-ups run (a drill's scratch database on an existing server is dropped).
//!
//! Then dbvault dies of the same signal, so its parent sees it interrupted (exit status 130 for
//! SIGINT, 143 for SIGTERM, 129 for SIGHUP in a shell). What was being written to the repository is
//! left as a crash leaves it: never a partial snapshot (SPEC.md section 11). The commands
//! PostgreSQL runs (`wal push`, `wal fetch`) exit with an ordinary code instead
//! ([`exit_instead_of_dying`]).
//!
//! Handling starts once the repository is open or a process or file is registered, after any
//! password prompt (a prompt interrupted by our handler could leave the terminal without echo).

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::process_tree;

/// What must not survive an interruption.
struct Registry {
    next: u64,
    children: Vec<(u64, u32)>,
    files: Vec<(u64, PathBuf)>,
    dirs: Vec<(u64, PathBuf)>,
    cleanups: Vec<(u64, Box<dyn Fn() + Send>)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next: 0, children: Vec::new(), files: Vec::new(), dirs: Vec::new(), cleanups: Vec::new() });
static INSTALL: Once = Once::new();
/// When not 0: the exit code to end with after cleaning up, instead of dying of the signal.
static EXIT_CODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Handle signals from now on, and after cleaning up end with exit code `code` instead of dying
/// of the signal: for `wal push` and `wal fetch`, which PostgreSQL runs and which must fail as an
/// ordinary command does (its archiver stops when a command dies of a signal other than SIGTERM).
pub fn exit_instead_of_dying(code: u8) {
    EXIT_CODE.store(code, std::sync::atomic::Ordering::SeqCst);
    install();
}

fn registry() -> MutexGuard<'static, Registry> {
    // A panic elsewhere must not stop the cleanup.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registration; dropping it unregisters (the process ended, or the file was renamed into place).
#[must_use = "dropping the guard unregisters at once"]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        let mut r = registry();
        r.children.retain(|(t, _)| *t != self.0);
        r.files.retain(|(t, _)| *t != self.0);
        r.dirs.retain(|(t, _)| *t != self.0);
        r.cleanups.retain(|(t, _)| *t != self.0);
    }
}

/// Create something that must not survive an interruption and register it, in one step: the
/// cleanup takes the same lock, so a signal arriving while it is created waits and then finds it
/// registered (none is left behind by a signal between its creation and its registration).
fn create_registered<T, E>(create: impl FnOnce() -> Result<T, E>, add: impl FnOnce(&mut Registry, u64, &T)) -> Result<(T, Guard), E> {
    install();
    let mut r = registry();
    let made = create()?;
    r.next += 1;
    let token = r.next;
    add(&mut r, token, &made);
    Ok((made, Guard(token)))
}

/// Start a process with `spawn`; it and its descendants are killed if dbvault is interrupted while
/// the guard lives.
pub fn spawn_watched<E>(spawn: impl FnOnce() -> Result<std::process::Child, E>) -> Result<(std::process::Child, Guard), E> {
    create_registered(spawn, |r, t, child| r.children.push((t, child.id())))
}

/// Create a file with `create`; the file at `path(&it)` is removed if dbvault is interrupted while
/// the guard lives.
pub fn create_watched<T, E>(create: impl FnOnce() -> Result<T, E>, path: impl FnOnce(&T) -> PathBuf) -> Result<(T, Guard), E> {
    create_registered(create, |r, t, made| r.files.push((t, path(made))))
}

/// Create a folder with `create`; the folder at `path(&it)` is removed with everything in it if
/// dbvault is interrupted while the guard lives (after every watched process was killed).
pub fn create_watched_dir<T, E>(create: impl FnOnce() -> Result<T, E>, path: impl FnOnce(&T) -> PathBuf) -> Result<(T, Guard), E> {
    create_registered(create, |r, t, made| r.dirs.push((t, path(made))))
}

/// Run `cleanup` if dbvault is interrupted while the guard lives (after every watched process was
/// killed). It must end on its own, soon.
pub fn on_interrupt(cleanup: impl Fn() + Send + 'static) -> Guard {
    let registered: Result<((), Guard), std::convert::Infallible> = create_registered(|| Ok(()), |r, t, _| r.cleanups.push((t, Box::new(cleanup))));
    match registered {
        Ok(((), guard)) => guard,
    }
}

/// Start handling signals (once): a thread waits for them. Called when a repository is opened
/// (after any password prompt), and by the first registration.
pub fn install() {
    INSTALL.call_once(|| {
        process_tree::become_subreaper();
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(s) => s,
            // Without a handler, signals keep their default action: no worse than before.
            Err(_) => return,
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Held until the process ends: nothing new is started or registered meanwhile.
                let _held = clean_up();
                match EXIT_CODE.load(std::sync::atomic::Ordering::SeqCst) {
                    0 => die_of(sig),
                    code => {
                        eprintln!("dbvault: interrupted (signal {sig}); nothing was left half-done");
                        std::process::exit(i32::from(code))
                    }
                }
            }
        });
    });
}

/// End the process by `sig` with its default action, so the parent sees which signal it was.
/// The signal goes to the whole process (not this thread, which may block it); should it not end
/// the process at once, exit as a shell reports a death by signal.
fn die_of(sig: i32) -> ! {
    // SAFETY: restoring the default disposition and sending a signal to ourselves have no
    // memory-safety preconditions.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    std::process::exit(128 + sig);
}

/// Kill every registered process tree, wait for each root, remove every registered file; the
/// registry stays locked while the returned guard lives.
fn clean_up() -> MutexGuard<'static, Registry> {
    let r = registry();
    for (_, pid) in &r.children {
        process_tree::kill_tree(*pid);
    }
    for (_, pid) in &r.children {
        // SAFETY: waits for a specific pid; its owner's later wait (if any) then fails, which no
        // longer matters. Reaping it here makes sure it died before our pipes close.
        unsafe {
            libc::waitpid(*pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
    // What they left running, re-parented to dbvault (a subreaper): a drill's server's daemons.
    process_tree::kill_descendants();
    for (_, cleanup) in &r.cleanups {
        cleanup();
    }
    for (_, path) in &r.files {
        let _ = std::fs::remove_file(path);
    }
    for (_, path) in &r.dirs {
        let _ = std::fs::remove_dir_all(path);
    }
    r
}
