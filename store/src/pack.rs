//! Writing packs and reading blobs back out of them.
//!
//! [`PackWriter`] appends sealed blobs to a temporary file, closes it with the sealed header once
//! it reaches the target size, fsyncs it, names it by the BLAKE3 hash of its bytes and hands it to
//! the backend (a rename for a local repository; for a remote store an upload, several at a time).
//! [`PackReader`] reads blobs back with ranged reads, merging the reads of a batch of blobs, and
//! rebuilds delta blobs from their bases.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};

use rayon::prelude::*;
use repo_format::object_key;
use repo_format::blob::{self, BlobKind, IdCheck, MAX_DELTA_DEPTH, SealedBlob};
use repo_format::index_segment::PackIndex;
use repo_format::pack::{self as fmt, PackEntry};
use repo_format::{FormatError, Id};
use tempfile::TempPath;

use crate::backend::BackendError;
use crate::index::{BlobLocation, Index};
use crate::repository::Repository;
use crate::{Result, StoreError};

struct OpenPack {
    file: BufWriter<File>,
    path: TempPath,
    hasher: blake3::Hasher,
    entries: Vec<PackEntry>,
    len: u64,
}

/// A finished pack being handed to the backend on its own thread (remote stores).
struct Upload {
    thread: std::thread::JoinHandle<std::result::Result<(), BackendError>>,
    pack: PackIndex,
}

/// Writes sealed blobs into packs.
pub struct PackWriter<'r> {
    repo: &'r Repository,
    target: u64,
    current: Option<OpenPack>,
    uploads: std::collections::VecDeque<Upload>,
    done: Vec<PackIndex>,
    bytes_written: u64,
}

impl<'r> PackWriter<'r> {
    /// A writer for `repo`'s packs.
    pub fn new(repo: &'r Repository) -> Self {
        PackWriter {
            repo,
            target: u64::from(repo.config().pack_size).max(1 << 20),
            current: None,
            uploads: std::collections::VecDeque::new(),
            done: Vec::new(),
            bytes_written: 0,
        }
    }

    fn write(p: &mut OpenPack, bytes: &[u8]) -> Result<()> {
        p.file.write_all(bytes).map_err(|e| StoreError::io("writing a pack", e))?;
        p.hasher.update(bytes);
        p.len += bytes.len() as u64;
        Ok(())
    }

    /// Append a sealed blob; closes the pack when it reaches its target size.
    pub fn add(&mut self, b: &SealedBlob) -> Result<()> {
        if self.current.as_ref().is_some_and(|p| p.len + b.bytes.len() as u64 > u64::from(u32::MAX) / 2) {
            self.close_pack()?;
        }
        if self.current.is_none() {
            let tmp = tempfile::Builder::new()
                .prefix(".tmp-pack-")
                .tempfile_in(self.repo.tmp_dir()?)
                .map_err(|e| StoreError::io("creating a temporary pack", e))?;
            let (file, path) = tmp.into_parts();
            // Held until the file is closed: tells `clean_orphans` this pack is still being written.
            file.lock().map_err(|e| StoreError::io("locking a temporary pack", e))?;
            let mut p = OpenPack { file: BufWriter::with_capacity(1 << 20, file), path, hasher: blake3::Hasher::new(), entries: Vec::new(), len: 0 };
            Self::write(&mut p, &fmt::magic(self.repo.config().version))?;
            self.current = Some(p);
        }
        let p = self.current.as_mut().expect("just opened");
        p.entries.push(PackEntry {
            id: b.id,
            kind: b.kind,
            codec: b.codec,
            offset: p.len as u32,
            stored_len: b.bytes.len() as u32,
            raw_len: b.raw_len,
            delta: b.delta,
        });
        Self::write(p, &b.bytes)?;
        if p.len >= self.target {
            self.close_pack()?;
        }
        Ok(())
    }

    /// Close the open pack (if any) and wait until every pack is stored.
    pub fn finish_pack(&mut self) -> Result<()> {
        self.close_pack()?;
        while let Some(u) = self.uploads.pop_front() {
            self.reap(u)?;
        }
        Ok(())
    }

