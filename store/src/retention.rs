//! Retention policies: which snapshots of one database a `forget` keeps, and why.
//!
//! Rules (each keeps what it selects; a snapshot is removed only if no rule keeps it):
//! - `last N`: the N newest snapshots.
//! - `hourly/daily/weekly/monthly/yearly N`: the newest snapshot in each of the N most recent
//!   calendar buckets (hour, day, ISO week, month, year, in the given time zone) that hold one.
//! - `within SPAN`: every snapshot newer than now minus SPAN.
//! - `tag T`: every snapshot carrying tag T.
//!
//! Incomplete snapshots never count toward a counted rule's quota (they cannot take the place of
//! a good backup); `within` and `tag` keep them like any other.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::snapshot::Snapshot;

/// A retention policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Keep the N newest.
    pub last: u32,
    /// Keep the newest of each of the last N hours.
    pub hourly: u32,
    /// ... days.
    pub daily: u32,
    /// ... ISO weeks.
    pub weekly: u32,
    /// ... months.
    pub monthly: u32,
    /// ... years.
    pub yearly: u32,
    /// Keep everything newer than now minus this span.
    pub within: Option<Span>,
    /// Keep snapshots with any of these tags.
    pub tags: Vec<String>,
}

impl Policy {
    /// A policy that keeps nothing is refused by callers: it would remove everything.
    pub fn is_empty(&self) -> bool {
        self.last + self.hourly + self.daily + self.weekly + self.monthly + self.yearly == 0 && self.within.is_none() && self.tags.is_empty()
    }
}

/// Each rule of `policy` as the user wrote it (`--keep-last 3`, `--keep-tag nightly`), with
/// whether it kept any snapshot among `decisions` (those of one database, from [`apply`]).
pub fn rule_matches(policy: &Policy, decisions: &[Decision]) -> Vec<(String, bool)> {
    let reason_starts = |p: &str| decisions.iter().any(|d| d.reasons.iter().any(|r| r.starts_with(p)));
    let mut out = Vec::new();
    let counted = [("last", policy.last), ("hourly", policy.hourly), ("daily", policy.daily), ("weekly", policy.weekly), ("monthly", policy.monthly), ("yearly", policy.yearly)];
    for (name, n) in counted.into_iter().filter(|(_, n)| *n > 0) {
        out.push((format!("--keep-{name} {n}"), reason_starts(&format!("{name} "))));
    }
    if let Some(span) = policy.within {
        out.push((format!("--keep-within {span:#}"), reason_starts("within ")));
    }
    for t in &policy.tags {
        let reason = format!("tag {t}");
        out.push((format!("--keep-tag {t}"), decisions.iter().any(|d| d.reasons.contains(&reason))));
    }
    out
}

/// The fate of one snapshot.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Kept or removed.
    pub keep: bool,
    /// Why it is kept (empty when removed).
    pub reasons: Vec<String>,
}

