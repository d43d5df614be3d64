//! The memory benchmark: the heap a live session costs, for each workload kind, measured with a
//! counting global allocator as the growth of the peak between N and 2N live sessions (so what is
//! held once, such as the parser's buffers, cancels out). Each session is issued and makes one
//! call from its own address, as a real one does, through the library's parser, resolver, table
//! and the same-account locks (`Peers`), as `credtrail` runs them.
//!
//! ```sh
//! cargo bench --bench memory                 # 250 000 and 500 000 sessions of each kind
//! CREDTRAIL_MEMORY_SESSIONS=100000 cargo bench --bench memory
//! ```
//! Under `cargo test` it runs with 4 096 and 8 192 sessions and checks that every session is held
//! and that no kind costs more than an instance's plus [`HEAP_COPIES`] of its name where the name
//! is too long to be held inline, plus [`SLACK`] bytes.

use credtrail::detect::peers::Peers;
use credtrail::detect::{DetectorConfig, Resolver, Shard};
use credtrail::parse::record::{Fact, Parser};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting the bytes held and their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = HELD.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` with the same arguments; the counters do not
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size());
        // SAFETY: as the caller promised for `l`.
        unsafe { System.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size());
        // SAFETY: as the caller promised for `l`.
        unsafe { System.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size(), Relaxed);
        // SAFETY: `p` came from this allocator with `l`.
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // Counted as the new block allocated before the old one is freed, as a moving realloc is.
        add(new);
        // SAFETY: as the caller promised for `p`, `l` and `new`.
        let q = unsafe { System.realloc(p, l, new) };
        HELD.fetch_sub(l.size(), Relaxed);
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes a session of another kind may cost beyond an instance's and its name's copies on the heap:
/// the tables' growth steps fall a little differently for each kind.
const SLACK: f64 = 8.0;

/// Copies of a session's name on the heap when it is too long to be held inline (24 bytes): the
/// table's row key and the same-account locks' copy.
const HEAP_COPIES: f64 = 2.0;

/// A chained session's route to its root's row (`ChainRoutes` in src/detect/resolver.rs: 40 bytes
/// an entry, and its map's slack).
const CHAIN_ROUTE: f64 = 48.0;

/// Bytes of a name held inline, in a `CompactString`.
const INLINE: usize = 24;

/// The least a `CompactString` allocates for a name it cannot hold inline (compact_str's
/// `MIN_HEAP_SIZE`, 24 + 8 bytes): a 27-byte name costs 32 bytes a copy.
const MIN_HEAP: usize = 32;

const ACCOUNT: &str = "123456789012";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Instance,
    Function,
    WebIdentity,
    Task,
    Chained,
    Pod,
}

const KINDS: [Kind; 6] = [
    Kind::Instance,
    Kind::Function,
    Kind::WebIdentity,
    Kind::Task,
    Kind::Chained,
    Kind::Pod,
];

/// Chained sessions per parent instance session: few enough parents that their cost, taken off
/// the children's at an instance's, is small; enough that a chained session's row, which lives
/// where its parent's does, lands in every partition of the table, as the other kinds' do.
const CHILDREN_PER_PARENT: usize = 16;

impl Kind {
    /// The length of the session names [`records`] makes for this kind.
    fn name_len(self) -> usize {
        let mut k = 0;
        let mut lines = Vec::new();
        records(self, 1, &mut k, &mut lines);
        let call = lines.last().expect("a call");
        let arn = call.split(r#""arn":""#).nth(1).expect("the caller's arn");
        let arn = &arn[..arn.find('"').expect("a string")];
        arn.rsplit('/').next().expect("a session name").len()
    }

    /// Bytes of a name of this kind on the heap, per copy.
    fn heap_name(self) -> f64 {
        let n = self.name_len();
        if n > INLINE { n.max(MIN_HEAP) as f64 } else { 0.0 }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Function => "function",
            Kind::WebIdentity => "web identity",
            Kind::Task => "task",
            Kind::Chained => "chained",
            Kind::Pod => "pod",
        }
    }
}

/// `eventTime` of the `k`-th record: 100 records a second, so that 2 × 500 000 sessions stay well
/// within their six hours.
fn at(k: usize) -> String {
    let s = k / 100;
    format!("2024-03-01T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// A distinct public address for session `i`.
fn ip(i: usize) -> String {
    format!("52.{}.{}.{}", 16 + (i >> 16) % 200, (i >> 8) & 255, i & 255)
}

fn service_issue(t: &str, service: &str, role: &str, session: &str) -> String {
    format!(
        r#"{{"eventTime":"{t}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-west-2","sourceIPAddress":"{service}","userIdentity":{{"type":"AWSService","invokedBy":"{service}"}},"requestParameters":{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/{role}","roleSessionName":"{session}"}},"responseElements":{{"credentials":{{"accessKeyId":"ASIAEXAMPLE","expiration":"2024-03-01T06:00:00Z"}},"assumedRoleUser":{{"assumedRoleId":"AROAEXAMPLE:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"}}}},"eventID":"e","recipientAccountId":"{ACCOUNT}"}}"#
    )
}

fn pod_issue(t: &str, session: &str) -> String {
    let plain = service_issue(t, "pods.eks.amazonaws.com", "pod-role", session);
    plain.replacen(
        r#""roleSessionName""#,
        r#""tags":[{"key":"eks-cluster-name","value":"eksworkshop-eksctl"},{"key":"kubernetes-namespace","value":"ns-a"},{"key":"kubernetes-service-account","value":"sa1"},{"key":"kubernetes-pod-name","value":"app1"}],"roleSessionName""#,
        1,
    )
}

fn web_identity(t: &str, session: &str, from: &str) -> String {
    format!(
        r#"{{"eventTime":"{t}","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","awsRegion":"us-west-2","sourceIPAddress":"{from}","userIdentity":{{"type":"WebIdentityUser","principalId":"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/8BA4:sts.amazonaws.com:system:serviceaccount:ns-a:sa1","userName":"system:serviceaccount:ns-a:sa1","identityProvider":"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/8BA4"}},"requestParameters":{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/irsa-role","roleSessionName":"{session}"}},"responseElements":{{"credentials":{{"accessKeyId":"ASIAEXAMPLE","expiration":"2024-03-01T06:00:00Z"}},"assumedRoleUser":{{"assumedRoleId":"AROAEXAMPLE:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/irsa-role/{session}"}},"audience":"sts.amazonaws.com"}},"eventID":"e","recipientAccountId":"{ACCOUNT}"}}"#
    )
}

/// `parent` (a session ARN) assumes `chain-role` as `session`.
fn assume(t: &str, parent: &str, from: &str, session: &str) -> String {
    format!(
        r#"{{"eventTime":"{t}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-west-2","sourceIPAddress":"{from}","userIdentity":{{"type":"AssumedRole","arn":"{parent}"}},"requestParameters":{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/chain-role","roleSessionName":"{session}"}},"responseElements":{{"credentials":{{"accessKeyId":"ASIAEXAMPLE","expiration":"2024-03-01T06:00:00Z"}},"assumedRoleUser":{{"assumedRoleId":"AROAEXAMPLE:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/chain-role/{session}"}}}},"eventID":"e","recipientAccountId":"{ACCOUNT}"}}"#
    )
}

fn call(t: &str, session_arn: &str, from: &str) -> String {
    format!(
        r#"{{"eventTime":"{t}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-west-2","sourceIPAddress":"{from}","userIdentity":{{"type":"AssumedRole","arn":"{session_arn}"}},"eventID":"e","recipientAccountId":"{ACCOUNT}"}}"#
    )
}

fn arn(role: &str, session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
}

/// The records of session `i` of `kind` (names as AWS writes them for that kind).
fn records(kind: Kind, i: usize, k: &mut usize, out: &mut Vec<String>) {
    let mut t = || {
        *k += 1;
        at(*k)
    };
    let from = ip(i);
    match kind {
        Kind::Instance => {
            let s = format!("i-{i:017x}");
            out.push(service_issue(&t(), "ec2.amazonaws.com", "app-role", &s));
            out.push(call(&t(), &arn("app-role", &s), &from));
        }
        Kind::Function => {
            let s = format!("orders-handler-{i:06}");
            out.push(service_issue(&t(), "lambda.amazonaws.com", "fn-role", &s));
            out.push(call(&t(), &arn("fn-role", &s), &from));
        }
        Kind::WebIdentity => {
            let s = format!("botocore-session-{}", 1_709_251_200 + i);
            out.push(web_identity(&t(), &s, &from));
            out.push(call(&t(), &arn("irsa-role", &s), &from));
        }
        Kind::Task => {
            let s = format!("4d2b5b5e1c2f4e4e9a6d{i:012x}");
            out.push(service_issue(&t(), "ecs-tasks.amazonaws.com", "task-role", &s));
            out.push(call(&t(), &arn("task-role", &s), &from));
        }
        Kind::Chained => {
            let p = i / CHILDREN_PER_PARENT;
            let parent = format!("i-{p:017x}");
            let parent_arn = arn("app-role", &parent);
            let parent_ip = format!("10.9.{}.{}", (p >> 8) & 255, p & 255);
            if i.is_multiple_of(CHILDREN_PER_PARENT) {
                out.push(service_issue(&t(), "ec2.amazonaws.com", "app-role", &parent));
                out.push(call(&t(), &parent_arn, &parent_ip));
            }
            let s = format!("botocore-session-{}", 1_709_251_200 + i);
            out.push(assume(&t(), &parent_arn, &parent_ip, &s));
            out.push(call(&t(), &arn("chain-role", &s), &parent_ip));
        }
        Kind::Pod => {
            let s = format!("eks-eksworksho-app1-498124c2-a555-40bf-9059-{i:012x}");
            out.push(pod_issue(&t(), &s));
            out.push(call(&t(), &arn("pod-role", &s), &from));
        }
    }
}

/// The detector's state as `credtrail` holds it for one ordered stream.
struct Detector {
    parser: Parser,
    resolver: Resolver,
    shard: Shard,
    peers: Peers,
    facts: Vec<Fact>,
    records: u64,
}

impl Detector {
    fn new() -> Detector {
        Detector {
            parser: Parser::default(),
            resolver: Resolver::default(),
            shard: Shard::new(DetectorConfig::default()),
            peers: Peers::default(),
            facts: Vec::new(),
            records: 0,
        }
    }

    fn feed(&mut self, line: &str) {
        self.records += 1;
        self.parser
            .read(line.as_bytes(), &mut self.facts)
            .unwrap_or_else(|e| panic!("{e:?}: {line}"));
        let (shard, peers) = (&mut self.shard, &mut self.peers);
        for f in self.facts.drain(..) {
            self.resolver.route(f, |r| {
                let watermark = r.watermark;
                if let Some(v) = shard.apply(r) {
                    peers.observe(&v, watermark);
                }
            });
        }
    }
}

/// Feeds sessions `from..to` of `kind`, a few at a time so that the records' own strings do not
/// count; returns the peak heap held meanwhile.
fn feed(d: &mut Detector, kind: Kind, from: usize, to: usize, k: &mut usize) -> usize {
    let mut lines = Vec::new();
    for i in from..to {
        lines.clear();
        records(kind, i, k, &mut lines);
        for l in &lines {
            d.feed(l);
        }
    }
    drop(lines);
    PEAK.load(Relaxed)
}

/// Bytes per live session of `kind`, between `n` and `2n` sessions; for chained sessions, less the
/// parent sessions made meanwhile, at `instance` bytes each.
fn per_session(kind: Kind, n: usize, instance: f64) -> f64 {
    let mut d = Detector::new();
    let mut k = 0;
    PEAK.store(HELD.load(Relaxed), Relaxed);
    let at_n = feed(&mut d, kind, 0, n, &mut k);
    let at_2n = feed(&mut d, kind, n, 2 * n, &mut k);
    let sessions = d.shard.sessions();
    if std::env::var_os("CREDTRAIL_MEMORY_DEBUG").is_some() {
        eprintln!(
            "{}: peaks {at_n} {at_2n}, held {}",
            kind.name(),
            HELD.load(Relaxed)
        );
    }
    let parents = if kind == Kind::Chained {
        (2 * n).div_ceil(CHILDREN_PER_PARENT)
    } else {
        0
    };
    assert_eq!(
        sessions,
        2 * n + parents,
        "{}: every session is held ({} records)",
        kind.name(),
        d.records
    );
    let new_parents = parents - n.div_ceil(CHILDREN_PER_PARENT).min(parents);
    ((at_2n - at_n) as f64 - new_parents as f64 * instance) / n as f64
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench") && !std::env::args().any(|a| a == "--test");
    let n = std::env::var("CREDTRAIL_MEMORY_SESSIONS").map_or(if full { 250_000 } else { 4096 }, |s| {
        s.trim()
            .parse()
            .unwrap_or_else(|e| panic!("CREDTRAIL_MEMORY_SESSIONS={s}: {e}"))
    });
    println!("Heap per live session, between {n} and {} sessions:", 2 * n);
    println!();
    println!("| kind | name | bytes per session |");
    println!("|---|---:|---:|");
    let instance = per_session(Kind::Instance, n, 0.0);
    let costs: Vec<(Kind, f64)> = KINDS
        .iter()
        .map(|&kind| match kind {
            Kind::Instance => (kind, instance),
            _ => (kind, per_session(kind, n, instance)),
        })
        .collect();
    for (kind, b) in &costs {
        println!("| {} | {} | {b:.1} |", kind.name(), kind.name_len());
    }
    assert!(
        instance > 0.0,
        "an instance's session costs something: the count sees the table"
    );
    for (kind, b) in &costs[1..] {
        let route = if *kind == Kind::Chained { CHAIN_ROUTE } else { 0.0 };
        let bound = instance + HEAP_COPIES * kind.heap_name() + route + SLACK;
        assert!(
            *b <= bound,
            "a {} session costs {b:.1} bytes, more than an instance's {instance:.1} and {HEAP_COPIES} \
             copies of its {}-byte name (+{SLACK})",
            kind.name(),
            kind.name_len()
        );
    }
}
