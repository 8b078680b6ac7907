//! Reading blobs back out of packs: ranged reads, merged for a batch of blobs, every envelope
//! authenticated, and delta blobs rebuilt from their chains of bases ([`crate::delta::chain`]).

use std::collections::HashMap;

use rayon::prelude::*;
use repo_format::blob::{self, BlobKind, IdCheck};
use repo_format::{object_key, FormatError, Id};

use crate::backend::BackendError;
use crate::delta::Chain;
use crate::delta::chain::{unreadable_base, unreadable_chain};
use crate::index::{BlobLocation, Index};
use crate::repository::Repository;
use crate::{Result, StoreError};

/// Blobs of one pack closer than this are fetched with one read (the gap is read and dropped).
const MERGE_GAP: u64 = 256 << 10;
/// The largest single read of a batch.
const MAX_READ: u64 = 8 << 20;

/// Reads blobs out of packs, verifying each.
///
/// Every read goes through the backend's ranged get (`pread` on a local folder): no pack is
/// mapped, so a restore's memory does not grow with the packs it touches.
pub struct PackReader<'r> {
    repo: &'r Repository,
}

/// One ranged read serving several blobs of a pack.
struct Span {
    pack: Id,
    start: u64,
    end: u64,
    /// (position in the request, location)
    members: Vec<(usize, BlobLocation)>,
}

impl<'r> PackReader<'r> {
    /// A reader over `repo`'s packs.
    pub fn new(repo: &'r Repository) -> Self {
        PackReader { repo }
    }

    /// Authenticate the sealed blob `sealed` found at `loc`; it is decoded later.
    fn open(&self, id: &Id, loc: &BlobLocation, sealed: &[u8]) -> Result<Opened> {
        let what = || in_pack(id, &loc.pack);
        match loc.entry.delta {
            None => blob::open_body(self.repo.keys(), loc.entry.kind, loc.entry.codec, id, loc.entry.raw_len, sealed)
                .map(|body| Opened::Body { body, pack: loc.pack })
                .map_err(|e| StoreError::format(what(), e)),
            Some(d) => blob::open_patch(self.repo.keys(), loc.entry.codec, id, &d.base, loc.entry.raw_len, sealed)
                .map(|patch| Opened::Patch { patch, base: d.base, raw_len: loc.entry.raw_len })
                .map_err(|e| StoreError::format(what(), e)),
        }
    }

    /// Read and authenticate the sealed blob at `loc`.
    fn read(&self, id: &Id, loc: &BlobLocation) -> Result<Opened> {
        let sealed = self.repo.backend().get_range(&object_key::pack(&loc.pack), u64::from(loc.entry.offset), loc.entry.stored_len as usize)?;
        self.open(id, loc, &sealed)
    }

    /// Look a blob up in `index`, read it, and check it is of `kind` (a chunk may be stored as a
    /// delta: it is rebuilt from its base).
    pub fn load(&self, index: &Index, id: &Id, kind: BlobKind) -> Result<Vec<u8>> {
        let opened = vec![self.read(id, &locate(index, id, kind)?)];
        self.resolve(index, std::slice::from_ref(id), opened, IdCheck::Prove).pop().expect("one answer")
    }

    /// Rebuild delta blobs `(chunk id, location, sealed bytes)` read by the caller, reading their
    /// bases (all blobs' bases together, with merged reads).
    pub fn open_deltas(&self, index: &Index, blobs: &[(Id, BlobLocation, &[u8])]) -> Vec<Result<Vec<u8>>> {
        let opened: Vec<Result<Opened>> = blobs.par_iter().map(|(id, loc, sealed)| self.open(id, loc, sealed)).collect();
        let ids: Vec<Id> = blobs.iter().map(|(id, _, _)| *id).collect();
        self.resolve(index, &ids, opened, IdCheck::Prove)
    }

    /// Load many blobs of `kind` at once, in parallel; the results are in the order of `ids`.
    ///
    /// Reads are grouped by pack, sorted by offset and merged when close (a new dump's chunks sit
    /// next to each other in stream order), so a batch costs a few large reads rather than one
    /// read per blob, locally and on an object store alike. A failed merged read is retried blob by
    /// blob. Chunks stored as deltas are rebuilt from their bases (`FetchedChains`), at most
    /// [`MAX_DELTA_DEPTH`](blob::MAX_DELTA_DEPTH) deep. Every envelope is authenticated; `check` says whether the
    /// plaintexts' ids are proven too.
    pub fn load_many(&self, index: &Index, ids: &[Id], kind: BlobKind, check: IdCheck) -> Vec<Result<Vec<u8>>> {
        let opened = self.fetch_many(index, ids, kind);
        self.resolve(index, ids, opened, check)
    }

