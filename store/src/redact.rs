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
//! - in a shell line (`sh -c '...'`, a jobs file's command string) the same, word by word, each
//!   program's options judged by that program (the first word after `|`, `;`, `&`, `(`, or
//!   `env`, `sudo`, `exec` and variable assignments).
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
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    /// mysqldump and friends: `-pSECRET`, `--password=SECRET`; `-p`/`--password` alone prompt.
    MySql,
    /// pg_dump and friends: `-W`/`--password` take no value.
    Postgres,
    /// sqlcmd, bcp, osql: `-P SECRET` or `-PSECRET`.
    SqlServer,
    /// A shell: `-c LINE` is a command line of its own.
    Shell,
    /// Programs that run the rest of their arguments as a command (`env`, `sudo`, ...).
    Wrapper,
    /// Anything else.
    Other,
}

fn family(program: &str) -> Family {
    let base = program.rsplit('/').next().unwrap_or(program).trim_matches(|c| c == '"' || c == '\'');
    match base {
        "mysqldump" | "mysql" | "mysqlpump" | "mysqladmin" | "mariadb-dump" | "mariadb" | "mariadb-admin" | "mydumper" => Family::MySql,
        "pg_dump" | "pg_dumpall" | "pg_restore" | "psql" | "pg_basebackup" => Family::Postgres,
        "sqlcmd" | "bcp" | "osql" => Family::SqlServer,
        "sh" | "bash" | "dash" | "zsh" | "ksh" => Family::Shell,
        "env" | "sudo" | "exec" | "nice" | "nohup" | "time" | "ionice" | "runuser" | "su" => Family::Wrapper,
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
        _ => SECRET_FLAGS.contains(&word),
    }
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

/// `scheme://user:SECRET@host` -> `scheme://user:***@host`.
fn mask_url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '\'' || c == '"').unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Redact one word of a command whose program is of family `fam`.
fn word(fam: Family, w: &str) -> String {
    let quote = w.chars().next().filter(|&c| matches!(c, '\'' | '"') && w.len() > 1 && w.ends_with(c));
    let inner = if quote.is_some() { &w[1..w.len() - 1] } else { w };
    let flag = match fam {
        Family::MySql if inner.len() > 2 && inner.starts_with("-p") => Some("-p"),
        Family::SqlServer if inner.len() > 2 && inner.starts_with("-P") => Some("-P"),
        _ => None,
    };
    match flag {
        Some(flag) => {
            let q = quote.map(String::from).unwrap_or_default();
            format!("{q}{flag}{MASK}{q}")
        }
        None => mask_embedded(w),
    }
}

/// Length of the shell word at the start of `s`: up to unquoted whitespace (quotes and
/// backslash escapes may appear anywhere in it).
fn shell_word_len(s: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') | (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => return i,
            _ => {}
        }
    }
    s.len()
}

/// Redact a command line given as arguments (what `execvp` receives).
pub fn command(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut fam = Family::Wrapper;
    let mut secret_next = false;
    let mut shell_line_next = false;
    for a in argv {
        if secret_next {
            out.push(MASK.to_string());
            secret_next = false;
            continue;
        }
        if shell_line_next {
            out.push(shell_line(a));
            shell_line_next = false;
            // The line's own arguments (`sh -c 'mysqldump "$@"' sh -pSECRET`) follow the
            // conventions of the tools the line runs.
            fam = line_family(a);
            continue;
        }
        if fam == Family::Wrapper && !a.starts_with('-') && !a.contains('=') {
            // The program (or, after a wrapper, the program it runs).
            fam = family(a);
            out.push(mask_embedded(a));
            continue;
        }
        if fam == Family::Shell && a == "-c" {
            shell_line_next = true;
            out.push(a.clone());
            continue;
        }
        secret_next = takes_secret_value(fam, a);
        out.push(word(fam, a));
    }
    out
}

/// The conventions of the first MySQL or SQL Server tool a shell line mentions, else generic.
fn line_family(line: &str) -> Family {
    line.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '(' | ')' | '`' | '#'))
        .map(family)
        .find(|f| matches!(f, Family::MySql | Family::SqlServer))
        .unwrap_or(Family::Other)
}

/// Redact a shell command line (`sh -c LINE`) word by word, each program's options judged by it.
pub fn shell_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut fam = Family::Wrapper;
    let mut secret_next = false;
    let mut rest = line;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        if rest.is_empty() {
            break;
        }
        let len = shell_word_len(rest).max(1);
        let (w, after) = rest.split_at(len);
        rest = after;
        if secret_next {
            out.push_str(MASK);
            secret_next = false;
            continue;
        }
        let separator = matches!(w, "|" | "||" | "&&" | ";" | "&" | "(" | "$(" | "`") || w.ends_with(';') || w.ends_with('|');
        if separator {
            out.push_str(&mask_embedded(w));
            fam = Family::Wrapper;
            continue;
        }
        if fam == Family::Wrapper && !w.starts_with('-') && !w.contains('=') {
            fam = family(w.trim_start_matches(['(', '`']));
            out.push_str(w);
            continue;
        }
        secret_next = takes_secret_value(fam, w);
        out.push_str(&word(fam, w));
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

/// Redact a line of free text (a dump tool's error output): URL passwords and secret
/// `NAME=VALUE` pairs.
pub fn text(line: &str) -> String {
    mask_embedded(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        command(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
        for (input, expected) in cases {
            assert_eq!(argv(input), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{input:?}");
        }
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
    fn error_lines_lose_their_secrets_and_keep_the_rest() {
        assert_eq!(
            text(r#"pg_dump: error: connection to "postgresql://u:SECRET@h/db" failed: password=SECRET"#),
            r#"pg_dump: error: connection to "postgresql://u:***@h/db" failed: password=***"#
        );
        assert_eq!(text("mysqldump: Got error: 1045: Access denied for user 'u'@'h' (using password: YES)"), "mysqldump: Got error: 1045: Access denied for user 'u'@'h' (using password: YES)");
        assert_eq!(text("nothing here = 3"), "nothing here = 3");
    }
}
