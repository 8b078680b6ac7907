//! Arguments of `repair`.

use clap::Subcommand;

/// `repair` subcommands.
#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild the local index from the repository's index segments and pack headers, and drop
    /// from the index what is lost: blobs of packs that are missing, truncated or have an
    /// unreadable header (with --read-data also blobs that fail authentication), and deltas
    /// whose bases are lost. The next ingest of a dump holding those chunks stores them again,
    /// which makes every snapshot that needs only them whole again.
    Index {
        /// Also read every pack and drop the blobs that fail authentication.
        #[arg(long)]
        read_data: bool,
    },
    /// List the snapshots that need data the repository does not have; --forget removes them.
    Snapshots {
        /// Forget the damaged snapshots (recorded as forgotten by `repair snapshots`).
        #[arg(long)]
        forget: bool,
    },
    /// Write the repository's config again (when it is missing or damaged) from the copy sealed in
    /// the key files, or reconstructed when no key file holds one.
    Config,
}
