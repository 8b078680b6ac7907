//! What an ingest is told: the snapshot's labels, how strict to be, and whose snapshot it makes.

use jiff::Timestamp;
use repo_format::Id;
use repo_format::manifest::{Manifest, Origin, Source};
use repo_format::postgres::WalFile;

use super::acceptance;
use crate::dump::DumpInfo;
use crate::index::Index;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::{Result, StoreError};

/// What to record about the stream being ingested.
#[derive(Default)]
pub struct IngestOptions<'a> {
    /// Database name (required).
    pub db: String,
    /// Host name; this machine's when `None`.
    pub host: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Commit a dump whose completion marker is missing, marked incomplete (instead of refusing it).
    pub allow_incomplete: bool,
    /// Store no deltas in this run, even where the repository allows them.
    pub no_deltas: bool,
    /// Called with the number of bytes read so far, after each batch.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// For a stream produced by a command: called once the stream has ended, before the commit
    /// point, to wait for the command and report how it ended. A failed producer means no snapshot.
    pub producer: Option<Box<dyn FnOnce() -> ProducerOutcome + 'a>>,
    /// Whose snapshot this makes: a new one, or a copy of another repository's.
    pub lineage: Lineage,
    /// Whether the stream is a PostgreSQL base backup or WAL file (SPEC.md section 9.6).
    pub physical: Physical,
}

/// What PostgreSQL physical backup an ingest expects the stream to be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Physical {
    /// A dump; a base backup is recognised as one all the same.
    #[default]
    Dump,
    /// A base backup (`ingest --base`): anything else is refused.
    BaseBackup,
    /// A WAL file (`dbvault wal push`): listed in the database's WAL archive, never deltas.
    Wal(WalFile),
}

/// How the program that produced the stream ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerOutcome {
    /// The command line.
    pub command: Vec<String>,
    /// Exit status, if it exited.
    pub exit_status: Option<i32>,
    /// `None` when it exited with status 0; otherwise how it failed, in words.
    pub failure: Option<String>,
    /// Its last lines of standard error.
    pub stderr_tail: Vec<String>,
}

/// A snapshot being copied in from another repository.
#[derive(Clone, Debug)]
pub struct CopyOf {
    /// The source snapshot's manifest: its database, host, tags, times, source and completeness
    /// are kept (`db` and `host` of [`IngestOptions`] must match it).
    pub manifest: Manifest,
    /// Where it comes from.
    pub origin: Origin,
    /// The copy of its parent in this repository, if there is one (also the base for deltas).
    pub parent: Option<Snapshot>,
}

/// Whose snapshot an ingest makes, and so where its labels, parent, times and description come from.
#[derive(Clone, Debug, Default)]
pub enum Lineage {
    /// A new snapshot of the stream: its labels are checked, its parent is the database's latest
    /// snapshot at the commit, its times are this run's, and the stream is judged as a dump.
    #[default]
    New,
    /// A copy of another repository's snapshot (`dbvault copy`): everything its original was
    /// stored with is kept, and its parent is the copy of the original's parent.
    Copy(Box<CopyOf>),
}

/// Where a snapshot sits: its times, parent and origin.
pub(super) struct Placement {
    /// When the dump started.
    pub start: Timestamp,
    /// When it ended.
    pub end: Timestamp,
    /// The snapshot before it in its database's lineage.
    pub parent: Option<Id>,
    /// For a copy: the snapshot it copies.
    pub origin: Option<Origin>,
}

impl Lineage {
    /// Refuse labels a new snapshot may not have (a copy keeps those its original was stored with).
    pub(super) fn check_labels(&self, opts: &IngestOptions<'_>) -> Result<()> {
        match self {
            Lineage::New => crate::names::check_labels(&opts.db, opts.host.as_deref(), &opts.tags),
            Lineage::Copy(_) => Ok(()),
        }
    }

    /// The snapshot whose chunks new chunks are patched against: the database's latest complete
    /// snapshot, or for a copy the copy of its parent.
    pub(super) fn delta_parent(&self, repo: &Repository, index: &Index, db: &str) -> Result<Option<Snapshot>> {
        match self {
            Lineage::New => crate::snapshot::latest_complete(repo, index, db),
            Lineage::Copy(c) => Ok(c.parent.clone()),
        }
    }

    /// The stream's description and whether it is incomplete, once it has been read: judged as a
    /// dump ([`acceptance::judge`]), or for a copy kept as its original found it (the producer then
    /// only reports whether reading the original back succeeded).
    pub(super) fn describe(&self, info: &DumpInfo, size: u64, producer: Option<ProducerOutcome>, allow_incomplete: bool) -> Result<(Source, bool)> {
        match self {
            Lineage::New => acceptance::judge(info, size, producer, allow_incomplete),
            Lineage::Copy(c) => {
                acceptance::judge(info, size, producer, true)?;
                Ok((c.manifest.source.clone(), c.manifest.incomplete))
            }
        }
    }

    /// Where the snapshot sits, at the commit: `latest` is the database's latest snapshot then.
    pub(super) fn place(&self, started: Timestamp, latest: impl FnOnce() -> Result<Option<Id>>) -> Result<Placement> {
        Ok(match self {
            Lineage::New => Placement { start: started, end: Timestamp::now(), parent: latest()?, origin: None },
            Lineage::Copy(c) => Placement { start: c.manifest.start, end: c.manifest.end, parent: c.parent.as_ref().map(|p| p.id), origin: Some(c.origin) },
        })
    }
}

/// Refuse a new database whose name looks like an existing one's (the same UTS 39 skeleton), for a
/// copy too: two lineages that look the same are the hazard either way.
pub(super) fn refuse_look_alike(repo: &Repository, index: &Index, db: &str) -> Result<()> {
    if index.latest_of(&repo.keys().name_tag(db))?.is_some() {
        return Ok(());
    }
    let skeleton = crate::names::skeleton(db);
    match crate::snapshot::databases(repo, index)?.into_iter().find(|d| d != db && crate::names::skeleton(d) == skeleton) {
        Some(existing) => Err(StoreError::LookAlike { name: db.to_string(), existing }),
        None => Ok(()),
    }
}
