//! The configuration file of `dbvault run`: what the nightly routine backs up, keeps, checks and
//! copies. Checked whole before anything runs: an unknown key, a wrong type or a contradiction is
//! an error naming the file and the line, and never quoting the line (it may hold a secret).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::Deserialize;
use store::retention::Policy;

use crate::commands::jobs::Job;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The repository (as `--repo`); else `--repo` / `DBVAULT_REPOSITORY`.
    pub repository: Option<String>,
    /// The repository's password file (as `--password-file`).
    pub password_file: Option<PathBuf>,
    /// A command printing the password (as `--password-command`).
    pub password_command: Option<String>,
    /// Dumps run at once.
    #[serde(default = "default_parallel")]
    pub parallel: u32,
    /// Where to ping (Healthchecks convention) as the run starts and ends.
    pub ping: Option<String>,
    /// The Prometheus metrics file, written at the end (as `--metrics-file`).
    pub metrics_file: Option<PathBuf>,
    /// PostgreSQL servers.
    #[serde(default)]
    pub postgres: Vec<ServerSource>,
    /// MariaDB / MySQL servers.
    #[serde(default)]
    pub mariadb: Vec<ServerSource>,
    /// Explicit dump commands, as in `ingest --jobs` files.
    #[serde(default)]
    pub job: Vec<Job>,
    /// Keep rules: `default`, a database name, or a glob pattern.
    #[serde(default)]
    pub retention: BTreeMap<String, Keep>,
    /// When to prune.
    pub prune: Option<PruneWhen>,
    /// The repository check.
    pub check: Option<CheckSettings>,
    /// Offsite copies.
    #[serde(default)]
    pub copy: Vec<CopyTarget>,
    /// Restore drills in rotation.
    pub drill: Option<DrillSettings>,
}

fn default_parallel() -> u32 {
    2
}

/// A database server whose databases are discovered and dumped each run, one lineage each, plus
/// its roles (PostgreSQL) or users and grants (MariaDB) in a lineage of their own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSource {
    /// Names the source in the summary and in the tag `source:NAME` its snapshots carry
    /// [default: postgres / mariadb].
    pub name: Option<String>,
    /// PostgreSQL: a host name or a socket folder (PGHOST). MariaDB: a host name.
    pub host: Option<String>,
    /// The server's port.
    pub port: Option<u16>,
    /// The user to connect as.
    pub user: Option<String>,
    /// MariaDB: the server's socket.
    pub socket: Option<PathBuf>,
    /// PostgreSQL: a service of pg_service.conf (PGSERVICE).
    pub service: Option<String>,
    /// PostgreSQL: a password file (PGPASSFILE). MariaDB: an option file with `[client]`
    /// `password=` (--defaults-extra-file).
    pub password_file: Option<PathBuf>,
    /// `"all"` (discovered each run) or a list of names.
    #[serde(default)]
    pub databases: Databases,
    /// Glob patterns of databases to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Lineage names get this prefix (two servers with a database of the same name).
    #[serde(default)]
    pub prefix: String,
    /// The lineage of the roles / users and grants [default: NAME-globals].
    pub globals: Option<String>,
    /// The folder of the server's client programs [default: found in PATH].
    pub bin_dir: Option<PathBuf>,
    /// Options added to every dump command.
    #[serde(default)]
    pub dump_options: Vec<String>,
    /// PostgreSQL: the database to list the others from [default: postgres].
    pub maintenance_db: Option<String>,
}

/// Which databases of a server.
#[derive(Debug, Clone, Default)]
pub enum Databases {
    /// Every one the server has at the time of the run.
    #[default]
    All,
    /// These.
    Listed(Vec<String>),
}

impl<'de> Deserialize<'de> for Databases {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("databases must be \"all\" or a list of names"))? {
            Raw::Word(w) if w == "all" => Ok(Databases::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("databases = {w:?}: expected \"all\" or a list such as [\"{w}\"]"))),
            Raw::List(l) if l.is_empty() => Err(serde::de::Error::custom("databases is an empty list: name some, or say \"all\"")),
            Raw::List(l) => Ok(Databases::Listed(l)),
        }
    }
}

/// Keep rules, as `forget`'s options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    #[serde(default)]
    pub keep_last: u32,
    #[serde(default)]
    pub keep_hourly: u32,
    #[serde(default)]
    pub keep_daily: u32,
    #[serde(default)]
    pub keep_weekly: u32,
    #[serde(default)]
    pub keep_monthly: u32,
    #[serde(default)]
    pub keep_yearly: u32,
    pub keep_within: Option<String>,
    #[serde(default)]
    pub keep_tag: Vec<String>,
}

