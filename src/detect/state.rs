//! The session table saved to a file, so that a restart is not blind for up to six hours (until
//! every instance's next credential refresh).
//!
//! Layout: a 16-byte magic, a format version (u32 LE), the payload length (u64 LE) and its CRC-32
//! (u32 LE), then the payload (postcard). Writes go to a temporary file of a name no one can guess
//! in the same folder (created with `O_EXCL`, by `tempfile`), are fsynced and renamed over the old
//! file, so a crash leaves either the old or the new state.

use super::peers::SavedPeers;
use super::rows::RowV1;
use super::{Resolver, Row, Shard};
use crate::config::Config;
use crate::input::framing::BlockKind;
use crate::order::{Entry, Watermark};
use crate::output::findings::Incident;
use crate::output::judge::Judgement;
use crate::parse::addresses::Net;
use crate::parse::block::{ParsedBlock, Unit};
use crate::parse::event_time::Millis;
use crate::parse::record::ChangeTarget;
use crate::stages::Held;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"credtrail-state\n";
/// 2 added [`Estate`] after the rows; 3: event time (the reorder window, the dedupe set, the
/// alerted ids, where to resume); 4: each session's workload kind and the chained sessions'
/// routes (a file of version 3 still reads, every session in it an instance's); 5: the
/// same-account locks and the open incidents (a file of version 4 reads without them); 6: the
/// window's early releases (a file of version 5 reads without them, as if none had been); 7: the
/// stopped tasks and the functions attached to a VPC (a file of version 6 reads without them: its
/// stopped tasks' sessions had ended, and a function's VPC is learnt again from its next
/// CreateFunction or UpdateFunctionConfiguration).
const VERSION: u32 = 7;
const HEADER: usize = 16 + 4 + 8 + 4;

/// Everything verdicts depend on, as of some point in the input.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub watermark: Option<Millis>,
    /// Allocation id → Elastic IP, oldest first.
    pub allocations: Vec<(CompactString, IpAddr)>,
    /// Network interface → instance, oldest first.
    pub interfaces: Vec<(CompactString, CompactString)>,
    /// Instance id (a session name) → its rows, sorted by instance id.
    pub rows: Vec<(CompactString, Vec<Row>)>,
    /// What the rules beyond the blog's remember (rules 9, 14 to 17).
    pub estate: Estate,
    /// Alerted `eventID`s per partition of the table: `(partition, id hash, eventTime)`.
    pub alerted: Vec<(u8, u64, Millis)>,
    /// Where the input stands: the reorder window, the dedupe set, the position.
    pub order: OrderState,
    /// Chained sessions (by the resolver's seeded hash of their key) → the shard key of their
    /// chain's root, and until when.
    pub chains: Vec<(u64, CompactString, Millis)>,
    /// The seed of that hash (0: none yet).
    pub chain_seed: u64,
    /// What the verdicts become beyond the table: the same-account locks (alerts and `--emit
    /// all`) and the open incidents (`--emit findings`). A version-4 payload is a version-5
    /// payload without it.
    pub judging: JudgingState,
    /// What the reorder window's early releases leave behind. A version-5 payload is a
    /// version-6 payload without it.
    pub early: EarlyState,
    /// The stopped tasks and the Lambda functions attached to a VPC. Last: a version-6 payload is
    /// this payload without it.
    pub workloads: WorkloadState,
}

/// What the workload rules remember beside the rows (README, How it decides, 18 and 21).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadState {
    /// Task id → the time of its StopTask, sorted.
    pub stopped: Vec<(CompactString, Millis)>,
    /// (account, function name) of the functions attached to a VPC, sorted.
    pub vpc_functions: Vec<(CompactString, CompactString)>,
}

/// The reorder window's early releases ([`crate::stages::Ordered::release_settled`]): a record
/// that overtook one is marked `overtook_early_release` and waits in the window, where a record
/// that came after a cut would otherwise be late (and release the window), or be judged unmarked.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyState {
    /// The time of the last record released early: one earlier that comes within the bound
    /// overtook it.
    pub released: Option<Millis>,
    /// The window's entries (by arrival number, [`Entry::seq`]) that overtook an early release,
    /// sorted.
    pub overtakers: Vec<u64>,
}

