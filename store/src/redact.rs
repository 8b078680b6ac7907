//! Redaction: secrets in a dump command's line and in the error lines it prints are replaced by
//! [`MASK`] before anything is recorded in a manifest, printed, or copied to another repository
//! (SPEC.md section 9, `source`). What is redacted:
//!
//! - the value of any `NAME=VALUE` word whose name (leading dashes stripped, case ignored)
//!   contains `password`, `passwd`, `pwd`, `pass`, `secret` or `token`: `--password=x`,
//!   `PGPASSWORD=x`, `MYSQL_PWD=x`, libpq's `password=x` in a connection string, ODBC's `PWD=x;`;
//! - the password of a URL's user information (`postgresql://user:x@host/db`), and the value of
//!   such a name in its query (`?password=x`);
//! - `-px` of the MySQL and MariaDB tools (`mysqldump`, `mysql`, `mariadb-dump`, `mariadb`, ...),
//!   `-Px` and `-P x` of SQL Server's `sqlcmd`, `bcp` and `osql`;
//! - the word after `--password`, `--passwd`, `--secret`, `--token` and `--api-key` given alone,
//!   except for the PostgreSQL and MySQL tools, where those options take no separate value;
//! - options are judged by the last database tool named before them, so wrappers (`sudo -u x`,
//!   `timeout 60`, `docker exec db`, `ssh host`) change nothing; a shell line (`sh -c '...'`,
//!   `sh -ec`, a jobs file's command string, an argument holding a command line) is redacted word
//!   by word, each command after `|`, `;`, `&&` on its own; error lines as shell lines too, so a
//!   shell's `-x` trace loses its `-p...`.
//!
//! Redaction is conservative: a word that merely looks like a secret is masked too. It cannot
//! see a secret written some other way (a password as a positional argument, in a file the
//! command reads is fine); prefer password files (`.pgpass`, `--defaults-extra-file`,
//! `PGPASSFILE`) to passwords on a command line, which other users of the machine can read in
//! `ps` while the dump runs.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Substrings of option and variable names that hold secrets.
const SECRET_NAMES: [&str; 6] = ["password", "passwd", "pwd", "pass", "secret", "token"];

/// Options that take a separate secret value in generic tools.
const SECRET_FLAGS: [&str; 5] = ["--password", "--passwd", "--secret", "--token", "--api-key"];

/// Which conventions a program's options follow.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Family {
    /// mysqldump and friends: `-pSECRET`, `--password=SECRET`; `-p`/`--password` alone prompt.
    MySql,
    /// pg_dump and friends: `-W`/`--password` take no value.
    Postgres,
    /// sqlcmd, bcp, osql: `-P SECRET` or `-PSECRET`.
    SqlServer,
    /// A shell: `-c LINE` (also `-ec`, `-lc`, ...) is a command line of its own.
    Shell,
    /// Anything else.
    #[default]
    Other,
}

/// The family of the program `word` names (a path, quotes, a trace's `+` and a message's `:`
/// aside), or [`Family::Other`].
fn family(word: &str) -> Family {
    let w = word.trim_matches(|c| matches!(c, '"' | '\'' | '(' | ')' | '`' | '+')).trim_end_matches(':');
    let base = w.rsplit('/').next().unwrap_or(w);
    match base {
        "mysqldump" | "mysql" | "mysqlpump" | "mysqladmin" | "mariadb-dump" | "mariadb" | "mariadb-admin" | "mydumper" => Family::MySql,
        "pg_dump" | "pg_dumpall" | "pg_restore" | "psql" | "pg_basebackup" => Family::Postgres,
        "sqlcmd" | "bcp" | "osql" => Family::SqlServer,
        "sh" | "bash" | "dash" | "zsh" | "ksh" => Family::Shell,
        _ => Family::Other,
    }
}

fn secret_name(name: &str) -> bool {
    let n = name.trim_start_matches('-').to_ascii_lowercase();
    !n.is_empty() && SECRET_NAMES.iter().any(|s| n.contains(s))
}

