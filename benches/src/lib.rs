//! Shared code for dbvault's benchmarks, demo and tests: a generator of realistic daily dumps.
//!
//! The real-database comparison (PostgreSQL, MariaDB, restic, borg) lives in `compare.sh`; this
//! crate provides deterministic dump series for the demo, the test suite, the criterion benches
//! and the chunk-size measurement, and starts a private SeaweedFS S3 server for the S3 tests
//! ([`seaweed`]).

pub mod dumpgen;
pub mod many;
pub mod positional;
pub mod seaweed;
