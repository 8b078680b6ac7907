//! Shared code for dbvault's benchmarks, demo and tests: a generator of realistic daily dumps.
//!
//! The real-database comparison (PostgreSQL, MariaDB, restic, borg) lives in `compare.sh`; this
//! crate provides what needs no server: deterministic dump series for the demo, the test suite,
//! the criterion benches and the chunk-size measurement.

pub mod dumpgen;
