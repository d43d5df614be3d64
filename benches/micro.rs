//! Criterion micro-benchmarks: the parse, the detector, the whole pipeline in memory, and the
//! baseline of target 1 (a single-threaded simd-json tape parse of the nine needed fields).
//!
//! ```sh
//! cargo bench --bench micro                      # 32 MiB generated corpus
//! CREDTRAIL_MICRO_BYTES=8MiB cargo bench --bench micro -- parse
//! ```
//! Under `cargo test` (no `--bench`) every benchmark runs once on a 1 MiB corpus.

mod common;

use common::{TapeBaseline, bench_mode, corpus_config, lines, records_for};
use credtrail::detect::{DetectorConfig, Resolver, Routed, Shard};
use credtrail::input::framing::{BlockKind, Frame, FrameReader};
use credtrail::parse::block::BlockParser;
use credtrail::parse::record::{Fact, Parser};
use credtrail::{Config, Emit, Input};
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use std::hint::black_box;
use std::time::Duration;

const SEED: u64 = 0x6265_6e63;

struct Corpus {
    data: Vec<u8>,
    /// The blocks credtrail's reader cuts (1 MiB reads).
    frames: Vec<(Vec<u8>, BlockKind)>,
    facts: Vec<Fact>,
    routed: Vec<Routed>,
}

impl Corpus {
    fn new(bytes: u64) -> Corpus {
        let records = records_for(SEED, bytes);
        let (data, _) = credtrail_generate::generate_to_vec(&corpus_config(SEED, bytes, records));
        let mut reader = FrameReader::new(std::io::Cursor::new(&data[..]), 1 << 20, 64 << 20);
        let mut frames = Vec::new();
        while let Some(f) = reader.next_frame().expect("reading memory") {
            frames.push((f.data, f.kind));
        }
        let mut parser = BlockParser::default();
        let facts: Vec<Fact> = frames
            .iter()
            .flat_map(|(d, k)| {
                let block = parser.parse(Frame {
                    data: d.clone(),
                    kind: *k,
                });
                block.facts.into_iter().map(|(_, f)| f)
            })
            .collect();
        let mut resolver = Resolver::default();
        let mut routed = Vec::new();
        for f in &facts {
            resolver.route(f.clone(), |r| routed.push(r));
        }
        eprintln!(
            "micro: corpus of {} bytes, {} records, {} frames, {} facts, {} detector steps",
            data.len(),
            lines(&data).count(),
            frames.len(),
            facts.len(),
            routed.len()
        );
        Corpus {
            data,
            frames,
            facts,
            routed,
        }
    }

