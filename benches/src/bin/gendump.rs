//! `dbvault-gendump`: write a series of daily pg_dump-style dumps with scattered changes.
//!
//! Usage: `dbvault-gendump --rows N --days D --seed S OUT_DIR` writes `OUT_DIR/day-00.sql`, ...

use std::path::PathBuf;

use dbvault_benches::dumpgen::{DailyChange, DumpSeries};

fn main() {
    let mut rows = 200_000usize;
    let mut days = 2u32;
    let mut seed = 1u64;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die(&format!("{name} needs a number")))
        };
        match a.as_str() {
            "--rows" => rows = num("--rows") as usize,
            "--days" => days = num("--days") as u32,
            "--seed" => seed = num("--seed"),
            "-h" | "--help" => {
                println!("usage: dbvault-gendump [--rows N] [--days D] [--seed S] OUT_DIR");
                return;
            }
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => die(&format!("unexpected argument {a:?}")),
        }
    }
    let out = out.unwrap_or_else(|| die("missing OUT_DIR"));
    std::fs::create_dir_all(&out).unwrap_or_else(|e| die(&format!("{}: {e}", out.display())));
    let mut series = DumpSeries::new(rows, seed);
    for day in 0..days {
        if day > 0 {
            series.advance_day(DailyChange::default());
        }
        let path = out.join(format!("day-{day:02}.sql"));
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
        series.write_dump(&mut f).unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
        println!("{}", path.display());
    }
}

fn die(msg: &str) -> ! {
    eprintln!("dbvault-gendump: {msg}");
    std::process::exit(2)
}
