//! PostgreSQL WAL archiving (SPEC.md section 9.6): `dbvault wal push` as `archive_command`,
//! `dbvault wal fetch` as `restore_command`.
//!
//! Each WAL file is stored as a snapshot of its own (deduplicated, compressed and encrypted like
//! a dump, never as deltas) whose manifest names the file and its cluster. Such snapshots form
//! the database's *WAL archive*: the local index lists them under the archive's tag and by file
//! name ([`crate::index::Listing`]), apart from the database's lineage of dumps and base
//! backups. Prune, check and copy treat them as the snapshots they are.
//!
//! A push is idempotent: a file already archived with the same bytes is not stored again (after
//! a crash PostgreSQL pushes the last file again). Different bytes under an archived name, or a
//! file of another cluster, are refused: two servers archive into one place.

use std::io::Read;
use std::path::Path;

use repo_format::Id;
use repo_format::postgres::WalFile;

use crate::index::{Index, wal_tag};
use crate::ingest::{IngestOptions, IngestSummary, Physical};
use crate::repository::Repository;
use crate::snapshot::{self, Snapshot};
use crate::{Result, StoreError};

pub mod header;
pub mod name;
mod retention;
mod verify;

pub use name::{WalKind, WalName, segment_name};
pub use retention::unneeded;
pub use verify::{BaseCoverage, TimelineRun, Verified, verify};

/// The largest `.history` or `.backup` file accepted (PostgreSQL's are a few hundred bytes).
const MAX_TEXT_FILE: u64 = 16 << 20;

/// What a push did.
#[derive(Debug)]
pub enum Pushed {
    /// The file was stored as a new snapshot.
    Stored(IngestSummary),
    /// The file was archived before with exactly these bytes: nothing was stored.
    AlreadyArchived(Snapshot),
}

/// Archive the WAL file at `path` into the WAL archive of `db`.
///
/// The cluster is read from a segment's first page; a `.history` or `.backup` file has no
/// header, so `data_directory` (PostgreSQL runs `archive_command` in it) names the cluster, or
/// else the archive's own. Returns once the file is durable in the repository.
pub fn push(repo: &Repository, db: &str, path: &Path, data_directory: Option<&Path>, host: Option<String>) -> Result<Pushed> {
    let file = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| StoreError::NotWalName(path.display().to_string()))?;
    let name = WalName::parse(file)?;
    let io = |e| StoreError::io(format!("reading {}", path.display()), e);
    let refuse = |why: String| StoreError::io(format!("archiving {}", path.display()), std::io::Error::other(why));
    // A FIFO or device would be read for ever (or block), a folder not at all.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if matches!(name.kind, WalKind::History | WalKind::Backup) && meta.len() > MAX_TEXT_FILE {
        return Err(refuse(format!("a {} file of {} bytes is no file PostgreSQL writes", if name.kind == WalKind::History { "history" } else { "backup history" }, meta.len())));
    }
    let mut first_page = Vec::with_capacity(8192);
    std::fs::File::open(path).and_then(|f| f.take(8192).read_to_end(&mut first_page)).map_err(io)?;
    let index = repo.index_reader()?;
    let archived = known_cluster(repo, &index, db)?;
    // A segment is checked before it is read whole: its header must name a cluster, its length
    // the header's segment size, its first page the place its name says.
    let cluster = match name.kind {
        WalKind::Segment | WalKind::Partial => match header::segment_header(&first_page) {
            Some(h) if meta.len() != u64::from(h.segment_size) => {
                return Err(refuse(format!("it holds {} bytes but its header says segments are {}: it was cut short or is no WAL segment", meta.len(), h.segment_size)));
            }
            Some(h) if name.segment_number(u64::from(h.segment_size)).map(|n| n * u64::from(h.segment_size)) != Some(h.page_address) => {
                return Err(refuse(format!("its first page is at {}, not where its name puts it: it is another segment renamed", repo_format::postgres::format_lsn(h.page_address))));
            }
            // The first page of a new timeline's first segment is the old timeline's: never newer.
            Some(h) if h.timeline > name.timeline => {
                return Err(refuse(format!("its first page is of timeline {}, after the timeline its name gives: it is another timeline's segment renamed", h.timeline)));
            }
            Some(h) => h.cluster,
            None => return Err(refuse("it is not a WAL segment: its first page has no long header".into())),
        },
        WalKind::History | WalKind::Backup => match data_directory.and_then(header::data_directory_cluster).or(archived) {
            Some(sysid) => sysid,
            None => {
                return Err(StoreError::io(
                    format!("archiving {file}"),
                    std::io::Error::other("cannot tell which cluster it belongs to: run it in the data directory, as PostgreSQL runs archive_command"),
                ));
            }
        },
    };
    if let Some(archived) = archived
        && archived != cluster
    {
        return Err(StoreError::WalOtherCluster { db: db.to_string(), archived, pushed: cluster, file: file.to_string() });
    }
    // Only a name archived before needs the file's digest before the ingest, which computes it
    // anyway: a new file is read once.
    if let Some(existing) = find_in(repo, &index, db, file)? {
        let (digest, size) = digest_file(path).map_err(io)?;
        return if existing.manifest.digest == digest && existing.manifest.size == size {
            Ok(Pushed::AlreadyArchived(existing))
        } else {
            Err(StoreError::WalConflict { db: db.to_string(), file: file.to_string() })
        };
    }
    drop(index);
    let input = std::fs::File::open(path).map_err(io)?;
    let opts = IngestOptions {
        db: db.to_string(),
        host,
        no_deltas: true,
        physical: Physical::Wal(WalFile { cluster, file: file.to_string() }),
        ..IngestOptions::default()
    };
    let summary = crate::ingest::ingest(repo, input, opts)?;
    Ok(Pushed::Stored(summary))
}

