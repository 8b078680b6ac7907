//! What the row tests share: dumps of a small table written the way pg_dump and mysqldump write
//! them, a diff that collects its rows, and SQL output applied to rows (a small interpreter of
//! the `DELETE` and `INSERT` statements the SQL writer prints).

use std::io::{Cursor, Read};

use toc::rows::{Dialect, Options, Row, RowReader, Side, Summary, Table, TableDef, diff};

/// A row's values: `None` for NULL.
pub type Values = Vec<Option<Vec<u8>>>;

/// How a dump holds its rows.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    Copy,
    PgInsert,
    MySql,
}

impl Format {
    pub fn dialect(self) -> Dialect {
        match self {
            Format::MySql => Dialect::MySql,
            _ => Dialect::Postgres,
        }
    }
}

pub fn values(row: &Row) -> Values {
    row.fields().map(|f| f.value().map(<[u8]>::to_vec)).collect()
}

pub fn strs(v: &[Option<&str>]) -> Values {
    v.iter().map(|s| s.map(|s| s.as_bytes().to_vec())).collect()
}

/// A string literal the way pg_dump (standard strings) or mysqldump writes it.
fn quote(format: Format, v: &[u8], out: &mut Vec<u8>) {
    out.push(b'\'');
    for &b in v {
        match (format, b) {
            (Format::MySql, 0) => out.extend_from_slice(b"\\0"),
            (Format::MySql, b'\n') => out.extend_from_slice(b"\\n"),
            (Format::MySql, b'\r') => out.extend_from_slice(b"\\r"),
            (Format::MySql, b'\\' | b'\'' | b'"') => out.extend_from_slice(&[b'\\', b]),
            (_, b'\'') => out.extend_from_slice(b"''"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
}

/// The table data object of `public.t` / `` `t` `` (columns `id`, `a`, `b`; `id` written as a
/// number) holding `rows`, with the comment block and statements the dump tools write around
/// them; INSERTs hold `per` rows each.
pub fn dump(format: Format, rows: &[Values], per: usize) -> Vec<u8> {
    let mut d = Vec::new();
    match format {
        Format::Copy => {
            d.extend_from_slice(b"--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\nCOPY public.t (id, a, b) FROM stdin;\n");
            for r in rows {
                for (i, v) in r.iter().enumerate() {
                    if i > 0 {
                        d.push(b'\t');
                    }
                    match v {
                        None => d.extend_from_slice(b"\\N"),
                        Some(v) => {
                            for &b in v {
                                match b {
                                    b'\\' => d.extend_from_slice(b"\\\\"),
                                    b'\t' => d.extend_from_slice(b"\\t"),
                                    b'\n' => d.extend_from_slice(b"\\n"),
                                    b'\r' => d.extend_from_slice(b"\\r"),
                                    _ => d.push(b),
                                }
                            }
                        }
                    }
                }
                d.push(b'\n');
            }
            d.extend_from_slice(b"\\.\n\n\n");
        }
        Format::PgInsert | Format::MySql => {
            let mysql = matches!(format, Format::MySql);
            d.extend_from_slice(if mysql {
                b"--\n-- Dumping data for table `t`\n--\n\nLOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
            } else {
                b"--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\n"
            });
            for chunk in rows.chunks(per.max(1)) {
                d.extend_from_slice(if mysql { b"INSERT INTO `t` VALUES " } else { b"INSERT INTO public.t (id, a, b) VALUES\n\t" });
                for (j, r) in chunk.iter().enumerate() {
                    if j > 0 {
                        d.extend_from_slice(if mysql { b"," } else { b",\n\t" });
                    }
                    d.push(b'(');
                    for (i, v) in r.iter().enumerate() {
                        if i > 0 {
                            d.extend_from_slice(if mysql { b"," } else { b", " });
                        }
                        match v {
                            None => d.extend_from_slice(b"NULL"),
                            Some(v) if i == 0 => d.extend_from_slice(v),
                            Some(v) => quote(format, v, &mut d),
                        }
                    }
                    d.push(b')');
                }
                d.extend_from_slice(b";\n");
            }
            if mysql {
                d.extend_from_slice(b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\n\n");
            }
        }
    }
    d
}

/// The definition objects of `t`: with a primary key on `id` or none.
pub fn def(format: Format, key: bool) -> TableDef {
    let text = match (format, key) {
        (Format::MySql, true) => "CREATE TABLE `t` (\n  `id` bigint NOT NULL,\n  `a` text,\n  `b` text,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n",
        (Format::MySql, false) => "CREATE TABLE `t` (\n  `id` bigint,\n  `a` text,\n  `b` text\n) ENGINE=InnoDB;\n",
        (_, true) => "CREATE TABLE public.t (\n    id integer NOT NULL,\n    a text,\n    b text\n);\n\nALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n",
        (_, false) => "CREATE TABLE public.t (\n    id integer,\n    a text,\n    b text\n);\n",
    };
    TableDef::parse(format.dialect(), text.as_bytes()).expect("a definition")
}

pub fn opener(bytes: Vec<u8>) -> impl FnMut() -> std::io::Result<Box<dyn Read>> {
    move || Ok(Box::new(Cursor::new(bytes.clone())) as Box<dyn Read>)
}

/// The diff of two dumps' rows: what it gave the sink, and its summary.
pub fn run(format: Format, key: bool, a: &[Values], b: &[Values], options: &Options) -> (Vec<(Side, Values)>, Summary) {
    let mut ta = Table::new(def(format, key), opener(dump(format, a, 3)));
    let mut tb = Table::new(def(format, key), opener(dump(format, b, 2)));
    let mut got: Vec<(Side, Row)> = Vec::new();
    let summary = diff(format.dialect(), &mut ta, &mut tb, options, &mut got).expect("diff");
    (got.into_iter().map(|(s, r)| (s, values(&r))).collect(), summary)
}

/// Decode SQL literals (the text between `VALUES (` and `)`) with the row reader.
fn decode(dialect: Dialect, literals: &[u8]) -> Values {
    let mut stmt = b"INSERT INTO x VALUES (".to_vec();
    stmt.extend_from_slice(literals);
    stmt.extend_from_slice(b");");
    let mut r = RowReader::new(dialect, &stmt[..]);
    values(r.next_row().expect("literals").expect("a row"))
}

/// The end of the literal or name starting at `s[i]`.
fn token_end(s: &[u8], mut i: usize, mysql: bool) -> usize {
    if s[i] == b'E' && s.get(i + 1) == Some(&b'\'') {
        i += 1;
    }
    let q = s[i];
    if !matches!(q, b'\'' | b'"' | b'`') {
        return i + s[i..].iter().position(|b| matches!(b, b' ' | b',' | b')' | b';')).unwrap_or(s.len() - i);
    }
    let backslash = q == b'\'' && (mysql || s[..i].ends_with(b"E"));
    i += 1;
    loop {
        match s[i] {
            b'\\' if backslash => i += 2,
            b if b == q && s.get(i + 1) == Some(&q) => i += 2,
            b if b == q => return i + 1,
            _ => i += 1,
        }
    }
}

/// Column names and the values they are set to or compared with (`None`: NULL).
type Assignments = Vec<(String, Option<Vec<u8>>)>;

/// `"a" = 'x' AND "b" IS NULL` from `sql[j..]`: the conditions and where they end.
fn conditions(dialect: Dialect, sql: &[u8], mut j: usize) -> (Assignments, usize) {
    let mysql = dialect == Dialect::MySql;
    let mut conds = Vec::new();
    loop {
        let end = token_end(sql, j, mysql);
        let name = String::from_utf8_lossy(&sql[j + 1..end - 1]).into_owned();
        if sql[end..].starts_with(b" IS NULL") {
            conds.push((name, None));
            j = end + 8;
        } else {
            let v = end + 3;
            let vend = token_end(sql, v, mysql);
            conds.push((name, decode(dialect, &sql[v..vend]).remove(0)));
            j = vend;
        }
        if !sql[j..].starts_with(b" AND ") {
            return (conds, j);
        }
        j += 5;
    }
}

/// Apply the SQL writer's output to `rows` (of columns `cols`): each `DELETE` removes the rows
/// its conditions match (one with `LIMIT 1`), each `UPDATE` sets the row its key matches, each
/// `INSERT` adds its row.
pub fn apply(dialect: Dialect, sql: &[u8], cols: &[&str], rows: &mut Vec<Values>) {
    let mysql = dialect == Dialect::MySql;
    let mut i = 0;
    while i < sql.len() {
        if sql[i..].starts_with(b"INSERT INTO ") {
            let start = i + sql[i..].windows(8).position(|w| w == b"VALUES (").expect("VALUES") + 8;
            let mut j = start;
            while sql[j] != b')' {
                j = token_end(sql, j, mysql);
                while matches!(sql[j], b',' | b' ') {
                    j += 1;
                }
            }
            rows.push(decode(dialect, &sql[start..j]));
            assert_eq!(&sql[j..j + 3], b");\n");
            i = j + 3;
        } else if sql[i..].starts_with(b"UPDATE ") {
            let mut j = i + sql[i..].windows(5).position(|w| w == b" SET ").expect("SET") + 5;
            let mut sets: Assignments = Vec::new();
            loop {
                let end = token_end(sql, j, mysql);
                let name = String::from_utf8_lossy(&sql[j + 1..end - 1]).into_owned();
                let v = end + 3;
                let vend = token_end(sql, v, mysql);
                sets.push((name, decode(dialect, &sql[v..vend]).remove(0)));
                j = vend;
                if !sql[j..].starts_with(b", ") {
                    break;
                }
                j += 2;
            }
            assert!(sql[j..].starts_with(b" WHERE "), "{}", String::from_utf8_lossy(&sql[j..]));
            let (conds, end) = conditions(dialect, sql, j + 7);
            let matching: Vec<usize> = (0..rows.len()).filter(|&r| conds.iter().all(|(n, v)| rows[r][cols.iter().position(|c| c == n).expect("a column")] == *v)).collect();
            assert_eq!(matching.len(), 1, "a key matches one row");
            for (n, v) in sets {
                rows[matching[0]][cols.iter().position(|c| *c == n).expect("a column")] = v;
            }
            i = end + sql[end..].iter().position(|&b| b == b'\n').expect("a line end") + 1;
        } else {
            assert!(sql[i..].starts_with(b"DELETE FROM "), "{}", String::from_utf8_lossy(&sql[i..]));
            let where_after = |j: usize| j + sql[j..].windows(7).position(|w| w == b" WHERE ").expect("WHERE") + 7;
            let mut j = where_after(i);
            if sql[j..].starts_with(b"ctid = (") {
                j = where_after(j);
            }
            let (conds, end) = conditions(dialect, sql, j);
            j = end;
            let limit = sql[j..].starts_with(b" LIMIT 1");
            let matches = |r: &Values| conds.iter().all(|(n, v)| r[cols.iter().position(|c| c == n).expect("a column")] == *v);
            if limit {
                let at = rows.iter().position(matches).expect("a row to delete");
                rows.remove(at);
            } else {
                let before = rows.len();
                rows.retain(|r| !matches(r));
                assert_eq!(before - rows.len(), 1, "a key matches one row");
            }
            i = j + sql[j..].iter().position(|&b| b == b'\n').expect("a line end") + 1;
        }
    }
}
