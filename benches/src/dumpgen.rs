//! Deterministic daily `pg_dump`-style dumps with scattered row changes.
//!
//! The model follows what PostgreSQL does to a table under daily OLTP traffic (see
//! `../shared/NOTES.md`, "Daily-dump realities"): pg_dump writes rows in heap order; an updated row
//! leaves a dead slot behind and its new version lands in free space left by earlier updates and
//! deletes (after VACUUM) or at the end of the heap; inserted rows fill free space first too. So a
//! day's changes are scattered over the whole dump and changed rows move.

use std::collections::BTreeSet;
use std::io::{self, Write};

/// A small, fast, deterministic PRNG (xorshift64*), so series are reproducible without a crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (any seed; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One row of the `orders` table.
#[derive(Clone, Debug)]
struct Order {
    id: u64,
    customer: u64,
    status: u8,
    amount_cents: u64,
    created_day: u32,
    note_seed: u64,
}

const STATUSES: [&str; 5] = ["new", "paid", "shipped", "delivered", "refunded"];
const WORDS: [&str; 16] = [
    "express", "gift", "fragile", "weekend", "office", "backdoor", "call first", "no bag",
    "leave at gate", "invoice", "priority", "standard", "green box", "reuse", "ring twice", "keep dry",
];

/// A table's life over many days: its heap and what changes it each day.
#[derive(Clone, Debug)]
pub struct DumpSeries {
    rng: Rng,
    heap: Vec<Option<Order>>,
    free: BTreeSet<usize>,
    next_id: u64,
    day: u32,
    customers: u64,
}

/// Daily change rates, as fractions of the live rows.
#[derive(Clone, Copy, Debug)]
pub struct DailyChange {
    /// Rows updated per day.
    pub update: f64,
    /// Rows inserted per day.
    pub insert: f64,
    /// Rows deleted per day.
    pub delete: f64,
}

impl Default for DailyChange {
    /// 0.2% updated, 0.3% inserted, 0.05% deleted: a quiet OLTP table.
    fn default() -> Self {
        DailyChange { update: 0.002, insert: 0.003, delete: 0.0005 }
    }
}

impl DumpSeries {
    /// Day 0 of a table with `rows` orders.
    pub fn new(rows: usize, seed: u64) -> DumpSeries {
        let mut s = DumpSeries {
            rng: Rng::new(seed),
            heap: Vec::with_capacity(rows + rows / 10),
            free: BTreeSet::new(),
            next_id: 1,
            day: 0,
            customers: (rows as u64 / 20).max(10),
        };
        for _ in 0..rows {
            let o = s.new_order();
            s.heap.push(Some(o));
        }
        s
    }

    fn new_order(&mut self) -> Order {
        let id = self.next_id;
        self.next_id += 1;
        Order {
            id,
            customer: 1 + self.rng.below(self.customers),
            status: 0,
            amount_cents: 100 + self.rng.below(50_000),
            created_day: self.day,
            note_seed: self.rng.next_u64(),
        }
    }

    /// Where a new row version goes: the first free slot (vacuumed space), else the heap's end.
    fn place(&mut self, o: Order) {
        match self.free.pop_first() {
            Some(slot) => self.heap[slot] = Some(o),
            None => self.heap.push(Some(o)),
        }
    }

    fn random_live_slot(&mut self) -> usize {
        loop {
            let i = self.rng.below(self.heap.len() as u64) as usize;
            if self.heap[i].is_some() {
                return i;
            }
        }
    }

    /// Live rows.
    pub fn rows(&self) -> usize {
        self.heap.len() - self.free.len()
    }

