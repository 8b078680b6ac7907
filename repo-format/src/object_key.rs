//! Where each object lives in a repository (SPEC.md section 1): the one place object keys are
//! made. Keys are `/`-separated paths below the repository root, the same for every backend.

use crate::Id;

/// The repository's configuration.
pub const CONFIG: &str = "config";
/// Folder of key files.
pub const KEYS: &str = "keys";
/// Folder of packs (one subfolder per first two hex digits).
pub const PACKS: &str = "packs";
/// Folder of index segments.
pub const INDEX: &str = "index";
/// Folder of snapshot manifests.
pub const SNAPSHOTS: &str = "snapshots";
/// Folder of forget records.
pub const FORGOTTEN: &str = "forgotten";
/// Folder of check records.
pub const CHECKS: &str = "checks";
/// Folder of drill records.
pub const DRILLS: &str = "drills";
/// Folder of leases (S3 repositories); named `locks` on disk, they are not `flock` locks.
pub const LEASES: &str = "locks";

/// `keys/<id>`.
pub fn key(id: &Id) -> String {
    format!("{KEYS}/{id}")
}

/// `packs/<xx>/<id>`, `xx` the first two hex digits of the id.
pub fn pack(id: &Id) -> String {
    let hex = id.to_hex();
    format!("{PACKS}/{}/{hex}", &hex[..2])
}

/// `index/<id>`.
pub fn index_segment(id: &Id) -> String {
    format!("{INDEX}/{id}")
}

/// `snapshots/<id>`.
pub fn snapshot(id: &Id) -> String {
    format!("{SNAPSHOTS}/{id}")
}

/// `forgotten/<id>`.
pub fn forget_record(id: &Id) -> String {
    format!("{FORGOTTEN}/{id}")
}

/// `checks/<id>`: the record of a `check` run.
pub fn check_record(id: &Id) -> String {
    format!("{CHECKS}/{id}")
}

/// `drills/<id>`: the record of a restore drill.
pub fn drill_record(id: &Id) -> String {
    format!("{DRILLS}/{id}")
}

/// `locks/<id>`: a lease.
pub fn lease(id: &Id) -> String {
    format!("{LEASES}/{id}")
}

/// The id a key names (`index/<id>`, `packs/<xx>/<id>`, ...), if it names one.
pub fn id_of(key: &str) -> Option<Id> {
    key.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_as_the_spec_lays_them_out() {
        let id = Id([0xab; 32]);
        let hex = id.to_hex();
        assert_eq!(pack(&id), format!("packs/ab/{hex}"));
        assert_eq!(index_segment(&id), format!("index/{hex}"));
        assert_eq!(snapshot(&id), format!("snapshots/{hex}"));
        assert_eq!(key(&id), format!("keys/{hex}"));
        assert_eq!(forget_record(&id), format!("forgotten/{hex}"));
        assert_eq!(lease(&id), format!("locks/{hex}"));
        assert_eq!(check_record(&id), format!("checks/{hex}"));
        assert_eq!(drill_record(&id), format!("drills/{hex}"));
        assert_eq!(id_of(&pack(&id)), Some(id));
        assert_eq!(id_of("config"), None);
    }
}