/// The same-account rule's locks and the findings' open incidents, so that a restart keeps an
/// alert's peer note and one incident one finding with one id.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgingState {
    pub peers: SavedPeers,
    /// Open incidents in id order, each with the event time of its latest line.
    pub incidents: Vec<(Incident, Millis)>,
    /// The findings clock's next tick.
    pub next_tick: Option<Millis>,
}

/// Version 3's payload: a [`Snapshot`] without chains, every session an instance's.
#[derive(Deserialize)]
struct SnapshotV3 {
    watermark: Option<Millis>,
    allocations: Vec<(CompactString, IpAddr)>,
    interfaces: Vec<(CompactString, CompactString)>,
    rows: Vec<(CompactString, Vec<RowV1>)>,
    estate: Estate,
    alerted: Vec<(u8, u64, Millis)>,
    order: OrderState,
}

/// The event-time part of the state (see [`crate::order`]).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    /// The newest event time read: a consumer's records up to `position` took it here.
    pub arrived: Watermark,
    /// The time of the last record released from the window.
    pub released: Option<Millis>,
    /// Input lines read by every run so far: where the next run's input starts.
    pub position: u64,
    /// `eventID` hashes read within the dedupe horizon, with their event time, in reading order.
    pub seen: Vec<(u64, Millis)>,
    /// Facts waiting in the window, in release order.
    pub window: Vec<Entry>,
    /// The number of the first held block.
    pub held_base: u64,
    /// Blocks whose output waits for facts in the window.
    pub held: Vec<SavedBlock>,
}

/// A held block as saved: the bytes of the output units not written yet, one per line, and what
/// is judged of them so far.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedBlock {
    pub data: Vec<u8>,
    /// Each unit's span in `data` (empty for those written already) and whether it is a record.
    pub units: Vec<(u32, u32, bool)>,
    /// Units written already.
    pub written: u32,
    /// A piece of a line over `--max-line-bytes`: `(first, last)`, written as it is.
    pub oversized: Option<(bool, bool)>,
    /// Judgements not written yet: `(unit, order, annotation)`.
    pub js: Vec<(u32, u32, Vec<u8>)>,
}

impl SavedBlock {
    pub fn save(h: &Held) -> SavedBlock {
        let b = &h.block;
        let js =
            h.js.iter()
                .map(|j| (j.unit, j.order, j.annotation.clone()))
                .collect();
        if let BlockKind::Oversized { first, last } = b.kind {
            return SavedBlock {
                data: b.data.clone(),
                oversized: Some((first, last)),
                js,
                ..SavedBlock::default()
            };
        }
        // `--emit findings` holds no bytes of its blocks (findings are written from verdicts):
        // there is nothing to save of their lines but how many there are.
        let bytes = !(b.data.is_empty() && b.compacted.is_empty());
        let mut data = Vec::new();
        let mut units = Vec::with_capacity(b.units.len());
        for (i, u) in b.units.iter().enumerate() {
            let start = data.len() as u32;
            if bytes && i >= h.written as usize {
                data.extend_from_slice(b.bytes(u));
            }
            units.push((start, data.len() as u32, u.record));
            if bytes && i >= h.written as usize {
                data.push(b'\n');
            }
        }
        SavedBlock {
            data,
            units,
            written: h.written,
            oversized: None,
            js,
        }
    }

    /// The block again, its units as separate lines (a document's compacted records included).
    pub fn restore(self) -> Held {
        let mut block = ParsedBlock::empty();
        for (line, &(start, end, record)) in self.units.iter().enumerate() {
            block.units.push(Unit {
                start,
                end,
                compacted: false,
                record,
                line: line as u32,
            });
        }
        block.lines = self.units.len() as u32;
        block.data = self.data;
        if let Some((first, last)) = self.oversized {
            block.kind = BlockKind::Oversized { first, last };
        }
        let js = self
            .js
            .into_iter()
            .map(|(unit, order, annotation)| Judgement {
                unit,
                order,
                annotation,
            })
            .collect();
        Held::restored(block, js, self.written)
    }
}

