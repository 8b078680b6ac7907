//! Blobs: the sealed unit stored in packs (a data chunk, a chunk-list node, or a chunk stored as a
//! delta against a base chunk).
//!
//! Sealing: compress the plaintext with zstd (kept only if smaller), then seal it in the envelope
//! with associated data `kind || codec || id`, so a blob cannot be swapped for another id, kind or
//! codec without failing authentication. Opening re-hashes the plaintext and compares it with the
//! id, so a reader never returns bytes other than the ones that were stored.
//!
//! A delta blob (format version 2) is one zstd frame of the chunk compressed with its base chunk's
//! plaintext as a raw-content dictionary; its associated data adds the base id. It is opened in two
//! steps, because the base must be read first: [`open_patch`] authenticates the frame and
//! [`apply_patch`] rebuilds the chunk from the base and checks it against the id.

use std::cell::RefCell;
use std::ptr::NonNull;

use crate::anchored::{AnchoredMatcher, RawSeq};
use crate::crypto::{Keys, OVERHEAD};
use crate::{FormatError, Id};
use zstd::zstd_safe::zstd_sys as zs;

const KIND: &str = "blob";

/// Largest plaintext a blob may hold (the chunker's maximum is far below it).
pub const MAX_RAW_LEN: u32 = 16 * 1024 * 1024;

/// What a blob's plaintext is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlobKind {
    /// A chunk of a dump stream; id = keyed BLAKE3 (chunk key) of the plaintext.
    Chunk = 1,
    /// A chunk-list node ([`crate::tree`]); id = keyed BLAKE3 (node key) of the plaintext.
    TreeNode = 2,
    /// A chunk stored as a zstd patch against a base chunk (format version 2); id = the chunk id
    /// of the rebuilt plaintext.
    Delta = 3,
}

impl BlobKind {
    /// Parse the stored byte.
    pub fn from_u8(b: u8) -> Result<BlobKind, FormatError> {
        match b {
            1 => Ok(BlobKind::Chunk),
            2 => Ok(BlobKind::TreeNode),
            3 => Ok(BlobKind::Delta),
            _ => Err(FormatError::malformed(KIND, format!("unknown blob kind {b}"))),
        }
    }
}

/// How a blob's plaintext is encoded before sealing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is (zstd did not make it smaller).
    Stored = 0,
    /// One zstd frame.
    Zstd = 1,
}

impl Codec {
    /// Parse the stored byte.
    pub fn from_u8(b: u8) -> Result<Codec, FormatError> {
        match b {
            0 => Ok(Codec::Stored),
            1 => Ok(Codec::Zstd),
            _ => Err(FormatError::malformed(KIND, format!("unknown codec {b}"))),
        }
    }
}

/// Deepest delta chain a reader follows: a delta's base has a smaller depth, plain blobs have 0.
pub const MAX_DELTA_DEPTH: u8 = 8;

/// What a delta blob is a delta against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeltaRef {
    /// The base chunk's id (a chunk or itself a delta).
    pub base: Id,
    /// 1 + the base's depth; at most [`MAX_DELTA_DEPTH`].
    pub depth: u8,
}

/// A sealed blob ready to be appended to a pack.
#[derive(Clone, Debug)]
pub struct SealedBlob {
    /// The blob's id.
    pub id: Id,
    /// What it holds.
    pub kind: BlobKind,
    /// How the sealed plaintext is encoded.
    pub codec: Codec,
    /// Length of the plaintext before compression.
    pub raw_len: u32,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
    /// For a delta blob: its base.
    pub delta: Option<DeltaRef>,
}

fn aad(kind: BlobKind, codec: Codec, id: &Id) -> [u8; 34] {
    let mut a = [0u8; 34];
    a[0] = kind as u8;
    a[1] = codec as u8;
    a[2..].copy_from_slice(&id.0);
    a
}

fn delta_aad(id: &Id, base: &Id) -> [u8; 66] {
    let mut a = [0u8; 66];
    a[..34].copy_from_slice(&aad(BlobKind::Delta, Codec::Zstd, id));
    a[34..].copy_from_slice(&base.0);
    a
}

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static PATCH_CCTX: RefCell<Option<PatchEncoder>> = const { RefCell::new(None) };
    static PATCH_DCTX: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> = const { RefCell::new(None) };
}

fn zstd_error(code: usize) -> std::io::Error {
    std::io::Error::other(zstd::zstd_safe::get_error_name(code))
}

// Anchored patches hand zstd their long matches through `ZSTD_referenceExternalSequences`, which
// zstd's own multithreaded compressor uses to pass long matches to its block compressor: it is not
// in zstd's public header, and its `rawSeq` layout is zstd's internal one. Both are checked
// against this zstd release: a new one must be reviewed before the assertion is moved.
const _: () = assert!(zs::ZSTD_VERSION_NUMBER == 10507, "review ZSTD_referenceExternalSequences and rawSeq for this zstd");

unsafe extern "C" {
    /// Long matches for the next frame, which zstd's block compressor codes with the bytes
    /// between them (zstd 1.5.7, `zstd_compress_internal.h`). The frame must have been begun.
    fn ZSTD_referenceExternalSequences(cctx: *mut zs::ZSTD_CCtx, seq: *mut RawSeq, nb_seq: usize);
}

