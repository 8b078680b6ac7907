//! Which objects changed between two tables of contents of the same database: added, removed,
//! changed (their digests differ) or unchanged. Objects are matched by kind, database, schema and name (and
//! by order among objects that share all three); the preamble and trailer are no objects of the
//! database and are left out.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::{Kind, Object, Toc};

/// What became of an object from the first table of contents to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Only in the second.
    Added,
    /// Only in the first.
    Removed,
    /// In both, with other bytes.
    Changed,
    /// In both, byte for byte.
    Unchanged,
}

/// One object's fate.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// What became of it.
    pub status: Status,
    /// It in the first table of contents, if there.
    pub before: Option<&'a Object>,
    /// It in the second, if there.
    pub after: Option<&'a Object>,
}

impl Change<'_> {
    /// The object, as it is in the second table of contents if it is there.
    pub fn object(&self) -> &Object {
        self.after.or(self.before).expect("a change has an object on one side at least")
    }
}

/// The objects of `a` and `b`, in `b`'s order, then those only in `a`.
pub fn compare<'a>(a: &'a Toc, b: &'a Toc) -> Vec<Change<'a>> {
    let key = |o: &'a Object| (o.kind, o.tool_kind.as_str(), o.database.as_deref(), o.schema.as_deref(), o.name.as_str());
    let listed = |t: &'a Toc| t.objects.iter().filter(|o| !matches!(o.kind, Kind::Preamble | Kind::Trailer));
    let olds: Vec<&Object> = listed(a).collect();
    // Where each key's objects are in `a`, in order, until matched.
    let mut unmatched: HashMap<_, VecDeque<usize>> = HashMap::new();
    for (i, o) in olds.iter().enumerate() {
        unmatched.entry(key(o)).or_default().push_back(i);
    }
    let mut matched = vec![false; olds.len()];
    let mut out = Vec::new();
    for o in listed(b) {
        let old = unmatched.get_mut(&key(o)).and_then(VecDeque::pop_front).map(|i| {
            matched[i] = true;
            olds[i]
        });
        let status = match old {
            None => Status::Added,
            Some(x) if x.digest == o.digest => Status::Unchanged,
            Some(_) => Status::Changed,
        };
        out.push(Change { status, before: old, after: Some(o) });
    }
    out.extend(olds.iter().zip(&matched).filter(|(_, m)| !**m).map(|(o, _)| Change { status: Status::Removed, before: Some(*o), after: None }));
    out
}
