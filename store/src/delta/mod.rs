//! Deltas: a changed chunk stored as a zstd patch against a similar chunk already stored (SPEC.md,
//! "Delta blobs").
//!
//! - [`chain`]: a delta's chain of bases down to its root, walked the same way by every reader
//!   (restore, check, prune, repair, ingest), and which blobs may serve as a base.
//! - [`finder`]: the positional proposal, the parent snapshot's chunk at the same place.
//! - [`resemblance`]: the fallback proposal, a chunk sharing super-features, for data that moved.
//! - [`choice`]: what a proposed base stands for, and the rebase policy that bounds chain depth.
//! - [`patching`]: a batch's bases read once, and the rule that keeps a patch only when it is
//!   clearly smaller than the chunk compressed alone.

pub mod chain;
pub mod choice;
pub mod finder;
pub mod resemblance;
pub mod patching;

pub use chain::{Chain, ChainEnd, may_serve_as_base};
pub use choice::WRITE_MAX_DEPTH;
pub use finder::BaseFinder;
