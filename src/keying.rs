//! `credtrail key`: one `KEY<TAB>RECORD` line per record, for a keyed Kafka producer
//! (`kcat -P -K '\t'`), so that partitioning keeps each instance's records together and in order.
//!
//! KEY is the instance id the detector would shard the record by: the session name of a
//! workload's issue or of an assumed-role session's call (a chained session's: the session name of
//! the workload at the root of its chain), the task of a StopTask, the instance of an address change (interfaces resolved
//! through AttachNetworkInterface / RunInstances seen earlier in the same input), the instance of a
//! stop/start or a launch. A record that names several instances (a StopInstances of many, a
//! RunInstances launching several, an instance session stopping others) is written once per
//! instance, keyed by it, with `"credtrail_key":{"instance":…}`: each partition needs the restart or
//! the interfaces of its own instances, and a consumer with `--keyed` applies only those (see
//! [`Fact::Scoped`]). Records tied to no instance (AllocateAddress, other principals' calls, malformed
//! lines) get an empty key, which a Kafka partitioner spreads at random.
//!
//! What a partition's consumer needs from records keyed elsewhere travels with the record that
//! needs it: an address change whose allocation id or network interface this stage resolved (from
//! an AllocateAddress, AttachNetworkInterface or RunInstances earlier in its input, wherever those
//! were keyed) gets a top-level `credtrail_key` field with the map entries it was resolved by,
//! `{"allocation":{"id":…,"ip":…},"interface":{"id":…,"instance":…}}`. A consumer run with
//! `--keyed` learns them just before the change, so it resolves the change as one process over the
//! whole input would. Without `--keyed` the field is ignored: a record's top-level keys are
//! CloudTrail's, and only this stage writes this one, so an input that already has it on an
//! address change is reported and not forwarded (a consumer trusting it would take a forged
//! address).

use crate::config::Config;
use crate::detect::{Resolver, Routed};
use crate::input::framing::BlockKind;
use crate::output::summary::Stats;
use crate::output::tally::{Reports, Tally};
use crate::parse::block::ParsedBlock;
use crate::parse::record::Fact;
use crate::stages::in_order;
use std::io::{self, Write};

/// What `credtrail key` writes for one unit.
#[derive(Default, Clone)]
struct UnitKey {
    /// The instances the unit's facts and routed steps named, first named first.
    instances: Vec<String>,
    /// The `credtrail_key` object to add, if the unit's address change needed map entries.
    forwarded: Option<serde_json::Map<String, serde_json::Value>>,
    /// The input already carried `credtrail_key` on an address change: reported, not forwarded.
    forged: bool,
}

/// The stages of `credtrail key` after the resolver: the key of each unit of the block.
#[derive(Default)]
struct Keying {
    keys: Vec<UnitKey>,
}

impl Keying {
    fn unit(&mut self, unit: u32) -> &mut UnitKey {
        let unit = unit as usize;
        if self.keys.len() <= unit {
            self.keys.resize(unit + 1, UnitKey::default());
        }
        &mut self.keys[unit]
    }

    fn key(&mut self, unit: u32, instance: &str) {
        let u = self.unit(unit);
        if !u.instances.iter().any(|i| i == instance) {
            u.instances.push(instance.to_string());
        }
    }

