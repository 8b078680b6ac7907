//! Just enough T-SQL lexing, on the narrow text (see [`super::utf16`]), to tell where a line
//! starts (inside a string, a bracketed identifier or a comment, or in code), where its first code
//! is, and to count the rows of `INSERT ... VALUES` statements: strings (`'...'` with `''`
//! doubled, `N'...'`), bracketed identifiers (`[a]]b]`), quoted identifiers (`"a""b"`), `--`
//! comments and `/* */` comments, which nest. Statements need no `;`, so a row is a parenthesised
//! group at depth 0 after `VALUES`, or after a `,` that follows such a row.

/// Where the lexer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// Code, outside strings and comments.
    Code,
    /// Inside a string or quoted identifier that `close` ends.
    Quoted { close: u8 },
    /// Just after `close` inside one: it ends unless another `close` follows (a doubled one).
    QuotedEnd { close: u8 },
    /// In a `--` comment, to the end of the line.
    Comment,
    /// Just after one `-` in code.
    Dash,
    /// Just after one `/` in code.
    Slash,
    /// In a `/* */` comment `depth` deep; the byte before was `*` or `/` when so marked.
    Block { depth: u32, star: bool, slash: bool },
}

/// Bytes that matter in code inside parentheses (row values): all else is skipped.
const IN_PARENS: [bool; 256] = {
    let mut t = [false; 256];
    let special = b"'[\"()-/";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

/// Lexes the narrow text of a script, fed in pieces of any size.
#[derive(Clone, Debug)]
pub(super) struct Lexer {
    lex: Lex,
    /// Parenthesis depth in code.
    depth: u32,
    /// `VALUES` was seen at depth 0 and rows may follow.
    values: bool,
    /// A row just closed: a `,` goes on to the next, anything else ends the rows.
    after_row: bool,
    /// The word being read (upper-cased, at most 8 bytes: longer words are no keywords we need).
    word: [u8; 8],
    word_len: usize,
    rows: u64,
    /// Narrow bytes of the current line fed so far.
    line_len: usize,
    /// The first byte of code on the current line, and where it is in the line.
    first_code: Option<(usize, u8)>,
}

/// What the lexer saw of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LineInfo {
    /// The line's first byte of code (outside comments, strings included) and its offset.
    pub first_code: Option<(usize, u8)>,
    /// The line ended in code, outside any string, identifier or comment.
    pub ends_in_code: bool,
}

impl Lexer {
    /// A lexer at the start of a script.
    pub(super) fn new() -> Self {
        Lexer { lex: Lex::Code, depth: 0, values: false, after_row: false, word: [0; 8], word_len: 0, rows: 0, line_len: 0, first_code: None }
    }

    /// Rows counted so far (a row counts once its parenthesis closes).
    pub(super) fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the text so far ends in code: outside any string, identifier and comment.
    pub(super) fn in_code(&self) -> bool {
        matches!(self.lex, Lex::Code | Lex::QuotedEnd { .. } | Lex::Dash | Lex::Slash)
    }

    /// Whether the text so far ends inside a string, identifier, `/* */` comment or parenthesis.
    pub(super) fn cut_short(&self) -> bool {
        !(self.in_code() || self.lex == Lex::Comment) || self.depth > 0
    }

    /// A new line starts (the bytes fed so far ended with its line end).
    pub(super) fn start_line(&mut self) {
        self.line_len = 0;
        self.first_code = None;
    }

    /// What was seen of the current line so far.
    pub(super) fn line(&self) -> LineInfo {
        LineInfo { first_code: self.first_code, ends_in_code: self.in_code() }
    }

    /// A batch ended (a `GO` line): parentheses and rows left open by a faulty batch end too.
    pub(super) fn end_batch(&mut self) {
        self.depth = 0;
        self.values = false;
        self.after_row = false;
        self.word_len = 0;
    }

    /// The next narrow bytes of the script.
    pub(super) fn feed(&mut self, data: &[u8]) {
        let base = self.line_len;
        self.line_len += data.len();
        let mut i = 0;
        while i < data.len() {
            // Inside strings and comments only a few bytes matter: jump to the next.
            let (found, next) = match self.lex {
                Lex::Quoted { close } => (find(close, &data[i..]), Lex::QuotedEnd { close }),
                Lex::Comment => (memchr::memchr(b'\n', &data[i..]), Lex::Code),
                Lex::Code => {
                    i = self.code_run(data, i, base);
                    continue;
                }
                Lex::Block { star: false, slash: false, .. } => {
                    let Some(n) = memchr::memchr2(b'*', b'/', &data[i..]) else { return };
                    i += n;
                    self.byte(data[i], base + i);
                    i += 1;
                    continue;
                }
                _ => {
                    self.byte(data[i], base + i);
                    i += 1;
                    continue;
                }
            };
            let Some(n) = found else { return };
            i += n + 1;
            self.lex = next;
        }
    }

