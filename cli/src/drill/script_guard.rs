//! What stands between a dump and the drill's `psql`: a plain-format script may hold psql's
//! backslash commands, and `\!`, `\o`, `\copy`, `\i` or a backquoted argument would run shell
//! commands or touch files as the user running the drill (root, from cron). psql's restricted mode
//! (`\restrict KEY`: every backslash command but `\unrestrict KEY` refused) is entered before the
//! first line with a key the dump cannot know, and this filter rewrites the stream so that only
//! what pg_dump itself writes still works:
//! - pg_dump's own `\restrict` and `\unrestrict` lines become empty lines (dbvault restricts);
//! - a `\connect` line as pg_dumpall and pg_dump --create write it, when allowed, leaves
//!   restricted mode and connects on its line, and the next line enters restricted mode again with
//!   a fresh key. Only a database's name is accepted as its argument, in pg_dump's two forms
//!   (`\connect shop`, `\connect -reuse-previous=on "dbname='shop'"`): no other server, user or
//!   connection string, no quote left open (which would swallow what follows on the line), no
//!   backslash (a second command), no backquote (a shell command).
//!
//! Lines keep their numbers (but one more after each `\connect`), so psql's error lines name the
//! dump's lines. The filter reads the
//! stream as psql would only to find those lines; where it errs (a `COPY` block it does not
//! recognise), psql still refuses every other backslash command, so an error costs the drill,
//! never the host.

use std::io::{self, Write};

/// The longest line looked at whole; longer ones pass through untouched (and psql, restricted,
/// refuses them if they are commands).
const MAX_LINE: usize = 1 << 16;

/// A fresh key for `\restrict`.
pub fn new_key() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the system's random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The filter, writing into `W` (psql's standard input).
pub struct ScriptGuard<W: Write> {
    out: W,
    /// The key of the restricted mode psql is in.
    key: String,
    /// Whether `\connect` lines are honoured (a throwaway server) or left for psql to refuse.
    allow_connect: bool,
    /// The start of the current line, while it may still be one to rewrite.
    line: Vec<u8>,
    /// The current line was decided: pass the rest of it through.
    passing: bool,
    /// Inside a `COPY ... FROM stdin` block's data.
    in_copy: bool,
}

impl<W: Write> ScriptGuard<W> {
    /// A filter for a psql that was put in restricted mode with `key`.
    pub fn new(out: W, key: String, allow_connect: bool) -> Self {
        ScriptGuard { out, key, allow_connect, line: Vec::new(), passing: false, in_copy: false }
    }

    /// The writer, once the stream is written whole (a last line without its newline is
    /// flushed through the filter first).
    pub fn finish(mut self) -> io::Result<W> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.complete(&line, false)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Whether the line started so far may still need rewriting.
    fn candidate(&self, start: &[u8]) -> bool {
        let may_be = |word: &[u8]| start.len() < word.len() && word.starts_with(start) || start.starts_with(word);
        if self.in_copy {
            may_be(b"\\.")
        } else {
            // psql reads `COPY` in any case.
            may_be(b"\\") || may_be(b"COPY ") || may_be(b"copy ") || start.get(..5).is_some_and(|w| w.eq_ignore_ascii_case(b"copy "))
        }
    }

    /// Decide a whole line (without its newline; `newline`: whether it had one).
    fn complete(&mut self, line: &[u8], newline: bool) -> io::Result<()> {
        let end: &[u8] = if newline { b"\n" } else { b"" };
        let text = String::from_utf8_lossy(line);
        let t = text.trim_end_matches('\r');
        if self.in_copy {
            if t == "\\." {
                self.in_copy = false;
            }
            return self.out.write_all(&[line, end].concat());
        }
        if starts_copy(t) {
            self.in_copy = true;
        } else if is_command(t, "restrict") || is_command(t, "unrestrict") {
            return self.out.write_all(end);
        } else if self.allow_connect
            && let Some(args) = command_args(t, "connect").or_else(|| command_args(t, "c"))
            && database_only(args)
        {
            let next = new_key();
            let rewritten = format!("\\unrestrict {} \\connect {args}\n\\restrict {next}", self.key);
            self.key = next;
            return self.out.write_all(&[rewritten.as_bytes(), end].concat());
        }
        self.out.write_all(&[line, end].concat())
    }
}

/// Whether `\connect`'s arguments name just a database, as pg_dump writes them: a plain name
/// (letters, digits, `_`, `$`), a double-quoted one, or `-reuse-previous=on "dbname='NAME'"`;
/// NAME holds no quote, backslash, backquote, `=` or control character, so nothing but the
/// database can change and no quote stays open.
fn database_only(args: &str) -> bool {
    let plain = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    let safe = |n: &str| !n.is_empty() && !n.contains(['"', '\'', '\\', '`', '=', ':']) && !n.chars().any(char::is_control) && n.trim() == n;
    if let Some(q) = args.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        return safe(q);
    }
    if let Some(n) = args.strip_prefix("-reuse-previous=on \"dbname='").and_then(|a| a.strip_suffix("'\"")) {
        return safe(n);
    }
    plain(args)
}

/// Whether `line` starts a `COPY ... FROM stdin` block (psql reads keywords in any case).
fn starts_copy(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.starts_with("copy ") && l.trim_end().trim_end_matches(';').trim_end().ends_with("from stdin")
}

