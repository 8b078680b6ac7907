//! External commands: the dump tool that produces a stream, the tool a restore feeds.
//!
//! A producer's standard error passes through to ours line by line while its last lines are kept
//! for the manifest; how it ended (status, signal, or failure to start) is described in words that
//! name the command, so a failed dump is never mistaken for a good one. Command lines and error
//! lines are redacted ([`store::redact`]) before they are shown or kept, and children never
//! inherit dbvault's passwords ([`command`]).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::StoreError;
use store::ingest::ProducerOutcome;

use crate::exit::CommandFailed;
use crate::interrupt;

use store::ingest::{STDERR_LINE_BYTES, STDERR_LINES, shorten};

/// `exited with status 1`, `was killed by signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> Option<String> {
    if status.success() {
        return None;
    }
    Some(match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => {
            let name = match s {
                1 => " (SIGHUP)",
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                13 => " (SIGPIPE)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {s}{name}")
        }
        _ => format!("ended abnormally ({status})"),
    })
}

fn not_started(shown: &[String], e: &std::io::Error) -> StoreError {
    StoreError::ProducerFailed { command: shown.join(" "), status: format!("could not be started: {e}"), stderr_tail: Vec::new() }
}

/// Whether an environment variable holds a secret of dbvault's own that no child needs: the
/// repository passwords (`DBVAULT_PASSWORD`, `DBVAULT_TO_PASSWORD`, `DBVAULT_NEW_PASSWORD`) and
/// where they come from (`..._FILE`, `..._COMMAND`).
pub fn is_dbvault_secret(name: &str) -> bool {
    name.starts_with("DBVAULT_") && name.contains("PASSWORD")
}

/// A command whose environment lacks dbvault's own secrets ([`is_dbvault_secret`]).
pub fn command(program: &str) -> Command {
    let mut c = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_dbvault_secret) {
            c.env_remove(name);
        }
    }
    c
}

/// How long [`Producer::finish`] waits for the command's error output to end once the command
/// has exited (a process it left in the background may hold it open).
const STDERR_GRACE: Duration = Duration::from_secs(5);

/// A running dump command. Dropped without [`Producer::finish`] (the ingest failed), it is
/// killed with its descendants and reaped, so it never outlives dbvault; so it is when dbvault
/// is interrupted ([`crate::interrupt`]).
pub struct Producer {
    /// The command line as recorded and shown: redacted.
    shown: Vec<String>,
    child: Option<Child>,
    stderr: Option<Receiver<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    _watched: interrupt::Guard,
}

impl Producer {
    /// Start `argv`; its standard output is the returned stream. Its error output passes through
    /// (redacted, each line prefixed with `label`), and its last lines are kept.
    pub fn spawn(argv: &[String], env: &[(String, String)], label: &str) -> Result<(Producer, ChildStdout), StoreError> {
        let shown = store::redact::command(argv);
        let (mut child, watched) =
            interrupt::spawn_watched(|| command(&argv[0]).args(&argv[1..]).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn())
                .map_err(|e| not_started(&shown, &e))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = tail.clone();
        let prefix = format!("{label}: ");
        let (done, relayed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut err = std::io::stderr();
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                let line = store::redact::text(String::from_utf8_lossy(&line).trim_end_matches('\r'));
                let _ = writeln!(err, "{prefix}{line}");
                let mut t = keep.lock().expect("not poisoned");
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(shorten(line, STDERR_LINE_BYTES));
            }
            let _ = done.send(());
        });
        Ok((Producer { shown, child: Some(child), stderr: Some(relayed), tail, _watched: watched }, stdout))
    }

    /// Wait for the command to end and say how it did.
    pub fn finish(mut self) -> ProducerOutcome {
        let status = self.child.take().expect("finished once").wait();
        if let Some(relayed) = self.stderr.take() {
            let _ = relayed.recv_timeout(STDERR_GRACE);
        }
        let stderr_tail = self.tail.lock().expect("not poisoned").iter().cloned().collect();
        let command = self.shown.clone();
        match status {
            Ok(s) => ProducerOutcome { command, exit_status: s.code(), failure: describe(s), stderr_tail },
            Err(e) => ProducerOutcome { command, exit_status: None, failure: Some(format!("could not be waited for: {e}")), stderr_tail },
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            end(c);
        }
    }
}

/// Kill a child with its descendants and reap it.
fn end(mut c: Child) {
    crate::process_tree::kill_tree(c.id());
    let _ = c.wait();
}

/// A command a restore writes into. Dropped without [`Consumer::finish`], it is killed with its
/// descendants and reaped while its input is still open, so it never sees a clean end of input;
/// so it is when dbvault is interrupted ([`crate::interrupt`]).
pub struct Consumer {
    shown: String,
    child: Option<Child>,
    _watched: interrupt::Guard,
}

impl Consumer {
    /// Start `argv` with a pipe to its standard input; its output goes to ours.
    pub fn spawn(argv: &[String]) -> Result<(Consumer, ChildStdin), CommandFailed> {
        let shown = store::redact::command(argv).join(" ");
        let (mut child, watched) = interrupt::spawn_watched(|| command(&argv[0]).args(&argv[1..]).stdin(Stdio::piped()).spawn())
            .map_err(|e| CommandFailed { command: shown.clone(), status: format!("could not be started: {e}") })?;
        let stdin = child.stdin.take().expect("piped");
        Ok((Consumer { shown, child: Some(child), _watched: watched }, stdin))
    }

    /// The command line, redacted.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Wait for it (its input must be closed first); an error naming the command if it failed.
    pub fn finish(mut self) -> Result<(), CommandFailed> {
        let command = self.shown.clone();
        let status = self.child.take().expect("finished once").wait().map_err(|e| CommandFailed { command: command.clone(), status: format!("could not be waited for: {e}") })?;
        match describe(status) {
            None => Ok(()),
            Some(status) => Err(CommandFailed { command, status }),
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            end(c);
        }
    }
}

/// What a bounded command printed, and how it ended.
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error, when piped (else empty).
    pub stderr: Vec<u8>,
}

/// Run `command` (standard output piped; standard error piped or not) and wait for it at most
/// `timeout`: past that it is killed with its descendants and `None` returned. Killed too if
/// dbvault is interrupted meanwhile.
pub fn output_within(command: &mut Command, timeout: Duration) -> std::io::Result<Option<Finished>> {
    let (mut child, _watched) = crate::interrupt::spawn_watched(|| command.spawn())?;
    // Read on threads of their own: a process the command left in the background may keep a pipe
    // open after the command ended, and must not hold us past the timeout.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        let (sent, got) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = sent.send(pipe.map(|mut p| p.read_to_end(&mut out)).transpose().map(|_| out));
        });
        got
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            crate::process_tree::kill_tree(child.id());
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let deadline = start + timeout;
    let collect = |got: Receiver<std::io::Result<Vec<u8>>>| match got.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
        Ok(r) => r.map(Some),
        Err(_) => Ok(None),
    };
    match (collect(stdout)?, collect(stderr)?) {
        (Some(stdout), Some(stderr)) => Ok(Some(Finished { status, stdout, stderr })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_leaves_a_process_holding_its_output_still_times_out() {
        let start = std::time::Instant::now();
        let mut c = Command::new("sh");
        c.args(["-c", "echo pw; sleep 30 &"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        assert!(output_within(&mut c, Duration::from_secs(1)).unwrap().is_none());
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        let mut c = Command::new("sh");
        c.args(["-c", "echo pw"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        assert_eq!(output_within(&mut c, Duration::from_secs(5)).unwrap().unwrap().stdout, b"pw\n");
    }
}
