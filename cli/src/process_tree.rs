//! The processes a command of ours started, and their descendants (a `sh -c` line starts more):
//! found through `/proc`, and killed together, so none outlives dbvault holding a pipe open.
//!
//! dbvault makes itself a child subreaper: a descendant whose parent exits is re-parented to
//! dbvault rather than to init, so it is still found beneath dbvault until it ends.

use std::collections::HashMap;

/// Make this process a subreaper for its descendants (Linux; elsewhere nothing happens).
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_CHILD_SUBREAPER only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Parent of every process, from `/proc/<pid>/stat` (field 4, after the command name in
/// parentheses, which may itself contain spaces and parentheses).
fn parents() -> HashMap<u32, u32> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            out.insert(pid, ppid);
        }
    }
    out
}

/// Every process below `root` (children, their children, ...), not `root` itself.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents = parents();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, ppid) in parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            stack.push(c);
        }
    }
    out
}

/// SIGKILL every descendant of this process (what a command left running, re-parented to us as
/// the subreaper); again while any is alive, since one may fork between a look and its kill (at
/// most 200 rounds). Nothing is reaped here: a child's owner waits for it (and a zombie no one
/// waits for is gone with dbvault).
pub fn kill_descendants() {
    let me = std::process::id();
    for _ in 0..200 {
        let alive: Vec<u32> = descendants(me).into_iter().filter(|&p| !is_zombie(p)).collect();
        if alive.is_empty() {
            return;
        }
        for pid in alive {
            // SAFETY: kill only sends a signal.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Whether `pid` has exited and waits to be reaped.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.rfind(')').is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z')))
}

/// SIGKILL `root` and all its descendants (found first, so none escapes by being re-parented).
/// Processes already gone are skipped. `root` is not reaped: its owner waits for it.
pub fn kill_tree(root: u32) {
    let below = descendants(root);
    for pid in std::iter::once(root).chain(below.iter().copied()) {
        // SAFETY: kill only sends a signal; a pid that no longer exists yields ESRCH.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    // Descendants re-parented to us are reaped when they are ours to reap (best effort: a
    // zombie until dbvault exits costs nothing).
    for pid in below {
        // SAFETY: waitpid on a specific pid with WNOHANG never blocks; ECHILD when not our child.
        unsafe {
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn alive(pid: u32) -> bool {
        // A zombie has exited; only a process still running counts.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
    }

    #[test]
    fn a_shell_and_its_children_die_together() {
        become_subreaper();
        let mut sh = Command::new("sh").args(["-c", "sleep 30 & sleep 31; wait"]).stdout(Stdio::null()).spawn().unwrap();
        let pid = sh.id();
        let start = Instant::now();
        let mut below = descendants(pid);
        while below.len() < 2 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
            below = descendants(pid);
        }
        assert_eq!(below.len(), 2, "sh should have started two sleeps");
        kill_tree(pid);
        sh.wait().unwrap();
        let start = Instant::now();
        while below.iter().any(|p| alive(*p)) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(below.iter().all(|p| !alive(*p)), "a child of the shell survived");
    }
}
