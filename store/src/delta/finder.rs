//! Base selection: which chunk of the parent snapshot a new chunk is probably an edit of.
//!
//! A daily dump is yesterday's dump with scattered edits, so a new chunk is best compared with the
//! parent's chunk that sat at the same place (SPEC.md, "Delta blobs"). [`BaseFinder`] walks the
//! parent's chunk list alongside the new stream, keeping a bounded window of it: every duplicate
//! chunk found in the window anchors the two streams (this end in the new stream is that end in
//! the parent), and a new chunk's base is the parent chunk that overlaps most the same byte range
//! counted from the last anchor. Memory is bounded by the window, whatever the dump size.

use std::collections::{HashMap, VecDeque};

use repo_format::Id;

use repo_format::tree::StreamChunk;

/// Parent entries kept behind the last anchor (a later duplicate may sit a little earlier).
const BEHIND: u64 = 4096;
/// Most parent entries held at once (about 3 MiB; 64 Ki chunks cover about 300 MB of dump).
const MAX_WINDOW: usize = 1 << 16;
/// Parent entries read ahead of the last anchor, so data that moved forward is found.
const AHEAD: u64 = 1024;
/// Further parent entries read on each duplicate the window does not hold.
const MISS_STEP: u64 = 16;

fn short(id: &Id) -> u128 {
    u128::from_le_bytes(id.0[..16].try_into().expect("16 bytes"))
}

/// Proposes, for each new chunk of a stream, the parent chunk at the same position.
pub struct BaseFinder<'a> {
    walk: Option<Box<dyn Iterator<Item = StreamChunk> + 'a>>,
    /// Parent chunks `first..first + window.len()`, in stream order.
    window: VecDeque<StreamChunk>,
    first: u64,
    /// Where each windowed parent chunk sits (its last position, for repeated chunks).
    at: HashMap<u128, u64>,
    /// (end offset in the new stream, parent index) of the last duplicate found in the window.
    anchor: Option<(u64, u64)>,
}

impl<'a> BaseFinder<'a> {
    /// A finder walking the parent's chunk list, in stream order; `None` (no parent) proposes
    /// nothing. A damaged parent should end the walk early: the ingest goes on without proposals.
    pub fn new(walk: Option<Box<dyn Iterator<Item = StreamChunk> + 'a>>) -> Self {
        BaseFinder { walk, window: VecDeque::new(), first: 0, at: HashMap::new(), anchor: None }
    }

    /// Read parent entries until index `upto` is in the window (or the parent ends). A damaged
    /// parent ends the walk: the ingest goes on without proposals, nothing is lost.
    fn fill(&mut self, upto: u64) {
        while self.first + self.window.len() as u64 <= upto {
            let Some(walk) = self.walk.as_mut() else { return };
            match walk.next() {
                Some(c) => {
                    self.at.insert(short(&c.id), self.first + self.window.len() as u64);
                    self.window.push_back(c);
                    if self.window.len() > MAX_WINDOW {
                        self.pop_front();
                    }
                }
                None => self.walk = None,
            }
        }
    }

    fn pop_front(&mut self) {
        if let Some(c) = self.window.pop_front() {
            if self.at.get(&short(&c.id)) == Some(&self.first) {
                self.at.remove(&short(&c.id));
            }
            self.first += 1;
        }
    }

    /// A duplicate chunk ending at `end` in the new stream: anchor on it if the parent has it.
    pub fn duplicate(&mut self, id: &Id, end: u64) {
        if self.anchor.is_none() {
            self.fill(AHEAD);
        }
        if let Some(&i) = self.at.get(&short(id)) {
            self.anchor = Some((end, i));
            while self.first + BEHIND < i {
                self.pop_front();
            }
            self.fill(i + AHEAD);
        } else {
            // Not in the window: read a little further (the parent may have had data this stream
            // lacks; each miss brings the window closer to where the streams meet again).
            self.fill(self.first + self.window.len() as u64 + MISS_STEP);
        }
    }

    /// The proposed base of a new chunk spanning `offset..offset + len` in the new stream.
    pub fn propose(&mut self, offset: u64, len: u64) -> Option<Id> {
        let (cur_end, parent_start) = match self.anchor {
            Some((end, i)) => {
                let c = self.window.get((i.checked_sub(self.first)?) as usize)?;
                (end, c.offset + c.len)
            }
            None => (0, 0),
        };
        let target = parent_start + offset.checked_sub(cur_end)?;
        // Make sure the window reaches past the target range.
        loop {
            let reach = self.window.back().map_or(0, |c| c.offset + c.len);
            if reach >= target + len || self.walk.is_none() {
                break;
            }
            let n = self.first + self.window.len() as u64;
            self.fill(n + 64);
        }
        let j = self.window.partition_point(|c| c.offset + c.len <= target);
        let a = self.window.get(j)?;
        if a.offset > target + len {
            return None;
        }
        // The parent chunk overlapping `target..target + len` the most: this one or the next.
        let in_a = (a.offset + a.len).min(target + len) - a.offset.max(target);
        match self.window.get(j + 1) {
            Some(b) if (target + len).saturating_sub(b.offset).min(b.len) > in_a => Some(b.id),
            _ => Some(a.id),
        }
    }
}