impl Keep {
    /// The retention policy these rules make.
    pub fn policy(&self) -> Result<Policy, String> {
        let within = match &self.keep_within {
            None => None,
            Some(s) => match s.parse::<jiff::Span>() {
                Ok(span) if span.signum() > 0 => Some(span),
                _ => return Err(format!("keep_within = {s:?}: expected a positive duration such as \"14d\" or \"6 months\"")),
            },
        };
        for t in &self.keep_tag {
            store::names::check_tag(t).map_err(|e| e.to_string())?;
        }
        let p = Policy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within,
            tags: self.keep_tag.clone(),
        };
        if p.is_empty() {
            return Err("no keep rule: that would remove every snapshot; give keep_last, keep_daily, ...".into());
        }
        Ok(p)
    }
}

/// When the run prunes: on a weekday, or when unused space passes a share; either if both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneWhen {
    /// `mon` ... `sun` (or the full English name), in local time.
    pub weekday: Option<String>,
    /// `"10%"`: prune when unused data passes this share of the stored data.
    pub max_unused: Option<String>,
}

/// The repository check of each run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Read every stored byte once per this many runs (part N of M, rotating); absent: check the
    /// structure only.
    pub read_data_cycle: Option<u64>,
}

/// An offsite copy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyTarget {
    /// The destination repository.
    pub to: String,
    /// Its password file [default: the source repository's password].
    pub password_file: Option<PathBuf>,
    /// A command printing its password.
    pub password_command: Option<String>,
}

/// Drills in rotation: each run drills the database whose last drill is oldest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSettings {
    /// Databases in the rotation [default: all this run backs up].
    #[serde(default)]
    pub databases: Databases,
    /// Glob patterns of databases never drilled.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How long one drill may take [default: 1h].
    pub timeout: Option<String>,
}

/// Read and check the configuration file.
pub fn load(path: &Path) -> Result<Config> {
    let text = read(path).map_err(|e| crate::exit::usage(format!("reading the configuration {}: {e}", path.display())))?;
    let config: Config = toml::from_str(&text).map_err(|e| crate::exit::usage(located(path, &text, &e)))?;
    config.validate().map_err(|e| crate::exit::usage(format!("{}: {e}", path.display())))?;
    Ok(config)
}

/// The largest configuration file read (a thousand databases' jobs take a tenth of it).
const MAX_SIZE: u64 = 1 << 20;

/// The file's text: a regular file (not a FIFO or a device that never ends) of at most [`MAX_SIZE`].
fn read(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_SIZE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SIZE {
        return Err(std::io::Error::other(format!("larger than {} MiB; is it the right file?", MAX_SIZE >> 20)));
    }
    Ok(text)
}

/// `FILE:LINE:COLUMN: message`, without the line's text (it may hold a secret).
fn located(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let mut message = e.message().trim().to_string();
    if message.contains("unknown field `password`") {
        message = "passwords are not accepted in the configuration file: use password_file (or password_command) for the repository, a PGPASSFILE / MariaDB option file as password_file of a server".into();
    }
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("{}:{line}:{column}: {message}", path.display())
        }
        None => format!("{}: {message}", path.display()),
    }
}

