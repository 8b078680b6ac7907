//! Where the password comes from: `--password-file`, `--password-command`, `DBVAULT_PASSWORD`,
//! else a prompt on the terminal, else a clear error.

use std::io::IsTerminal;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::Global;

/// The first line of a password file.
fn from_file(f: &std::path::Path, what: &str) -> Result<String> {
    let s = std::fs::read_to_string(f).with_context(|| format!("reading {what} file {}", f.display()))?;
    Ok(s.lines().next().unwrap_or_default().to_string())
}

/// Ask on the terminal, twice when `confirm` (the answers must match).
fn prompt(label: &str, confirm: bool) -> Result<String> {
    let p = rpassword::prompt_password(format!("{label}: ")).context("reading the password from the terminal")?;
    if confirm && rpassword::prompt_password(format!("repeat {label}: ")).context("reading the password")? != p {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(p)
}

fn non_empty(pw: String, what: &str) -> Result<String> {
    if pw.is_empty() {
        bail!("the {what} is empty; dbvault refuses empty passwords");
    }
    Ok(pw)
}

fn tty_available() -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok() && std::io::stderr().is_terminal()
}

/// The password for an existing repository.
pub fn get(g: &Global) -> Result<String> {
    from_sources(g, false)
}

/// The password for a new repository (asked twice on a terminal).
pub fn get_new(g: &Global) -> Result<String> {
    from_sources(g, true)
}

/// A new password for `key add` / `key passwd`: `--new-password-file`, `DBVAULT_NEW_PASSWORD`,
/// or a prompt (twice) on the terminal.
pub fn get_for_new_key(file: Option<&std::path::Path>) -> Result<String> {
    let pw = if let Some(f) = file {
        from_file(f, "new password")?
    } else if let Ok(p) = std::env::var("DBVAULT_NEW_PASSWORD") {
        p
    } else if tty_available() {
        prompt("new password", true)?
    } else {
        bail!("no new password given and no terminal to ask on: use --new-password-file FILE or set DBVAULT_NEW_PASSWORD");
    };
    non_empty(pw, "new password")
}

/// The password of `copy`'s destination: `--to-password-file` (`DBVAULT_TO_PASSWORD_FILE`),
/// `DBVAULT_TO_PASSWORD`, else the source's (`source`).
pub fn for_destination(file: Option<&std::path::Path>, source: &str) -> Result<String> {
    let pw = if let Some(f) = file {
        from_file(f, "destination password")?
    } else if let Ok(p) = std::env::var("DBVAULT_TO_PASSWORD") {
        p
    } else {
        return Ok(source.to_string());
    };
    non_empty(pw, "destination password")
}

/// A password from a file or a command (as `--password-file` / `--password-command`), if either
/// is given; `what` names it in errors.
pub fn from_source(file: Option<&std::path::Path>, command: Option<&str>, what: &str) -> Result<Option<String>> {
    let pw = match (file, command) {
        (Some(f), _) => from_file(f, what)?,
        (None, Some(c)) => from_command(c).with_context(|| format!("the {what}"))?,
        (None, None) => return Ok(None),
    };
    non_empty(pw, what).map(Some)
}

/// How long a password command may take (a command waiting for input nobody gives must not
/// hang a nightly job).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The first line of what `cmd` (run by `sh -c`) prints, as for a password file.
fn from_command(cmd: &str) -> Result<String> {
    let mut command = crate::child::command("sh");
    command.arg("-c").arg(cmd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let Some(done) = crate::child::output_within(&mut command, COMMAND_TIMEOUT).context("running the password command")? else {
        bail!("the password command did not finish within {} s; it was stopped", COMMAND_TIMEOUT.as_secs());
    };
    let (status, out) = (done.status, done.stdout);
    if !status.success() {
        // The command itself is not shown: it may hold the secret (`echo ...`).
        bail!("the password command failed ({status})");
    }
    let text = String::from_utf8(out).context("password command printed non-UTF-8 output")?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

fn from_sources(g: &Global, confirm: bool) -> Result<String> {
    if g.password_file.is_some() && g.password_command.is_some() {
        return Err(crate::exit::usage("give either --password-file or --password-command (or their DBVAULT_ variables), not both"));
    }
    let pw = if let Some(f) = &g.password_file {
        from_file(f, "password")?
    } else if let Some(cmd) = &g.password_command {
        from_command(cmd)?
    } else if let Ok(p) = std::env::var("DBVAULT_PASSWORD") {
        p
    } else if tty_available() {
        prompt("repository password", confirm)?
    } else {
        bail!(
            "no password given and no terminal to ask on: set DBVAULT_PASSWORD, \
             --password-file FILE (DBVAULT_PASSWORD_FILE) or --password-command CMD (DBVAULT_PASSWORD_COMMAND)"
        );
    };
    non_empty(pw, "password")
}