/// A zstd compression context for patches, driven through zstd's C API: the safe wrapper ties a
/// referenced prefix to the context's lifetime, which a context reused across calls cannot have.
struct PatchEncoder {
    cctx: NonNull<zs::ZSTD_CCtx>,
    anchored: AnchoredMatcher,
    /// Room for the frame being made (zstd's bound for the chunk; a patch is far smaller, and is
    /// returned in a buffer of its own size).
    frame: Vec<u8>,
    /// An anchored patch, decoded to check it.
    rebuilt: Vec<u8>,
}

impl PatchEncoder {
    fn new() -> Result<PatchEncoder, FormatError> {
        // SAFETY: returns a fresh context or null, which is refused.
        NonNull::new(unsafe { zs::ZSTD_createCCtx() })
            .map(|cctx| PatchEncoder { cctx, anchored: AnchoredMatcher::default(), frame: Vec::new(), rebuilt: Vec::new() })
            .ok_or_else(|| FormatError::Compression { kind: KIND, source: std::io::Error::other("zstd context") })
    }

    /// One zstd frame of `plaintext` with `base` as raw prefix, its matches found as `matcher` says
    /// (SPEC.md 6.1, *Patch matcher*). zstd sizes the frame's window to base plus plaintext.
    /// The prefix is referenced for this frame only: the context drops it when the frame starts,
    /// and every call begins by resetting the context.
    fn encode(&mut self, matcher: PatchMatcher, plaintext: &[u8], base: &[u8]) -> Result<Vec<u8>, FormatError> {
        use zs::ZSTD_cParameter::*;
        if let PatchMatcher::Anchored { repetitive } = matcher {
            match self.encode_anchored(plaintext, base)? {
                Some(patch) => return Ok(patch),
                None => return self.encode(if repetitive { PatchMatcher::LongOnly } else { PatchMatcher::Short }, plaintext, base),
            }
        }
        let cctx = self.cctx.as_ptr();
        let out = &mut self.frame;
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(plaintext.len()));
        // SAFETY: `cctx` is a live context owned by `self`; `base` and `plaintext` outlive the
        // ZSTD_compress2 call, after which the context holds no reference to `base` (a prefix is
        // single-use, and the next call resets the context first); `out` has `capacity` writable
        // bytes and its length is set to what zstd reports it wrote.
        unsafe {
            check(zs::ZSTD_CCtx_reset(cctx, zs::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters))?;
            match matcher {
                PatchMatcher::Long(level) => {
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))?;
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1))?;
                }
                PatchMatcher::LongOnly => {
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1))?;
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1))?;
                    // zstd indexes at most the last 2^max(hashLog + 3, chainLog + 1) bytes of a
                    // prefix for short matches: here 2 KiB.
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, 8))?;
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_chainLog, 6))?;
                    // Long matches of at least 128 bytes (zstd's default is 64): more than a
                    // pgbench row, so they span unchanged rows, not a similar row's filler.
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_ldmMinMatch, 128))?;
                }
                PatchMatcher::Short => {
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_strategy, zs::ZSTD_strategy::ZSTD_fast as i32))?;
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, 17))?;
                    check(zs::ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 6))?;
                }
                PatchMatcher::Anchored { .. } => unreachable!("handled above"),
            }
            check(zs::ZSTD_CCtx_refPrefix(cctx, base.as_ptr().cast(), base.len()))?;
            let n = check(zs::ZSTD_compress2(cctx, out.as_mut_ptr().cast(), out.capacity(), plaintext.as_ptr().cast(), plaintext.len()))?;
            out.set_len(n);
        }
        Ok(out.to_vec())
    }

    /// An anchored patch ([`PatchMatcher::Anchored`]): long matches from [`AnchoredMatcher`], the
    /// bytes between them coded by zstd at level 1 with the 2^8-entry short-match table of
    /// [`PatchMatcher::LongOnly`]. The frame is decoded and compared with `plaintext` before it is
    /// returned. `None` when the base has too few anchors, or (a bug, an assertion in debug
    /// builds) when the frame does not rebuild the chunk: the caller falls back to zstd's own
    /// matchers.
    fn encode_anchored(&mut self, plaintext: &[u8], base: &[u8]) -> Result<Option<Vec<u8>>, FormatError> {
        let Some(seqs) = self.anchored.find(base, plaintext) else { return Ok(None) };
        let cctx = self.cctx.as_ptr();
        let out = &mut self.frame;
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(plaintext.len()));
        // SAFETY: `cctx` is a live context owned by `self`. ZSTD_compressBegin_advanced resets it
        // and loads `base` as raw content (`can_be_base` was checked by the caller); the sequences
        // are referenced after the frame began, as zstd requires, and each lies within base and
        // plaintext ([`AnchoredMatcher::find`]). `base`, `plaintext` and `seqs` outlive
        // ZSTD_compressEnd, which ends the frame; the next frame begins with a reset, which drops
        // both references. `out` has `capacity` writable bytes and its length is set to what zstd
        // reports it wrote.
        unsafe {
            let mut cp = zs::ZSTD_getCParams(1, plaintext.len() as u64, base.len());
            cp.hashLog = 8;
            cp.chainLog = 6;
            // A window over base and chunk: every match reaches the base, and the frame is a single
            // segment, as zstd makes it for prefix patches.
            cp.windowLog = (base.len() + plaintext.len()).next_power_of_two().trailing_zeros().max(10);
            let params = zs::ZSTD_parameters {
                cParams: cp,
                fParams: zs::ZSTD_frameParameters { contentSizeFlag: 1, checksumFlag: 0, noDictIDFlag: 1 },
            };
            check(zs::ZSTD_compressBegin_advanced(cctx, base.as_ptr().cast(), base.len(), params, plaintext.len() as u64))?;
            ZSTD_referenceExternalSequences(cctx, seqs.as_mut_ptr(), seqs.len());
            let n = check(zs::ZSTD_compressEnd(cctx, out.as_mut_ptr().cast(), out.capacity(), plaintext.as_ptr().cast(), plaintext.len()))?;
            out.set_len(n);
        }
        let rebuilt = decompress_patch_into(out, base, plaintext.len(), &mut self.rebuilt);
        if rebuilt.is_err() || self.rebuilt != plaintext {
            debug_assert!(false, "an anchored patch does not rebuild its chunk: {:?}", rebuilt.err());
            return Ok(None);
        }
        Ok(Some(out.to_vec()))
    }
}

