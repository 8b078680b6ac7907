//! The speed of reading and diffing rows: two COPY tables of N rows (default 1,000,000) where B
//! updates 1% of A's rows, deletes 0.5% and inserts 0.5%, diffed into TSV thrown away:
//! `cargo run --release -p dbvault-toc --example diff_rows -- [N]`.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Instant;

use toc::rows::{Dialect, Options, RowReader, Table, TableDef, TsvWriter, diff};

fn table(n: u64, b: bool) -> Vec<u8> {
    let mut d = b"--\n-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\nCOPY public.orders (id, customer, email, amount, note, created) FROM stdin;\n".to_vec();
    for i in 0..n {
        if b && i % 200 == 7 {
            continue; // deleted
        }
        let amount = if b && i % 100 == 3 { i * 7 + 1 } else { i * 7 };
        d.extend_from_slice(format!("{i}\tcustomer {}\tuser{}@example.com\t{}.{:02}\tnote\\twith tab {}\t2026-01-{:02} 10:00:00+00\n", i % 9973, i % 7919, amount / 100, amount % 100, i % 13, 1 + i % 28).as_bytes());
        if b && i % 200 == 11 {
            d.extend_from_slice(format!("{}\tnew\tnew@example.com\t1.00\t\\N\t2026-02-01 10:00:00+00\n", n + i).as_bytes());
        }
    }
    d.extend_from_slice(b"\\.\n\n");
    d
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let (a, b): (Arc<[u8]>, Arc<[u8]>) = (table(n, false).into(), table(n, true).into());
    let def = TableDef::parse(Dialect::Postgres, &b"ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);"[..])?;
    let open = |bytes: Arc<[u8]>| move || Ok(Box::new(Cursor::new(bytes.clone())) as Box<dyn Read>);

    let t = Instant::now();
    let mut reader = RowReader::new(Dialect::Postgres, &a[..]);
    while reader.next_row()?.is_some() {}
    let read = t.elapsed().as_secs_f64();
    eprintln!("read A: {} rows, {:.1} MB in {read:.2} s: {:.0} rows/s, {:.0} MB/s", reader.rows(), a.len() as f64 / 1e6, reader.rows() as f64 / read, a.len() as f64 / 1e6 / read);

    let t = Instant::now();
    let mut out = TsvWriter::new(std::io::sink());
    let summary = diff(Dialect::Postgres, &mut Table::new(def.clone(), open(a.clone())), &mut Table::new(def, open(b.clone())), &Options::default(), &mut out)?;
    let s = t.elapsed().as_secs_f64();
    let rows = summary.rows_a + summary.rows_b;
    eprintln!("diff: {summary:?}\n  {rows} rows of A and B in {s:.2} s: {:.0} rows/s", rows as f64 / s);
    Ok(())
}
