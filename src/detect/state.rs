//! The session table saved to a file, so that a restart is not blind for up to six hours (until
//! every instance's next credential refresh).
//!
//! Layout: a 16-byte magic, a format version (u32 LE), the payload length (u64 LE) and its CRC-32
//! (u32 LE), then the payload (postcard). Writes go to a temporary file of a name no one can guess
//! in the same folder (created with `O_EXCL`, by `tempfile`), are fsynced and renamed over the old
//! file, so a crash leaves either the old or the new state.

use super::{Resolver, Row};
use crate::config::Config;
use crate::parse::event_time::Millis;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"credtrail-state\n";
/// 2: sessions carry their workload kind. Version 1 files (every session an instance's) still read.
const VERSION: u32 = 2;
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
    /// Chained sessions (by the resolver's seeded hash of their key) → the shard key of their
    /// chain's root, and until when.
    pub chains: Vec<(u64, CompactString, Millis)>,
    /// The seed of that hash (0: none yet).
    pub chain_seed: u64,
}

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
    if version != VERSION && version != 1 {
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
    let unreadable = |e: postcard::Error| DecodeError::Payload(e.to_string());
    if version == 1 {
        let old: SnapshotV1 = postcard::from_bytes(payload).map_err(unreadable)?;
        return Ok(Snapshot {
            watermark: old.watermark,
            allocations: old.allocations,
            interfaces: old.interfaces,
            rows: old
                .rows
                .into_iter()
                .map(|(k, rows)| (k, rows.into_iter().map(Row::from).collect()))
                .collect(),
            chains: Vec::new(),
            chain_seed: 0,
        });
    }
    postcard::from_bytes(payload).map_err(unreadable)
}

/// A [`Snapshot`] as format version 1 saved it.
#[derive(Deserialize)]
struct SnapshotV1 {
    watermark: Option<Millis>,
    allocations: Vec<(CompactString, IpAddr)>,
    interfaces: Vec<(CompactString, CompactString)>,
    rows: Vec<(CompactString, Vec<super::rows::RowV1>)>,
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

/// The resolver's maps and the shards' rows as of now, to save.
pub fn snapshot(resolver: &Resolver, rows: Vec<(CompactString, Vec<Row>)>) -> Snapshot {
    let mut snap = Snapshot::default();
    resolver.export(&mut snap);
    snap.rows = rows;
    snap
}

/// Saves a [`snapshot`], its rows sorted here (off the stream's path: checkpoints call this on a
/// thread of their own).
pub fn save_snapshot(path: &Path, mut snap: Snapshot) -> io::Result<()> {
    snap.rows.sort_by(|a, b| a.0.cmp(&b.0));
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
            chains: vec![(0x1234_5678_9abc_def0, "t-1".into(), 7)],
            chain_seed: 42,
        }
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&sample())), Ok(sample()));
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