/// `code`, or the zstd error it stands for.
fn check(code: usize) -> Result<usize, FormatError> {
    // SAFETY: ZSTD_isError reads a plain integer.
    if unsafe { zs::ZSTD_isError(code) } != 0 { Err(FormatError::Compression { kind: KIND, source: zstd_error(code) }) } else { Ok(code) }
}

impl Drop for PatchEncoder {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createCCtx, freed once.
        unsafe { zs::ZSTD_freeCCtx(self.cctx.as_ptr()) };
    }
}

/// How a patch's matches are found (SPEC.md 6.1, *Patch matcher*): the writer's choice. Either
/// way a patch is one zstd frame with the base as raw prefix, which readers decode alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchMatcher {
    /// zstd's long-distance matcher at this level: for rows that repeat with small differences,
    /// where short matches latch onto similar wrong rows.
    Long(i32),
    /// zstd's long-distance matcher at level 1, its matches 128 bytes or longer, with a
    /// 2^8-entry short-match table, which indexes only the base's last 2 KiB: for rows that repeat
    /// with small differences, whose matches into the base are nearly all long ones. Indexing the
    /// base's last 64 KiB (level 1's own table) costs time and makes patches no smaller
    /// (benches/log/2026-11-22-long-only-patches.md).
    LongOnly,
    /// zstd's fast strategy with a 2^17-entry table and 6-byte matches: for data that compresses
    /// little, where short matches find the right rows and cost less than half as much.
    Short,
    /// Long matches found by dbvault at row starts (after a newline or `,(`), the bytes between
    /// them coded by zstd as in `LongOnly`: on dumps, smaller and faster than zstd's matchers'
    /// (benches/log/2026-11-22-anchored-patches.md). A
    /// base with fewer than one row start per KiB gets `LongOnly` if `repetitive` (its rows repeat
    /// with small differences), else `Short`.
    Anchored {
        /// Whether the base's chain root compresses 16x or more.
        repetitive: bool,
    },
}

/// zstd of `plaintext` with `base` as a raw-content dictionary (SPEC.md 6.1).
fn compress_patch(matcher: PatchMatcher, plaintext: &[u8], base: &[u8]) -> Result<Vec<u8>, FormatError> {
    PATCH_CCTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(PatchEncoder::new()?);
        }
        c.as_mut().expect("just set").encode(matcher, plaintext, base)
    })
}

fn decompress_patch(patch: &[u8], base: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    decompress_patch_into(patch, base, raw_len, &mut out)?;
    Ok(out)
}

/// Decode `patch` against `base` into `out` (a slice, or a `Vec`'s spare capacity); the number of
/// bytes written. zstd writes no more than `out` holds.
fn decompress_patch_to<C: zstd::zstd_safe::WriteBuf + ?Sized>(patch: &[u8], base: &[u8], out: &mut C) -> Result<usize, FormatError> {
    if !can_be_base(base) {
        return Err(FormatError::malformed(KIND, "a delta's base starts with zstd's dictionary magic: no writer makes such deltas"));
    }
    PATCH_DCTX.with(|d| {
        let mut d = d.borrow_mut();
        let dctx = d.get_or_insert_with(zstd::zstd_safe::DCtx::create);
        dctx.decompress_using_dict(out, patch, base).map_err(|code| FormatError::Compression { kind: KIND, source: zstd_error(code) })
    })
}

/// Decode `patch` against `base` into `out`, replacing its contents. Room is reserved for
/// `raw_len` bytes and zstd writes no more than `out`'s capacity: a fresh `out` bounds the output by
/// `raw_len`, a reused one (the writer's check of its own patches) by its larger capacity.
fn decompress_patch_into(patch: &[u8], base: &[u8], raw_len: usize, out: &mut Vec<u8>) -> Result<(), FormatError> {
    out.clear();
    out.reserve_exact(raw_len);
    decompress_patch_to(patch, base, out).map(drop)
}

fn compress(level: i32, plaintext: &[u8]) -> Result<Vec<u8>, FormatError> {
    let err = |source| FormatError::Compression { kind: KIND, source };
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|(l, _)| *l != level) {
            *c = Some((level, zstd::bulk::Compressor::new(level).map_err(err)?));
        }
        c.as_mut().expect("just set").1.compress(plaintext).map_err(err)
    })
}