    /// Code from `data[i]` (at offset `base + i` of the line) until the code ends or the data
    /// does; returns where it stopped. Strings, identifiers and `--` comments that end within
    /// `data` are skipped here, without leaving code.
    fn code_run(&mut self, data: &[u8], mut i: usize, base: usize) -> usize {
        while i < data.len() {
            if self.depth > 0 && self.first_code.is_some() {
                // Inside a parenthesis (a row of VALUES) words do not matter: only what opens a
                // string, identifier or comment, and parentheses.
                let Some(n) = data[i..].iter().position(|&b| IN_PARENS[usize::from(b)]) else {
                    self.word_len = 0;
                    return data.len();
                };
                if n > 0 {
                    self.word_len = 0;
                    self.after_row = false;
                }
                i += n;
            }
            let b = data[i];
            let close = match b {
                b'\'' => b'\'',
                b'[' => b']',
                b'"' => b'"',
                b'-' if data.get(i + 1) == Some(&b'-') => {
                    self.end_word();
                    let Some(n) = memchr::memchr(b'\n', &data[i..]) else {
                        self.lex = Lex::Comment;
                        return data.len();
                    };
                    i += n + 1;
                    continue;
                }
                _ => {
                    self.code(b, base + i);
                    i += 1;
                    if self.lex != Lex::Code {
                        return i;
                    }
                    continue;
                }
            };
            self.end_word();
            self.seen(b, base + i);
            i += 1;
            loop {
                let Some(n) = find(close, &data[i..]) else {
                    self.lex = Lex::Quoted { close };
                    return data.len();
                };
                i += n + 1;
                match data.get(i) {
                    Some(&x) if x == close => i += 1, // doubled inside the text
                    Some(_) => break,
                    None => {
                        self.lex = Lex::QuotedEnd { close };
                        return i;
                    }
                }
            }
        }
        i
    }

    /// One byte at offset `at` of the line, whatever the state.
    fn byte(&mut self, b: u8, at: usize) {
        match self.lex {
            Lex::Quoted { close } => {
                if b == close {
                    self.lex = Lex::QuotedEnd { close };
                }
            }
            Lex::QuotedEnd { close } => {
                if b == close {
                    self.lex = Lex::Quoted { close }; // doubled inside the text
                } else {
                    self.lex = Lex::Code;
                    self.code(b, at);
                }
            }
            Lex::Comment => {
                if b == b'\n' {
                    self.lex = Lex::Code;
                }
            }
            Lex::Dash if b == b'-' => self.lex = Lex::Comment,
            Lex::Slash if b == b'*' => self.lex = Lex::Block { depth: 1, star: false, slash: false },
            Lex::Dash | Lex::Slash => {
                // A minus or a division after all.
                let op = if self.lex == Lex::Dash { b'-' } else { b'/' };
                self.lex = Lex::Code;
                self.plain(op, at.saturating_sub(1));
                self.code(b, at);
            }
            Lex::Block { depth, star, slash } => {
                self.lex = if star && b == b'/' {
                    if depth == 1 { Lex::Code } else { Lex::Block { depth: depth - 1, star: false, slash: false } }
                } else if slash && b == b'*' {
                    Lex::Block { depth: depth.saturating_add(1), star: false, slash: false }
                } else {
                    Lex::Block { depth, star: b == b'*', slash: b == b'/' }
                };
            }
            Lex::Code => self.code(b, at),
        }
    }

    /// A byte of code at offset `at` of the line.
    #[inline]
    fn code(&mut self, b: u8, at: usize) {
        let close = match b {
            b'\'' => b'\'',
            b'[' => b']',
            b'"' => b'"',
            b'-' | b'/' => {
                self.end_word();
                self.lex = if b == b'-' { Lex::Dash } else { Lex::Slash }; // told by the next byte
                return;
            }
            _ => return self.plain(b, at),
        };
        self.end_word();
        self.seen(b, at);
        self.lex = Lex::Quoted { close };
    }