    fn reap(&mut self, u: Upload) -> Result<()> {
        u.thread.join().map_err(|_| StoreError::Internal("a pack upload thread panicked".into()))??;
        self.done.push(u.pack);
        Ok(())
    }

    /// Close the open pack (if any): write its header and hand it to the backend, which makes it
    /// durable: at once for a local folder, on an upload thread (at most `parallel_puts` at a time)
    /// for a remote store.
    fn close_pack(&mut self) -> Result<()> {
        let Some(mut p) = self.current.take() else { return Ok(()) };
        let header = fmt::encode_header(self.repo.keys(), &p.entries, self.repo.config().version).map_err(|e| StoreError::format("pack header", e))?;
        Self::write(&mut p, &header)?;
        // Not synced here: a local backend syncs the file before giving it its name, and an
        // object store reads it for the upload (a second fsync cost a device flush per pack).
        let file = p.file.into_inner().map_err(|e| StoreError::io("writing a pack", e.into_error()))?;
        let id = Id(*p.hasher.finalize().as_bytes());
        let pack = PackIndex { pack_id: id, pack_len: p.len, entries: p.entries };
        self.bytes_written += p.len;
        let backend = self.repo.backend().clone();
        let path = p.path;
        let put = move || {
            // The lock is held (the file stays open) until the pack has its name: another ingest's
            // `clean_orphans` would otherwise take the finished temporary file for an orphan.
            let stored = backend.put_new_file(&object_key::pack(&id), &path);
            drop(file);
            if stored.is_ok() {
                // The file has been moved or uploaded and removed; nothing is left to delete.
                let _ = path.keep();
            }
            stored
        };
        let parallel = self.repo.backend().parallel_puts();
        if parallel <= 1 {
            put()?;
            self.done.push(pack);
            return Ok(());
        }
        while self.uploads.len() >= parallel {
            let oldest = self.uploads.pop_front().expect("not empty");
            self.reap(oldest)?;
        }
        let thread = std::thread::Builder::new()
            .name("dbvault-upload".into())
            .spawn(put)
            .map_err(|e| StoreError::io("starting a pack upload", e))?;
        self.uploads.push_back(Upload { thread, pack });
        Ok(())
    }

    /// Packs stored since the last call (uploads still running are not included).
    pub fn take_finished(&mut self) -> Result<Vec<PackIndex>> {
        while self.uploads.front().is_some_and(|u| u.thread.is_finished()) {
            let u = self.uploads.pop_front().expect("not empty");
            self.reap(u)?;
        }
        Ok(std::mem::take(&mut self.done))
    }

    /// Bytes of all packs finished so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

/// A whole pack's bytes: memory-mapped from a local repository (no copy), fetched otherwise.
pub enum PackBytes {
    /// Mapped from the local file.
    Mapped(memmap2::Mmap),
    /// Fetched through the backend.
    Fetched(Vec<u8>),
}

impl std::ops::Deref for PackBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            PackBytes::Mapped(m) => m,
            PackBytes::Fetched(v) => v,
        }
    }
}

/// Read a whole pack (for verifying every byte of it).
pub fn whole_pack(repo: &Repository, pack: &Id) -> std::result::Result<PackBytes, BackendError> {
    let key = object_key::pack(pack);
    match repo.backend().local_path(&key) {
        Some(path) => {
            let file = File::open(&path).map_err(|e| BackendError::from_io(&key, e))?;
            // SAFETY: packs are write-once; nothing modifies a pack file while it exists (prune
            // deletes whole files, which leaves an existing mapping intact).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| BackendError::from_io(&key, e))?;
            Ok(PackBytes::Mapped(map))
        }
        None => repo.backend().get(&key).map(PackBytes::Fetched),
    }
}

/// Read a pack's header through the backend (its last bytes only), given the pack's length.
pub fn read_header(repo: &Repository, pack: &Id, len: u64) -> Result<Vec<PackEntry>> {
    let key = object_key::pack(pack);
    let backend = repo.backend();
    let tail_len = fmt::TRAILER_LEN.min(len as usize);
    let trailer = backend.get_range(&key, len - tail_len as u64, tail_len)?;
    let (off, hlen, version) = fmt::locate_header(len, &trailer).map_err(|e| StoreError::format(key.clone(), e))?;
    let sealed = backend.get_range(&key, off, hlen)?;
    fmt::decode_header(repo.keys(), &sealed, off, version).map_err(|e| StoreError::format(key, e))
}