/// Run `f` with this thread's bulk decompressor.
fn with_decompressor<T>(f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>) -> Result<T, FormatError> {
    let err = |source| FormatError::Compression { kind: KIND, source };
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(err)?);
        }
        f(d.as_mut().expect("just set")).map_err(err)
    })
}

fn decompress(data: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
    with_decompressor(|d| d.decompress(data, raw_len))
}

/// Compute the id `plaintext` has as a blob of `kind`.
pub fn blob_id(keys: &Keys, kind: BlobKind, plaintext: &[u8]) -> Id {
    match kind {
        BlobKind::TreeNode => keys.tree_id(plaintext),
        BlobKind::Chunk | BlobKind::Delta => keys.chunk_id(plaintext),
    }
}

/// Compress (zstd at `level`, kept only if smaller) and seal a plaintext whose id is `id`.
pub fn seal(keys: &Keys, kind: BlobKind, id: Id, plaintext: &[u8], level: i32) -> Result<SealedBlob, FormatError> {
    if plaintext.len() > MAX_RAW_LEN as usize {
        return Err(FormatError::malformed(KIND, format!("plaintext of {} bytes exceeds the blob limit", plaintext.len())));
    }
    let compressed = compress(level, plaintext)?;
    let (codec, body) = if compressed.len() < plaintext.len() {
        (Codec::Zstd, compressed.as_slice())
    } else {
        (Codec::Stored, plaintext)
    };
    let mut bytes = Vec::with_capacity(body.len() + OVERHEAD);
    keys.seal_into(&aad(kind, codec, &id), body, &mut bytes)?;
    Ok(SealedBlob { id, kind, codec, raw_len: plaintext.len() as u32, bytes, delta: None })
}

/// zstd's dictionary magic: a buffer starting with it is read as a structured dictionary, not as
/// raw content, by the dictionary calls patches are made and applied with.
const ZSTD_DICT_MAGIC: [u8; 4] = 0xEC30_A437u32.to_le_bytes();

/// Whether a chunk can be a delta base: not when its plaintext starts with zstd's dictionary magic
/// (SPEC.md section 6.1), which zstd would parse as a dictionary instead of using as raw content.
pub fn can_be_base(base_plain: &[u8]) -> bool {
    !base_plain.starts_with(&ZSTD_DICT_MAGIC)
}

/// The zstd patch of chunk `plaintext` against `base_plain` (the base chunk's plaintext), its
/// matches found as `matcher` says, not yet sealed: the caller compares its size with compressing
/// the chunk alone. `None` if the base cannot serve ([`can_be_base`]).
pub fn make_patch(plaintext: &[u8], base_plain: &[u8], matcher: PatchMatcher) -> Result<Option<Vec<u8>>, FormatError> {
    if plaintext.len() > MAX_RAW_LEN as usize {
        return Err(FormatError::malformed(KIND, format!("plaintext of {} bytes exceeds the blob limit", plaintext.len())));
    }
    if !can_be_base(base_plain) {
        return Ok(None);
    }
    compress_patch(matcher, plaintext, base_plain).map(Some)
}

/// Seal a patch made by [`make_patch`] as the delta blob of chunk `id` (`raw_len` plaintext bytes).
pub fn seal_patch(keys: &Keys, id: Id, raw_len: u32, delta: DeltaRef, patch: &[u8]) -> Result<SealedBlob, FormatError> {
    if delta.depth == 0 || delta.depth > MAX_DELTA_DEPTH {
        return Err(FormatError::malformed(KIND, format!("delta depth {} outside 1..={MAX_DELTA_DEPTH}", delta.depth)));
    }
    let mut bytes = Vec::with_capacity(patch.len() + OVERHEAD);
    keys.seal_into(&delta_aad(&id, &delta.base), patch, &mut bytes)?;
    Ok(SealedBlob { id, kind: BlobKind::Delta, codec: Codec::Zstd, raw_len, bytes, delta: Some(delta) })
}

/// Authenticate a delta blob of chunk `id` against `base`; returns its patch (still to be applied
/// with [`apply_patch`]).
pub fn open_patch(keys: &Keys, codec: Codec, id: &Id, base: &Id, raw_len: u32, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
    if codec != Codec::Zstd {
        return Err(FormatError::malformed(KIND, format!("delta {id} has codec {codec:?}; deltas are zstd patches")));
    }
    if raw_len > MAX_RAW_LEN {
        return Err(FormatError::malformed(KIND, format!("raw length {raw_len} exceeds the blob limit")));
    }
    keys.open(KIND, &delta_aad(id, base), sealed)
}

/// Rebuild chunk `id` from its patch and its base's plaintext, and prove the result is `id`.
pub fn apply_patch(keys: &Keys, id: &Id, raw_len: u32, patch: &[u8], base_plain: &[u8]) -> Result<Vec<u8>, FormatError> {
    apply_patch_checked(keys, id, raw_len, patch, base_plain, IdCheck::Prove)
}

/// [`apply_patch`], proving the result's id or only its length, as `check` says.
pub fn apply_patch_checked(keys: &Keys, id: &Id, raw_len: u32, patch: &[u8], base_plain: &[u8], check: IdCheck) -> Result<Vec<u8>, FormatError> {
    let plain = decompress_patch(patch, base_plain, raw_len as usize)?;
    check.run(keys, BlobKind::Chunk, id, raw_len, plain)
}

