//! Just enough SQL lexing (PostgreSQL's, or MySQL's with [`Lexer::mysql`]) to tell where statements are and to count the rows of `INSERT`
//! statements as they stream past: quoted strings (with `''` and, in `E'...'` strings, backslash
//! escapes), dollar-quoted strings (`$$...$$`, `$tag$...$tag$`: function bodies), quoted
//! identifiers, line comments and parentheses. A row is a parenthesised group at depth 0 after
//! `VALUES`.
//!
//! The lexer is a state machine fed byte by byte, but for jumps over what cannot change its
//! state. MySQL's rows of values (the bulk of a mysqldump dump) are lexed 64 bytes at a time with
//! bit masks (SIMD where the CPU has it) as long as they hold only what mysqldump writes in rows;
//! anything else is left to the state machine, so that both read any text the same way, whatever
//! the pieces it comes in.

mod classify;
#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod oracle;
mod values;

/// Where the lexer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// SQL text outside strings and comments.
    Code,
    /// Inside text quoted with `q` (a string, or an identifier); with `escapes`, a backslash
    /// escapes the next byte.
    Quoted { q: u8, escapes: bool },
    /// Just after a backslash inside such text.
    QuotedBackslash { q: u8, escapes: bool },
    /// Just after a `q` inside such text: it ends unless another `q` follows (a doubled quote).
    QuotedEnd { q: u8, escapes: bool },
    /// In a line comment, to the end of the line.
    Comment,
    /// In a psql meta-command (`\connect`, `\restrict`, ...: a backslash where a statement
    /// starts), to the end of the line.
    Meta,
    /// Just after one `-` in code.
    Dash,
    /// Just after `--` in MySQL code: a comment only if a space or control character follows.
    DashDash,
    /// Just after one `/` in code.
    Slash,
    /// Just after `/*` in MySQL code: `/*!` is an executable comment, read as code.
    SlashStar,
    /// In a `/* */` comment (PostgreSQL's nest); the byte before was `*` or `/` when so marked.
    Block { depth: u8, star: bool, slash: bool },
    /// After a `$` in code: reading what may be a dollar quote's tag.
    DollarOpen,
    /// Inside a dollar-quoted string.
    Dollar,
    /// Inside a dollar-quoted string, after a `$` and this many bytes of its tag.
    DollarClose(u8),
}

/// The bytes that matter in code inside parentheses.
const IN_PARENS: [bool; 256] = {
    let mut t = [false; 256];
    let special = b"'\"`#()-/$;";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

/// Longest dollar-quote tag followed (PostgreSQL's identifiers are at most 63 bytes).
const MAX_TAG: usize = 64;

/// Lexes SQL fed to it in pieces of any size: tells whether the text so far ends inside a string,
/// comment or statement, and counts the rows of its `INSERT ... VALUES` statements.
#[derive(Clone, Debug)]
pub struct Lexer {
    lex: Lex,
    depth: u32,
    /// `VALUES` was seen in the current statement.
    values: bool,
    /// The word being read (upper-cased, at most 8 bytes; longer words are no keywords we need).
    word: [u8; 8],
    word_len: usize,
    /// The last byte of code, to tell `E'` from `'`.
    prev: u8,
    /// MySQL's lexical rules rather than PostgreSQL's: backslashes escape in every string (not
    /// only in `E'...'`), `"..."` is a string and `` `...` `` an identifier, `#` starts a comment,
    /// `--` only before a space, `/* */` does not nest, and there are no dollar quotes.
    mysql: bool,
    /// A statement has begun and not ended with `;`.
    statement: bool,
    /// The tag of the dollar quote being read or in.
    tag: [u8; MAX_TAG],
    tag_len: usize,
    rows: u64,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer { lex: Lex::Code, depth: 0, values: false, word: [0; 8], word_len: 0, prev: b' ', mysql: false, statement: false, tag: [0; MAX_TAG], tag_len: 0, rows: 0 }
    }
}

impl Lexer {
    /// A lexer of MySQL's and MariaDB's SQL.
    pub fn mysql() -> Self {
        Lexer { mysql: true, ..Lexer::default() }
    }

    /// Rows counted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the text so far ends outside any string, identifier, comment and parenthesis: a
    /// line starting here is a line of SQL, not the inside of a value.
    pub fn at_top_level(&self) -> bool {
        matches!(self.lex, Lex::Code | Lex::Dash | Lex::DashDash | Lex::Slash | Lex::QuotedEnd { .. }) && self.depth == 0
    }

