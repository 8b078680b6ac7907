//! The table of contents built during an ingest: the stream's first bytes tell its format
//! ([`crate::dump::recognize`], as the manifest records it), and the rest goes through that format's
//! parser as it passes, with no second read of the dump.

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
    /// A stream without a parser.
    Off,
}

impl Builder {
    /// A builder whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Builder { key, state: State::Deciding(Vec::new()) }
    }

    /// The stream's next bytes.
    pub fn feed(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Parsing { parser, .. } => parser.feed(data),
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
        let format = dump::recognize(&head, &[]).format.map(|f| f.name());
        if let Some((format, mut parser)) = format.and_then(|f| Some((f, parser_for(f, self.key)?))) {
            parser.feed(&head);
            self.state = State::Parsing { format, parser };
        }
    }

    /// The objects completed since the last call (none before the format is known).
    pub fn take_objects(&mut self) -> Vec<toc::Object> {
        match &mut self.state {
            State::Parsing { parser, .. } => parser.take_objects(),
            State::Deciding(_) | State::Off => Vec::new(),
        }
    }

    /// The stream has ended: its format and the rest of its table of contents (the objects not
    /// taken yet), if it has a parser.
    pub fn finish(mut self) -> Option<(&'static str, Toc)> {
        self.decide();
        match self.state {
            State::Parsing { format, parser } => Some((format, parser.finish())),
            State::Deciding(_) | State::Off => None,
        }
    }
}