/// [`apply_patch_checked`] into `out`, which must be `raw_len` bytes long: the chunk is rebuilt
/// in the caller's buffer (a restore's batch) instead of a buffer of its own.
pub fn apply_patch_into(keys: &Keys, id: &Id, raw_len: u32, patch: &[u8], base_plain: &[u8], check: IdCheck, out: &mut [u8]) -> Result<(), FormatError> {
    expect_room(id, raw_len, out)?;
    let n = decompress_patch_to(patch, base_plain, out)?;
    check.run_on(keys, BlobKind::Chunk, id, raw_len, &out[..n])
}

/// Refuse an output buffer whose length is not the blob's plaintext length.
fn expect_room(id: &Id, raw_len: u32, out: &[u8]) -> Result<(), FormatError> {
    if out.len() != raw_len as usize {
        return Err(FormatError::malformed(KIND, format!("{id} is {raw_len} bytes, its reader expects {}", out.len())));
    }
    Ok(())
}

/// Whether opening a blob proves its plaintext's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdCheck {
    /// Hash the plaintext and compare it with the id.
    Prove,
    /// Check the length only, for plaintexts proven another way: a delta's base by the chunk
    /// rebuilt from it (a wrong base cannot rebuild a chunk with the right keyed id), a restored
    /// chunk by the stream digest. Envelopes are authenticated either way; this saves a hash of
    /// every byte.
    Length,
}

impl IdCheck {
    fn run(self, keys: &Keys, kind: BlobKind, id: &Id, raw_len: u32, plain: Vec<u8>) -> Result<Vec<u8>, FormatError> {
        self.run_on(keys, kind, id, raw_len, &plain)?;
        Ok(plain)
    }

    /// Check a decoded plaintext's length, and its id if `self` says so.
    fn run_on(self, keys: &Keys, kind: BlobKind, id: &Id, raw_len: u32, plain: &[u8]) -> Result<(), FormatError> {
        if plain.len() != raw_len as usize {
            return Err(FormatError::malformed(KIND, format!("{id} decoded to {} bytes, index says {raw_len}", plain.len())));
        }
        if self == IdCheck::Prove {
            let actual = blob_id(keys, kind, plain);
            if actual != *id {
                return Err(FormatError::IdMismatch { kind: KIND, expected: *id, actual });
            }
        }
        Ok(())
    }
}

/// Open a sealed chunk or node blob and prove its plaintext has the expected id and length.
/// Delta blobs need their base: see [`open_patch`].
pub fn open(keys: &Keys, kind: BlobKind, codec: Codec, id: &Id, raw_len: u32, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
    open_checked(keys, kind, codec, id, raw_len, sealed, IdCheck::Prove)
}

/// [`open`], proving the plaintext's id or only its length, as `check` says.
pub fn open_checked(keys: &Keys, kind: BlobKind, codec: Codec, id: &Id, raw_len: u32, sealed: &[u8], check: IdCheck) -> Result<Vec<u8>, FormatError> {
    open_body(keys, kind, codec, id, raw_len, sealed)?.decode(keys, check)
}

/// An authenticated chunk or node blob, still compressed: [`Body::decode`] makes its plaintext.
#[derive(Debug)]
pub struct Body {
    kind: BlobKind,
    codec: Codec,
    id: Id,
    raw_len: u32,
    bytes: Vec<u8>,
}

/// Authenticate a sealed chunk or node blob; decoding is left to the caller's choice of buffer.
pub fn open_body(keys: &Keys, kind: BlobKind, codec: Codec, id: &Id, raw_len: u32, sealed: &[u8]) -> Result<Body, FormatError> {
    if kind == BlobKind::Delta {
        return Err(FormatError::malformed(KIND, format!("{id} is a delta blob: it is read together with its base")));
    }
    if raw_len > MAX_RAW_LEN {
        return Err(FormatError::malformed(KIND, format!("raw length {raw_len} exceeds the blob limit")));
    }
    let bytes = keys.open(KIND, &aad(kind, codec, id), sealed)?;
    Ok(Body { kind, codec, id: *id, raw_len, bytes })
}

impl Body {
    /// The plaintext's length, as the index gives it.
    pub fn raw_len(&self) -> u32 {
        self.raw_len
    }

    /// Decompress into a new buffer and check the plaintext as `check` says.
    pub fn decode(self, keys: &Keys, check: IdCheck) -> Result<Vec<u8>, FormatError> {
        let plain = match self.codec {
            Codec::Stored => self.bytes,
            Codec::Zstd => decompress(&self.bytes, self.raw_len as usize)?,
        };
        check.run(keys, self.kind, &self.id, self.raw_len, plain)
    }

