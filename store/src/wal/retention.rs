//! Which archived WAL files a forget takes with it: those only the forgotten base backups needed.

use std::collections::{BTreeSet, HashSet};

use crate::index::Index;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::Result;

use super::{WalKind, WalName, base_backups, by_id, files, segment_size};

/// The archived WAL files that only `forgotten` base backups needed: of each database whose
/// base backups are among them, the segments (and `.partial` and `.backup` files) before the
/// segment where the oldest remaining base backup starts. Timeline history files are kept, and
/// so is all WAL of a database none of whose base backups remain (nothing is lost to a forget
/// of every base backup; `wal verify` shows what is kept).
pub fn unneeded(repo: &Repository, index: &Index, forgotten: &[Snapshot]) -> Result<Vec<Snapshot>> {
    let gone: HashSet<_> = forgotten.iter().map(|s| s.id).collect();
    let dbs: BTreeSet<&str> = forgotten.iter().filter(|s| s.manifest.base.is_some()).map(|s| s.manifest.db.as_str()).collect();
    let mut out = Vec::new();
    for db in dbs {
        let remaining: Vec<Snapshot> = base_backups(repo, index, db)?.into_iter().filter(|b| !gone.contains(&b.id)).collect();
        let Some(size) = segment_size(repo, index, db)? else { continue };
        let Some(floor) = remaining.iter().filter_map(|b| b.manifest.base.as_ref()).map(|b| b.start_lsn / size).min() else { continue };
        for (file, id) in files(repo, index, db)? {
            let Ok(name) = WalName::parse(&file) else { continue };
            if name.kind != WalKind::History
                && name.segment_number(size).is_some_and(|n| n < floor)
                && let Some(s) = by_id(repo, index, id)?
            {
                out.push(s);
            }
        }
    }
    Ok(out)
}