    /// A byte of code that opens nothing, at offset `at` of the line.
    #[inline]
    fn plain(&mut self, b: u8, at: usize) {
        if is_word(b) {
            if self.word_len == 0 {
                self.seen(b, at);
            }
            if self.word_len < self.word.len() {
                self.word[self.word_len] = b.to_ascii_uppercase();
            }
            self.word_len += 1;
            return;
        }
        self.end_word();
        if b.is_ascii_whitespace() {
            return;
        }
        self.seen(b, at);
        match b {
            b'(' => self.depth += 1,
            // A row counts once it is whole: a row cut short is not one.
            b')' => {
                if self.depth == 1 && self.values {
                    self.rows += 1;
                    self.after_row = true;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b',' if self.depth == 0 && self.values => self.after_row = false,
            _ => {}
        }
    }

    /// The start of a token of code at offset `at`: the line's first, perhaps, and after a row
    /// anything but `,` ends the rows.
    fn seen(&mut self, b: u8, at: usize) {
        if self.first_code.is_none() {
            self.first_code = Some((at, b));
        }
        if self.after_row && self.depth == 0 && b != b',' {
            self.values = false;
            self.after_row = false;
        }
    }

    /// The word being read ends: `VALUES` and `INSERT` at depth 0 start and end rows.
    fn end_word(&mut self) {
        if self.word_len == 0 {
            return;
        }
        if self.depth == 0 && self.word_len <= self.word.len() {
            match &self.word[..self.word_len] {
                b"VALUES" => self.values = true,
                b"INSERT" => self.values = false,
                _ => {}
            }
        }
        self.word_len = 0;
    }
}

/// Where `b` is in `s`: a short look first (most strings and names are short), then memchr.
fn find(b: u8, s: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    match s.iter().take(SHORT).position(|&x| x == b) {
        Some(k) => Some(k),
        None if s.len() <= SHORT => None,
        None => memchr::memchr(b, &s[SHORT..]).map(|k| k + SHORT),
    }
}

/// Whether `b` continues a word (T-SQL's identifiers hold `@`, `#` and `$`; non-ASCII text is
/// narrowed to `0x80`).
pub(super) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'#' | b'$') || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexed(sql: &str) -> Lexer {
        let mut l = Lexer::new();
        l.feed(sql.as_bytes());
        l
    }

    #[test]
    fn rows_are_counted_whatever_the_values_hold() {
        assert_eq!(lexed("INSERT [dbo].[t] ([a], [b]) VALUES (1, N'it''s (x)')\nINSERT [dbo].[t] ([a], [b]) VALUES (2, NULL)\n").rows(), 2);
        assert_eq!(lexed("INSERT INTO t VALUES\n(1, 'a'),\n(2, 'b'), -- c\n(3, ')')\nSELECT count(*) FROM t\n").rows(), 3, "a SELECT after the rows is no row");
        assert_eq!(lexed("INSERT [a]]b(] VALUES ([x], /* ) */ 1, CAST(N'2026' AS Date))").rows(), 1);
        assert_eq!(lexed("SELECT * FROM (VALUES (1), (2)) AS v(x)").rows(), 0, "VALUES inside parentheses");
    }

    #[test]
    fn line_starts_are_told_in_code_or_not() {
        let mut l = lexed("SELECT 'a\n");
        assert!(!l.in_code());
        l.feed(b"b' /* x /* y */\n");
        assert!(!l.in_code(), "comments nest");
        l.feed(b"*/ [c\n");
        assert!(!l.in_code());
        l.start_line();
        l.feed(b"]]d] -- ' [\n");
        assert!(l.in_code() && !l.cut_short());
        l.start_line();
        l.feed(b"  /* c */ GO");
        assert_eq!(l.line(), LineInfo { first_code: Some((10, b'G')), ends_in_code: true });
        l.feed(b" - 1");
        assert_eq!(l.line().first_code, Some((10, b'G')));
        l.start_line();
        l.feed(b" -1");
        assert_eq!(l.line().first_code, Some((1, b'-')));
        assert!(lexed("INSERT t VALUES (1, 'x").cut_short());
        assert!(lexed("INSERT t VALUES (1").cut_short());
    }

    #[test]
    fn pieces_of_any_size_lex_the_same() {
        let sql = "INSERT [t] VALUES (1, N'it''s'), (2, [x]]y]), (3, \"q\"\"\") /* a /* b */ */\nINSERT [t] VALUES (4, 'x') -- (5)\n";
        for size in 1..sql.len() {
            let mut l = Lexer::new();
            for piece in sql.as_bytes().chunks(size) {
                l.feed(piece);
            }
            assert_eq!(l.rows(), 4, "pieces of {size}");
            assert!(l.in_code());
        }
    }
}