/// Apply `policy` to the snapshots of one database; returns decisions newest first.
pub fn apply(policy: &Policy, snapshots: &[Snapshot], now: Timestamp, tz: &TimeZone) -> Vec<Decision> {
    let mut snaps: Vec<Snapshot> = snapshots.to_vec();
    snaps.sort_by_key(|s| std::cmp::Reverse((s.manifest.end, s.id)));
    let mut out: Vec<Decision> = snaps.into_iter().map(|s| Decision { snapshot: s, keep: false, reasons: Vec::new() }).collect();

    type Bucket = fn(&jiff::Zoned) -> String;
    let rules: [(&str, u32, Bucket); 6] = [
        ("last", policy.last, |_| String::new()),
        ("hourly", policy.hourly, |z| z.strftime("%Y-%m-%d %H").to_string()),
        ("daily", policy.daily, |z| z.strftime("%Y-%m-%d").to_string()),
        ("weekly", policy.weekly, |z| {
            let w = z.date().iso_week_date();
            format!("{}-W{:02}", w.year(), w.week())
        }),
        ("monthly", policy.monthly, |z| z.strftime("%Y-%m").to_string()),
        ("yearly", policy.yearly, |z| z.strftime("%Y").to_string()),
    ];
    for (name, quota, bucket) in rules {
        if quota == 0 {
            continue;
        }
        let mut used = 0;
        let mut last_bucket: Option<String> = None;
        for (i, d) in out.iter_mut().enumerate() {
            if used >= quota {
                break;
            }
            if d.snapshot.manifest.incomplete {
                continue;
            }
            let b = if name == "last" { i.to_string() } else { bucket(&d.snapshot.manifest.end.to_zoned(tz.clone())) };
            if last_bucket.as_ref() != Some(&b) {
                last_bucket = Some(b.clone());
                used += 1;
                d.keep = true;
                d.reasons.push(if name == "last" { format!("last {used}") } else { format!("{name} {b}") });
            }
        }
    }
    if let Some(span) = policy.within {
        let cutoff = now.to_zoned(tz.clone()).checked_sub(span).map(|z| z.timestamp()).unwrap_or(Timestamp::MIN);
        for d in out.iter_mut().filter(|d| d.snapshot.manifest.end >= cutoff) {
            d.keep = true;
            d.reasons.push(format!("within {span:#}"));
        }
    }
    for d in out.iter_mut() {
        for t in d.snapshot.manifest.tags.iter().filter(|t| policy.tags.contains(t)) {
            d.keep = true;
            d.reasons.push(format!("tag {t}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::Id;
    use repo_format::manifest::{Added, Manifest, Source};

    fn snap(n: u8, time: &str, incomplete: bool, tags: &[&str]) -> Snapshot {
        let end: Timestamp = time.parse().unwrap();
        Snapshot {
            id: Id([n; 32]),
            manifest: Manifest {
                version: 1,
                db: "shop".into(),
                host: "h".into(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                start: end,
                end,
                parent: None,
                size: 1,
                digest: Id::default(),
                tree: Id::default(),
                chunks: 1,
                added: Added::default(),
                source: Source::default(),
                incomplete,
                client: "t".into(),
                origin: None,
                toc: None,
                wal: None,
                base: None,
            },
        }
    }

    /// Daily snapshots at 02:00 UTC from 2026-01-01 to 2026-03-31, plus a second one on 03-31.
    fn series() -> Vec<Snapshot> {
        let mut v = Vec::new();
        let mut d: jiff::civil::Date = "2026-01-01".parse().unwrap();
        let mut n = 0u8;
        while d <= "2026-03-31".parse().unwrap() {
            v.push(snap(n, &format!("{d}T02:00:00Z"), false, &[]));
            n += 1;
            d = d.tomorrow().unwrap();
        }
        v.push(snap(n, "2026-03-31T14:00:00Z", false, &[]));
        v
    }

    fn kept(ds: &[Decision]) -> Vec<String> {
        ds.iter().filter(|d| d.keep).map(|d| d.snapshot.manifest.end.to_string()).collect()
    }

    const NOW: &str = "2026-04-01T00:00:00Z";

    #[test]
    fn keep_last_and_daily() {
        let p = Policy { last: 2, ..Default::default() };
        let ds = apply(&p, &series(), NOW.parse().unwrap(), &TimeZone::UTC);
        assert_eq!(kept(&ds), ["2026-03-31T14:00:00Z", "2026-03-31T02:00:00Z"]);
        let p = Policy { daily: 3, ..Default::default() };
        let ds = apply(&p, &series(), NOW.parse().unwrap(), &TimeZone::UTC);
        // One per day, the newest of the day.
        assert_eq!(kept(&ds), ["2026-03-31T14:00:00Z", "2026-03-30T02:00:00Z", "2026-03-29T02:00:00Z"]);
        assert_eq!(ds.iter().filter(|d| !d.keep).count(), series().len() - 3);
    }

    #[test]
    fn weekly_monthly_yearly_and_reasons() {
        let p = Policy { weekly: 2, monthly: 3, yearly: 1, ..Default::default() };
        let ds = apply(&p, &series(), NOW.parse().unwrap(), &TimeZone::UTC);
        let k = kept(&ds);
        // Weekly: the newest of ISO week 14 (Tue 03-31) and of week 13 (Sun 03-29).
        assert!(k.contains(&"2026-03-29T02:00:00Z".to_string()));
        // Monthly: newest of March, February, January.
        assert!(k.contains(&"2026-02-28T02:00:00Z".to_string()) && k.contains(&"2026-01-31T02:00:00Z".to_string()));
        assert_eq!(k.len(), 4);
        let newest = &ds[0];
        assert_eq!(newest.reasons, ["weekly 2026-W14", "monthly 2026-03", "yearly 2026"]);
    }

    #[test]
    fn keep_hourly() {
        let s = vec![
            snap(1, "2026-03-31T10:05:00Z", false, &[]),
            snap(2, "2026-03-31T10:45:00Z", false, &[]),
            snap(3, "2026-03-31T11:15:00Z", false, &[]),
            snap(4, "2026-03-31T13:00:00Z", false, &[]),
        ];
        let ds = apply(&Policy { hourly: 2, ..Default::default() }, &s, NOW.parse().unwrap(), &TimeZone::UTC);
        assert_eq!(kept(&ds), ["2026-03-31T13:00:00Z", "2026-03-31T11:15:00Z"]);
        let ds = apply(&Policy { hourly: 3, ..Default::default() }, &s, NOW.parse().unwrap(), &TimeZone::UTC);
        // 10:45 is the newest of hour 10; 10:05 shares its bucket and goes.
        assert_eq!(kept(&ds), ["2026-03-31T13:00:00Z", "2026-03-31T11:15:00Z", "2026-03-31T10:45:00Z"]);
        assert_eq!(ds[2].reasons, ["hourly 2026-03-31 10"]);
    }

    #[test]
    fn within_and_tags() {
        let mut s = series();
        s[10].manifest.tags = vec!["pre-upgrade".into()];
        let p = Policy { within: Some("3d".parse().unwrap()), tags: vec!["pre-upgrade".into()], ..Default::default() };
        let ds = apply(&p, &s, NOW.parse().unwrap(), &TimeZone::UTC);
        let k = kept(&ds);
        assert_eq!(k.len(), 5, "{k:?}"); // 03-29, 03-30, 03-31 x2 (after 03-29T00:00), and the tagged one
        assert!(k.contains(&"2026-01-11T02:00:00Z".to_string()));
    }

    #[test]
    fn incomplete_snapshots_never_fill_a_quota() {
        let mut s = series();
        let n = s.len();
        s[n - 1].manifest.incomplete = true;
        s[n - 2].manifest.incomplete = true;
        let ds = apply(&Policy { last: 2, daily: 1, ..Default::default() }, &s, NOW.parse().unwrap(), &TimeZone::UTC);
        assert_eq!(kept(&ds), ["2026-03-30T02:00:00Z", "2026-03-29T02:00:00Z"]);
        assert!(!ds[0].keep && !ds[1].keep, "incomplete snapshots are removed when no rule keeps them");
    }

    #[test]
    fn buckets_follow_the_time_zone() {
        // 23:30 UTC on 03-30 is 03-31 in Berlin: with daily 1 in Berlin it shares the day with 03-31.
        let s = vec![snap(1, "2026-03-30T23:30:00Z", false, &[]), snap(2, "2026-03-31T02:00:00Z", false, &[])];
        let berlin = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::fixed(jiff::tz::offset(2)));
        assert_eq!(kept(&apply(&Policy { daily: 2, ..Default::default() }, &s, NOW.parse().unwrap(), &berlin)).len(), 1);
        assert_eq!(kept(&apply(&Policy { daily: 2, ..Default::default() }, &s, NOW.parse().unwrap(), &TimeZone::UTC)).len(), 2);
    }

    #[test]
    fn rules_that_keep_nothing_are_named() {
        let p = Policy { last: 1, within: Some("1d".parse().unwrap()), tags: vec!["nigthly".into(), "pre-upgrade".into()], ..Default::default() };
        let mut s = series();
        s[3].manifest.tags = vec!["pre-upgrade".into()];
        let ds = apply(&p, &s, "2026-06-01T00:00:00Z".parse().unwrap(), &TimeZone::UTC);
        let m = rule_matches(&p, &ds);
        assert_eq!(m, [("--keep-last 1".to_string(), true), ("--keep-within 1d".into(), false), ("--keep-tag nigthly".into(), false), ("--keep-tag pre-upgrade".into(), true)]);
        // Only incomplete snapshots: a counted rule keeps none of them.
        let mut s = series();
        s.iter_mut().for_each(|x| x.manifest.incomplete = true);
        let p = Policy { daily: 7, ..Default::default() };
        assert_eq!(rule_matches(&p, &apply(&p, &s, NOW.parse().unwrap(), &TimeZone::UTC)), [("--keep-daily 7".to_string(), false)]);
    }

    #[test]
    fn empty_policy_is_recognised() {
        assert!(Policy::default().is_empty());
        assert!(!Policy { tags: vec!["x".into()], ..Default::default() }.is_empty());
    }
}