/// The snapshot holding WAL file `file` of `db`'s archive, if it is archived: `WalNotArchived`
/// when the archive lacks it, `NoWalArchive` when `db` has no archive at all.
pub fn find(repo: &Repository, index: &Index, db: &str, file: &str) -> Result<Snapshot> {
    WalName::parse(file)?;
    if let Some(s) = find_in(repo, index, db, file)? {
        return Ok(s);
    }
    require_archive(repo, index, db)?;
    // A segment missing before a later one of its timeline is a hole, not the archive's end:
    // recovery must not stop there as if the WAL ended.
    if WalName::parse(file)?.kind == WalKind::Segment
        && let Some(later) = index.wal_file_after(&wal_tag(repo.keys(), db), file, &file[..8])?
        && WalName::parse(&later).is_ok_and(|n| n.kind == WalKind::Segment)
    {
        return Err(StoreError::WalGap { db: db.to_string(), file: file.to_string(), later });
    }
    Err(StoreError::WalNotArchived { db: db.to_string(), file: file.to_string() })
}

/// `NoWalArchive` unless `db` has archived WAL.
pub fn require_archive(repo: &Repository, index: &Index, db: &str) -> Result<()> {
    match index.latest_of(&wal_tag(repo.keys(), db))? {
        Some(_) => Ok(()),
        None => Err(StoreError::NoWalArchive { db: db.to_string(), known: snapshot::wal_archives(repo, index)? }),
    }
}

fn find_in(repo: &Repository, index: &Index, db: &str, file: &str) -> Result<Option<Snapshot>> {
    let Some(id) = index.wal_file(&wal_tag(repo.keys(), db), file)? else { return Ok(None) };
    let snap = by_id(repo, index, id)?;
    // The index is derived state: the manifest, authenticated, has the last word.
    Ok(snap.filter(|s| s.manifest.db == db && s.manifest.wal.as_ref().is_some_and(|w| w.file == file)))
}

pub(crate) fn by_id(repo: &Repository, index: &Index, id: Id) -> Result<Option<Snapshot>> {
    let Some(bytes) = index.snapshot(&id)? else { return Ok(None) };
    let manifest = repo_format::manifest::Manifest::decode(repo.keys(), &bytes).map_err(|e| StoreError::format(format!("snapshot {}", id.short()), e))?;
    Ok(Some(Snapshot { id, manifest }))
}

/// The archived WAL files of `db`, in name order (by timeline, then position), with the
/// snapshots holding them.
pub fn files(repo: &Repository, index: &Index, db: &str) -> Result<Vec<(String, Id)>> {
    index.wal_files(&wal_tag(repo.keys(), db))
}

/// Every archived WAL file of `db`, as snapshots, in name order.
pub fn archive(repo: &Repository, index: &Index, db: &str) -> Result<Vec<Snapshot>> {
    let mut out = Vec::new();
    for (_, id) in files(repo, index, db)? {
        out.extend(by_id(repo, index, id)?);
    }
    Ok(out)
}

/// The most recently archived WAL file of `db`, if any.
pub fn latest(repo: &Repository, index: &Index, db: &str) -> Result<Option<Snapshot>> {
    match index.latest_of(&wal_tag(repo.keys(), db))? {
        Some(id) => by_id(repo, index, id),
        None => Ok(None),
    }
}

/// The cluster's WAL segment size: the length of an archived segment of `db` (none archived: `None`).
pub fn segment_size(repo: &Repository, index: &Index, db: &str) -> Result<Option<u64>> {
    for (file, id) in files(repo, index, db)? {
        if WalName::parse(&file).is_ok_and(|n| n.kind == WalKind::Segment)
            && let Some(s) = by_id(repo, index, id)?
        {
            return Ok(Some(s.manifest.size).filter(|n| n.is_power_of_two() && (1 << 20..=1 << 30).contains(n)));
        }
    }
    Ok(None)
}

/// The cluster whose WAL `db`'s archive holds, if it holds any.
pub fn archive_cluster(repo: &Repository, index: &Index, db: &str) -> Result<Option<u64>> {
    Ok(latest(repo, index, db)?.and_then(|s| s.manifest.wal.map(|w| w.cluster)))
}

/// The cluster `db` belongs to: its WAL archive's, else its latest base backup's.
fn known_cluster(repo: &Repository, index: &Index, db: &str) -> Result<Option<u64>> {
    match archive_cluster(repo, index, db)? {
        Some(c) => Ok(Some(c)),
        None => Ok(base_backups(repo, index, db)?.last().and_then(|b| b.manifest.base.as_ref().map(|b| b.cluster))),
    }
}

/// The plain BLAKE3 digest (as manifests record it) and length of a file.
fn digest_file(path: &Path) -> std::io::Result<(Id, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut f, &mut hasher)?;
    Ok((Id(*hasher.finalize().as_bytes()), size))
}

/// The snapshots of `db`'s lineage that are whole base backups, oldest first.
pub fn base_backups(repo: &Repository, index: &Index, db: &str) -> Result<Vec<Snapshot>> {
    Ok(snapshot::list(repo, index, Some(db))?.into_iter().filter(|s| s.manifest.base.is_some() && !s.manifest.incomplete).collect())
}
