//! `dbvault key list|add|remove|passwd`.

use anyhow::Result;
use repo_format::keyfile::KdfParams;
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
                crate::outln!("{}", serde_json::to_value(&list)?);
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

fn report(g: &Global, what: &str, id: repo_format::Id) -> Result<()> {
    if g.json {
        crate::outln!("{}", serde_json::json!({ "id": id }));
    } else if !g.quiet {
        crate::outln!("{what} {}", id.short());
    }
    Ok(())
}