    /// Whether a statement has begun and not ended (text cut short mid-statement, or a
    /// statement that does not end with `;`).
    pub fn in_statement(&self) -> bool {
        self.statement || !self.at_top_level()
    }

    /// The next bytes of the SQL text.
    pub fn feed(&mut self, data: &[u8]) {
        self.run(data, false);
    }

    /// The next bytes of the SQL text, up to the first after which the text is no longer inside
    /// a statement ([`Lexer::in_statement`] is false): returns how many were fed (all of `data`
    /// if the text stays inside a statement; at least one unless `data` is empty).
    pub fn feed_statement(&mut self, data: &[u8]) -> usize {
        self.run(data, true)
    }

    /// Lexes `data`, up to the end of a statement if `stop`; returns the bytes lexed.
    fn run(&mut self, data: &[u8], stop: bool) -> usize {
        if !self.mysql {
            return self.bytes(data, stop, false);
        }
        let mut i = 0;
        while i < data.len() {
            // Rows of values, 64 bytes at a time while they hold only what mysqldump writes there.
            let n = self.rows_blocks(&data[i..]);
            i += n;
            if n > 0 && stop && !self.in_statement() {
                return i;
            }
            // Then byte by byte: the block the fast path left (or the last bytes), or up to where
            // a row opens.
            let end = if self.rows_ready() { data.len().min(i + values::BLOCK) } else { data.len() };
            i += self.bytes(&data[i..end], stop, true);
            if stop && !self.in_statement() {
                return i;
            }
        }
        data.len()
    }

    /// Lexes `data` byte by byte (but for jumps over what cannot change the state), up to the end
    /// of a statement if `stop`, or just after a `(` that opens a row (in code, at depth 0) if
    /// `row`; returns the bytes lexed.
    fn bytes(&mut self, data: &[u8], stop: bool, row: bool) -> usize {
        let mut i = 0;
        while i < data.len() {
            if self.lex == Lex::Code && self.depth == 0 && is_word(data[i]) {
                // A word (or its part in this piece), all at once.
                let word = &data[i..];
                let word = &word[..word.iter().position(|&b| !is_word(b)).unwrap_or(word.len())];
                for (at, b) in word.iter().take(self.word.len().saturating_sub(self.word_len)).enumerate() {
                    self.word[self.word_len + at] = b.to_ascii_uppercase();
                }
                self.word_len += word.len();
                self.statement = true;
                self.prev = word[word.len() - 1];
                i += word.len();
                continue;
            }
            // Inside strings, identifiers and comments only a few bytes matter: jump to the next.
            let skip = match self.lex {
                Lex::Quoted { q, escapes: true } => memchr::memchr2(q, b'\\', &data[i..]),
                Lex::Quoted { q, escapes: false } => memchr::memchr(q, &data[i..]),
                Lex::Comment | Lex::Meta => memchr::memchr(b'\n', &data[i..]),
                Lex::Dollar => memchr::memchr(b'$', &data[i..]),
                // Inside a parenthesis (a row of VALUES) words do not matter: only what opens a
                // string, identifier or comment, and parentheses.
                Lex::Code if self.depth > 0 => {
                    let rest = &data[i..];
                    let n = rest.iter().position(|&b| IN_PARENS[usize::from(b)]);
                    // (Also when the text ends first: the next piece may start with a quote.)
                    if let Some(last) = rest[..n.unwrap_or(rest.len())].last() {
                        self.prev = *last;
                        self.word_len = 0;
                    }
                    n
                }
                _ => Some(0),
            };
            match skip {
                Some(n) => i += n,
                None => return data.len(),
            }
            let b = data[i];
            self.byte(b);
            i += 1;
            if (stop && !self.in_statement()) || (row && b == b'(' && self.depth == 1 && self.lex == Lex::Code) {
                return i;
            }
        }
        data.len()
    }

