//! Whether a database's WAL archive can serve its base backups: gaps in each timeline's run of
//! segments, and for each base backup whether the WAL from its start to its end is archived.

use std::collections::BTreeMap;

use jiff::Timestamp;
use repo_format::Id;
use serde::Serialize;

use crate::Result;
use crate::index::Index;
use crate::repository::Repository;

use super::{WalKind, WalName, base_backups, files, latest, segment_name, segment_size};

/// Gap names listed at most per timeline (the count is always whole).
const GAPS_LISTED: usize = 20;

/// The archived segments of one timeline, from the oldest base backup's start on.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineRun {
    /// The timeline.
    pub timeline: u32,
    /// Its first and last archived segment.
    pub first: String,
    /// Its last archived segment.
    pub last: String,
    /// Segments archived between them.
    pub segments: u64,
    /// Segments missing between them.
    pub missing: u64,
    /// The first missing segments' names.
    pub missing_names: Vec<String>,
}

/// Whether one base backup's WAL is archived.
#[derive(Clone, Debug, Serialize)]
pub struct BaseCoverage {
    /// The base backup's snapshot.
    pub snapshot: Id,
    /// When it ended.
    pub end: Timestamp,
    /// Its first and last segment.
    pub first: String,
    /// Its last segment: replay must reach it before the copy is consistent.
    pub last: String,
    /// The first of them not archived, if any: the backup cannot be restored.
    pub missing: Option<String>,
}

/// What `wal verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// The cluster's segment size (none archived: none).
    pub segment_size: Option<u64>,
    /// Per timeline, its segments from the oldest base backup's start on.
    pub timelines: Vec<TimelineRun>,
    /// Per base backup, oldest first.
    pub base_backups: Vec<BaseCoverage>,
    /// The most recently archived file and when.
    pub last_archived: Option<(String, Timestamp)>,
}

impl Verified {
    /// Whether anything is missing: a gap in a timeline, or a base backup without its WAL.
    pub fn has_gaps(&self) -> bool {
        self.timelines.iter().any(|t| t.missing > 0) || self.base_backups.iter().any(|b| b.missing.is_some())
    }
}

/// Verify the WAL archive of `db` (names in the index; no data read: `check` reads it).
pub fn verify(repo: &Repository, index: &Index, db: &str) -> Result<Verified> {
    let last_archived = latest(repo, index, db)?.and_then(|s| s.manifest.wal.map(|w| (w.file, s.manifest.end)));
    let Some(size) = segment_size(repo, index, db)? else {
        return Ok(Verified { segment_size: None, timelines: vec![], base_backups: vec![], last_archived });
    };
    let mut by_timeline: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (file, _) in files(repo, index, db)? {
        if let Ok(n) = WalName::parse(&file)
            && n.kind == WalKind::Segment
            && let Some(number) = n.segment_number(size)
        {
            by_timeline.entry(n.timeline).or_default().push(number);
        }
    }
    let bases = base_backups(repo, index, db)?;
    let floor = bases.iter().filter_map(|b| b.manifest.base.as_ref()).map(|b| b.start_lsn / size).min().unwrap_or(0);
    let mut timelines = Vec::new();
    for (&timeline, numbers) in &mut by_timeline {
        numbers.sort_unstable();
        numbers.retain(|&n| n >= floor);
        let (Some(&first), Some(&last)) = (numbers.first(), numbers.last()) else { continue };
        let mut run = TimelineRun {
            timeline,
            first: segment_name(timeline, first, size),
            last: segment_name(timeline, last, size),
            segments: numbers.len() as u64,
            missing: 0,
            missing_names: vec![],
        };
        for pair in numbers.windows(2) {
            for n in pair[0] + 1..pair[1] {
                run.missing += 1;
                if run.missing_names.len() < GAPS_LISTED {
                    run.missing_names.push(segment_name(timeline, n, size));
                }
            }
        }
        timelines.push(run);
    }
    let base_backups = bases
        .iter()
        .filter_map(|b| b.manifest.base.as_ref().map(|info| (b, info)))
        .map(|(b, info)| {
            let (first, last) = (info.start_lsn / size, info.stop_lsn.saturating_sub(1).max(info.start_lsn) / size);
            let have = by_timeline.get(&info.timeline);
            let missing = (first..=last).find(|n| have.is_none_or(|h| h.binary_search(n).is_err())).map(|n| segment_name(info.timeline, n, size));
            BaseCoverage { snapshot: b.id, end: b.manifest.end, first: segment_name(info.timeline, first, size), last: segment_name(info.timeline, last, size), missing }
        })
        .collect();
    Ok(Verified { segment_size: Some(size), timelines, base_backups, last_archived })
}