/// The state of the rules for real estates, each list oldest first where order decides what is
/// forgotten.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estate {
    /// Rows whose session is contested: instance id and the row's place among its rows.
    pub contested: Vec<(CompactString, u32)>,
    /// Addresses tied to each instance, per partition in the order they came.
    pub ties: Vec<(CompactString, Vec<Net>)>,
    /// Addresses of network interfaces.
    pub interface_nets: Vec<(CompactString, Vec<Net>)>,
    /// AssociateAddress's association ids and Elastic IPs.
    pub associations: Vec<(CompactString, ChangeTarget)>,
    pub eips: Vec<(CompactString, ChangeTarget)>,
    /// NAT gateways: each address with its allocation and association ids.
    pub gateways: Vec<(CompactString, Vec<GatewayAddress>)>,
    /// Accounts seen as `recipientAccountId`, sorted.
    pub accounts: Vec<CompactString>,
}

/// One address of a NAT gateway, with the allocation and association ids it came with.
pub type GatewayAddress = (IpAddr, Option<CompactString>, Option<CompactString>);

impl Snapshot {
    pub fn sessions(&self) -> usize {
        self.rows.iter().map(|(_, r)| r.len()).sum()
    }
}

pub fn encode(s: &Snapshot) -> Vec<u8> {
    let payload = postcard::to_stdvec(s).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Why a state file's bytes were refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a credtrail state file")]
    NotState,
    #[error("state format version {found}, this credtrail reads version {VERSION}")]
    Version { found: u32 },
    #[error("truncated or torn: {have} bytes of payload, the header says {says}")]
    Torn { have: usize, says: u64 },
    #[error("checksum mismatch: the file is damaged")]
    Checksum,
    #[error("unreadable payload: {0}")]
    Payload(String),
}

/// A state file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("--state {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("--state {}: {source}", path.display())]
    Decode { path: PathBuf, source: DecodeError },
}

pub fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    if bytes.len() < HEADER || &bytes[..16] != MAGIC {
        return Err(DecodeError::NotState);
    }
    let version = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
    // Versions 1 and 2 lack what event time needs (the window's records, the ids read): a table
    // without them would judge redelivered and waiting records again, so they are refused.
    if !(3..=VERSION).contains(&version) {
        return Err(DecodeError::Version { found: version });
    }
    let len = u64::from_le_bytes(bytes[20..28].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(bytes[28..32].try_into().unwrap_or_default());
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != len {
        return Err(DecodeError::Torn {
            have: payload.len(),
            says: len,
        });
    }
    if crc32fast::hash(payload) != crc {
        return Err(DecodeError::Checksum);
    }
    let payload_error = |e: postcard::Error| DecodeError::Payload(e.to_string());
    if version == 3 {
        let v3: SnapshotV3 = postcard::from_bytes(payload).map_err(payload_error)?;
        return Ok(Snapshot {
            watermark: v3.watermark,
            allocations: v3.allocations,
            interfaces: v3.interfaces,
            rows: v3
                .rows
                .into_iter()
                .map(|(k, rows)| (k, rows.into_iter().map(Row::from).collect()))
                .collect(),
            estate: v3.estate,
            alerted: v3.alerted,
            order: v3.order,
            chains: Vec::new(),
            chain_seed: 0,
            judging: JudgingState::default(),
            early: EarlyState::default(),
            workloads: WorkloadState::default(),
        });
    }
    if version < VERSION {
        // Postcard writes a struct as its fields one after another: version 4's payload followed
        // by an empty `JudgingState` (peers and incidents start afresh) is version 5's, version
        // 5's followed by an empty `EarlyState` (no early release) is version 6's, and version 6's
        // followed by an empty `WorkloadState` is this version's.
        let mut padded = payload.to_vec();
        if version == 4 {
            padded.extend(postcard::to_stdvec(&JudgingState::default()).unwrap_or_default());
        }
        if version <= 5 {
            padded.extend(postcard::to_stdvec(&EarlyState::default()).unwrap_or_default());
        }
        padded.extend(postcard::to_stdvec(&WorkloadState::default()).unwrap_or_default());
        return postcard::from_bytes(&padded).map_err(payload_error);
    }
    postcard::from_bytes(payload).map_err(payload_error)
}

