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
            let pw = crate::password::get_for_new_key(a.new_password_file.as_deref())?;
            let id = keys::add(repo, pw.as_bytes(), kdf(a))?;
            report(g, "added", id)?;
        }
        KeyCommand::Remove { id } => {
            let removed = keys::remove(repo, id)?;
            report(g, "removed", removed)?;
        }
        KeyCommand::Passwd(a) => {
            let pw = crate::password::get_for_new_key(a.new_password_file.as_deref())?;
            let id = keys::change_password(repo, pw.as_bytes(), kdf(a))?;
            report(g, "changed the password; new key", id)?;
        }
    }
    Ok(())
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