    fn byte(&mut self, b: u8) {
        let mysql = self.mysql;
        match self.lex {
            Lex::Quoted { q, escapes } => {
                if b == q {
                    self.lex = Lex::QuotedEnd { q, escapes };
                } else if escapes && b == b'\\' {
                    self.lex = Lex::QuotedBackslash { q, escapes };
                }
            }
            Lex::QuotedBackslash { q, escapes } => self.lex = Lex::Quoted { q, escapes },
            Lex::QuotedEnd { q, escapes } => {
                if b == q {
                    self.lex = Lex::Quoted { q, escapes }; // a doubled quote inside the text
                } else {
                    self.lex = Lex::Code;
                    self.code(b);
                }
            }
            Lex::Comment | Lex::Meta => {
                if b == b'\n' {
                    self.lex = Lex::Code;
                }
            }
            Lex::Dash => {
                if b == b'-' {
                    self.lex = if mysql { Lex::DashDash } else { Lex::Comment };
                } else {
                    self.lex = Lex::Code;
                    self.statement = true;
                    self.code(b);
                }
            }
            Lex::DashDash => {
                if b == b'\n' {
                    self.lex = Lex::Code;
                } else if b <= b' ' {
                    self.lex = Lex::Comment;
                } else {
                    // Two minus signs, not a comment (MySQL wants a space after `--`).
                    self.lex = Lex::Code;
                    self.statement = true;
                    self.code(b);
                }
            }
            Lex::Slash => {
                if b == b'*' {
                    self.lex = if mysql { Lex::SlashStar } else { Lex::Block { depth: 1, star: false, slash: false } };
                } else {
                    self.lex = Lex::Code;
                    self.statement = true;
                    self.code(b);
                }
            }
            Lex::SlashStar => {
                // `/*!...*/` runs as code in MySQL: read its text as code (its `*/` is harmless).
                self.lex = if b == b'!' { Lex::Code } else { Lex::Block { depth: 1, star: b == b'*', slash: false } };
            }
            Lex::Block { depth, star, slash } => {
                self.lex = if star && b == b'/' {
                    if depth == 1 { Lex::Code } else { Lex::Block { depth: depth - 1, star: false, slash: false } }
                } else if slash && b == b'*' && !mysql {
                    Lex::Block { depth: depth.saturating_add(1), star: false, slash: false }
                } else {
                    Lex::Block { depth, star: b == b'*', slash: b == b'/' }
                };
            }
            Lex::DollarOpen => {
                if b == b'$' {
                    self.lex = Lex::Dollar;
                } else if (b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80) && !(self.tag_len == 0 && b.is_ascii_digit()) && self.tag_len < MAX_TAG {
                    self.tag[self.tag_len] = b;
                    self.tag_len += 1;
                } else {
                    // `$1`, or no tag after all: code.
                    self.lex = Lex::Code;
                    self.code(b);
                }
            }
            Lex::Dollar => {
                if b == b'$' {
                    self.lex = Lex::DollarClose(0);
                }
            }
            Lex::DollarClose(n) => {
                let n = usize::from(n);
                self.lex = if n == self.tag_len && b == b'$' {
                    Lex::Code
                } else if n < self.tag_len && b == self.tag[n] {
                    Lex::DollarClose(n as u8 + 1)
                } else if b == b'$' {
                    Lex::DollarClose(0)
                } else {
                    Lex::Dollar
                };
            }
            Lex::Code => self.code(b),
        }
    }