/// Reads a state file. A missing file is an empty table (the first start).
pub fn load(path: &Path) -> Result<Snapshot, StateError> {
    match fs::read(path) {
        Ok(bytes) => decode(&bytes).map_err(|source| StateError::Decode {
            path: path.into(),
            source,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Snapshot::default()),
        Err(source) => Err(StateError::Io {
            path: path.into(),
            source,
        }),
    }
}

/// Writes a state file atomically (see [`super::state_file::replace`]).
pub fn save(path: &Path, s: &Snapshot) -> io::Result<()> {
    super::state_file::replace(path, &encode(s))
}

/// The table to start from: the `--state` file, or empty (with a warning on `err` when
/// `--state-reset` lets an unreadable file go).
pub fn load_for(cfg: &Config, err: &mut dyn Write) -> io::Result<Snapshot> {
    let Some(path) = &cfg.state else {
        return Ok(Snapshot::default());
    };
    match load(path) {
        Ok(s) => Ok(s),
        Err(e) if cfg.state_reset => {
            writeln!(
                err,
                "credtrail: warning: {e}; starting with an empty session table (--state-reset)"
            )?;
            Ok(Snapshot::default())
        }
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{e} (use --state-reset to start empty)"),
        )),
    }
}

/// The resolver's maps and the shard's rows as of now, to save.
pub fn snapshot(resolver: &Resolver, shard: &Shard) -> Snapshot {
    let mut snap = Snapshot::default();
    resolver.export(&mut snap);
    snap.rows = shard.export();
    snap.estate.ties = shard.export_ties();
    snap
}

