//! `dbvault key list|add|remove|passwd`.

use anyhow::Result;
use repo_format::Id;
use repo_format::keyfile::KdfParams;
use serde::Serialize;
use store::Repository;
use store::keys;

use crate::cli::{Global, KeyCommand, NewKeyArgs};
use crate::output;

fn kdf(a: &NewKeyArgs) -> KdfParams {
    KdfParams { memory_kib: a.kdf_memory_kib, iterations: a.kdf_iterations, ..KdfParams::default() }
}

pub fn run(g: &Global, repo: &Repository, c: &KeyCommand) -> Result<()> {
    match c {
        KeyCommand::List => {
            let list = keys::list(repo)?;
            if g.json {
                output::json(&list)?;
            } else if !g.quiet {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|k| vec![if k.current { "*".into() } else { String::new() }, k.id.short(), output::local_time(k.created), k.host.clone()])
                    .collect();
                output::table(&["", "ID", "CREATED", "HOST"], &rows)?;
            }
        }
        KeyCommand::Add(a) => {
            let id = match &a.generate_password_file {
                Some(file) => add_generated(repo, file)?,
                None => {
                    let pw = crate::password::get_for_new_key(a.new_password_file.as_deref())?;
                    keys::add(repo, pw.as_bytes(), kdf(a))?
                }
            };
            report(g, "added", id)?;
        }
        KeyCommand::Remove { id } => {
            let removed = keys::remove(repo, id)?;
            report(g, "removed", removed)?;
        }
        KeyCommand::Passwd(a) => {
            if a.generate_password_file.is_some() {
                return Err(crate::exit::usage("--generate-password-file is for `key add` (a key of its own for a machine)"));
            }
            let pw = crate::password::get_for_new_key(a.new_password_file.as_deref())?;
            let id = keys::change_password(repo, pw.as_bytes(), kdf(a))?;
            report(g, "changed the password; new key", id)?;
        }
    }
    Ok(())
}

/// Argon2id costs of a key whose password is 256 random bits: stretching adds nothing to a secret
/// no one can guess, and a command run for every WAL file (archive_command) should not pay it.
const GENERATED_KDF: KdfParams = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };

/// Add a key whose password is generated into `file` (created, mode 0600; removed again if the
/// key could not be added).
fn add_generated(repo: &Repository, file: &std::path::Path) -> Result<Id> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("drawing a random password: {e}"))?;
    let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| anyhow::Error::from(e).context(format!("creating {} (it must not exist: nothing is overwritten)", file.display())))?;
    let written = f.write_all(format!("{password}\n").as_bytes()).and_then(|()| f.sync_all());
    let added = written.map_err(anyhow::Error::from).and_then(|()| Ok(keys::add(repo, password.as_bytes(), GENERATED_KDF)?));
    if added.is_err() {
        let _ = std::fs::remove_file(file);
    }
    added
}

/// What `key add|remove|passwd --json` prints: the key added or removed.
#[derive(Serialize)]
struct KeyDoc {
    /// The key file's id.
    id: Id,
}

fn report(g: &Global, what: &str, id: Id) -> Result<()> {
    if g.json {
        output::json(&KeyDoc { id })?;
    } else if !g.quiet {
        crate::outln!("{what} {}", id.short());
    }
    Ok(())
}