/// Whether `word` is an option of `fam` whose value is the next word, and that value is secret.
fn takes_secret_value(fam: Family, word: &str) -> bool {
    match fam {
        Family::SqlServer => word == "-P",
        Family::MySql | Family::Postgres => false,
        Family::Shell | Family::Other => SECRET_FLAGS.contains(&word),
    }
}

/// A shell's option that makes its next argument a command line: `-c`, `-ec`, `-xc`, `-lc`.
fn is_shell_line_flag(word: &str) -> bool {
    word.len() >= 2 && word.starts_with('-') && !word.starts_with("--") && word.contains('c')
}

/// A quoted value ends at its closing quote; an unquoted one at `stop` or the end.
fn value_end(s: &str, stop: &[char]) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, q @ ('\'' | '"'))) => chars.find(|&(_, c)| c == q).map_or(s.len(), |(i, _)| i + 1),
        _ => s.find(|c: char| stop.contains(&c) || c.is_whitespace()).unwrap_or(s.len()),
    }
}

/// Mask `NAME=VALUE` pairs with secret names anywhere in `s` (connection strings, URL queries,
/// assignments), and URL passwords.
fn mask_embedded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let before = &rest[..eq];
        let name_start = before.rfind(|c: char| c.is_whitespace() || matches!(c, '?' | '&' | ';' | '\'' | '"' | '(')).map_or(0, |i| i + 1);
        let after = &rest[eq + 1..];
        if secret_name(&before[name_start..]) {
            let end = value_end(after, &['&', ';', '\'', '"', ')']);
            out.push_str(&rest[..=eq]);
            if end > 0 {
                out.push_str(MASK);
            }
            rest = &after[end..];
        } else {
            out.push_str(&rest[..=eq]);
            rest = after;
        }
    }
    out.push_str(rest);
    mask_url_passwords(&out)
}

/// Whether `s` begins with something that can follow a URL's user information: a host (name,
/// IPv4, `[IPv6]`, optional port) ending where the URL or the word ends, or no host before the
/// path or query (`postgresql://user:x@/db?host=/run/postgresql`: libpq's socket form).
fn host_follows(s: &str) -> bool {
    let end = s.find(|c: char| matches!(c, '/' | '?' | '#' | ',' | ')' | '\'' | '"') || c.is_whitespace()).unwrap_or(s.len());
    (end > 0 || s.starts_with(['/', '?'])) && s[..end].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']' | '%'))
}

/// `scheme://user:SECRET@host` -> `scheme://user:***@host`. A password may hold any character
/// (`#`, `?`, `/`, spaces: libpq takes them unencoded), so the user information ends at the last
/// `@` of the URL's line that a host follows.
fn mask_url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let region_end = tail.find(['\n', '\'', '"']).unwrap_or(tail.len());
        let region = &tail[..region_end];
        let colon = region.find(':');
        let at = region.rmatch_indices('@').map(|(i, _)| i).find(|&i| colon.is_some_and(|c| c < i) && host_follows(&region[i + 1..]));
        match (colon, at) {
            (Some(colon), Some(at)) => {
                out.push_str(&region[..=colon]);
                out.push_str(MASK);
                rest = &tail[at..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// `w` without one pair of enclosing quotes, and the quote.
fn unquote(w: &str) -> (&str, Option<char>) {
    match w.chars().next() {
        Some(q @ ('\'' | '"')) if w.len() > 1 && w.ends_with(q) => (&w[1..w.len() - 1], Some(q)),
        _ => (w, None),
    }
}

/// Redact one word of a command whose options follow `fam`.
fn word(fam: Family, w: &str) -> String {
    let (inner, quote) = unquote(w);
    let q = quote.map(String::from).unwrap_or_default();
    // A whole `--password=...` or `PGPASSWORD=...` word: everything after `=` is the secret.
    if let Some((name, _)) = inner.split_once('=')
        && !name.is_empty()
        && name.trim_start_matches('-').chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && secret_name(name)
    {
        return format!("{q}{name}={MASK}{q}");
    }
    let flag = match fam {
        Family::MySql if inner.len() > 2 && inner.starts_with("-p") => Some("-p"),
        Family::SqlServer if inner.len() > 2 && inner.starts_with("-P") => Some("-P"),
        _ => None,
    };
    match flag {
        Some(flag) => format!("{q}{flag}{MASK}{q}"),
        None => mask_embedded(w),
    }
}

/// Shell operator characters: a run of them is a token of its own (`;`, `|`, `&&`, `>`).
fn is_operator(c: char) -> bool {
    matches!(c, ';' | '|' | '&' | '(' | ')' | '<' | '>')
}

/// Length of the shell word at the start of `s`: up to unquoted white space or an operator
/// (quotes and backslash escapes may appear anywhere in it); an operator run is a word itself.
fn shell_word_len(s: &str) -> usize {
    if s.starts_with(is_operator) {
        return s.find(|c: char| !is_operator(c)).unwrap_or(s.len());
    }
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') | (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() || is_operator(c) => return i,
            _ => {}
        }
    }
    s.len()
}

/// The conventions of the first MySQL or SQL Server tool a line mentions, else generic.
fn line_family(line: &str) -> Family {
    line.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '(' | ')' | '`' | '#' | '\'' | '"'))
        .map(family)
        .find(|f| matches!(f, Family::MySql | Family::SqlServer))
        .unwrap_or(Family::Other)
}

