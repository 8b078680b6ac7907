//! A writer of pg_dump custom format archives as pg_dump lays them out (header, table of contents,
//! data blocks in the entries' order), for the tests: no binary fixture files.

/// What an entry's data block holds.
#[derive(Clone, Debug)]
pub enum Data {
    /// Payload chunks (COPY text, INSERT statements or compressed bytes), as pg_dump writes them.
    Chunks(Vec<Vec<u8>>),
    /// Large objects: (OID, chunks).
    Blobs(Vec<(i64, Vec<Vec<u8>>)>),
}

/// One entry of the table of contents.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    pub oid: u32,
    pub tag: String,
    pub desc: String,
    /// 1: none, 2: pre-data, 3: data, 4: post-data.
    pub section: i64,
    pub defn: String,
    pub copy: Option<String>,
    pub namespace: Option<String>,
    pub owner: Option<String>,
    pub deps: Vec<i64>,
    pub data: Option<Data>,
}

/// An entry of no data.
pub fn entry(id: i64, desc: &str, schema: Option<&str>, tag: &str, section: i64, defn: &str) -> Entry {
    Entry { id, oid: 16384 + id as u32, tag: tag.into(), desc: desc.into(), section, defn: defn.into(), copy: None, namespace: schema.map(Into::into), owner: Some("shop".into()), deps: vec![], data: None }
}

/// A `TABLE DATA` entry of COPY rows, one chunk a row as pg_dump writes them, then `\.`.
pub fn copy_data(id: i64, schema: &str, table: &str, rows: &[&str]) -> Entry {
    let mut chunks: Vec<Vec<u8>> = rows.iter().map(|r| format!("{r}\n").into_bytes()).collect();
    chunks.push(b"\\.\n\n\n".to_vec());
    let copy = format!("COPY {schema}.\"{table}\" (id, note) FROM stdin;\n");
    Entry { copy: Some(copy), data: Some(Data::Chunks(chunks)), ..entry(id, "TABLE DATA", Some(schema), table, 3, "") }
}

/// How the archive is written.
#[derive(Clone, Debug)]
pub struct Archive {
    /// (major, minor, revision).
    pub version: (u8, u8, u8),
    pub int_size: usize,
    /// The compression: an algorithm (1.15 and later) or a level.
    pub compression: i64,
    /// sec, min, hour, day, month, year, dst.
    pub time: [i64; 7],
    /// Data offsets set (an archive written to a file, the TOC rewritten after the data).
    pub offsets: bool,
    pub entries: Vec<Entry>,
}

impl Archive {
    pub fn new(entries: Vec<Entry>) -> Archive {
        Archive { version: (1, 14, 0), int_size: 4, compression: 0, time: [52, 55, 14, 7, 11, 126, 0], offsets: false, entries }
    }

    /// The archive's bytes, and where each data block starts (by entry index).
    pub fn write(&self) -> (Vec<u8>, Vec<(usize, usize)>) {
        // Blocks first, to know their offsets; then header and TOC; then the blocks moved.
        let mut blocks = W { out: Vec::new(), int_size: self.int_size };
        let mut at = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let Some(data) = &e.data else { continue };
            at.push((i, blocks.out.len()));
            match data {
                Data::Chunks(chunks) => {
                    blocks.out.push(1);
                    blocks.int(e.id);
                    blocks.chunks(chunks);
                }
                Data::Blobs(blobs) => {
                    blocks.out.push(3);
                    blocks.int(e.id);
                    for (oid, chunks) in blobs {
                        blocks.int(*oid);
                        blocks.chunks(chunks);
                    }
                    blocks.int(0);
                }
            }
        }
        let toc = |base: usize| {
            let mut w = W { out: Vec::new(), int_size: self.int_size };
            let (major, minor, rev) = self.version;
            w.out.extend_from_slice(b"PGDMP");
            w.out.extend_from_slice(&[major, minor, rev, self.int_size as u8, 8, 1]);
            if minor >= 15 {
                w.out.push(self.compression as u8);
            } else {
                w.int(self.compression);
            }
            self.time.iter().for_each(|&t| w.int(t));
            for s in ["shop", "15.18 (Debian 15.18-0+deb12u1)", "15.18 (Debian 15.18-0+deb12u1)"] {
                w.str(Some(s));
            }
            w.int(self.entries.len() as i64);
            for (i, e) in self.entries.iter().enumerate() {
                w.int(e.id);
                w.int(e.data.is_some() as i64);
                w.str(Some(if e.oid == 0 { "0" } else { "1259" }));
                w.str(Some(&e.oid.to_string()));
                w.str(Some(&e.tag));
                w.str(Some(&e.desc));
                w.int(e.section);
                w.str(Some(&e.defn));
                w.str(Some(&format!("DROP {} {};\n", e.desc, e.tag)));
                w.str(e.copy.as_deref());
                w.str(e.namespace.as_deref());
                w.str(Some(""));
                if minor >= 14 {
                    w.str(if e.desc == "TABLE" { Some("heap") } else { None });
                }
                if minor >= 16 {
                    w.int(if e.desc == "TABLE" { 114 } else { 0 });
                }
                w.str(e.owner.as_deref());
                w.str(Some("false"));
                e.deps.iter().for_each(|d| w.str(Some(&d.to_string())));
                w.str(None);
                let offset = at.iter().find(|(j, _)| *j == i).map(|(_, o)| base + o);
                match (offset, self.offsets) {
                    (None, _) => w.offset(3, 0),
                    (Some(o), true) => w.offset(2, o as u64),
                    (Some(_), false) => w.offset(1, 0),
                }
            }
            w.out
        };
        let len = toc(0).len(); // offsets are of fixed size
        let mut out = toc(len);
        out.extend_from_slice(&blocks.out);
        (out, at.into_iter().map(|(i, o)| (i, o + len)).collect())
    }
}

struct W {
    out: Vec<u8>,
    int_size: usize,
}

impl W {
    fn int(&mut self, v: i64) {
        self.out.push((v < 0) as u8);
        self.out.extend_from_slice(&v.unsigned_abs().to_le_bytes()[..self.int_size]);
    }

    fn str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.int(s.len() as i64);
                self.out.extend_from_slice(s.as_bytes());
            }
            None => self.int(-1),
        }
    }

    fn offset(&mut self, flag: u8, o: u64) {
        self.out.push(flag);
        self.out.extend_from_slice(&o.to_le_bytes());
    }

    fn chunks(&mut self, chunks: &[Vec<u8>]) {
        for c in chunks {
            self.int(c.len() as i64);
            self.out.extend_from_slice(c);
        }
        self.int(0);
    }
}
