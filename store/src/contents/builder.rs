//! The table of contents built during an ingest: the stream's first bytes tell its format
//! ([`crate::dump::recognize`] of the same [`EDGE`] bytes the manifest's format is told from), and
//! the rest goes through that format's parser as it passes, with no second read of the dump. A
//! parser that panics (a bug, never the dump's fault) costs the table of contents, never the dump:
//! the snapshot is stored without one.

use toc::{Toc, TocParser};

use super::parser_for;
use crate::dump::{self, EDGE};

/// Builds the table of contents of a stream fed to it in order.
pub struct Builder {
    key: [u8; 32],
    state: State,
}

enum State {
    /// The stream's first bytes, until there are enough to recognise its format.
    Deciding(Vec<u8>),
    /// The format's parser.
    Parsing { format: &'static str, parser: Box<dyn TocParser + Send> },
    /// A stream without a parser, or whose parser failed.
    Off,
}

/// `f`'s result, or `None` if it panicked.
pub(super) fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

impl Builder {
    /// A builder whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Builder { key, state: State::Deciding(Vec::new()) }
    }

    /// The stream's next bytes.
    pub fn feed(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Parsing { parser, .. } => {
                if guarded(|| parser.feed(data)).is_none() {
                    self.state = State::Off;
                }
            }
            State::Off => {}
            State::Deciding(head) => {
                head.extend_from_slice(data);
                if head.len() >= EDGE {
                    self.decide();
                }
            }
        }
    }

    fn decide(&mut self) {
        let State::Deciding(head) = &mut self.state else { return };
        let head = std::mem::take(head);
        self.state = State::Off;
        let format = dump::recognize(&head[..head.len().min(EDGE)], &[]).format.map(|f| f.name());
        if let Some((format, mut parser)) = format.and_then(|f| Some((f, parser_for(f, self.key)?)))
            && guarded(|| parser.feed(&head)).is_some()
        {
            self.state = State::Parsing { format, parser };
        }
    }

    /// The objects completed since the last call (none before the format is known).
    pub fn take_objects(&mut self) -> Vec<toc::Object> {
        match &mut self.state {
            State::Parsing { parser, .. } => match guarded(|| parser.take_objects()) {
                Some(objects) => objects,
                None => {
                    self.state = State::Off;
                    Vec::new()
                }
            },
            State::Deciding(_) | State::Off => Vec::new(),
        }
    }

    /// The stream has ended: its format and the rest of its table of contents (the objects not
    /// taken yet), if it has a parser.
    pub fn finish(mut self) -> Option<(&'static str, Toc)> {
        self.decide();
        match self.state {
            State::Parsing { format, parser } => guarded(|| parser.finish()).map(|toc| (format, toc)),
            State::Deciding(_) | State::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parser with a bug: it panics on its second piece.
    struct Buggy(u32);

    impl TocParser for Buggy {
        fn feed(&mut self, _: &[u8]) {
            self.0 += 1;
            assert!(self.0 < 2, "a bug");
        }
        fn take_objects(&mut self) -> Vec<toc::Object> {
            Vec::new()
        }
        fn finish(self: Box<Self>) -> Toc {
            Toc::default()
        }
    }

    #[test]
    fn a_parser_that_panics_costs_the_table_of_contents_not_the_ingest() {
        let mut b = Builder { key: [0; 32], state: State::Parsing { format: "pg_dump-plain", parser: Box::new(Buggy(0)) } };
        b.feed(b"one");
        b.feed(b"two");
        assert!(b.take_objects().is_empty());
        assert!(b.finish().is_none(), "no table of contents from a parser that failed");
    }
}