    /// [`load_many`](Self::load_many) of chunks, each decoded straight into its buffer in `outs`
    /// (one per id, as long as the chunk list says the chunk is): a restore's batch is filled in
    /// place, without a buffer and a copy per chunk.
    pub fn load_many_into(&self, index: &Index, ids: &[Id], check: IdCheck, outs: Vec<&mut [u8]>) -> Vec<Result<()>> {
        let opened = self.fetch_many(index, ids, BlobKind::Chunk);
        let bases = self.load_bases(index, &opened);
        opened.into_par_iter().zip(ids).zip(outs).map(|((o, id), out)| self.decode_into(id, o?, &bases, check, out)).collect()
    }

    /// Decode each blob in `opened`, applying patches to their bases (loaded, and themselves
    /// rebuilt, as needed). The plaintexts are checked as `check` says; bases only for their
    /// length (the chunks rebuilt from them prove them).
    fn resolve(&self, index: &Index, ids: &[Id], opened: Vec<Result<Opened>>, check: IdCheck) -> Vec<Result<Vec<u8>>> {
        let bases = self.load_bases(index, &opened);
        opened.into_par_iter().zip(ids).map(|(o, id)| self.decode(id, o?, &bases, check)).collect()
    }

    /// The chains below the patches in `opened`, located through the index, and every member's
    /// sealed blob, each fetched once (merged reads) and authenticated.
    fn load_bases(&self, index: &Index, opened: &[Result<Opened>]) -> FetchedChains {
        let mut first: Vec<Id> = opened.iter().filter_map(|o| match o {
            Ok(Opened::Patch { base, .. }) => Some(*base),
            _ => None,
        }).collect();
        first.sort_unstable();
        first.dedup();
        let chains: HashMap<Id, Result<Chain>> = first.par_iter().map(|b| (*b, Chain::under_patch(index, *b))).collect();
        let mut members: Vec<(Id, BlobLocation)> = chains.values().flatten().flat_map(|c| c.members.iter().copied()).collect();
        members.sort_unstable_by_key(|(id, _)| *id);
        members.dedup_by_key(|(id, _)| *id);
        let (ids, locs): (Vec<Id>, Vec<Result<BlobLocation>>) = members.into_iter().map(|(id, loc)| (id, Ok(loc))).unzip();
        let fetched = self.fetch_located(&ids, locs);
        FetchedChains { chains, opened: ids.into_iter().zip(fetched).collect() }
    }

    /// The plaintext of an opened blob, checked as `check` says.
    fn decode(&self, id: &Id, o: Opened, bases: &FetchedChains, check: IdCheck) -> Result<Vec<u8>> {
        let keys = self.repo.keys();
        match o {
            Opened::Body { body, pack } => body.decode(keys, check).map_err(|e| StoreError::format(in_pack(id, &pack), e)),
            Opened::Patch { patch, base, raw_len } => self.with_base(id, &base, bases, |plain| {
                blob::apply_patch_checked(keys, id, raw_len, &patch, plain, check).map_err(|e| StoreError::format(format!("delta {}", id.short()), e))
            }),
        }
    }

    /// [`decode`](Self::decode) into `out`, which the chunk list says is the chunk's length.
    fn decode_into(&self, id: &Id, o: Opened, bases: &FetchedChains, check: IdCheck, out: &mut [u8]) -> Result<()> {
        let keys = self.repo.keys();
        let raw_len = match &o {
            Opened::Body { body, .. } => body.raw_len(),
            Opened::Patch { raw_len, .. } => *raw_len,
        };
        if raw_len as usize != out.len() {
            let why = format!("is {raw_len} bytes, the chunk list says {}", out.len());
            return Err(StoreError::format(format!("chunk {}", id.short()), FormatError::malformed("chunk", why)));
        }
        match o {
            Opened::Body { body, pack } => body.decode_into(keys, check, out).map_err(|e| StoreError::format(in_pack(id, &pack), e)),
            Opened::Patch { patch, base, .. } => self.with_base(id, &base, bases, |plain| {
                blob::apply_patch_into(keys, id, raw_len, &patch, plain, check, out).map_err(|e| StoreError::format(format!("delta {}", id.short()), e))
            }),
        }
    }

    /// Call `f` with the plaintext of `base`, the base of delta `id`, rebuilt from the root of its
    /// chain up, in this thread's two scratch buffers: no buffer per base, and a chain's members
    /// are rebuilt while the one below is still in the cache.
    fn with_base<T>(&self, id: &Id, base: &Id, bases: &FetchedChains, f: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        let keys = self.repo.keys();
        let chain = match bases.chains.get(base).expect("every patch's base chain was located") {
            Ok(c) => c,
            Err(e) => return Err(unreadable_base(id, base, e)),
        };
        if let Some(e) = chain.end.error() {
            return Err(unreadable_chain(id, chain, chain.members.len(), &e));
        }
        SCRATCH.with(|s| {
            let (below, next) = &mut *s.borrow_mut();
            let mut len = 0;
            for (j, (member, loc)) in chain.members.iter().enumerate().rev() {
                let want = loc.entry.raw_len as usize;
                if next.len() < want {
                    next.resize(want, 0);
                }
                let out = &mut next[..want];
                let failed = match bases.opened.get(member).expect("every chain member was fetched") {
                    Err(e) => return Err(unreadable_chain(id, chain, j, e)),
                    Ok(Opened::Body { body, pack }) => body.decode_into(keys, IdCheck::Length, out).err().map(|e| StoreError::format(in_pack(member, pack), e)),
                    Ok(Opened::Patch { patch, raw_len, .. }) => blob::apply_patch_into(keys, member, *raw_len, patch, &below[..len], IdCheck::Length, out)
                        .err()
                        .map(|e| StoreError::format(format!("delta {}", member.short()), e)),
                };
                if let Some(e) = failed {
                    return Err(unreadable_chain(id, chain, j, &e));
                }
                std::mem::swap(below, next);
                len = want;
            }
            f(&below[..len])
        })
    }

