//! Line numbers and counts, kept in input order: which line of which input each malformed unit is,
//! and the messages that say so.

use super::printable::printable;
use crate::input::framing::BlockKind;
use crate::parse::block::{OVERSIZED, ParsedBlock};

/// How malformed lines are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reports {
    /// The filter's way: the first `limit` one by one, with their line numbers, then only counted.
    Lines { limit: u64 },
    /// `credtrail key`'s: malformed records only counted (they are forwarded with an empty key);
    /// the first piece of an oversized line said not keyed.
    Keying,
}

pub struct Tally {
    names: Vec<String>,
    reports: Reports,
    source: u32,
    line_base: u64,
    pub records: u64,
    pub malformed: u64,
    /// Blocks whose parse failed: their lines are lost.
    pub lost_blocks: u64,
}

impl Tally {
    pub fn new(names: Vec<String>, reports: Reports) -> Tally {
        Tally {
            names,
            reports,
            source: u32::MAX,
            line_base: 0,
            records: 0,
            malformed: 0,
            lost_blocks: 0,
        }
    }

    /// Counts a block and returns the messages it deserves, in order after `note`.
    pub fn account(&mut self, source: u32, block: Option<&ParsedBlock>, note: Option<String>) -> Vec<String> {
        if source != self.source {
            self.source = source;
            self.line_base = 0;
        }
        let mut messages: Vec<String> = note.map(|n| printable(&n).into_owned()).into_iter().collect();
        let Some(block) = block else { return messages };
        let name = self.names.get(source as usize).map_or("<input>", String::as_str);
        self.records += u64::from(block.records);
        let limit = match self.reports {
            Reports::Lines { limit } => limit,
            Reports::Keying => 0,
        };
        for (unit, m) in &block.malformed {
            self.malformed += 1;
            let line = self.line_base + u64::from(block.units[*unit as usize].line) + 1;
            report(&mut messages, self.malformed, limit, || {
                printable(&format!("credtrail: {name}:{line}: malformed: {}", m.0)).into_owned()
            });
        }
        if let BlockKind::Oversized { first, last } = block.kind {
            if first {
                self.malformed += 1;
                let line = self.line_base + 1;
                match self.reports {
                    Reports::Lines { .. } => report(&mut messages, self.malformed, limit, || {
                        format!("credtrail: {name}:{line}: malformed: {OVERSIZED}")
                    }),
                    Reports::Keying => messages.push(format!(
                        "credtrail: {name}: a line longer than --max-line-bytes was not keyed"
                    )),
                }
            }
            if last {
                self.line_base += 1;
            }
        } else {
            self.line_base += u64::from(block.lines);
        }
        messages
    }
}

/// Reports the first `limit` malformed lines one by one, then says that only the count goes on.
fn report(messages: &mut Vec<String>, n: u64, limit: u64, msg: impl FnOnce() -> String) {
    if n <= limit {
        messages.push(msg());
    }
    if n == limit {
        messages.push(format!(
            "credtrail: {limit} malformed lines reported; further ones are only counted in the summary"
        ));
    }
}
