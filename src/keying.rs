//! `credtrail key`: one `KEY<TAB>RECORD` line per record, for a keyed Kafka producer
//! (`kcat -P -K '\t'`), so that partitioning keeps each instance's records together and in order.
//!
//! KEY is the instance id the detector would shard the record by: the session name of a
//! workload's issue or of an assumed-role session's call (a chained session's: the session name of
//! the workload at the root of its chain), the task of a StopTask, the instance of an address change (interfaces resolved
//! through AttachNetworkInterface / RunInstances seen earlier in the same input), the first instance
//! of a stop/start, the instance a RunInstances response names first (its interfaces must reach that
//! instance's partition). Records tied to no instance (AllocateAddress, other principals' calls, malformed
//! lines) get an empty key, which a Kafka partitioner spreads at random: an allocation id another
//! partition never learns only turns that AssociateAddress into an unnamed change, still accepted
//! within the address-change window.

use crate::config::Config;
use crate::detect::{Resolver, Routed};
use crate::input::framing::BlockKind;
use crate::output::summary::Stats;
use crate::output::tally::{Reports, Tally};
use crate::parse::block::ParsedBlock;
use crate::parse::record::Fact;
use crate::stages::{AfterResolver, Ordered, in_order};
use std::io::{self, Write};

/// The stages of `credtrail key` after the resolver: the key of each unit of the block.
#[derive(Default)]
struct Keying {
    /// By unit: the first instance a fact or a routed step of the unit named.
    keys: Vec<Option<String>>,
}

impl Keying {
    fn key(&mut self, unit: u32, instance: &str) {
        let unit = unit as usize;
        if self.keys.len() <= unit {
            self.keys.resize(unit + 1, None);
        }
        self.keys[unit].get_or_insert_with(|| instance.to_string());
    }

    /// `KEY<TAB>RECORD` for every unit of the block.
    fn render(&mut self, block: &ParsedBlock, buf: &mut Vec<u8>) {
        let keys = std::mem::take(&mut self.keys);
        let mut keys = keys.into_iter();
        for u in &block.units {
            let key = keys.next().flatten();
            buf.extend_from_slice(key.as_deref().unwrap_or("").as_bytes());
            buf.push(b'\t');
            let bytes = block.bytes(u);
            buf.extend_from_slice(bytes.strip_suffix(b"\r").unwrap_or(bytes));
            buf.push(b'\n');
        }
    }
}

impl AfterResolver for Keying {
    fn fact(&mut self, unit: u32, fact: &Fact) {
        // The interface map must reach the partition of the instance it names.
        if let Fact::InterfaceOwner { instance, .. } = fact {
            self.key(unit, instance);
        }
    }

    fn routed(&mut self, unit: u32, r: Routed) {
        self.key(unit, r.instance());
    }
}

pub fn run_key(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let mut ordered = Ordered {
        tally: Tally::new(cfg.inputs.iter().map(|i| i.name()).collect(), Reports::Keying),
        resolver: Resolver::default(),
        stages: Keying::default(),
    };
    let mut output_closed = false;
    let mut buf = Vec::with_capacity(1 << 20);
    let input_errors = in_order(cfg, |source, mut block, note| {
        for m in ordered.step(source, block.as_deref_mut(), note) {
            writeln!(err, "{m}")?;
        }
        // Too long to key or to carry in one Kafka message: reported, not forwarded.
        let Some(block) = block.filter(|b| !matches!(b.kind, BlockKind::Oversized { .. })) else {
            return Ok(true);
        };
        ordered.stages.render(block, &mut buf);
        let written = out.write_all(&buf).and_then(|()| out.flush());
        buf.clear();
        match written {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                output_closed = true;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    })?;
    Ok(Stats {
        records: ordered.tally.records,
        malformed: ordered.tally.malformed,
        input_errors,
        output_closed,
        ..Stats::default()
    })
}