    /// Move to the next day, applying updates, deletes and inserts.
    pub fn advance_day(&mut self, change: DailyChange) {
        self.day += 1;
        let live = self.rows() as f64;
        // Slots freed today are reused only after tomorrow's VACUUM.
        let mut freed_today = Vec::new();
        for _ in 0..(live * change.update).round() as usize {
            let i = self.random_live_slot();
            let mut o = self.heap[i].take().expect("live");
            o.status = (o.status + 1).min(4);
            if self.rng.below(3) == 0 {
                o.amount_cents += self.rng.below(500);
            }
            freed_today.push(i);
            self.place(o);
        }
        for _ in 0..(live * change.delete).round() as usize {
            let i = self.random_live_slot();
            self.heap[i] = None;
            freed_today.push(i);
        }
        for _ in 0..(live * change.insert).round() as usize {
            let o = self.new_order();
            self.place(o);
        }
        self.free.extend(freed_today);
    }

    /// Write today's dump in pg_dump plain format.
    pub fn write_dump(&self, w: &mut impl Write) -> io::Result<()> {
        let mut w = io::BufWriter::with_capacity(1 << 20, w);
        write!(
            w,
            "--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n\
             -- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)\n\n\
             SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET client_encoding = 'UTF8';\n\
             SET standard_conforming_strings = on;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\
             CREATE TABLE public.orders (\n    id bigint NOT NULL,\n    customer_id bigint NOT NULL,\n    status text NOT NULL,\n\
             \x20   amount numeric(12,2) NOT NULL,\n    created_at timestamp with time zone NOT NULL,\n    note text\n);\n\n\
             ALTER TABLE public.orders OWNER TO shop;\n\n--\n-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\n\
             COPY public.orders (id, customer_id, status, amount, created_at, note) FROM stdin;\n"
        )?;
        for o in self.heap.iter().flatten() {
            let secs = 1_700_000_000 + u64::from(o.created_day) * 86_400 + (o.note_seed % 86_400);
            let (d, t) = (secs / 86_400, secs % 86_400);
            let (y, m, dd) = civil_from_days(d as i64);
            writeln!(
                w,
                "{}\t{}\t{}\t{}.{:02}\t{y:04}-{m:02}-{dd:02} {:02}:{:02}:{:02}+00\t{} {}",
                o.id,
                o.customer,
                STATUSES[o.status as usize],
                o.amount_cents / 100,
                o.amount_cents % 100,
                t / 3600,
                (t / 60) % 60,
                t % 60,
                WORDS[(o.note_seed % 16) as usize],
                WORDS[((o.note_seed >> 8) % 16) as usize],
            )?;
        }
        write!(
            w,
            "\\.\n\n\n--\n-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: shop\n--\n\n\
             ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n\n\n\
             --\n-- PostgreSQL database dump complete\n--\n\n"
        )?;
        w.flush()
    }

    /// Today's dump as bytes.
    pub fn dump(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.heap.len() * 80);
        self.write_dump(&mut v).expect("writing to a Vec");
        v
    }

    /// The dumps of `days` days of a table of `rows` orders, each day after the first changed
    /// as [`DailyChange::default`] says.
    pub fn days(rows: usize, seed: u64, days: usize) -> Vec<Vec<u8>> {
        let mut s = DumpSeries::new(rows, seed);
        let mut out = vec![s.dump()];
        for _ in 1..days {
            s.advance_day(DailyChange::default());
            out.push(s.dump());
        }
        out
    }
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_changes_a_little_each_day() {
        let mut a = DumpSeries::new(20_000, 5);
        let b = DumpSeries::new(20_000, 5);
        let d0 = a.dump();
        assert_eq!(d0, b.dump());
        assert!(d0.ends_with(b"-- PostgreSQL database dump complete\n--\n\n"));
        a.advance_day(DailyChange::default());
        let d1 = a.dump();
        assert_ne!(d0, d1);
        let lines0: BTreeSet<&[u8]> = d0.split(|&c| c == b'\n').collect();
        let novel = d1.split(|&c| c == b'\n').filter(|l| !lines0.contains(l)).count();
        // 0.2% updated + 0.3% inserted of 20k rows = ~100 novel lines.
        assert!((80..=130).contains(&novel), "{novel} novel lines");
    }

    #[test]
    fn dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
    }
}