/// Delete temporary packs whose writer has died (their lock is free); return how many.
pub fn clean_orphans(tmp_dir: &std::path::Path) -> Result<usize> {
    let mut removed = 0;
    let entries = std::fs::read_dir(tmp_dir).map_err(|e| StoreError::io(format!("listing {}", tmp_dir.display()), e))?;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".tmp-pack-") {
            continue;
        }
        let Ok(f) = File::open(entry.path()) else { continue };
        if f.try_lock().is_ok() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

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
        match loc.delta {
            None => blob::open_body(self.repo.keys(), loc.kind, loc.codec, id, loc.raw_len, sealed)
                .map(|body| Opened::Body { body, pack: loc.pack })
                .map_err(|e| StoreError::format(what(), e)),
            Some(d) => blob::open_patch(self.repo.keys(), loc.codec, id, &d.base, loc.raw_len, sealed)
                .map(|patch| Opened::Patch { patch, base: d.base, raw_len: loc.raw_len })
                .map_err(|e| StoreError::format(what(), e)),
        }
    }

    /// Read and authenticate the sealed blob at `loc`.
    fn read(&self, id: &Id, loc: &BlobLocation) -> Result<Opened> {
        let sealed = self.repo.backend().get_range(&object_key::pack(&loc.pack), u64::from(loc.offset), loc.stored_len as usize)?;
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
    /// blob. Chunks stored as deltas are rebuilt from their bases ([`Bases`]), at most
    /// [`MAX_DELTA_DEPTH`] deep. Every envelope is authenticated; `check` says whether the
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
    fn load_bases(&self, index: &Index, opened: &[Result<Opened>]) -> Bases {
        let mut first: Vec<Id> = opened.iter().filter_map(|o| match o {
            Ok(Opened::Patch { base, .. }) => Some(*base),
            _ => None,
        }).collect();
        first.sort_unstable();
        first.dedup();
        let chains: HashMap<Id, BaseChain> = first.par_iter().map(|b| (*b, BaseChain::locate(index, *b))).collect();
        let mut members: Vec<(Id, BlobLocation)> = chains.values().flat_map(|c| c.ids.iter().copied().zip(c.locs.iter().copied())).collect();
        members.sort_unstable_by_key(|(id, _)| *id);
        members.dedup_by_key(|(id, _)| *id);
        let (ids, locs): (Vec<Id>, Vec<Result<BlobLocation>>) = members.into_iter().map(|(id, loc)| (id, Ok(loc))).unzip();
        let fetched = self.fetch_located(&ids, locs);
        Bases { chains, opened: ids.into_iter().zip(fetched).collect() }
    }

    /// The plaintext of an opened blob, checked as `check` says.
    fn decode(&self, id: &Id, o: Opened, bases: &Bases, check: IdCheck) -> Result<Vec<u8>> {
        let keys = self.repo.keys();
        match o {
            Opened::Body { body, pack } => body.decode(keys, check).map_err(|e| StoreError::format(in_pack(id, &pack), e)),
            Opened::Patch { patch, base, raw_len } => self.with_base(id, &base, bases, |plain| {
                blob::apply_patch_checked(keys, id, raw_len, &patch, plain, check).map_err(|e| StoreError::format(format!("delta {}", id.short()), e))
            }),
        }
    }

    /// [`decode`](Self::decode) into `out`, which the chunk list says is the chunk's length.
    fn decode_into(&self, id: &Id, o: Opened, bases: &Bases, check: IdCheck, out: &mut [u8]) -> Result<()> {
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
    fn with_base<T>(&self, id: &Id, base: &Id, bases: &Bases, f: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        let keys = self.repo.keys();
        let chain = bases.chains.get(base).expect("every patch's base chain was located");
        if let Some(e) = &chain.broken {
            return Err(unreadable_chain(id, &chain.ids, chain.locs.len(), e));
        }
        SCRATCH.with(|s| {
            let (below, next) = &mut *s.borrow_mut();
            let mut len = 0;
            for (j, (member, loc)) in chain.ids.iter().zip(&chain.locs).enumerate().rev() {
                let want = loc.raw_len as usize;
                if next.len() < want {
                    next.resize(want, 0);
                }
                let out = &mut next[..want];
                let failed = match bases.opened.get(member).expect("every chain member was fetched") {
                    Err(e) => return Err(unreadable_chain(id, &chain.ids, j, e)),
                    Ok(Opened::Body { body, pack }) => body.decode_into(keys, IdCheck::Length, out).err().map(|e| StoreError::format(in_pack(member, pack), e)),
                    Ok(Opened::Patch { patch, raw_len, .. }) => blob::apply_patch_into(keys, member, *raw_len, patch, &below[..len], IdCheck::Length, out)
                        .err()
                        .map(|e| StoreError::format(format!("delta {}", member.short()), e)),
                };
                if let Some(e) = failed {
                    return Err(unreadable_chain(id, &chain.ids, j, &e));
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
        wanted.sort_unstable_by_key(|(_, l)| (l.pack, l.offset));
        let mut spans: Vec<Span> = Vec::new();
        for (i, loc) in wanted {
            let (start, end) = (u64::from(loc.offset), u64::from(loc.offset) + u64::from(loc.stored_len));
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
                            let at = (u64::from(loc.offset) - s.start) as usize;
                            self.open(&ids[*i], loc, &b[at..at + loc.stored_len as usize])
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

/// The bases below a delta, nearest first, down to a whole chunk, as the index locates them.
struct BaseChain {
    /// The members' ids; one more than `locs` when the chain is broken.
    ids: Vec<Id>,
    /// The members' locations.
    locs: Vec<BlobLocation>,
    /// Why the member after the last located one cannot be read: it is not in the index, is not a
    /// chunk, or would make the chain deeper than [`MAX_DELTA_DEPTH`] (a loop does too).
    broken: Option<StoreError>,
}

impl BaseChain {
    /// Follow the index from `base` down to a whole chunk.
    fn locate(index: &Index, base: Id) -> BaseChain {
        let mut chain = BaseChain { ids: vec![base], locs: Vec::new(), broken: None };
        loop {
            let id = *chain.ids.last().expect("not empty");
            match locate(index, &id, BlobKind::Chunk) {
                Err(e) => chain.broken = Some(e),
                Ok(loc) => {
                    chain.locs.push(loc);
                    if let Some(d) = loc.delta {
                        chain.ids.push(d.base);
                        if chain.locs.len() < usize::from(MAX_DELTA_DEPTH) {
                            continue;
                        }
                        chain.broken = Some(chain_too_deep(&d.base));
                    }
                }
            }
            return chain;
        }
    }
}

/// The base chains a batch of patches needs, and their members' authenticated blobs.
struct Bases {
    /// Each patch's chain, by the patch's base.
    chains: HashMap<Id, BaseChain>,
    /// Every member of every chain, fetched once.
    opened: HashMap<Id, Result<Opened>>,
}

thread_local! {
    /// Two buffers a chain is rebuilt in, member after member ([`PackReader::with_base`]).
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The error of delta `top` whose base chain `ids` (nearest first) cannot be read because member
/// `failed` cannot, for `err`: each member above names the one below it.
fn unreadable_chain(top: &Id, ids: &[Id], failed: usize, err: &dyn std::fmt::Display) -> StoreError {
    let above = |i: usize| if i == 0 { top } else { &ids[i - 1] };
    let mut e = unreadable_base(above(failed), &ids[failed], err);
    for i in (0..failed).rev() {
        e = unreadable_base(above(i), &ids[i], &e);
    }
    e
}

/// Delta `id` cannot be rebuilt: its base `base` cannot be read, for `err`.
fn unreadable_base(id: &Id, base: &Id, err: &dyn std::fmt::Display) -> StoreError {
    StoreError::format(
        format!("chunk {}", id.short()),
        FormatError::malformed("delta", format!("its base {} cannot be read: {err}", base.short())),
    )
}

fn chain_too_deep(base: &Id) -> StoreError {
    StoreError::format(
        format!("chunk {}", base.short()),
        FormatError::malformed("delta", format!("delta chain is deeper than {MAX_DELTA_DEPTH} (or loops)")),
    )
}

/// Look `id` up and check it is of `kind` (a chunk may be stored as a delta).
fn locate(index: &Index, id: &Id, kind: BlobKind) -> Result<BlobLocation> {
    let loc = index.locate(id)?;
    if loc.kind != kind && !(kind == BlobKind::Chunk && loc.kind == BlobKind::Delta) {
        return Err(StoreError::format(
            format!("blob {}", id.short()),
            FormatError::malformed("blob", format!("is a {:?}, expected a {kind:?}", loc.kind)),
        ));
    }
    Ok(loc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::blob::{Codec, DeltaRef};
    use repo_format::index_segment::IndexSegment;

    /// A chain is followed through the index down to its whole chunk, and stops, naming the member
    /// it cannot read, at a base missing from the index, at a blob that is no chunk, past
    /// `MAX_DELTA_DEPTH` bases, and in a loop.
    #[test]
    fn base_chains_are_located_to_their_root_or_to_the_member_that_breaks_them() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = Index::open_write(dir.path(), std::time::Duration::ZERO, false).unwrap();
        let id = |n: u8| Id([n; 32]);
        // Blob n is a delta on `base(n)`, or whole when that is None. 1-3: a chain to root 1.
        // 11-20: ten deltas on root 10. 31 sits on 30, which is missing. 41 sits on tree node 40.
        // 50 and 51 sit on each other.
        let base = |n: u8| match n {
            2..=3 | 11..=20 | 31 | 41 => Some(n - 1),
            50 => Some(51),
            51 => Some(50),
            _ => None,
        };
        let entry = |n: u8| repo_format::pack::PackEntry {
            id: id(n),
            kind: match (n, base(n)) {
                (40, _) => BlobKind::TreeNode,
                (_, Some(_)) => BlobKind::Delta,
                (_, None) => BlobKind::Chunk,
            },
            codec: Codec::Zstd,
            offset: 8 + 100 * u32::from(n),
            stored_len: 60,
            raw_len: 4000,
            delta: base(n).map(|b| DeltaRef { base: id(b), depth: 1 }),
        };
        let entries = [1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 31, 40, 41, 50, 51].map(entry).to_vec();
        let seg = IndexSegment { packs: vec![PackIndex { pack_id: id(99), pack_len: 10_000, entries }] };
        index.apply_segment(&id(98), &seg).unwrap();
        let located = |n: u8| {
            let c = BaseChain::locate(&index, id(n));
            let ids: Vec<u8> = c.ids.iter().map(|i| i.0[0]).collect();
            assert_eq!(c.locs.len() + usize::from(c.broken.is_some()), ids.len());
            (ids, c.broken.map(|e| e.to_string()))
        };
        assert_eq!(located(3), (vec![3, 2, 1], None));
        assert_eq!(located(1), (vec![1], None), "a whole chunk is its own chain");
        let deepest = 10 + MAX_DELTA_DEPTH;
        assert_eq!(located(deepest).0, (10..=deepest).rev().collect::<Vec<_>>(), "{MAX_DELTA_DEPTH} deltas and their root");
        let (ids, broken) = located(deepest + 1);
        assert_eq!(ids.len(), usize::from(MAX_DELTA_DEPTH) + 1);
        assert!(broken.unwrap().contains("deeper than"));
        let (ids, broken) = located(31);
        assert_eq!(ids, [31, 30]);
        assert!(broken.unwrap().contains(&id(30).short()), "the missing member is named");
        assert!(located(41).1.unwrap().contains("TreeNode"), "a tree node is no base");
        assert!(located(50).1.unwrap().contains("deeper than"), "a loop ends at the depth limit");
        // A delta on 31 fails naming each member down to the one that is missing.
        let chain = BaseChain::locate(&index, id(31));
        let e = unreadable_chain(&id(32), &chain.ids, chain.locs.len(), chain.broken.as_ref().unwrap()).to_string();
        let (top, first) = (e.find(&id(32).short()).unwrap(), e.find(&id(31).short()).unwrap());
        assert!(top < first && first < e.find(&id(30).short()).unwrap(), "{e}");
    }
}