impl Config {
    /// What types alone cannot say.
    fn validate(&self) -> Result<()> {
        if self.password_file.is_some() && self.password_command.is_some() {
            bail!("give password_file or password_command, not both");
        }
        if self.parallel == 0 {
            bail!("parallel = 0 would run nothing; give 1 or more");
        }
        if self.postgres.is_empty() && self.mariadb.is_empty() && self.job.is_empty() {
            bail!("nothing to back up: add a [[postgres]], [[mariadb]] or [[job]] section");
        }
        if let Some(url) = &self.ping {
            crate::ping::Ping::parse(url).map_err(anyhow::Error::msg)?;
        }
        let mut names = BTreeSet::new();
        for (kind, list) in [("postgres", &self.postgres), ("mariadb", &self.mariadb)] {
            let unnamed = list.iter().filter(|s| s.name.is_none()).count();
            if unnamed > 1 {
                bail!("{unnamed} [[{kind}]] sections have no name: name each (name = \"...\") so their snapshots can be told apart");
            }
            for s in list {
                let name = s.name(kind);
                if !names.insert(name.to_string()) {
                    bail!("two sources are named {name:?}");
                }
                store::names::check_tag(&format!("source:{name}")).map_err(|e| anyhow::anyhow!("[[{kind}]] name: {e}"))?;
                s.validate(kind)?;
            }
        }
        // Lineages the file names: one source each (discovered names are checked at run time).
        let mut lineages: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |lineage: String, by: String| match lineages.get(&lineage) {
            Some(first) => Err(anyhow::anyhow!("lineage {lineage:?} would be backed up by both {first} and {by}: give one a prefix or another name")),
            None => {
                lineages.insert(lineage, by);
                Ok(())
            }
        };
        for (kind, list) in [("postgres", &self.postgres), ("mariadb", &self.mariadb)] {
            for s in list {
                let name = s.name(kind);
                claim(s.globals_lineage(kind), format!("[[{kind}]] {name}'s roles (globals)"))?;
                if let Databases::Listed(dbs) = &s.databases {
                    for db in dbs {
                        claim(format!("{}{db}", s.prefix), format!("[[{kind}]] {name}'s database {db:?}"))?;
                    }
                }
            }
        }
        for j in &self.job {
            claim(j.db.clone(), format!("[[job]] {:?}", j.db))?;
        }
        if self.metrics_file.as_ref().is_some_and(|m| m.as_os_str().is_empty()) {
            bail!("metrics_file is empty: name a file, or leave the key out");
        }
        for (pattern, keep) in &self.retention {
            if pattern != "default" {
                glob::Pattern::new(pattern).map_err(|e| anyhow::anyhow!("[retention] {pattern:?} is not a valid pattern: {e}"))?;
            }
            keep.policy().map_err(|e| anyhow::anyhow!("[retention] {pattern:?}: {e}"))?;
        }
        if let Some(p) = &self.prune {
            if p.weekday.is_none() && p.max_unused.is_none() {
                bail!("[prune] says neither weekday nor max_unused: say when to prune");
            }
            p.weekday.as_deref().map(weekday).transpose()?;
            p.max_unused.as_deref().map(percentage).transpose()?;
            if self.retention.is_empty() {
                bail!("[prune] without [retention]: nothing would ever be forgotten, so there is nothing to prune");
            }
        }
        if let Some(c) = &self.check
            && c.read_data_cycle == Some(0)
        {
            bail!("[check] read_data_cycle = 0: give the number of runs over which every byte is read once (1: every run)");
        }
        for c in &self.copy {
            if c.to.trim().is_empty() {
                bail!("[[copy]] to is empty: name the offsite repository");
            }
            if c.to.contains("://") && !c.to.starts_with("s3:") {
                bail!("[[copy]] to = {:?}: expected a folder or an s3: URL", c.to);
            }
            if Some(&c.to) == self.repository.as_ref() {
                bail!("[[copy]] to = {:?} is the repository itself", c.to);
            }
            store::Location::parse(&c.to).map_err(|e| anyhow::anyhow!("[[copy]] to: {e}"))?;
            if c.password_file.is_some() && c.password_command.is_some() {
                bail!("[[copy]] to {}: give password_file or password_command, not both", c.to);
            }
        }
        if let Some(d) = &self.drill {
            patterns("[drill] exclude", &d.exclude)?;
            if let Some(t) = &d.timeout {
                crate::commands::status::duration("[drill] timeout", t)?;
            }
        }
        Ok(())
    }
}

impl ServerSource {
    /// The source's name.
    pub fn name<'a>(&'a self, kind: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(kind)
    }

    /// The lineage of its roles / users and grants.
    pub fn globals_lineage(&self, kind: &str) -> String {
        self.globals.clone().unwrap_or_else(|| format!("{}{}-globals", self.prefix, self.name(kind)))
    }

    fn validate(&self, kind: &str) -> Result<()> {
        let name = self.name(kind);
        patterns(&format!("[[{kind}]] {name}: exclude"), &self.exclude)?;
        store::names::check_db(&self.globals_lineage(kind)).map_err(|e| anyhow::anyhow!("[[{kind}]] {name}: globals: {e}"))?;
        if kind == "postgres" && self.socket.is_some() {
            bail!("[[postgres]] {name}: socket: PostgreSQL takes the socket's folder as host = \"/var/run/postgresql\"");
        }
        if kind == "mariadb" && (self.service.is_some() || self.maintenance_db.is_some()) {
            bail!("[[mariadb]] {name}: service and maintenance_db are PostgreSQL settings");
        }
        if let Some(dir) = &self.bin_dir
            && !dir.is_dir()
        {
            bail!("[[{kind}]] {name}: bin_dir {} is not a folder", dir.display());
        }
        Ok(())
    }
}