    fn fresh_frames(&self) -> Vec<Frame> {
        self.frames
            .iter()
            .map(|(d, k)| Frame {
                data: d.clone(),
                kind: *k,
            })
            .collect()
    }
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

fn parse(c: &mut Criterion, corpus: &Corpus) {
    let mut g = c.benchmark_group("parse");
    configure(&mut g);
    g.throughput(Throughput::Bytes(corpus.data.len() as u64));
    g.bench_function("block_parser", |b| {
        let mut parser = BlockParser::default();
        b.iter_batched(
            || corpus.fresh_frames(),
            |frames| {
                for f in frames {
                    black_box(parser.parse(f));
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("record_parser_read", |b| {
        let mut parser = Parser::default();
        let mut facts = Vec::new();
        b.iter(|| {
            for line in lines(&corpus.data) {
                let _ = black_box(parser.read(line, &mut facts));
                facts.clear();
            }
        })
    });
    g.bench_function("baseline_simd_json_tape_nine_fields", |b| {
        let mut baseline = TapeBaseline::default();
        b.iter(|| {
            for line in lines(&corpus.data) {
                black_box(baseline.fields(line));
            }
        })
    });
    g.finish();
}

fn detector(c: &mut Criterion, corpus: &Corpus) {
    let mut g = c.benchmark_group("detector");
    configure(&mut g);
    g.throughput(Throughput::Elements(corpus.routed.len() as u64));
    g.bench_function("resolver_and_shard", |b| {
        b.iter_batched(
            || corpus.facts.clone(),
            |facts| {
                let mut resolver = Resolver::default();
                let mut shard = Shard::new(DetectorConfig::default());
                for f in facts {
                    resolver.route(f, |r| {
                        black_box(shard.apply(r));
                    });
                }
                shard
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("shard_apply", |b| {
        b.iter_batched(
            || corpus.routed.clone(),
            |steps| {
                let mut shard = Shard::new(DetectorConfig::default());
                for r in steps {
                    black_box(shard.apply(r));
                }
                shard
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// JSON string escaping, by hand (`annotation::escape_json`) and by serde_json, over the strings an
/// annotation writes for each call: its account, role, instance id and source address.
fn json_string(c: &mut Criterion, corpus: &Corpus) {
    let strings: Vec<String> = corpus
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Call {
                session, source_text, ..
            } => Some([
                session.account.to_string(),
                session.role.to_string(),
                session.instance.to_string(),
                source_text.to_string(),
            ]),
            _ => None,
        })
        .flatten()
        .collect();
    let hand = |out: &mut Vec<u8>| {
        for s in &strings {
            out.push(b'"');
            credtrail::output::annotation::escape_json(s, out);
            out.push(b'"');
        }
    };
    let serde = |out: &mut Vec<u8>| {
        for s in &strings {
            serde_json::to_writer(&mut *out, s).expect("writing into memory");
        }
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    hand(&mut a);
    serde(&mut b);
    assert_eq!(a, b, "the two escapings differ");
    let mut g = c.benchmark_group("json_string");
    configure(&mut g);
    g.throughput(Throughput::Elements(strings.len() as u64));
    let mut out = Vec::with_capacity(a.len());
    g.bench_function("hand", |bench| {
        bench.iter(|| {
            out.clear();
            hand(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("serde_json", |bench| {
        bench.iter(|| {
            out.clear();
            serde(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

fn whole_run(c: &mut Criterion, corpus: &Corpus) {
    let mut g = c.benchmark_group("run");
    configure(&mut g);
    g.throughput(Throughput::Bytes(corpus.data.len() as u64));
    let cfg = |threads| Config {
        inputs: vec![Input::Memory("bench".into(), corpus.data.clone())],
        emit: Emit::Alerts,
        threads,
        ..Config::default()
    };
    for threads in [1, 2] {
        let cfg = cfg(threads);
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| credtrail::run(&cfg, &mut std::io::sink(), &mut std::io::sink()).expect("run"))
        });
    }
    let cfg = cfg(1);
    g.bench_function("sequential", |b| {
        b.iter(|| credtrail::run_sequential(&cfg, &mut std::io::sink(), &mut std::io::sink()).expect("run"))
    });
    g.finish();
}

/// Best wall times of two configurations over the same corpus, rounds alternating so that the
/// machine's load falls on both alike, and the first one's stats.
fn side_by_side(a: &Config, b: &Config) -> ([f64; 2], credtrail::Stats) {
    let rounds = if bench_mode() { 5 } else { 1 };
    let mut best = [f64::MAX; 2];
    let mut stats = None;
    for _ in 0..rounds {
        for (i, c) in [a, b].into_iter().enumerate() {
            let t = std::time::Instant::now();
            let s = credtrail::run(c, &mut std::io::sink(), &mut std::io::sink()).expect("run");
            best[i] = best[i].min(t.elapsed().as_secs_f64());
            if i == 0 {
                stats = Some(s);
            }
        }
    }
    (best, stats.expect("one round"))
}

fn corpus_run(corpus: &Corpus, lateness: i64, threads: usize) -> Config {
    Config {
        inputs: vec![Input::Memory("bench".into(), corpus.data.clone())],
        emit: Emit::Alerts,
        threads,
        lateness,
        ..Config::default()
    }
}

/// The reorder window's cost, as a ratio against the same run without a window (`--lateness 0s`,
/// every record released as it comes) in this bench run, and what a held record costs in bytes.
/// Timed by hand (best of a few alternating runs), not by criterion, so the two are measured side
/// by side and the ratio printed.
fn event_time_window(corpus: &Corpus) {
    let window = corpus_run(corpus, Config::default().lateness, 2);
    let (best, s) = side_by_side(&window, &corpus_run(corpus, 0, 2));
    let per_record = s.peak_held.bytes / s.peak_held.records.max(1);
    eprintln!(
        "micro: event-time window (default --lateness, 2 threads): {:.2}x the no-window run's \
         throughput ({:.3} s vs {:.3} s); at its peak the window held {} records in {:.1} MB, \
         {per_record} bytes a record; {} released early",
        best[1] / best[0],
        best[0],
        best[1],
        s.peak_held.records,
        s.peak_held.bytes as f64 / 1e6,
        s.forced,
    );
}

/// What the estate rules (README rules 14 to 17: ties, NAT gateways, contested sessions) cost the
/// common call: the same corpus with them and with the blog's plain method (the detector's hidden
/// ablation), one thread and no window so that only the detector differs.
fn estate_rules(corpus: &Corpus) {
    let rules = corpus_run(corpus, 0, 1);
    let mut plain = corpus_run(corpus, 0, 1);
    plain.detector.plain_method = true;
    let (best, s) = side_by_side(&rules, &plain);
    eprintln!(
        "micro: estate rules (1 thread, --lateness 0s): {:.2}x the plain method's throughput \
         ({:.3} s vs {:.3} s; {} alerts with the rules)",
        best[1] / best[0],
        best[0],
        best[1],
        s.alerts,
    );
}

fn main() {
    let bytes = if bench_mode() {
        std::env::var("CREDTRAIL_MICRO_BYTES")
            .ok()
            .and_then(|s| credtrail::cli::parse_size(&s).ok())
            .unwrap_or(32 << 20) as u64
    } else {
        1 << 20
    };
    let corpus = Corpus::new(bytes);
    let mut c = Criterion::default().configure_from_args();
    parse(&mut c, &corpus);
    detector(&mut c, &corpus);
    json_string(&mut c, &corpus);
    whole_run(&mut c, &corpus);
    event_time_window(&corpus);
    estate_rules(&corpus);
    c.final_summary();
}