/// Redaction of a sequence of words (a command's arguments, or a shell line's words): each
/// option is judged by the conventions of the last database tool named before it, so wrappers
/// (`sudo -u x`, `timeout 60`, `docker exec db`, `ssh host`) change nothing.
#[derive(Default)]
struct Words {
    fam: Family,
    secret_next: bool,
    shell: bool,
    line_next: bool,
}

impl Words {
    fn step(&mut self, w: &str) -> String {
        if self.secret_next {
            self.secret_next = false;
            let (_, q) = unquote(w);
            let q = q.map(String::from).unwrap_or_default();
            return format!("{q}{MASK}{q}");
        }
        if self.line_next {
            self.line_next = false;
            let (inner, q) = unquote(w);
            self.fam = line_family(inner);
            let q = q.map(String::from).unwrap_or_default();
            return format!("{q}{}{q}", shell_line(inner));
        }
        match family(w) {
            Family::Other => {}
            Family::Shell => {
                self.shell = true;
                return mask_embedded(w);
            }
            f => {
                self.fam = f;
                return mask_embedded(w);
            }
        }
        if self.shell && is_shell_line_flag(w) {
            self.line_next = true;
            return w.to_string();
        }
        self.secret_next = takes_secret_value(self.fam, w);
        word(self.fam, w)
    }
}

/// Redact a command line given as arguments (what `execvp` receives). An argument holding white
/// space (`ssh host 'mysqldump -pX shop'`, a connection string) is redacted as a line of words.
pub fn command(argv: &[String]) -> Vec<String> {
    let mut words = Words::default();
    argv.iter()
        .map(|a| {
            // An argument with white space is a command line of its own (`ssh host 'PGPASSWORD=x
            // pg_dump shop'`) when it names a program or holds several NAME=VALUE pairs (a
            // connection string); otherwise one word (`--password=two words`).
            let line_like = a.split_whitespace().any(|w| family(w) != Family::Other) || a.split_whitespace().filter(|w| w.contains('=')).count() > 1;
            if a.contains(char::is_whitespace) && line_like && !words.line_next && !words.secret_next {
                if let f @ (Family::MySql | Family::SqlServer) = line_family(a) {
                    words.fam = f;
                }
                // URLs first, whole: their passwords may hold spaces.
                shell_line(&mask_url_passwords(a))
            } else {
                words.step(a)
            }
        })
        .collect()
}

/// Redact a shell command line (`sh -c LINE`) word by word; a separator (`|`, `;`, `&&`, ...)
/// starts a new command.
pub fn shell_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut words = Words::default();
    let mut rest = line;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        if rest.is_empty() {
            break;
        }
        let (w, after) = rest.split_at(shell_word_len(rest).max(1));
        rest = after;
        if w.starts_with(is_operator) {
            out.push_str(w);
            // A new command starts after `;`, `|`, `&&`, ...; not after a redirection.
            if !w.starts_with(['<', '>']) {
                words = Words::default();
            }
            continue;
        }
        out.push_str(&words.step(w));
    }
    out
}