    /// [`Body::decode`] into `out`, which must be [`Body::raw_len`] bytes long: the plaintext is
    /// decompressed straight into the caller's buffer (a restore's batch), saving a buffer and a
    /// copy per blob.
    pub fn decode_into(&self, keys: &Keys, check: IdCheck, out: &mut [u8]) -> Result<(), FormatError> {
        expect_room(&self.id, self.raw_len, out)?;
        let n = match self.codec {
            Codec::Stored => {
                if self.bytes.len() == out.len() {
                    out.copy_from_slice(&self.bytes);
                }
                self.bytes.len()
            }
            Codec::Zstd => with_decompressor(|d| d.decompress_to_buffer(&self.bytes, &mut *out))?,
        };
        if n != out.len() {
            return Err(FormatError::malformed(KIND, format!("{} decoded to {n} bytes, index says {}", self.id, self.raw_len)));
        }
        check.run_on(keys, self.kind, &self.id, self.raw_len, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn seal_open_compressible_and_incompressible() {
        let keys = MasterKey::generate().unwrap().keys();
        let text = b"INSERT INTO t VALUES (1, 'abc');\n".repeat(200);
        let id = keys.chunk_id(&text);
        let s = seal(&keys, BlobKind::Chunk, id, &text, 3).unwrap();
        assert_eq!(s.codec, Codec::Zstd);
        assert!(s.bytes.len() < text.len() / 4);
        assert_eq!(open(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap(), text);

        let mut noise = vec![0u8; 5000];
        crate::crypto::fill_random(&mut noise).unwrap();
        let id = keys.chunk_id(&noise);
        let s = seal(&keys, BlobKind::Chunk, id, &noise, 3).unwrap();
        assert_eq!(s.codec, Codec::Stored);
        assert_eq!(open(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap(), noise);
    }

    #[test]
    fn swapped_kind_id_or_codec_fails() {
        let keys = MasterKey::generate().unwrap().keys();
        let text = b"hello hello hello hello hello hello".repeat(10);
        let id = keys.chunk_id(&text);
        let s = seal(&keys, BlobKind::Chunk, id, &text, 3).unwrap();
        assert!(open(&keys, BlobKind::TreeNode, s.codec, &id, s.raw_len, &s.bytes).is_err());
        assert!(open(&keys, s.kind, Codec::Stored, &id, s.raw_len, &s.bytes).is_err());
        let other = keys.chunk_id(b"other");
        assert!(open(&keys, s.kind, s.codec, &other, s.raw_len, &s.bytes).is_err());
        assert!(open(&keys, s.kind, s.codec, &id, s.raw_len + 1, &s.bytes).is_err());
        assert!(open(&keys, BlobKind::Delta, s.codec, &id, s.raw_len, &s.bytes).is_err());
    }

    #[test]
    fn a_patch_is_one_single_segment_frame_even_with_long_distance_matching() {
        // Long-distance matching defaults to a 128 MiB window; a patch must declare none beyond
        // its content (RFC 8878: Single_Segment_flag, bit 5 of the frame header descriptor), so a
        // streaming decoder needs no more memory than the chunk. A 1.1 MB base, 1% of rows changed.
        let row = |i: usize| format!("{i}\t1\t0\t{:84}\n", "").into_bytes();
        let base: Vec<u8> = (0..12_000).flat_map(row).collect();
        let chunk: Vec<u8> = (0..12_000).flat_map(|i| if i % 97 == 0 { row(i + 1_000_000) } else { row(i) }).collect();
        for matcher in [PatchMatcher::Long(1), PatchMatcher::LongOnly, PatchMatcher::Short, PatchMatcher::Anchored { repetitive: true }] {
            let patch = make_patch(&chunk, &base, matcher).unwrap().unwrap();
            assert_eq!(&patch[..4], &0xFD2F_B528u32.to_le_bytes(), "a zstd frame");
            assert_ne!(patch[4] & 0x20, 0, "single segment ({matcher:?})");
            assert_eq!(decompress_patch(&patch, &base, chunk.len()).unwrap(), chunk);
            assert!(patch.len() < chunk.len() / 50, "a patch of 1% changed rows, got {} bytes ({matcher:?})", patch.len());
        }
    }

    #[test]
    fn short_matches_patch_rows_that_compress_little_as_well_as_long_ones() {
        // Rows of random-looking text (a pg_dump of an application table compresses about 2.6x):
        // 1% of rows rewritten, 1% moved. Short matches find the right rows here; the patch is
        // about as small as with the long-distance matcher (SPEC.md 6.1, *Patch matcher*).
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut word = |n: usize| -> String {
            (0..n).map(|_| { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; char::from(b'a' + (rng % 26) as u8) }).collect()
        };
        let rows: Vec<String> = (0..3000).map(|i| format!("{i}\t{}\t{}\t{}\n", word(12), word(30), word(8))).collect();
        let base: Vec<u8> = rows.concat().into_bytes();
        let mut order: Vec<String> = rows.clone();
        for k in 0..30usize {
            order[(k * 7919) % 3000] = format!("{}\t{}\t{}\n", 5000 + k, word(20), word(8));
            let moved = order.remove((k * 104_729) % order.len());
            order.insert((k * 15_485_863) % order.len(), moved);
        }
        let chunk = order.concat().into_bytes();
        let long = make_patch(&chunk, &base, PatchMatcher::Long(1)).unwrap().unwrap();
        let short = make_patch(&chunk, &base, PatchMatcher::Short).unwrap().unwrap();
        assert_eq!(decompress_patch(&short, &base, chunk.len()).unwrap(), chunk);
        assert!(short.len() * 10 <= long.len() * 11, "short matches {} bytes, long {}", short.len(), long.len());
        let anchored = anchored_patch(&chunk, &base);
        assert!(anchored.len() * 20 <= short.len() * 21, "anchored {} bytes, short {}", anchored.len(), short.len());
    }

    /// An anchored patch, made without falling back, and checked to rebuild the chunk.
    fn anchored_patch(chunk: &[u8], base: &[u8]) -> Vec<u8> {
        let patch = PatchEncoder::new().unwrap().encode_anchored(chunk, base).unwrap().expect("anchored, no fallback");
        assert_eq!(&patch[..4], &0xFD2F_B528u32.to_le_bytes(), "a zstd frame");
        assert_ne!(patch[4] & 0x20, 0, "single segment");
        assert_eq!(decompress_patch(&patch, base, chunk.len()).unwrap(), chunk);
        patch
    }

    #[test]
    fn bases_without_row_starts_fall_back_to_zstds_matchers() {
        let base: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 15) as u8 % 64 + 0x40).collect();
        let mut chunk = base.clone();
        chunk[100_000..100_010].copy_from_slice(b"0123456789");
        assert!(PatchEncoder::new().unwrap().encode_anchored(&chunk, &base).unwrap().is_none());
        for (repetitive, fallback) in [(true, PatchMatcher::LongOnly), (false, PatchMatcher::Short)] {
            let patch = make_patch(&chunk, &base, PatchMatcher::Anchored { repetitive }).unwrap().unwrap();
            assert_eq!(patch, make_patch(&chunk, &base, fallback).unwrap().unwrap(), "{fallback:?}");
        }
    }

    #[test]
    fn patches_keep_moved_rows_whole_where_short_matches_fragment() {
        // pgbench-like rows that differ in a few digits; 2% are updated, each leaving its place
        // and reappearing further on (as PostgreSQL writes new row versions after VACUUM). Without
        // long-distance matching, zstd's short-match finder latches onto similar wrong rows after
        // each edit (SPEC.md 6.1, *Patch matcher*). Here: 639 bytes against 2,452 at level 3.
        let row = |i: usize, bal: i64| format!("{i}\t1\t{bal}\t{:84}\n", "").into_bytes();
        let base: Vec<u8> = (0..2000).flat_map(|i| row(i, 0)).collect();
        let mut order: Vec<(usize, i64)> = (0..2000).map(|i| (i, 0)).collect();
        for k in 0..40usize {
            let (i, _) = order.remove((k * 7919) % order.len());
            let to = ((k * 7919) % order.len() + 300 + k * 13) % order.len();
            order.insert(to, (i, -(k as i64) * 37 - 5));
        }
        let chunk: Vec<u8> = order.iter().flat_map(|&(i, b)| row(i, b)).collect();
        let patch = make_patch(&chunk, &base, PatchMatcher::LongOnly).unwrap().unwrap();
        assert_eq!(decompress_patch(&patch, &base, chunk.len()).unwrap(), chunk);
        // A short-match table without the base, and longer long matches, lose next to nothing.
        let long = make_patch(&chunk, &base, PatchMatcher::Long(1)).unwrap().unwrap();
        assert!(patch.len() * 20 <= long.len() * 21, "long only {} bytes, with short matches into the base {}", patch.len(), long.len());
        let short = make_patch(&chunk, &base, PatchMatcher::Short).unwrap().unwrap();
        assert!(patch.len() * 3 < short.len() * 2, "long {} bytes, short {}", patch.len(), short.len());
        let mut short_only = Vec::with_capacity(chunk.len());
        zstd::zstd_safe::CCtx::create().compress_using_dict(&mut short_only, &chunk, &base, 3).unwrap();
        assert!(patch.len() * 2 < short_only.len(), "patch {} bytes, level 3 without long matches {}", patch.len(), short_only.len());
        let anchored = anchored_patch(&chunk, &base);
        assert!(anchored.len() * 20 <= patch.len() * 21, "anchored {} bytes, long only {}", anchored.len(), patch.len());
    }

    #[test]
    fn delta_round_trip_and_binding() {
        let keys = MasterKey::generate().unwrap().keys();
        let base: Vec<u8> = (0..300).flat_map(|i| format!("INSERT INTO t VALUES ({i}, 'row {i}');\n").into_bytes()).collect();
        let mut chunk = base.clone();
        chunk.splice(4000..4010, b"UPDATED ROW".iter().copied());
        let (base_id, id) = (keys.chunk_id(&base), keys.chunk_id(&chunk));
        let patch = make_patch(&chunk, &base, PatchMatcher::Short).unwrap().unwrap();
        assert!(patch.len() < 100, "a one-row change patches small, got {}", patch.len());
        let d = DeltaRef { base: base_id, depth: 1 };
        let s = seal_patch(&keys, id, chunk.len() as u32, d, &patch).unwrap();
        assert_eq!((s.kind, s.delta), (BlobKind::Delta, Some(d)));
        let opened = open_patch(&keys, s.codec, &id, &base_id, s.raw_len, &s.bytes).unwrap();
        assert_eq!(apply_patch(&keys, &id, s.raw_len, &opened, &base).unwrap(), chunk);
        // Another base id fails authentication; another base's bytes fail the id check.
        assert!(open_patch(&keys, s.codec, &id, &id, s.raw_len, &s.bytes).is_err());
        let mut other = base.clone();
        other[6000] ^= 1;
        assert!(apply_patch(&keys, &id, s.raw_len, &opened, &other).is_err());
        assert!(apply_patch(&keys, &id, s.raw_len + 1, &opened, &base).is_err());
        // A base in a chain is checked for its length only: the chunk rebuilt from it is proven.
        let wrong = apply_patch_checked(&keys, &id, s.raw_len, &opened, &other, IdCheck::Length).unwrap();
        assert_ne!(wrong, chunk);
        assert!(apply_patch_checked(&keys, &id, s.raw_len + 1, &opened, &base, IdCheck::Length).is_err());
        assert!(open(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).is_err(), "a delta is not opened alone");
        assert!(seal_patch(&keys, id, 1, DeltaRef { base: base_id, depth: MAX_DELTA_DEPTH + 1 }, &patch).is_err());
    }

    #[test]
    fn decoding_into_a_callers_buffer_checks_as_decoding_into_a_new_one() {
        let keys = MasterKey::generate().unwrap().keys();
        let base: Vec<u8> = (0..300).flat_map(|i| format!("INSERT INTO t VALUES ({i}, 'row {i}');\n").into_bytes()).collect();
        let mut noise = vec![0u8; 3000];
        crate::crypto::fill_random(&mut noise).unwrap();
        for text in [&base, &noise] {
            let id = keys.chunk_id(text);
            let s = seal(&keys, BlobKind::Chunk, id, text, 1).unwrap();
            let body = open_body(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap();
            let mut out = vec![7u8; text.len()];
            body.decode_into(&keys, IdCheck::Prove, &mut out).unwrap();
            assert_eq!(&out, text);
            // A buffer of another length is refused before anything is written into it.
            let mut short = vec![7u8; text.len() - 1];
            assert!(body.decode_into(&keys, IdCheck::Length, &mut short).is_err());
            assert!(short.iter().all(|&b| b == 7));
            // An index claiming a shorter plaintext: zstd finds no room, a stored body too long.
            let less = open_body(&keys, s.kind, s.codec, &id, s.raw_len - 1, &s.bytes).unwrap();
            assert!(less.decode_into(&keys, IdCheck::Length, &mut short).is_err());
            // Proving catches a wrong id; checking the length alone does not look.
            let wrong = keys.chunk_id(b"other");
            let mut sealed_as_wrong = seal(&keys, BlobKind::Chunk, wrong, text, 1).unwrap();
            let wrong_body = open_body(&keys, s.kind, sealed_as_wrong.codec, &wrong, s.raw_len, &sealed_as_wrong.bytes).unwrap();
            assert!(matches!(wrong_body.decode_into(&keys, IdCheck::Prove, &mut out), Err(FormatError::IdMismatch { .. })));
            wrong_body.decode_into(&keys, IdCheck::Length, &mut out).unwrap();
            sealed_as_wrong.bytes[30] ^= 1;
            assert!(open_body(&keys, s.kind, sealed_as_wrong.codec, &wrong, s.raw_len, &sealed_as_wrong.bytes).is_err());
        }
        let mut chunk = base.clone();
        chunk.splice(4000..4010, b"UPDATED ROW".iter().copied());
        let id = keys.chunk_id(&chunk);
        let patch = make_patch(&chunk, &base, PatchMatcher::Anchored { repetitive: false }).unwrap().unwrap();
        let mut out = vec![0u8; chunk.len()];
        apply_patch_into(&keys, &id, chunk.len() as u32, &patch, &base, IdCheck::Prove, &mut out).unwrap();
        assert_eq!(out, chunk);
        let mut other = base.clone();
        other[6000] ^= 1;
        assert!(apply_patch_into(&keys, &id, chunk.len() as u32, &patch, &other, IdCheck::Prove, &mut out).is_err());
        let mut long = vec![0u8; chunk.len() + 1];
        assert!(apply_patch_into(&keys, &id, chunk.len() as u32 + 1, &patch, &base, IdCheck::Length, &mut long).is_err(), "the patch decodes one byte short");
    }

    #[test]
    fn a_chunk_starting_with_zstds_dictionary_magic_is_no_base() {
        // zstd would parse such a base as a dictionary and fail ("Dictionary is corrupted"),
        // which made every ingest with such a chunk in the parent fail.
        let mut base = ZSTD_DICT_MAGIC.to_vec();
        base.extend((0..3000).flat_map(|i| format!("({i},'row {i}'),").into_bytes()));
        let mut chunk = base.clone();
        chunk[5000] = b'X';
        assert!(!can_be_base(&base));
        assert_eq!(make_patch(&chunk, &base, PatchMatcher::Short).unwrap(), None);
        assert!(decompress_patch(b"anything", &base, chunk.len()).is_err());
        base[0] ^= 1;
        assert!(can_be_base(&base) && make_patch(&chunk, &base, PatchMatcher::Short).unwrap().is_some());
    }

    #[test]
    fn sealing_under_a_wrong_id_is_caught_on_open() {
        let keys = MasterKey::generate().unwrap().keys();
        let wrong = keys.chunk_id(b"not this");
        let s = seal(&keys, BlobKind::Chunk, wrong, b"this", 3).unwrap();
        assert!(matches!(open(&keys, s.kind, s.codec, &wrong, 4, &s.bytes), Err(FormatError::IdMismatch { .. })));
    }
}
