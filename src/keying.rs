//! `credtrail key`: one `KEY<TAB>RECORD` line per record, for a keyed Kafka producer
//! (`kcat -P -K '\t'`), so that partitioning keeps each instance's records together and in order.
//!
//! KEY is the instance id the detector would shard the record by: the session name of an EC2
//! AssumeRole or an instance session's call, the instance of an address change (interfaces resolved
//! through AttachNetworkInterface / RunInstances seen earlier in the same input), the first instance
//! of a stop/start, the instance a RunInstances response names first (its interfaces must reach that
//! instance's partition). Records tied to no instance (AllocateAddress, other principals' calls, malformed
//! lines) get an empty key, which a Kafka partitioner spreads at random: an allocation id another
//! partition never learns only turns that AssociateAddress into an unnamed change, still accepted
//! within the address-change window.

use crate::config::Config;
use crate::detect::Resolver;
use crate::input::framing::{BlockKind, FrameReader};
use crate::parse::block::BlockParser;
use crate::pipeline::{Stats, open};
use std::io::{self, Write};

pub fn run_key(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let mut parser = BlockParser::with_max_line(cfg.max_line_bytes);
    let mut resolver = Resolver::default();
    let mut stats = Stats::default();
    let mut buf = Vec::with_capacity(1 << 20);
    for input in &cfg.inputs {
        let name = input.name();
        let mut frames = match open(input.clone(), cfg.stop.as_ref()) {
            Ok(r) => FrameReader::new(r, cfg.read_size, cfg.max_line_bytes),
            Err(e) => {
                stats.input_errors += 1;
                writeln!(err, "credtrail: {name}: {e}")?;
                continue;
            }
        };
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    stats.input_errors += 1;
                    writeln!(err, "credtrail: {name}: read error: {e}")?;
                    break;
                }
            };
            if let BlockKind::Oversized { first, .. } = frame.kind {
                // Too long to key or to carry in one Kafka message: reported, not forwarded.
                if first {
                    stats.malformed += 1;
                    writeln!(
                        err,
                        "credtrail: {name}: a line longer than --max-line-bytes was not keyed"
                    )?;
                }
                continue;
            }
            let block = parser.parse(frame);
            stats.records += u64::from(block.records);
            stats.malformed += block.malformed.len() as u64;
            let mut keys: Vec<Option<String>> = vec![None; block.units.len()];
            let mut block = block;
            for (unit, fact) in std::mem::take(&mut block.facts) {
                // The interface map must reach the partition of the instance it names.
                if let crate::parse::record::Fact::InterfaceOwner { instance, .. } = &fact {
                    keys[unit as usize].get_or_insert_with(|| instance.to_string());
                }
                resolver.route(fact, |r| {
                    let k = &mut keys[unit as usize];
                    if k.is_none() {
                        *k = Some(r.instance().to_string());
                    }
                });
            }
            for (u, key) in block.units.iter().zip(keys) {
                buf.extend_from_slice(key.as_deref().unwrap_or("").as_bytes());
                buf.push(b'\t');
                let bytes = block.bytes(u);
                buf.extend_from_slice(bytes.strip_suffix(b"\r").unwrap_or(bytes));
                buf.push(b'\n');
            }
            if let Err(e) = out.write_all(&buf).and_then(|()| out.flush()) {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    stats.output_closed = true;
                    return Ok(stats);
                }
                return Err(e);
            }
            buf.clear();
        }
    }
    Ok(stats)
}
