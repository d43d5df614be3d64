//! What both benchmarks share: the corpus configuration and the baseline parser.
//!
//! The baseline is the reference of target 1: a single-threaded simd-json tape parse of the nine
//! fields every record is checked for, done the way `src/record.rs` does it (a padded scratch copy,
//! reused buffers and tape), and nothing else: no facts, no detector, no output.

#![allow(dead_code)] // each bench target uses its own part of this module

use credtrail_generate::GenConfig;
use simd_json::prelude::*;
use simd_json::{Buffers, INPUT_PADDING, Tape};
use std::io::{self, Read};

/// Whether cargo runs this target as a benchmark (`cargo bench` passes `--bench`; `cargo test`
/// runs it with no argument, in test mode).
pub fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

/// The generator's configuration for a corpus of about `bytes` bytes with `records` records: a
/// realistic mix (about 1.7 KB per record, over 90 % of them calls by EC2 instance-profile
/// sessions), with the instance count growing with the size.
pub fn corpus_config(seed: u64, bytes: u64, records: usize) -> GenConfig {
    let instances = (bytes / (400 << 10)).clamp(50, 5000) as usize;
    GenConfig {
        seed,
        records,
        instances,
        accounts: 20,
        attacks: 3 + instances / 200,
        events_per_sec: 100.0,
        ..GenConfig::default()
    }
}

/// How many records make about `bytes` bytes with [`corpus_config`], from a generated sample.
pub fn records_for(seed: u64, bytes: u64) -> usize {
    let sample = 4000;
    let (v, _) = credtrail_generate::generate_to_vec(&corpus_config(seed, bytes, sample));
    let per_record = (v.len() as u64 / sample as u64).max(1);
    (bytes / per_record).max(1) as usize
}

/// The non-empty lines of `data`, without their `\n`.
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', data).chain((!data.ends_with(b"\n")).then_some(data.len()));
    ends.map(move |end| {
        let line = &data[start..end];
        start = end + 1;
        line
    })
    .filter(|l| !l.is_empty())
}

/// The nine fields the baseline reads.
pub const NINE_FIELDS: &str = "eventTime, eventSource, eventName, sourceIPAddress, errorCode, vpcEndpointId, \
                               userIdentity.{type, arn, invokedBy}";

/// A reusable single-threaded simd-json tape parser that reads the nine fields of a record.
pub struct TapeBaseline {
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Default for TapeBaseline {
    fn default() -> Self {
        TapeBaseline {
            scratch: Vec::new(),
            buffers: Buffers::new(64 * 1024),
            tape: Some(Tape::null()),
        }
    }
}

/// What a pass saw; `checksum` folds the fields read so that nothing is optimised away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassSummary {
    pub bytes: u64,
    pub records: u64,
    pub invalid: u64,
    pub checksum: u64,
}

impl TapeBaseline {
    /// Parses one line; returns a checksum of the nine fields, or `None` if it is not a JSON
    /// object.
    pub fn fields(&mut self, line: &[u8]) -> Option<u64> {
        self.scratch.clear();
        self.scratch.extend_from_slice(line);
        self.scratch.resize(line.len() + INPUT_PADDING, 0);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let parsed = simd_json::fill_tape_padded(&mut self.scratch, line.len(), &mut self.buffers, &mut tape);
        let result = match parsed {
            Ok(()) => nine_fields(tape.as_value()),
            Err(_) => None,
        };
        self.tape = Some(tape.reset());
        result
    }

    /// Every line of `data`.
    pub fn pass(&mut self, data: &[u8], s: &mut PassSummary) {
        for line in lines(data) {
            s.records += 1;
            match self.fields(line) {
                Some(c) => s.checksum = s.checksum.wrapping_mul(31).wrapping_add(c),
                None => s.invalid += 1,
            }
        }
        s.bytes += data.len() as u64;
    }

    /// Reads `r` to its end in blocks of whole lines (1 MiB reads, as credtrail does) and parses
    /// every line.
    pub fn pass_reader(&mut self, r: impl Read) -> io::Result<PassSummary> {
        let mut s = PassSummary::default();
        read_lines(r, |block| self.pass(block, &mut s))?;
        Ok(s)
    }
}

fn nine_fields(root: simd_json::tape::Value<'_, '_>) -> Option<u64> {
    let obj = root.as_object()?;
    let mut sum = 0u64;
    let mut add = |v: simd_json::tape::Value<'_, '_>| {
        if let Some(s) = v.into_string() {
            sum = sum
                .wrapping_mul(131)
                .wrapping_add(s.len() as u64 + u64::from(s.as_bytes().first().copied().unwrap_or(0)));
        }
    };
    for (k, v) in obj.iter() {
        match k {
            "eventTime" | "eventSource" | "eventName" | "sourceIPAddress" | "errorCode" | "vpcEndpointId" => {
                add(v)
            }
            "userIdentity" => {
                if let Some(id) = v.as_object() {
                    for (k, v) in id.iter() {
                        if matches!(k, "type" | "arn" | "invokedBy") {
                            add(v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(sum)
}

/// Calls `f` with blocks of whole lines of `r` (the last one may lack its `\n`), reading 1 MiB at a
/// time.
pub fn read_lines(mut r: impl Read, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    const READ: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ);
    loop {
        let len = buf.len();
        buf.resize(len + READ, 0);
        let n = loop {
            match r.read(&mut buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        buf.truncate(len + n);
        if n == 0 {
            if !buf.is_empty() {
                f(&buf);
            }
            return Ok(());
        }
        if let Some(last) = memchr::memrchr(b'\n', &buf[len..]) {
            let end = len + last + 1;
            f(&buf[..end]);
            buf.drain(..end);
        }
    }
}

/// The read-and-split floor: reads `r` as [`read_lines`] does and counts its lines.
pub fn count_lines(r: impl Read) -> io::Result<PassSummary> {
    let mut s = PassSummary::default();
    read_lines(r, |block| {
        s.bytes += block.len() as u64;
        s.records += memchr::memchr_iter(b'\n', block).count() as u64;
        if block.last() != Some(&b'\n') {
            s.records += 1;
        }
    })?;
    Ok(s)
}