fn patterns(what: &str, list: &[String]) -> Result<()> {
    for p in list {
        glob::Pattern::new(p).map_err(|e| anyhow::anyhow!("{what}: {p:?} is not a valid pattern: {e}"))?;
    }
    Ok(())
}

/// Whether `name` matches one of `patterns` (checked by [`Config::validate`]).
pub fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().filter_map(|p| glob::Pattern::new(p).ok()).any(|p| p.matches(name))
}

/// `"sun"`, `"Sunday"`: a weekday.
pub fn weekday(s: &str) -> Result<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    let lower = s.trim().to_ascii_lowercase();
    let days = [("mon", Monday), ("tue", Tuesday), ("wed", Wednesday), ("thu", Thursday), ("fri", Friday), ("sat", Saturday), ("sun", Sunday)];
    days.iter()
        .find(|(short, day)| lower == *short || lower == format!("{day:?}").to_ascii_lowercase())
        .map(|(_, d)| *d)
        .ok_or_else(|| anyhow::anyhow!("[prune] weekday = {s:?}: expected mon, tue, wed, thu, fri, sat or sun"))
}

/// `"10%"`: a share from 0 to 1.
pub fn percentage(s: &str) -> Result<f64> {
    let p = s.trim().strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok());
    match p {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => bail!("[prune] max_unused = {s:?}: expected a percentage such as \"10%\""),
    }
}

impl Config {
    /// The keep rules for `db`: its own, else the most specific matching pattern (most characters
    /// that are not wildcards; ties: the first in sorted order), else `default`.
    pub fn retention_for(&self, db: &str) -> Option<(&str, &Keep)> {
        if let Some((k, v)) = self.retention.get_key_value(db) {
            return Some((k, v));
        }
        let specificity = |p: &str| p.chars().filter(|c| !matches!(c, '*' | '?' | '[' | ']')).count();
        self.retention
            .iter()
            .filter(|(p, _)| p.as_str() != "default" && glob::Pattern::new(p).is_ok_and(|g| g.matches(db)))
            .max_by(|a, b| specificity(a.0).cmp(&specificity(b.0)).then(b.0.cmp(a.0)))
            .or_else(|| self.retention.get_key_value("default"))
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder of this package's sources, from cargo at run time (a binary built by another
    /// checkout sharing the build folder must read this checkout's files).
    fn package_dir() -> PathBuf {
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
    }

    #[test]
    fn the_shipped_example_and_the_readme_example_are_valid() {
        let example = package_dir().join("../packaging/dbvault.example.toml");
        let c = load(&example).unwrap_or_else(|e| panic!("{}: {e:#}", example.display()));
        assert_eq!(c.postgres.len(), 1);
        let readme = std::fs::read_to_string(package_dir().join("../README.md")).unwrap();
        let block = readme.split("# /etc/dbvault/dbvault.toml\n").nth(1).and_then(|b| b.split("```").next()).expect("the README's configuration");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), block).unwrap();
        let c = load(file.path()).unwrap_or_else(|e| panic!("README example: {e:#}"));
        assert_eq!((c.postgres.len(), c.mariadb.len(), c.job.len(), c.copy.len()), (1, 1, 1, 1));
        assert_eq!(c.retention_for("shop").unwrap().0, "shop");
        assert_eq!(c.retention_for("crm").unwrap().0, "default");
    }

    #[test]
    fn the_most_specific_pattern_wins_and_errors_name_the_line_without_quoting_it() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let text = "[[job]]\ndb = \"x\"\ncommand = \"true\"\n[retention]\ndefault = { keep_last = 1 }\n\"shop_*\" = { keep_last = 2 }\n\"shop_eu_*\" = { keep_last = 3 }\n";
        std::fs::write(file.path(), text).unwrap();
        let c = load(file.path()).unwrap();
        assert_eq!(c.retention_for("shop_eu_1").unwrap().0, "shop_eu_*");
        assert_eq!(c.retention_for("shop_us").unwrap().0, "shop_*");
        assert_eq!(c.retention_for("crm").unwrap().0, "default");
        std::fs::write(file.path(), "[[job]]\ndb = \"x\"\ncommand = \"true\"\n\n[[postgres]]\nuser = \"postgres\"\npassword = \"s3cret-value\"\n").unwrap();
        let e = format!("{:#}", load(file.path()).unwrap_err());
        assert!(e.contains(":7:") && e.contains("password_file") && !e.contains("s3cret"), "{e}");
    }
}