    /// A fact of `unit`, before the resolver takes it: what it needs from the resolver's maps.
    fn fact(&mut self, unit: u32, fact: &Fact, resolver: &Resolver) {
        use serde_json::json;
        match fact {
            // The interface map must reach the partition of the instance it names.
            Fact::InterfaceOwner { instance, .. } => self.key(unit, instance),
            Fact::Forwarded(_) | Fact::Scoped { .. } => self.unit(unit).forged = true,
            Fact::AddressChange { .. } => {
                for entry in resolver.forwardable(fact) {
                    let u = self.unit(unit);
                    let f = u.forwarded.get_or_insert_with(serde_json::Map::new);
                    match entry {
                        Fact::Allocation { allocation_id, ip } => {
                            f.insert(
                                "allocation".into(),
                                json!({"id": allocation_id, "ip": ip.to_string()}),
                            );
                        }
                        Fact::InterfaceOwner { interface, instance } => {
                            f.insert("interface".into(), json!({"id": interface, "instance": instance}));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// `KEY<TAB>RECORD` for every unit of the block; the messages for units not forwarded.
    fn render(&mut self, block: &ParsedBlock, name: &str, buf: &mut Vec<u8>) -> Vec<String> {
        let keys = std::mem::take(&mut self.keys);
        let mut keys = keys.into_iter();
        let mut messages = Vec::new();
        for u in &block.units {
            let k = keys.next().unwrap_or_default();
            let bytes = block.bytes(u);
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            if k.forged {
                messages.push(format!(
                    "credtrail: {name}:{}: a record that already has credtrail_key, which only \
                     credtrail key writes: not forwarded",
                    u.line + 1
                ));
                continue;
            }
            if k.instances.len() < 2 {
                let key = k.instances.first().map_or("", String::as_str);
                line(buf, key, bytes, k.forwarded.clone());
                continue;
            }
            // A record naming several instances (a stop or start of many, a launch): one copy
            // per instance's partition, each saying which instance it is for.
            for instance in &k.instances {
                let mut f = k.forwarded.clone().unwrap_or_default();
                f.insert("instance".into(), instance.as_str().into());
                line(buf, instance, bytes, Some(f));
            }
        }
        messages
    }

    fn routed(&mut self, unit: u32, r: Routed) {
        self.key(unit, r.instance());
    }
}

/// `KEY<TAB>RECORD`, the record with `credtrail_key` added when there is one.
fn line(
    buf: &mut Vec<u8>,
    key: &str,
    bytes: &[u8],
    forwarded: Option<serde_json::Map<String, serde_json::Value>>,
) {
    buf.extend_from_slice(key.as_bytes());
    buf.push(b'\t');
    match forwarded {
        Some(f) => {
            let close = bytes.iter().rposition(|&c| c == b'}').unwrap_or(bytes.len());
            buf.extend_from_slice(&bytes[..close]);
            buf.extend_from_slice(b",\"credtrail_key\":");
            buf.extend_from_slice(serde_json::Value::Object(f).to_string().as_bytes());
            buf.extend_from_slice(b"}");
        }
        None => buf.extend_from_slice(bytes),
    }
    buf.push(b'\n');
}

pub fn run_key(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let names: Vec<String> = cfg.inputs.iter().map(|i| i.name()).collect();
    let mut tally = Tally::new(names.clone(), Reports::Keying);
    let mut resolver = Resolver::default();
    let mut keying = Keying::default();
    let mut output_closed = false;
    let mut forged = 0;
    let mut buf = Vec::with_capacity(1 << 20);
    let input_errors = in_order(cfg, |source, mut block, note| {
        for m in tally.account(source, block.as_deref(), note) {
            writeln!(err, "{m}")?;
        }
        if let Some(block) = block.as_deref_mut() {
            // As the driver of the filter's stages does, with the resolver's maps at hand for
            // what each address change needs.
            for (unit, fact) in std::mem::take(&mut block.facts) {
                keying.fact(unit, &fact, &resolver);
                resolver.route(fact, |r| keying.routed(unit, r));
            }
        }
        // Too long to key or to carry in one Kafka message: reported, not forwarded.
        let Some(block) = block.filter(|b| !matches!(b.kind, BlockKind::Oversized { .. })) else {
            return Ok(true);
        };
        let name = names.get(source as usize).map_or("", String::as_str);
        for m in keying.render(block, name, &mut buf) {
            forged += 1;
            writeln!(err, "{m}")?;
        }
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
        records: tally.records,
        malformed: tally.malformed + forged,
        input_errors,
        output_closed,
        digests_skipped: cfg.digests_skipped,
        ..Stats::default()
    })
}
