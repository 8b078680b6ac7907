//! External commands: the dump tool that produces a stream, the tool a restore feeds.
//!
//! A producer's standard error passes through to ours line by line while its last lines are kept
//! for the manifest; how it ended (status, signal, or failure to start) is described in words that
//! name the command, so a failed dump is never mistaken for a good one.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use store::StoreError;
use store::ingest::ProducerOutcome;

/// Lines of a producer's standard error kept in the manifest.
const STDERR_LINES: usize = 20;

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

fn not_started(argv: &[String], e: &std::io::Error) -> StoreError {
    StoreError::ProducerFailed { command: argv.join(" "), status: format!("could not be started: {e}"), stderr_tail: Vec::new() }
}

/// A command (the restore target) that failed: exit code 7.
#[derive(Debug, thiserror::Error)]
#[error("command `{command}` {status}")]
pub struct CommandFailed {
    /// The command line.
    pub command: String,
    /// How it ended.
    pub status: String,
}

/// A running dump command. Dropped without [`Producer::finish`] (the ingest failed), it is
/// killed and reaped, so it never outlives dbvault.
pub struct Producer {
    argv: Vec<String>,
    child: Option<Child>,
    stderr: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Producer {
    /// Start `argv`; its standard output is the returned stream.
    pub fn spawn(argv: &[String], label: &str) -> Result<(Producer, ChildStdout), StoreError> {
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| not_started(argv, &e))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = tail.clone();
        let prefix = format!("{label}: ");
        let relay = std::thread::spawn(move || {
            let mut err = std::io::stderr();
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                let _ = writeln!(err, "{prefix}{line}");
                let mut t = keep.lock().expect("not poisoned");
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok((Producer { argv: argv.to_vec(), child: Some(child), stderr: Some(relay), tail }, stdout))
    }

    /// Wait for the command to end and say how it did.
    pub fn finish(mut self) -> ProducerOutcome {
        let status = self.child.take().expect("finished once").wait();
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
        let stderr_tail = self.tail.lock().expect("not poisoned").iter().cloned().collect();
        match status {
            Ok(s) => ProducerOutcome { command: self.argv.clone(), exit_status: s.code(), failure: describe(s), stderr_tail },
            Err(e) => ProducerOutcome { command: self.argv.clone(), exit_status: None, failure: Some(format!("could not be waited for: {e}")), stderr_tail },
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
    }
}

/// A command a restore writes into. Dropped without [`Consumer::finish`], it is killed and reaped.
pub struct Consumer {
    argv: Vec<String>,
    child: Option<Child>,
}

impl Consumer {
    /// Start `argv` with a pipe to its standard input; its output goes to ours.
    pub fn spawn(argv: &[String]) -> Result<(Consumer, ChildStdin), CommandFailed> {
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| CommandFailed { command: argv.join(" "), status: format!("could not be started: {e}") })?;
        let stdin = child.stdin.take().expect("piped");
        Ok((Consumer { argv: argv.to_vec(), child: Some(child) }, stdin))
    }

    /// Wait for it (its input must be closed first); an error naming the command if it failed.
    pub fn finish(mut self) -> Result<(), CommandFailed> {
        let command = self.argv.join(" ");
        let status = self.child.take().expect("finished once").wait().map_err(|e| CommandFailed { command: command.clone(), status: format!("could not be waited for: {e}") })?;
        match describe(status) {
            None => Ok(()),
            Some(status) => Err(CommandFailed { command, status }),
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