    /// Locate, fetch (merged reads) and authenticate many blobs; deltas are left as patches.
    fn fetch_many(&self, index: &Index, ids: &[Id], kind: BlobKind) -> Vec<Result<Opened>> {
        let located: Vec<Result<BlobLocation>> = ids.par_iter().map(|id| locate(index, id, kind)).collect();
        self.fetch_located(ids, located)
    }

    /// Fetch (merged reads) and authenticate the blobs `ids`, located as `located` says.
    fn fetch_located(&self, ids: &[Id], located: Vec<Result<BlobLocation>>) -> Vec<Result<Opened>> {
        let mut out: Vec<Option<Result<Opened>>> = Vec::with_capacity(ids.len());
        let mut wanted = Vec::new();
        for (i, loc) in located.into_iter().enumerate() {
            match loc {
                Ok(loc) => {
                    wanted.push((i, loc));
                    out.push(None);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        wanted.sort_unstable_by_key(|(_, l)| (l.pack, l.entry.offset));
        let mut spans: Vec<Span> = Vec::new();
        for (i, loc) in wanted {
            let (start, end) = (u64::from(loc.entry.offset), u64::from(loc.entry.offset) + u64::from(loc.entry.stored_len));
            match spans.last_mut() {
                Some(s) if s.pack == loc.pack && start <= s.end + MERGE_GAP && end.max(s.end) - s.start <= MAX_READ => {
                    s.end = s.end.max(end);
                    s.members.push((i, loc));
                }
                _ => spans.push(Span { pack: loc.pack, start, end, members: vec![(i, loc)] }),
            }
        }
        let fetched: Vec<Result<Vec<u8>>> = spans
            .par_iter()
            .map(|s| Ok(self.repo.backend().get_range(&object_key::pack(&s.pack), s.start, (s.end - s.start) as usize)?))
            .collect();
        let opened: Vec<(usize, Result<Opened>)> = spans
            .par_iter()
            .zip(&fetched)
            .flat_map_iter(|(s, bytes)| {
                s.members.iter().map(move |(i, loc)| {
                    let r = match bytes {
                        Ok(b) => {
                            let at = (u64::from(loc.entry.offset) - s.start) as usize;
                            self.open(&ids[*i], loc, &b[at..at + loc.entry.stored_len as usize])
                        }
                        // An unreachable store fails each blob alike, at once: retrying them one
                        // by one would wait out the retry timeout for every blob.
                        Err(StoreError::Backend(BackendError::Remote { key, source })) => {
                            Err(StoreError::Backend(BackendError::Remote { key: key.clone(), source: source.to_string().into() }))
                        }
                        // Each blob alone, for its own precise error (a truncated pack still
                        // yields the blobs before the cut).
                        Err(_) => self.read(&ids[*i], loc),
                    };
                    (*i, r)
                })
            })
            .collect();
        for (i, r) in opened {
            out[i] = Some(r);
        }
        out.into_iter().map(|r| r.expect("every blob was answered")).collect()
    }
}

/// An authenticated blob, not decoded yet: a chunk's or node's body (and the pack it came from,
/// for errors), or a delta's patch.
enum Opened {
    Body { body: blob::Body, pack: Id },
    Patch { patch: Vec<u8>, base: Id, raw_len: u32 },
}

/// What an error about blob `id` of `pack` names.
fn in_pack(id: &Id, pack: &Id) -> String {
    format!("blob {} in {}", id.short(), object_key::pack(pack))
}

/// The base chains a batch of patches needs, and their members' authenticated blobs.
struct FetchedChains {
    /// Each patch's chain, from the patch's base down, by that base.
    chains: HashMap<Id, Result<Chain>>,
    /// Every member of every chain, fetched once.
    opened: HashMap<Id, Result<Opened>>,
}

thread_local! {
    /// Two buffers a chain is rebuilt in, member after member ([`PackReader::with_base`]).
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Look `id` up and check it is of `kind` (a chunk may be stored as a delta).
fn locate(index: &Index, id: &Id, kind: BlobKind) -> Result<BlobLocation> {
    let loc = index.locate(id)?;
    if !crate::delta::chain::holds(&loc, kind) {
        return Err(StoreError::format(
            format!("blob {}", id.short()),
            FormatError::malformed("blob", format!("is a {:?}, expected a {kind:?}", loc.entry.kind)),
        ));
    }
    Ok(loc)
}
