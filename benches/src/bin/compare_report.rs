//! `compare-report RESULTS.tsv "TOOL..."`: the markdown report of benches/compare.sh.
//!
//! RESULTS.tsv rows: series, tool, op (ingest | restore | restore_file | prune, or `limit` for
//! the novelty tool), day, input bytes, wall seconds, peak RSS in KiB, repository bytes after.
//! The first tool is compared with each of the others. Throughputs are input bytes over wall
//! time, in MB/s (10^6); "later days" figures are medians over days 1.., day-0 and restore figures
//! medians over their repeated runs (the last day-0 row of a tool is the repository the later
//! days build on).

use std::collections::BTreeMap;
use std::fmt::Write;

struct Row {
    series: String,
    tool: String,
    op: String,
    day: u32,
    bytes: f64,
    secs: f64,
    rss_kib: f64,
    repo: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// One series' figures, looked up by tool.
struct Series<'a> {
    rows: Vec<&'a Row>,
}

impl Series<'_> {
    fn find(&self, tool: &str, op: &str) -> impl Iterator<Item = &Row> {
        self.rows.iter().copied().filter(move |r| r.tool == tool && r.op == op)
    }
    /// Bytes the repository grew by on `day` (day 0: from the empty repository's size, unknown
    /// here, so from zero; init leaves a few KB).
    fn added(&self, tool: &str, day: u32) -> f64 {
        let ingests: BTreeMap<u32, f64> = self.find(tool, "ingest").map(|r| (r.day, r.repo)).collect();
        let before = if day == 0 { 0.0 } else { ingests.get(&(day - 1)).copied().unwrap_or(f64::NAN) };
        ingests.get(&day).map_or(f64::NAN, |after| after - before)
    }
    fn days(&self) -> Vec<u32> {
        let mut d: Vec<u32> = self.rows.iter().filter(|r| r.op == "ingest").map(|r| r.day).collect();
        d.sort_unstable();
        d.dedup();
        d
    }
    fn ingest_mbs(&self, tool: &str, later: bool) -> f64 {
        median(self.find(tool, "ingest").filter(|r| (r.day > 0) == later).map(|r| r.bytes / r.secs / 1e6).collect())
    }
    /// Median restore throughput of `op` (`restore`: to stdout; `restore_file`: dbvault's `-o`).
    fn restore_mbs(&self, tool: &str, op: &str) -> f64 {
        median(self.find(tool, op).map(|r| r.bytes / r.secs / 1e6).collect())
    }
    fn added_later(&self, tool: &str) -> f64 {
        median(self.days().into_iter().filter(|&d| d > 0).map(|d| self.added(tool, d)).collect())
    }
    fn limit(&self, day: u32) -> f64 {
        self.find("novelty", "limit").find(|r| r.day == day).map_or(f64::NAN, |r| r.repo)
    }
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.digits$}") }
}

/// A report row: its label, its value for a tool, and its decimals.
type Metric<'a> = (&'static str, Box<dyn Fn(&str) -> f64 + 'a>, usize);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, tools] = args.as_slice() else {
        eprintln!("usage: compare-report RESULTS.tsv \"TOOL...\"");
        std::process::exit(2);
    };
    let tools: Vec<&str> = tools.split_whitespace().collect();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "malformed results row: {l}");
            let n = |i: usize| f[i].parse::<f64>().unwrap_or_else(|_| panic!("not a number in {l}"));
            Row { series: f[0].into(), tool: f[1].into(), op: f[2].into(), day: f[3].parse().expect("day"), bytes: n(4), secs: n(5), rss_kib: n(6), repo: n(7) }
        })
        .collect();
    let mut names: Vec<&str> = rows.iter().map(|r| r.series.as_str()).collect();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let s = Series { rows: rows.iter().filter(|r| r.series == name).collect() };
        let days = s.days();
        // One size per day (day 0 has a row per run).
        let sizes: BTreeMap<u32, f64> = s.find(tools[0], "ingest").map(|r| (r.day, r.bytes)).collect();
        let mean = sizes.values().sum::<f64>() / sizes.len() as f64;
        writeln!(out, "### {name}: {} daily dumps, {:.0} MB on average\n", days.len(), mean / 1e6).unwrap();
        write!(out, "| | {} |", tools.join(" | ")).unwrap();
        for peer in &tools[1..] {
            write!(out, " {} ÷ {peer} |", tools[0]).unwrap();
        }
        writeln!(out, "\n|---|{}", "---|".repeat(2 * tools.len() - 1)).unwrap();
        let metrics: Vec<Metric> = vec![
            ("ingest day 0, MB/s (median of runs)", Box::new(|t| s.ingest_mbs(t, false)), 0),
            ("ingest later days, MB/s (median)", Box::new(|t| s.ingest_mbs(t, true)), 0),
            ("added day 0, MB", Box::new(|t| s.added(t, 0) / 1e6), 1),
            ("added per later day, MB (median)", Box::new(|t| s.added_later(t) / 1e6), 2),
            ("restore last day to stdout, MB/s (median of runs)", Box::new(|t| s.restore_mbs(t, "restore")), 0),
            ("restore last day with -o (synced), MB/s (median)", Box::new(|t| s.restore_mbs(t, "restore_file")), 0),
            ("peak RSS ingest, MiB (max)", Box::new(|t| s.find(t, "ingest").map(|r| r.rss_kib / 1024.0).fold(f64::NAN, f64::max)), 0),
            ("peak RSS restore, MiB", Box::new(|t| s.find(t, "restore").map(|r| r.rss_kib / 1024.0).fold(f64::NAN, f64::max)), 0),
            ("prune to last 4, s", Box::new(|t| s.find(t, "prune").map(|r| r.secs).fold(f64::NAN, f64::max)), 1),
        ];
        for (label, f, digits) in &metrics {
            let v: Vec<f64> = tools.iter().map(|t| f(t)).collect();
            write!(out, "| {label} |").unwrap();
            for x in &v {
                write!(out, " {} |", fmt(*x, *digits)).unwrap();
            }
            for x in &v[1..] {
                write!(out, " {} |", fmt(v[0] / x, 2)).unwrap();
            }
            out.push('\n');
        }
        writeln!(out, "\nBytes added per day (MB) beside the novelty limit (zstd -3 of the lines new that day), and each tool's multiple of it:\n").unwrap();
        write!(out, "| day | dump | limit |").unwrap();
        for t in &tools {
            write!(out, " {t} | ×limit |").unwrap();
        }
        writeln!(out, "\n|---|---|---|{}", "---|---|".repeat(tools.len())).unwrap();
        for &d in &days {
            let size = s.find(tools[0], "ingest").find(|r| r.day == d).map_or(f64::NAN, |r| r.bytes);
            let limit = s.limit(d);
            write!(out, "| {d} | {} | {} |", fmt(size / 1e6, 1), fmt(limit / 1e6, 3)).unwrap();
            for t in &tools {
                let a = s.added(t, d);
                write!(out, " {} | {} |", fmt(a / 1e6, 2), fmt(a / limit, 1)).unwrap();
            }
            out.push('\n');
        }
        out.push('\n');
    }
    print!("{out}");
}