/// A manifest's `source` with its command line and error lines redacted (for manifests written
/// before redaction existed, and for copies).
pub fn source(s: &repo_format::manifest::Source) -> repo_format::manifest::Source {
    let mut out = s.clone();
    out.command = s.command.as_deref().map(command);
    out.stderr_tail = s.stderr_tail.iter().map(|l| text(l)).collect();
    out
}

/// Redact a line of free text (a dump tool's error output, a shell's `-x` trace): as a shell
/// line, so `-p...` after a MySQL tool's name is masked too, plus URL passwords and secret
/// `NAME=VALUE` pairs.
pub fn text(line: &str) -> String {
    shell_line(&mask_url_passwords(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        command(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn assert_redacted(cases: &[(&[&str], &[&str])]) {
        for (input, expected) in cases {
            assert_eq!(argv(input), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{input:?}");
        }
    }

    #[test]
    fn passwords_in_arguments_urls_and_known_options_are_masked() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["mysqldump", "-pSECRET", "shop"], &["mysqldump", "-p***", "shop"]),
            (&["mysqldump", "-p", "shop"], &["mysqldump", "-p", "shop"]),
            (&["mariadb-dump", "--password=SECRET", "-P", "3306", "shop"], &["mariadb-dump", "--password=***", "-P", "3306", "shop"]),
            (&["/usr/bin/mysqldump", "--password", "shop"], &["/usr/bin/mysqldump", "--password", "shop"]),
            (&["pg_dump", "postgresql://u:SECRET@db.example:5432/shop"], &["pg_dump", "postgresql://u:***@db.example:5432/shop"]),
            (&["pg_dump", "-p5432", "--password", "shop"], &["pg_dump", "-p5432", "--password", "shop"]),
            (&["pg_dump", "host=db password=SECRET dbname=shop"], &["pg_dump", "host=db password=*** dbname=shop"]),
            (&["pg_dump", "host=db password='S E' dbname=shop"], &["pg_dump", "host=db password=*** dbname=shop"]),
            (&["pg_dump", "postgresql://db/shop?user=u&password=SECRET&sslmode=require"], &["pg_dump", "postgresql://db/shop?user=u&password=***&sslmode=require"]),
            (&["env", "PGPASSWORD=SECRET", "pg_dump", "shop"], &["env", "PGPASSWORD=***", "pg_dump", "shop"]),
            (&["sqlcmd", "-S", "db", "-U", "sa", "-P", "SECRET", "-Q", "x"], &["sqlcmd", "-S", "db", "-U", "sa", "-P", "***", "-Q", "x"]),
            (&["sqlcmd", "-PSECRET"], &["sqlcmd", "-P***"]),
            (&["mongodump", "--password", "SECRET", "--token=T"], &["mongodump", "--password", "***", "--token=***"]),
            (&["tool", "--api-key", "K", "--db-pass=SECRET", "--dbname=shop"], &["tool", "--api-key", "***", "--db-pass=***", "--dbname=shop"]),
            (&["odbcdump", "Driver=x;Server=db;UID=sa;PWD=SECRET;"], &["odbcdump", "Driver=x;Server=db;UID=sa;PWD=***;"]),
        ];
        assert_redacted(cases);
    }

    #[test]
    fn shell_lines_are_redacted_per_program() {
        let cases = [
            ("mysqldump -pSECRET shop | gzip", "mysqldump -p*** shop | gzip"),
            ("MYSQL_PWD=SECRET mysqldump shop", "MYSQL_PWD=*** mysqldump shop"),
            ("pg_dump -p5432 shop; mysqldump '-pS E' crm", "pg_dump -p5432 shop; mysqldump '-p***' crm"),
            ("PGPASSWORD='a b c' pg_dump \"postgresql://u:SECRET@h/db\"", "PGPASSWORD=*** pg_dump \"postgresql://u:***@h/db\""),
            ("cd /tmp && sqlcmd -U sa -P SECRET -i x.sql", "cd /tmp && sqlcmd -U sa -P *** -i x.sql"),
        ];
        assert_eq!(argv(&["sh", "-c", "mysqldump \"$@\"", "sh", "-pSECRET", "shop"]), ["sh", "-c", "mysqldump \"$@\"", "sh", "-p***", "shop"]);
        for (input, expected) in cases {
            assert_eq!(shell_line(input), expected, "{input}");
            assert_eq!(argv(&["sh", "-c", input]), ["sh", "-c", expected], "{input}");
        }
    }

    #[test]
    fn wrappers_shell_flags_and_spaces_do_not_hide_a_password() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["sh", "-ec", "mysqldump -pS3CR shop"], &["sh", "-ec", "mysqldump -p*** shop"]),
            (&["bash", "-lc", "mysqldump -pS3CR shop"], &["bash", "-lc", "mysqldump -p*** shop"]),
            (&["timeout", "60", "mysqldump", "-pS3CR", "shop"], &["timeout", "60", "mysqldump", "-p***", "shop"]),
            (&["sudo", "-u", "root", "mysqldump", "-pS3CR"], &["sudo", "-u", "root", "mysqldump", "-p***"]),
            (&["docker", "exec", "db", "mysqldump", "-pS3CR", "shop"], &["docker", "exec", "db", "mysqldump", "-p***", "shop"]),
            (&["ssh", "db1", "mysqldump -pS3CR shop"], &["ssh", "db1", "mysqldump -p*** shop"]),
            (&["mysqldump", "--password=S3CR TAIL", "shop"], &["mysqldump", "--password=***", "shop"]),
            (&["pg_dump", "postgresql://u:S3CR TAIL@h/db"], &["pg_dump", "postgresql://u:***@h/db"]),
        ];
        assert_redacted(cases);
        assert_eq!(shell_line("PGPASSWORD=S3CR\\ TAIL pg_dump shop"), "PGPASSWORD=*** pg_dump shop");
        assert_eq!(shell_line("export PGPASSWORD=x; pg_dump shop"), "export PGPASSWORD=***; pg_dump shop", "the ; is kept");
        assert_eq!(argv(&["ssh", "db1", "PGPASSWORD=x pg_dump -d shop"]), ["ssh", "db1", "PGPASSWORD=*** pg_dump -d shop"], "the database stays");
        for url in ["postgresql://u:ZQX#b1?x@host/shop", "postgresql://u:ZQX?b2@host/shop", "postgres://u:ZQX b3 #x@host:5432/shop", "postgresql://u:ZQX/#?a12@[::1]:5432/shop"] {
            let r = argv(&["pg_dump", url]);
            assert!(!r[1].contains("ZQX") && r[1].starts_with("postgres") && r[1].ends_with("/shop"), "{url}: {r:?}");
        }
        assert_eq!(text("+ mysqldump -pS3CR shop"), "+ mysqldump -p*** shop", "a shell's -x trace");
    }

    #[test]
    fn error_lines_lose_their_secrets_and_keep_the_rest() {
        assert_eq!(
            text(r#"pg_dump: error: connection to "postgresql://u:SECRET@h/db" failed: password=SECRET"#),
            r#"pg_dump: error: connection to "postgresql://u:***@h/db" failed: password=***"#
        );
        assert_eq!(text("mysqldump: Got error: 1045: Access denied for user 'u'@'h' (using password: YES)"), "mysqldump: Got error: 1045: Access denied for user 'u'@'h' (using password: YES)");
        assert_eq!(text("nothing here = 3"), "nothing here = 3");
    }

    #[test]
    fn a_url_password_before_an_empty_host_is_masked() {
        assert_eq!(
            command(&["pg_dump".into(), "--dbname=postgresql://postgres:hunter2-SECRET@/crm?host=/tmp/pg".into()]),
            ["pg_dump", "--dbname=postgresql://postgres:***@/crm?host=/tmp/pg"]
        );
        assert_eq!(text("postgresql://u:p4ss@?host=/run/postgresql&dbname=x"), "postgresql://u:***@?host=/run/postgresql&dbname=x");
    }
}