/// Saves a [`snapshot`], its rows sorted here (off the stream's path: checkpoints call this on a
/// thread of their own).
pub fn save_snapshot(path: &Path, mut snap: Snapshot) -> io::Result<()> {
    snap.rows.sort_by(|a, b| a.0.cmp(&b.0));
    // A row's place counts over every entry of its instance id (a chained session's rows may sit
    // in another partition under the same name), as [`Shard::import`] counts them.
    let mut contested = Vec::new();
    let mut n = 0u32;
    for (i, (instance, rows)) in snap.rows.iter().enumerate() {
        if i == 0 || snap.rows[i - 1].0 != *instance {
            n = 0;
        }
        for r in rows {
            if r.contested {
                contested.push((instance.clone(), n));
            }
            n += 1;
        }
    }
    snap.estate.contested = contested;
    save(path, &snap).map_err(|e| io::Error::new(e.kind(), format!("--state {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            watermark: Some(1_709_251_200_000),
            allocations: vec![("eipalloc-1".into(), "4.4.4.4".parse().unwrap())],
            interfaces: vec![("eni-1".into(), "i-1".into())],
            rows: Vec::new(),
            alerted: vec![(3, 42, 1_709_251_200_000)],
            order: OrderState {
                position: 7,
                seen: vec![(9, 1_709_251_100_000)],
                ..OrderState::default()
            },
            estate: Estate {
                ties: vec![("i-1".into(), vec![Net::one("2600:1f18::7".parse().unwrap())])],
                accounts: vec!["123456789012".into()],
                ..Estate::default()
            },
            judging: JudgingState {
                peers: SavedPeers {
                    locks: vec![(
                        "123456789012".into(),
                        "web-role".into(),
                        "4.4.4.4".parse().unwrap(),
                        "i-2".into(),
                        1_709_251_300_000,
                    )],
                    sweep_at: 8192,
                },
                incidents: Vec::new(),
                next_tick: Some(1_709_251_260_000),
            },
            chains: vec![(0x1234_5678_9abc_def0, "t-1".into(), 7)],
            chain_seed: 42,
            early: EarlyState {
                released: Some(1_709_251_250_000),
                overtakers: vec![3, 11],
            },
            workloads: WorkloadState {
                stopped: vec![("0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(), 1_709_251_260_000)],
                vpc_functions: vec![("123456789012".into(), "resize".into())],
            },
        }
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&sample())), Ok(sample()));
    }

    /// A file of an earlier version is refused, naming both versions. (Mutation: reading version
    /// 3 as 4 fails here.)
    #[test]
    fn earlier_versions_are_refused() {
        for old in [1u32, 2] {
            let mut bytes = encode(&sample());
            bytes[16..20].copy_from_slice(&old.to_le_bytes());
            let e = decode(&bytes).unwrap_err().to_string();
            assert!(
                e.contains(&format!("version {old}")) && e.contains(&format!("version {VERSION}")),
                "{e}"
            );
        }
    }

    /// `payload` in the file's frame (magic, version, length, checksum), as `encode` writes it.
    fn framed(version: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// The payload an older version wrote: postcard writes a struct as its fields one after
    /// another, and each version added fields at the end, so version N's is the first fields of
    /// this one's (3: up to `order`, 4: `chain_seed`, 5: `judging`, 6: `early`).
    fn payload_of_version(s: &Snapshot, version: u32) -> Vec<u8> {
        fn enc<T: Serialize>(v: &T) -> Vec<u8> {
            postcard::to_stdvec(v).unwrap()
        }
        let mut out = Vec::new();
        let mut field = |bytes: Vec<u8>| out.extend(bytes);
        for f in [
            enc(&s.watermark),
            enc(&s.allocations),
            enc(&s.interfaces),
            enc(&s.rows),
            enc(&s.estate),
            enc(&s.alerted),
            enc(&s.order),
        ] {
            field(f);
        }
        let later: [(u32, Vec<u8>); 5] = [
            (4, enc(&s.chains)),
            (4, enc(&s.chain_seed)),
            (5, enc(&s.judging)),
            (6, enc(&s.early)),
            (7, enc(&s.workloads)),
        ];
        for (since, f) in later {
            if since <= version {
                field(f);
            }
        }
        out
    }

    /// The whole payload is the fields one after another, as [`payload_of_version`] assumes.
    #[test]
    fn a_payload_is_its_fields_in_order() {
        assert_eq!(
            payload_of_version(&sample(), VERSION),
            postcard::to_stdvec(&sample()).unwrap()
        );
    }

    /// A file of each older version still reads, without what it lacks: version 3 no chains
    /// (every session an instance's; the rows' own format is tested in `rows`), 4 no same-account
    /// locks or open incidents, 5 no early releases, 6 no stopped tasks or functions' VPCs.
    /// (Mutation: refusing one of them, or reading it padded as the next, fails here.)
    #[test]
    fn older_versions_still_read() {
        for version in 3..VERSION {
            let mut old = sample();
            if version < 4 {
                old.chains.clear();
                old.chain_seed = 0;
            }
            if version < 5 {
                old.judging = JudgingState::default();
            }
            if version < 6 {
                old.early = EarlyState::default();
            }
            old.workloads = WorkloadState::default();
            let file = framed(version, &payload_of_version(&old, version));
            assert_eq!(decode(&file), Ok(old), "version {version}");
        }
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let good = encode(&sample());
        let why = |bytes: &[u8]| decode(bytes).unwrap_err().to_string();
        assert!(why(b"{\"Records\":[]}").contains("not a credtrail state file"));
        assert!(why(&good[..good.len() - 1]).contains("truncated"));
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(why(&flipped).contains("checksum"));
        let mut future = good.clone();
        future[16] = 9;
        assert!(why(&future).contains("version 9"));
    }

    #[test]
    fn save_replaces_atomically_and_load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("credtrail-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.bin");
        assert_eq!(
            load(&path).unwrap(),
            Snapshot::default(),
            "a missing file is a first start"
        );
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        fs::write(&path, b"garbage").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("state.bin") && err.contains("not a credtrail state file"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