    fn code(&mut self, b: u8) {
        if is_word(b) {
            self.statement = true;
            if self.word_len < self.word.len() {
                self.word[self.word_len] = b.to_ascii_uppercase();
            }
            self.word_len += 1;
            self.prev = b;
            return;
        }
        self.end_word();
        if b == b'\\' && !self.statement && !self.mysql {
            self.lex = Lex::Meta;
            return;
        }
        match b {
            b'\'' => self.lex = Lex::Quoted { q: b'\'', escapes: self.mysql || matches!(self.prev, b'E' | b'e') },
            // A string in MySQL, an identifier in PostgreSQL.
            b'"' => self.lex = Lex::Quoted { q: b'"', escapes: self.mysql },
            b'`' if self.mysql => self.lex = Lex::Quoted { q: b'`', escapes: false },
            b'#' if self.mysql => {
                self.lex = Lex::Comment;
                return;
            }
            b'-' => {
                self.lex = Lex::Dash;
                return; // a comment, or a minus: told by the next byte
            }
            b'/' => {
                self.lex = Lex::Slash;
                return;
            }
            b'$' if !(self.mysql || self.prev.is_ascii_alphanumeric() || self.prev == b'_' || self.prev == b'$') => {
                self.tag_len = 0;
                self.lex = Lex::DollarOpen;
            }
            b'(' => self.depth = self.depth.saturating_add(1),
            // A row counts once it is whole: a row cut short is not one.
            b')' => {
                if self.depth == 1 && self.values {
                    self.rows += 1;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b';' if self.depth == 0 => {
                self.values = false;
                self.statement = false;
                self.prev = b;
                return;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            self.statement = true;
        }
        self.prev = b;
    }

    fn end_word(&mut self) {
        match &self.word[..self.word_len.min(self.word.len())] {
            _ if self.word_len > self.word.len() => {}
            b"VALUES" => self.values = true,
            b"INSERT" => self.values = false,
            _ => {}
        }
        self.word_len = 0;
    }
}

/// Whether `b` is part of a word.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sql: &str) -> u64 {
        let mut c = Lexer::default();
        c.feed(sql.as_bytes());
        c.rows()
    }

    #[test]
    fn rows_are_counted_whatever_the_values_hold() {
        assert_eq!(rows("INSERT INTO public.t VALUES (1, 'a');\nINSERT INTO public.t VALUES (2, 'b');\n"), 2);
        assert_eq!(rows("INSERT INTO public.t (id, note) VALUES (1, 'x');\n"), 1, "a column list is no row");
        assert_eq!(rows("INSERT INTO t VALUES\n\t(1, 'a'),\n\t(2, 'b'),\n\t(3, 'c');\n"), 3, "--rows-per-insert");
        assert_eq!(rows("INSERT INTO t VALUES (1, 'it''s (not) a row; VALUES (9)');\n"), 1, "quotes, parentheses and ; in strings");
        assert_eq!(rows("INSERT INTO t VALUES (1, E'a \\' (x)'), (2, 'b');\n"), 2, "E'' strings with backslash escapes");
        assert_eq!(rows("INSERT INTO \"VALUES (\" VALUES (1, ROW(2, 3), ARRAY[(4)]);\n"), 1, "quoted identifiers, nested groups");
        assert_eq!(rows("INSERT INTO t VALUES (1, 'a\n-- Name: x; Type: TABLE\n'); -- VALUES (5)\n"), 1, "newlines and comments");
        let mut my = Lexer::mysql();
        my.feed(b"INSERT INTO `t` VALUES (1,'it\\'s (x)'),(2,'b');\n");
        assert_eq!(my.rows(), 2, "mysqldump's extended inserts, backslash escapes");
    }

    #[test]
    fn pieces_of_any_size_count_the_same() {
        let sql = "INSERT INTO t VALUES (1, 'it''s'), (2, E'\\\\'), (3, \"q\"\"\");\nINSERT INTO t VALUES (4, 'x');\n";
        for size in 1..sql.len() {
            let mut c = Lexer::default();
            for piece in sql.as_bytes().chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.rows(), 4, "pieces of {size}");
            assert!(c.at_top_level());
        }
    }

    #[test]
    fn dollar_quotes_hide_what_they_hold() {
        let mut c = Lexer::default();
        c.feed(b"CREATE FUNCTION f() RETURNS int AS $body$\n--\n-- Name: x; Type: TABLE\nSELECT '(';\n");
        assert!(!c.at_top_level(), "inside $body$");
        c.feed(b"$$ not the end $bod $body $body$;\n");
        assert!(c.at_top_level());
        c.feed(b"SELECT $1, $$ ' $$, a$b;\n");
        assert!(c.at_top_level(), "$1 is a parameter, $$ an empty tag, a$b an identifier");
    }

    #[test]
    fn psql_meta_commands_end_at_their_line_end() {
        let mut c = Lexer::default();
        c.feed(b"\\restrict abc\nSET x = 1;\n\\connect -reuse-previous=on \"dbname='a;b'\"\n");
        assert!(!c.in_statement());
        c.feed(b"SELECT 1");
        assert!(c.in_statement(), "a statement without its ;");
    }

    #[test]
    fn inside_a_string_is_not_top_level() {
        let mut c = Lexer::default();
        c.feed(b"INSERT INTO t VALUES (1, 'open\n");
        assert!(!c.at_top_level());
        c.feed(b"closed');\n");
        assert!(c.at_top_level());
    }
}