/// Whether `line` is the backslash command `name` with one argument and nothing else.
fn is_command(line: &str, name: &str) -> bool {
    command_args(line, name).is_some_and(|a| !a.is_empty() && !a.contains(char::is_whitespace) && !a.contains(['\\', '`']))
}

/// The arguments of `line` if it is the backslash command `name`.
fn command_args<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('\\')?.strip_prefix(name)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.starts_with([' ', '\t']).then(|| rest.trim())
}

impl<W: Write> Write for ScriptGuard<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let nl = rest.iter().position(|&b| b == b'\n');
            let (piece, newline) = match nl {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            rest = &rest[piece.len() + usize::from(newline)..];
            if self.passing {
                self.out.write_all(piece)?;
            } else {
                self.line.extend_from_slice(piece);
                if self.line.len() > MAX_LINE || !self.candidate(&self.line) {
                    // Not one to rewrite: what was kept, then the rest as it comes.
                    let kept = std::mem::take(&mut self.line);
                    self.out.write_all(&kept)?;
                    self.passing = true;
                } else if newline {
                    let line = std::mem::take(&mut self.line);
                    self.complete(&line, true)?;
                    continue;
                }
            }
            if newline {
                self.out.write_all(b"\n")?;
                self.passing = false;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(input: &[u8], allow_connect: bool, split: usize) -> String {
        let mut g = ScriptGuard::new(Vec::new(), "K0".into(), allow_connect);
        for piece in input.chunks(split.max(1)) {
            g.write_all(piece).unwrap();
        }
        String::from_utf8(g.finish().unwrap()).unwrap()
    }

    const DUMP: &[u8] = b"--\n-- PostgreSQL database dump\n\\restrict abc\nSET x = 1;\n\\unrestrict abc\n\\connect shop\n\\restrict abc\nCOPY public.t (a) FROM stdin;\n\\restrict inside data\n\\connect data\n\\.\nSELECT 1;\n\\unrestrict abc\n";

    #[test]
    fn pg_dump_lines_are_rewritten_whatever_the_writes_and_lines_keep_their_numbers() {
        let whole = guard(DUMP, true, usize::MAX);
        for split in [1, 2, 3, 7, 13] {
            let g = guard(DUMP, true, split);
            assert_eq!(g.lines().count(), whole.lines().count());
            // Keys differ per run; everything else is the same.
            let shape = |s: &str| s.lines().map(|l| l.split(' ').next().unwrap_or("").to_string()).collect::<Vec<_>>();
            assert_eq!(shape(&g), shape(&whole), "split {split}");
        }
        let lines: Vec<&str> = whole.lines().collect();
        assert_eq!(lines.len(), DUMP.split(|&b| b == b'\n').count(), "one line out for each line in, and one more after \\connect");
        assert_eq!(lines[2], "", "pg_dump's \\restrict is dbvault's to give");
        assert_eq!(lines[5], "\\unrestrict K0 \\connect shop");
        assert!(lines[6].starts_with("\\restrict ") && lines[6].len() > 20, "restricted again on a line of its own: {}", lines[6]);
        assert_eq!(lines[9], "\\restrict inside data", "COPY data is data");
        assert_eq!(lines[10], "\\connect data");
        assert_eq!(lines[13], "");
    }

    #[test]
    fn hostile_lines_reach_psql_unchanged_so_restricted_mode_refuses_them() {
        for line in [
            "\\! id",
            "\\o /etc/passwd",
            "\\copy t to '/tmp/x'",
            "\\connect shop \\! id",
            "\\connect `id`",
            "\\restrict",
            "\\i /etc/shadow",
            "  \\! id",
            // A quote left open would swallow the `\\restrict` that follows on its line.
            "\\connect 'postgres",
            "\\c \"postgres",
            // Another server, user or connection string.
            "\\connect \"host=/run/postgresql dbname=shop\"",
            "\\connect shop postgres /run/postgresql",
            "\\connect postgresql://evil/shop",
            "\\connect -reuse-previous=on \"dbname='shop' host=evil\"",
            "\\connect -reuse-previous=on \"dbname='sh'op'\"",
            "\\connect \"shop\" \"other\"",
        ] {
            let out = guard(format!("{line}\n").as_bytes(), true, 3);
            assert_eq!(out, format!("{line}\n"), "{line}");
        }
        // Without \connect allowed (an existing server), a \connect line stays as it is too.
        assert_eq!(guard(b"\\connect other\n", false, 5), "\\connect other\n");
        // A line that never ends is flushed as it is.
        assert_eq!(guard(b"SELECT 1;\n\\! id", true, 4), "SELECT 1;\n\\! id");
    }

    #[test]
    fn copy_blocks_are_data_in_any_case() {
        let g = guard(b"copy public.leak (l) from stdin;\n\\connect template1\n\\.\n\\connect template1\n", true, 3);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[1], "\\connect template1", "inside a lower-case COPY block: data, no key in it");
        assert!(lines[3].starts_with("\\unrestrict K0 \\connect template1"), "{g}");
    }

    #[test]
    fn long_lines_pass_through_without_being_held() {
        let mut data = b"INSERT INTO t VALUES ('".to_vec();
        data.extend(std::iter::repeat_n(b'x', 200_000));
        data.extend_from_slice(b"');\n");
        assert_eq!(guard(&data, true, 4096).as_bytes(), &data[..]);
    }
}
