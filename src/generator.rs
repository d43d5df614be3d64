//! A seeded generator of realistic CloudTrail traffic, for tests and benchmarks.
//!
//! The output is NDJSON (one record per line, `\n` terminated) in the shape AWS CloudTrail writes
//! (see `/work/shared/data/cloudtrail/`): EC2 instance-profile sessions calling from their own
//! addresses (public IPv4, IPv6, or private addresses through VPC endpoints), AWS services calling
//! on a session's behalf, IAM users, SSO and Lambda/ECS role sessions, console sign-ins, the EC2
//! AssumeRole that issues and refreshes each instance's credentials, address changes
//! (AllocateAddress/AssociateAddress, AttachNetworkInterface, StopInstances/StartInstances,
//! RunInstances) and `attacks` injected credential-theft incidents, reported in [`Truth`].
//!
//! Determinism: everything is drawn from one `ChaCha8Rng` seeded with [`GenConfig::seed`], only
//! integer arithmetic and IEEE basic operations are used (no `ln`/`exp`, no `usize` sampling, no
//! hash-map iteration), so the same config gives the same bytes on every platform.
//!
//! Ordering: records are built in event-time order, then each gets a delivery delay in
//! `[0, jitter_secs]` and leaves in order of event time + delay (ties in build order). So a record
//! is never delivered after one whose event time is more than `jitter_secs` later. Records the
//! detector's causal chain depends on get no delay ("anchors"): the EC2 AssumeRole, every
//! address-change and RunInstances record, an instance's first call with newly issued credentials,
//! and a thief's first call. An anchor is therefore delivered before every record built after it.
//! An instance's own calls made before one of its address changes (AssociateAddress,
//! AttachNetworkInterface, StopInstances) are held to be delivered before that change.
//!
//! Memory: only records whose delivery time has not been reached are held (about
//! `jitter_secs * events_per_sec` records), so any `records` count streams in bounded memory.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::io::{self, BufWriter, Write};

/// What to generate. Every field takes part in the output; the same value gives the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    pub seed: u64,
    /// Records to emit, exactly.
    pub records: usize,
    /// EC2 instances with instance-profile roles, in all accounts together. About 5 % of them
    /// (and one per attacker-first incident) are launched during the stream by RunInstances.
    pub instances: usize,
    /// AWS accounts (12-digit ids); instances are spread over them.
    pub accounts: usize,
    /// Credential-theft incidents to inject (at most `instances`; even-numbered ones are
    /// instance-first, odd-numbered ones attacker-first).
    pub attacks: usize,
    /// Bound of the delivery-order jitter, in seconds of event time; 0 = sorted by event time.
    pub jitter_secs: u32,
    /// Unix seconds of the first record's event time.
    pub start: i64,
    /// Records per second of event time: record `i` has event time `start + floor(i / rate)`.
    pub events_per_sec: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            records: 10_000,
            instances: 50,
            accounts: 3,
            attacks: 3,
            jitter_secs: 120,
            start: 1_709_251_200, // 2024-03-01T00:00:00Z
            events_per_sec: 50.0,
        }
    }
}

/// What was injected, for tests. Lists are in the order the records were built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// Session ARNs (`arn:aws:sts::ACCT:assumed-role/ROLE/i-…`) used by a thief.
    pub attacked_sessions: Vec<String>,
    /// `eventID` of every record made by a thief.
    pub thief_event_ids: Vec<String>,
    /// Source addresses thieves used (never an address any instance ever had).
    pub thief_ips: Vec<String>,
    /// One entry per incident that made at least one call (a stream too short may cut some).
    pub incidents: Vec<Incident>,
}

/// One injected incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incident {
    pub session_arn: String,
    pub instance_id: String,
    pub account_id: String,
    /// The stolen credentials' access key id (issued by the AssumeRole the thief stole from).
    pub access_key_id: String,
    /// The thief's first call precedes the instance's first call with those credentials (in event
    /// time and in output order): a first-use detector locks the thief's address, and the
    /// instance's own calls are the ones that look foreign.
    pub attacker_first: bool,
    pub thief_ips: Vec<String>,
    pub thief_event_ids: Vec<String>,
}

/// Writes `cfg.records` records of NDJSON to `out` and returns what was injected.
pub fn generate(cfg: &GenConfig, out: &mut impl Write) -> io::Result<Truth> {
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut g = Gen::new(cfg);
    g.run(&mut w)?;
    w.flush()?;
    Ok(g.truth)
}

/// [`generate`] into memory.
pub fn generate_to_vec(cfg: &GenConfig) -> (Vec<u8>, Truth) {
    let mut v = Vec::with_capacity(cfg.records.saturating_mul(1700).min(1 << 30));
    let truth = match generate(cfg, &mut v) {
        Ok(t) => t,
        // Writing to a Vec cannot fail.
        Err(e) => unreachable!("writing to a Vec failed: {e}"),
    };
    (v, truth)
}

// ---------------------------------------------------------------------------------------------
// Small helpers: random draws, text.

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEXU: &[u8; 16] = b"0123456789ABCDEF";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALNUM: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789Ab";

trait Draw {
    /// Uniform in `0..n` (0 when `n <= 1`).
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`).
    fn between(&mut self, lo: i64, hi: i64) -> i64;
    /// True with probability `p` per mille.
    fn per_mille(&mut self, p: u32) -> bool;
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T;
}

impl Draw for ChaCha8Rng {
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 { 0 } else { self.random_range(0..n) }
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { self.random_range(lo..=hi) }
    }
    fn per_mille(&mut self, p: u32) -> bool {
        (self.next_u32() % 1000) < p
    }
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
}

/// Appends `n` characters drawn from `set` (`set.len()` must be `1 << bits`).
fn push_rand(b: &mut Vec<u8>, rng: &mut ChaCha8Rng, n: usize, set: &[u8], bits: u32) {
    debug_assert_eq!(set.len(), 1 << bits);
    let mask = (1u64 << bits) - 1;
    let per = 64 / bits;
    let (mut x, mut left) = (0u64, 0u32);
    for _ in 0..n {
        if left == 0 {
            x = rng.next_u64();
            left = per;
        }
        b.push(set[(x & mask) as usize]);
        x >>= bits;
        left -= 1;
    }
}

fn rand_string(rng: &mut ChaCha8Rng, prefix: &str, n: usize, set: &[u8], bits: u32) -> String {
    let mut b = Vec::with_capacity(prefix.len() + n);
    b.extend_from_slice(prefix.as_bytes());
    push_rand(&mut b, rng, n, set, bits);
    into_string(b)
}

fn hex_id(rng: &mut ChaCha8Rng, prefix: &str, n: usize) -> String {
    rand_string(rng, prefix, n, HEX, 4)
}

/// Only ASCII is ever pushed by this module.
fn into_string(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_default()
}

/// A random (version 4) UUID, lower case.
fn uuid(rng: &mut ChaCha8Rng) -> [u8; 36] {
    let (a, c) = (rng.next_u64(), rng.next_u64());
    let mut o = [b'-'; 36];
    let mut k = 0;
    for (i, slot) in o.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        let nib = if k < 16 { (a >> (k * 4)) & 15 } else { (c >> ((k - 16) * 4)) & 15 };
        *slot = match k {
            12 => b'4',
            16 => b"89ab"[(nib & 3) as usize],
            _ => HEX[nib as usize],
        };
        k += 1;
    }
    o
}

fn uuid_string(rng: &mut ChaCha8Rng) -> String {
    into_string(uuid(rng).to_vec())
}

fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&buf[i..]);
}

macro_rules! put {
    ($b:expr, $($x:expr),* $(,)?) => {{
        $( $b.extend_from_slice(AsRef::<[u8]>::as_ref(&$x)); )*
    }};
}

fn v4(rng: &mut ChaCha8Rng, first: &[u8]) -> String {
    let a = *rng.pick(first);
    let x = rng.next_u32();
    format!("{}.{}.{}.{}", a, x & 0xff, (x >> 8) & 0xff, 1 + ((x >> 16) % 254))
}

fn private_v4(rng: &mut ChaCha8Rng) -> String {
    let x = rng.next_u32();
    if x & 1 == 0 {
        format!("10.{}.{}.{}", (x >> 1) & 0xff, (x >> 9) & 0xff, 4 + ((x >> 17) % 250))
    } else {
        format!("172.{}.{}.{}", 16 + ((x >> 1) & 15), (x >> 5) & 0xff, 4 + ((x >> 13) % 250))
    }
}

fn v6(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    let mut s = String::from(prefix);
    for i in 0..6 {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{:x}", 1 + rng.below(0xfffe)));
    }
    s
}

// Disjoint first octets, so a thief's address can never be one an instance had.
const POOL_AWS: &[u8] = &[3, 13, 18, 34, 35, 44, 50, 52, 54, 107];
const POOL_THIEF: &[u8] = &[5, 31, 37, 45, 77, 89, 91, 146, 176, 185, 193, 194, 195];
const POOL_OFFICE: &[u8] = &[62, 81, 82, 212, 217];
const POOL_CI: &[u8] = &[20, 40];
const POOL_LAMBDA: &[u8] = &[15, 16];

// ---------------------------------------------------------------------------------------------
// Time.

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe as i64 + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(o: &mut [u8], v: u64) {
    let mut v = v;
    for c in o.iter_mut().rev() {
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(t: i64) -> [u8; 20] {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u64;
    let mut o = *b"0000-00-00T00:00:00Z";
    digits(&mut o[0..4], y.clamp(0, 9999) as u64);
    digits(&mut o[5..7], m as u64);
    digits(&mut o[8..10], d as u64);
    digits(&mut o[11..13], s / 3600);
    digits(&mut o[14..16], s / 60 % 60);
    digits(&mut o[17..19], s % 60);
    o
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// CloudTrail's `expiration` spelling: `Jul 10, 2023, 6:30:22 PM`.
fn aws_date(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let ampm = if h < 12 { "AM" } else { "PM" };
    format!("{} {}, {}, {}:{:02}:{:02} {}", MONTHS[(m - 1) as usize], d, y, h12, mi, se, ampm)
}

// ---------------------------------------------------------------------------------------------
// The world: accounts, roles, instances, other principals.

const REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"];
const APPS: &[&str] = &[
    "web-frontend", "api-server", "batch-worker", "ingest", "kafka-broker", "jenkins-agent",
    "etl-runner", "search-node", "cache-proxy", "ml-inference", "bastion", "grafana", "billing",
    "payments-api", "media-transcoder", "ledger", "notifier", "crawler",
];
const PATHS: &[&str] = &["/team/app/", "/platform/", "/data/etl/", "/service/web/", "/prod/compute/"];
const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dmitri", "erin", "farid", "grace", "hiro", "ines", "jonas", "kemal",
    "lena", "mateo", "noor", "oskar", "priya",
];
const FUNCS: &[&str] = &[
    "orders-processor", "thumbnail-resizer", "audit-forwarder", "nightly-report", "slack-notifier",
    "token-rotator", "s3-indexer", "webhook-handler",
];

const SDK_UAS: &[&str] = &[
    "aws-sdk-java/1.12.470 Linux/5.10.192-183.736.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS java/17.0.8 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#5.10.197-186.748.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62",
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.40.0",
    "aws-sdk-nodejs/2.1450.0 linux/v18.17.1 exec-env/AWS_ECS_EC2 promise",
    "aws-sdk-java/2.20.162 Linux/6.1.55-75.123.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.1+12-LTS Java/21.0.1 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-cli/2.13.25 Python/3.11.5 Linux/5.15.0-1047-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
];
const SSM_UA: &str = "aws-sdk-go/1.44.298 (go1.20.6; linux; amd64) amazon-ssm-agent/3.2.1297.0";
const ECS_UA: &str = "Go-http-client/1.1 (ECS Agent 1.79.2 (0a1b2c3d)) aws-sdk-go/1.44.322 (go1.20.8; linux; amd64)";
const DNS_UA: &str = "aws-sdk-go/1.44.311 (go1.20.7; linux; amd64) ExternalDNS/v0.13.6";
const LAMBDA_UA: &str = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209-220.815.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.34";
const ECS_TASK_UA: &str = "aws-sdk-nodejs/3.496.0 linux/v20.11.0 exec-env/AWS_ECS_FARGATE lang/js md/nodejs#20.11.0 api/dynamodb#3.496.0";
const CLI_UA: &str = "aws-cli/2.15.17 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/";
const TF_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.3 (+https://www.terraform.io) terraform-provider-aws/5.38.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.0 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.146.0";
const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
];
const THIEF_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/",
    "aws-cli/1.29.62 Python/3.11.5 Linux/6.5.0-kali3-amd64 botocore/1.31.62 command/",
    "aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64 prompt/off command/",
];

struct Account {
    id: String,
    region: &'static str,
    buckets: Vec<String>,
    kms_keys: Vec<String>,
    secrets: Vec<String>,
    params: Vec<String>,
    tables: Vec<String>,
    cluster: String,
    zone: String,
    vpc: String,
    subnets: Vec<String>,
    sg: String,
    ami: String,
    vpce: [String; 4],
    admin: Principal,
    ci: Principal,
    sso: Vec<Principal>,
    lambdas: Vec<Principal>,
    ecs_tasks: Vec<Principal>,
    autoscaling: Principal,
    office_ip: String,
    ci_ips: Vec<String>,
    nat_ip: String,
    roles: Vec<usize>,
}

/// A non-instance caller: its `userIdentity` object, ready to copy.
struct Principal {
    ident: Vec<u8>,
    name: String,
    role_arn: String,
}

struct Role {
    name: String,
    arn: String,
    id: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Calls from its public IPv4 address.
    V4,
    /// Calls from its IPv6 address (dual-stack endpoints).
    V6,
    /// Private subnet: every call through an interface/gateway VPC endpoint, private source.
    Vpce,
    /// Public IPv4, but S3 through a gateway endpoint (private source, `vpcEndpointId`).
    Mixed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    NotLaunched,
    Running,
    Stopped,
}

#[derive(Clone)]
struct Sess {
    key: String,
    ident: Vec<u8>,
    created: i64,
}

struct Inst {
    id: String,
    acct: usize,
    role: usize,
    region: &'static str,
    mode: Mode,
    /// The primary source address: public v4, v6, or (Vpce) private.
    ip: String,
    private_ip: String,
    eni: String,
    subnet: String,
    arn: String,
    st: St,
    epoch: u32,
    sess: Option<Sess>,
    issued: Option<Sess>,
    enabled: bool,
    pending_ip: Option<String>,
    pending_eip: Option<(String, String)>,
    /// Event times of planned address changes not yet emitted, ascending.
    barriers: Vec<i64>,
    sdk: &'static str,
    delivery: &'static str,
    last_issue: i64,
    launched_later: bool,
    target: bool,
    weight: u64,
}

impl Inst {
    fn endpoint(&self, acct: &Account, svc: usize) -> Option<(String, String)> {
        let _ = self;
        Some((acct.vpce[svc % 4].clone(), acct.id.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// The schedule.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Purpose {
    Normal,
    /// A refresh forced for an instance-first incident: the thief steals these credentials.
    StealAfterUse(usize),
    /// The first issue of an instance launched for an attacker-first incident.
    StealBeforeUse(usize),
}

#[derive(Clone, Debug)]
enum Act {
    Issue { inst: usize, epoch: u32, purpose: Purpose },
    /// The instance's first call with freshly issued credentials.
    Adopt { inst: usize, epoch: u32, thief_after: Option<usize> },
    Launch { inst: usize, attack: Option<usize> },
    AttackRefresh { incident: usize },
    Allocate { inst: usize, assoc_at: i64, by_name: bool },
    Associate { inst: usize, by_name: bool, via_eni: bool },
    Attach { inst: usize, new_address: bool },
    /// After an unnamed change: the instance's first call from its one new address.
    Switch { inst: usize },
    Stop { inst: usize, start_at: i64 },
    Start { inst: usize },
    /// First call after a start that kept the old credentials.
    Resume { inst: usize, epoch: u32 },
    Thief { incident: usize, idx: u32 },
}

struct Due {
    at: i64,
    seq: u64,
    act: Act,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    // Reversed: BinaryHeap is a max-heap, we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// A built record waiting for its delivery time.
struct Pending {
    key: u64,
    seq: u64,
    buf: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.key, self.seq) == (o.key, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.key, o.seq).cmp(&(self.key, self.seq))
    }
}

struct IncidentState {
    inst: usize,
    attacker_first: bool,
    ips: Vec<String>,
    ua: &'static str,
    stolen: Option<Sess>,
    calls: u32,
    spacing: i64,
    emitted: bool,
    truth: Incident,
}

/// How a record is delivered relative to others.
#[derive(Clone, Copy)]
enum Deliver {
    /// Random delay in `[0, jitter]`.
    Jitter,
    /// No delay: delivered before every record built after it.
    Anchor,
    /// Random delay, but delivered before the instance's next planned change.
    Before(usize),
}

struct Gen<'c> {
    cfg: &'c GenConfig,
    rng: ChaCha8Rng,
    accts: Vec<Account>,
    roles: Vec<Role>,
    insts: Vec<Inst>,
    cum_weight: Vec<u64>,
    incidents: Vec<IncidentState>,
    sched: BinaryHeap<Due>,
    sched_seq: u64,
    used_ips: HashSet<String>,
    now: i64,
    end: i64,
    tcache: (i64, [u8; 20]),
    out: BinaryHeap<Pending>,
    pool: Vec<Vec<u8>>,
    seq: u64,
    jitter_ms: u64,
    truth: Truth,
    last_event_id: [u8; 36],
}

/// Spreads `records` over event time.
fn slot_time(cfg: &GenConfig, i: usize) -> i64 {
    let rate = if cfg.events_per_sec.is_finite() && cfg.events_per_sec > 0.0 { cfg.events_per_sec } else { 1.0 };
    cfg.start + (i as f64 / rate).floor() as i64
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c GenConfig) -> Gen<'c> {
        let end = slot_time(cfg, cfg.records.saturating_sub(1));
        let mut g = Gen {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            accts: Vec::new(),
            roles: Vec::new(),
            insts: Vec::new(),
            cum_weight: Vec::new(),
            incidents: Vec::new(),
            sched: BinaryHeap::new(),
            sched_seq: 0,
            used_ips: HashSet::new(),
            now: cfg.start,
            end,
            tcache: (i64::MIN, [0; 20]),
            out: BinaryHeap::new(),
            pool: Vec::new(),
            seq: 0,
            jitter_ms: u64::from(cfg.jitter_secs) * 1000,
            truth: Truth::default(),
            last_event_id: [b'0'; 36],
        };
        g.build_world();
        g.plan();
        g
    }

    fn fresh_ip(&mut self, pool: &[u8]) -> String {
        loop {
            let ip = v4(&mut self.rng, pool);
            if self.used_ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    fn fresh_private(&mut self) -> String {
        loop {
            let ip = private_v4(&mut self.rng);
            if self.used_ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    fn fresh_v6(&mut self) -> String {
        loop {
            let ip = v6(&mut self.rng, "2600:1f18:");
            if self.used_ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    fn build_world(&mut self) {
        let n_accts = self.cfg.accounts.max(1);
        let start = self.cfg.start;
        for a in 0..n_accts {
            let rng = &mut self.rng;
            let id = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
            let region = if a == 0 { "us-east-1" } else { *rng.pick(REGIONS) };
            let org = *rng.pick(&["acme", "globex", "initech", "umbrella", "hooli", "stark"]);
            let env = *rng.pick(&["prod", "staging", "shared", "data"]);
            let buckets = (0..4)
                .map(|k| {
                    let kind = ["assets", "logs", "artifacts", "datalake", "backups", "uploads"][(k + a) % 6];
                    format!("{org}-{env}-{kind}-{}", hex_id(rng, "", 6))
                })
                .collect();
            let kms_keys = (0..3).map(|_| uuid_string(rng)).collect();
            let secrets = ["db/primary", "api/stripe", "oauth/client", "redis/auth"]
                .iter()
                .map(|s| format!("arn:aws:secretsmanager:{region}:{id}:secret:{env}/{s}-{}", rand_string(rng, "", 6, ALNUM, 6)))
                .collect();
            let params = ["/app/config/db_host", "/app/config/feature_flags", "/app/config/log_level", "/shared/cw-agent-config"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let tables = ["orders", "sessions", "inventory", "idempotency-keys"].iter().map(|s| format!("{env}-{s}")).collect();
            let cluster = format!("{env}-cluster");
            let zone = rand_string(rng, "Z0", 19, B32, 5);
            let vpc = hex_id(rng, "vpc-", 17);
            let subnets = (0..3).map(|_| hex_id(rng, "subnet-", 17)).collect();
            let sg = hex_id(rng, "sg-", 17);
            let ami = hex_id(rng, "ami-", 17);
            let vpce = [
                hex_id(rng, "vpce-", 17),
                hex_id(rng, "vpce-", 17),
                hex_id(rng, "vpce-", 17),
                hex_id(rng, "vpce-", 17),
            ];
            let admin_name = *rng.pick(&["ops-admin", "platform-admin", "netops"]);
            let admin = iam_user(rng, &id, admin_name);
            let ci = iam_user(rng, &id, "ci-deployer");
            let sso_role = format!("AWSReservedSSO_AdministratorAccess_{}", hex_id(rng, "", 16));
            let sso_ro = format!("AWSReservedSSO_ReadOnlyAccess_{}", hex_id(rng, "", 16));
            let sso_admin_id = rand_string(rng, "AROA", 17, B32, 5);
            let sso_ro_id = rand_string(rng, "AROA", 17, B32, 5);
            let mut sso = Vec::new();
            for k in 0..3 {
                let person = PEOPLE[(a * 3 + k) % PEOPLE.len()];
                let (r, rid) = if k == 0 { (&sso_role, &sso_admin_id) } else { (&sso_ro, &sso_ro_id) };
                let arn = format!("arn:aws:iam::{id}:role/aws-reserved/sso.amazonaws.com/{r}");
                sso.push(role_session(rng, &id, r, rid, &arn, &format!("{person}@{org}.com"), start - rng.between(600, 36_000), "ASIA", None));
            }
            let mut lambdas = Vec::new();
            for k in 0..3 {
                let f = FUNCS[(a * 2 + k) % FUNCS.len()];
                let rname = format!("{f}-role-{}", rand_string(rng, "", 8, B32, 5).to_ascii_lowercase());
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                let arn = format!("arn:aws:iam::{id}:role/service-role/{rname}");
                lambdas.push(role_session(rng, &id, &rname, &rid, &arn, f, start - rng.between(60, 3000), "ASIA", None));
            }
            let mut ecs_tasks = Vec::new();
            for k in 0..2 {
                let rname = ["ecs-task-api-role", "ecs-task-worker-role"][k].to_string();
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                let arn = format!("arn:aws:iam::{id}:role/{rname}");
                let task = hex_id(rng, "", 32);
                ecs_tasks.push(role_session(rng, &id, &rname, &rid, &arn, &task, start - rng.between(60, 20_000), "ASIA", None));
            }
            let asg_rid = rand_string(rng, "AROA", 17, B32, 5);
            let autoscaling = role_session(
                rng,
                &id,
                "AWSServiceRoleForAutoScaling",
                &asg_rid,
                &format!("arn:aws:iam::{id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
                "AutoScaling",
                start - rng.between(60, 3000),
                "ASIA",
                Some("autoscaling.amazonaws.com"),
            );
            let office_ip = v4(rng, POOL_OFFICE);
            let ci_ips = (0..3).map(|_| v4(rng, POOL_CI)).collect();
            let nat_ip = self.fresh_ip(POOL_AWS);
            // Roles for instance profiles.
            let n_roles = 3 + self.rng.below(4) as usize;
            let mut roles = Vec::new();
            for k in 0..n_roles {
                let rng = &mut self.rng;
                let app = APPS[(a * 5 + k * 7 + rng.below(3) as usize) % APPS.len()];
                let name = match rng.below(3) {
                    0 => format!("{app}-instance-role"),
                    1 => format!("{app}-InstanceRole-{}", rand_string(rng, "", 12, B32, 5)),
                    _ => format!("{app}Role"),
                };
                let path = if rng.per_mille(300) { *rng.pick(PATHS) } else { "/" };
                let arn = format!("arn:aws:iam::{id}:role{path}{name}");
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                roles.push(self.roles.len());
                self.roles.push(Role { name, arn, id: rid });
            }
            self.accts.push(Account {
                id,
                region,
                buckets,
                kms_keys,
                secrets,
                params,
                tables,
                cluster,
                zone,
                vpc,
                subnets,
                sg,
                ami,
                vpce,
                admin,
                ci,
                sso,
                lambdas,
                ecs_tasks,
                autoscaling,
                office_ip,
                ci_ips,
                nat_ip,
                roles,
            });
        }

        let n = self.cfg.instances;
        let attacks = self.cfg.attacks.min(n);
        let n_af = attacks / 2;
        let n_if = attacks - n_af;
        let extra = n / 20;
        let n_launch = (n_af + extra).min(n - n_if);
        for k in 0..n {
            let acct = if k < n_accts { k } else { self.rng.below(n_accts as u64) as usize };
            let launched_later = k >= n - n_launch;
            // Attacker-first targets (the first launched ones) must call from a public address.
            let af_target = launched_later && k < n - n_launch + n_af;
            let mode = match self.rng.below(100) {
                _ if af_target => {
                    if self.rng.per_mille(800) { Mode::V4 } else { Mode::V6 }
                }
                0..=69 => Mode::V4,
                70..=79 => Mode::V6,
                80..=89 => Mode::Vpce,
                _ => Mode::Mixed,
            };
            let private_ip = self.fresh_private();
            let ip = match mode {
                Mode::V4 | Mode::Mixed => self.fresh_ip(POOL_AWS),
                Mode::V6 => self.fresh_v6(),
                Mode::Vpce => private_ip.clone(),
            };
            let rng = &mut self.rng;
            let role = *rng.pick(&self.accts[acct].roles);
            let region = self.accts[acct].region;
            let id = hex_id(rng, "i-0", 16);
            let arn = format!("arn:aws:sts::{}:assumed-role/{}/{}", self.accts[acct].id, self.roles[role].name, id);
            let weight = [1u64, 2, 4, 8, 16][rng.below(5) as usize] * (1 + rng.below(4));
            let subnet = rng.pick(&self.accts[acct].subnets).clone();
            self.insts.push(Inst {
                id,
                acct,
                role,
                region,
                mode,
                ip,
                private_ip,
                eni: hex_id(rng, "eni-0", 16),
                subnet,
                arn,
                st: if launched_later { St::NotLaunched } else { St::Running },
                epoch: 0,
                sess: None,
                issued: None,
                enabled: false,
                pending_ip: None,
                pending_eip: None,
                barriers: Vec::new(),
                sdk: *rng.pick(SDK_UAS),
                delivery: if rng.per_mille(850) { "2.0" } else { "1.0" },
                last_issue: i64::MIN / 4,
                launched_later,
                target: af_target,
                weight,
            });
        }
        let mut acc = 0;
        self.cum_weight = self
            .insts
            .iter()
            .map(|i| {
                acc += i.weight;
                acc
            })
            .collect();

        // Incidents: even-numbered instance-first (an initial instance with a public address),
        // odd-numbered attacker-first (an instance launched for it).
        let initial: Vec<usize> = (0..n - n_launch).filter(|&k| self.insts[k].mode != Mode::Vpce).collect();
        let mut chosen: Vec<usize> = Vec::new();
        let mut next_af = n - n_launch;
        for k in 0..attacks {
            let af = k % 2 == 1;
            let inst = if af {
                let i = next_af;
                next_af += 1;
                Some(i)
            } else {
                let free: Vec<usize> = initial.iter().copied().filter(|i| !chosen.contains(i)).collect();
                if free.is_empty() { None } else { Some(free[self.rng.below(free.len() as u64) as usize]) }
            };
            let Some(inst) = inst else { continue };
            chosen.push(inst);
            self.insts[inst].target = true;
            let n_ips = if self.rng.per_mille(300) { 2 } else { 1 };
            let ips = (0..n_ips)
                .map(|_| loop {
                    let ip = v4(&mut self.rng, POOL_THIEF);
                    if self.used_ips.insert(ip.clone()) {
                        break ip;
                    }
                })
                .collect();
            let d = (self.end - self.cfg.start).max(1);
            let spacing = (d / 200).clamp(2, 90);
            let calls = self.rng.between(6, 20) as u32;
            let ua = *self.rng.pick(THIEF_UAS);
            let i = &self.insts[inst];
            self.incidents.push(IncidentState {
                inst,
                attacker_first: af,
                ips,
                ua,
                stolen: None,
                calls,
                spacing,
                emitted: false,
                truth: Incident {
                    session_arn: i.arn.clone(),
                    instance_id: i.id.clone(),
                    account_id: self.accts[i.acct].id.clone(),
                    attacker_first: af,
                    ..Incident::default()
                },
            });
        }
    }

    fn schedule(&mut self, at: i64, act: Act) {
        self.sched_seq += 1;
        self.sched.push(Due { at, seq: self.sched_seq, act });
    }

    fn plan(&mut self) {
        let start = self.cfg.start;
        let d = (self.end - start).max(1);
        let j = i64::from(self.cfg.jitter_secs);
        for k in 0..self.insts.len() {
            if !self.insts[k].launched_later {
                let at = start + self.rng.between(0, (d / 10).min(30));
                self.schedule(at, Act::Issue { inst: k, epoch: 0, purpose: Purpose::Normal });
            } else if !self.insts[k].target {
                let at = start + d / 20 + self.rng.between(0, d * 3 / 4);
                self.schedule(at, Act::Launch { inst: k, attack: None });
            }
        }
        let n = self.incidents.len() as i64;
        for (k, inc) in self.incidents.iter().enumerate() {
            let lo = start + d * 15 / 100 + d * 60 / 100 * k as i64 / n.max(1);
            let at = lo + self.rng.between(0, d * 60 / 100 / n.max(1) / 2);
            let act = if inc.attacker_first {
                Act::Launch { inst: inc.inst, attack: Some(k) }
            } else {
                Act::AttackRefresh { incident: k }
            };
            self.sched_seq += 1;
            self.sched.push(Due { at, seq: self.sched_seq, act });
        }

        // Address changes, on instances not involved in incidents, never two within an hour.
        let eligible: Vec<usize> = (0..self.insts.len())
            .filter(|&k| {
                let i = &self.insts[k];
                !i.target && matches!(i.mode, Mode::V4 | Mode::Mixed)
            })
            .collect();
        if eligible.is_empty() {
            return;
        }
        let hours = d / 3600;
        let n_changes = (self.insts.len() as i64 * (4 + 3 * hours) / 20).max(1);
        let earliest = start + 150 + j;
        let latest = self.end - 30;
        let mut planned: Vec<(usize, i64)> = Vec::new();
        for _ in 0..n_changes * 3 {
            if planned.len() as i64 >= n_changes || latest <= earliest {
                break;
            }
            let k = *self.rng.pick(&eligible);
            let at = self.rng.between(earliest, latest);
            if planned.iter().any(|&(p, t)| p == k && (t - at).abs() < 3600) {
                continue;
            }
            planned.push((k, at));
            let launched = self.insts[k].launched_later;
            match self.rng.below(100) {
                0..=29 => {
                    let lead = self.rng.between(5, 600);
                    self.schedule(at - lead, Act::Allocate { inst: k, assoc_at: at, by_name: false });
                }
                30..=49 => {
                    if self.rng.per_mille(500) {
                        let lead = self.rng.between(5, 600);
                        self.schedule(at - lead, Act::Allocate { inst: k, assoc_at: at, by_name: true });
                    } else {
                        self.schedule(at, Act::Associate { inst: k, by_name: true, via_eni: false });
                    }
                }
                50..=74 => {
                    let new_address = self.rng.per_mille(700);
                    self.schedule(at, Act::Attach { inst: k, new_address });
                }
                _ => {
                    let start_at = at + j + self.rng.between(5, 900);
                    self.schedule(at, Act::Stop { inst: k, start_at });
                }
            }
            // A launched instance may not be running yet: its changes wait for it (see handlers).
            let _ = launched;
            let b = &mut self.insts[k].barriers;
            let pos = b.partition_point(|&t| t <= at);
            b.insert(pos, at);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Main loop.

    fn run(&mut self, w: &mut impl Write) -> io::Result<()> {
        for i in 0..self.cfg.records {
            let t = slot_time(self.cfg, i);
            self.now = t;
            let horizon = self.key(t, 0);
            while self.out.peek().is_some_and(|p| p.key <= horizon) {
                if let Some(p) = self.out.pop() {
                    w.write_all(&p.buf)?;
                    self.recycle(p.buf);
                }
            }
            let mut done = false;
            while !done && self.sched.peek().is_some_and(|d| d.at <= t) {
                if let Some(d) = self.sched.pop() {
                    done = self.act(d.act);
                }
            }
            if !done {
                self.background();
            }
        }
        while let Some(p) = self.out.pop() {
            w.write_all(&p.buf)?;
            self.recycle(p.buf);
        }
        Ok(())
    }

    fn key(&self, t: i64, delay_ms: u64) -> u64 {
        ((t - self.cfg.start).max(0) as u64) * 1000 + delay_ms
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 4096 && buf.capacity() <= 64 * 1024 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048))
    }

    fn push(&mut self, buf: Vec<u8>, how: Deliver) {
        let t = self.now;
        let mut delay = match how {
            Deliver::Anchor => 0,
            _ if self.jitter_ms == 0 => 0,
            _ => self.rng.random_range(0..=self.jitter_ms),
        };
        if let Deliver::Before(k) = how {
            if let Some(&b) = self.insts[k].barriers.first() {
                delay = delay.min(((b - t).max(0) as u64) * 1000);
            }
        }
        self.seq += 1;
        let key = self.key(t, delay);
        self.out.push(Pending { key, seq: self.seq, buf });
    }

    fn time(&mut self) -> [u8; 20] {
        if self.tcache.0 != self.now {
            self.tcache = (self.now, rfc3339(self.now));
        }
        self.tcache.1
    }

    fn drop_barrier(&mut self, k: usize, at: i64) {
        let b = &mut self.insts[k].barriers;
        if let Some(pos) = b.iter().position(|&t| t == at) {
            b.remove(pos);
        } else if !b.is_empty() {
            b.remove(0);
        }
    }

    /// Handles one scheduled action; true if it emitted a record.
    fn act(&mut self, act: Act) -> bool {
        let t = self.now;
        let j = i64::from(self.cfg.jitter_secs);
        match act {
            Act::Issue { inst, epoch, purpose } => {
                let i = &self.insts[inst];
                if i.epoch != epoch || i.st != St::Running {
                    return false;
                }
                let sess = self.new_session(inst);
                self.emit_ec2_assume_role(inst, &sess);
                let i = &mut self.insts[inst];
                i.last_issue = t;
                i.issued = Some(sess.clone());
                // Refresh well inside the 6 h the credentials (and a detector's row) live.
                let next = t + self.rng.between(3600, 19_800);
                self.schedule(next, Act::Issue { inst, epoch, purpose: Purpose::Normal });
                match purpose {
                    Purpose::Normal => {
                        let at = t + self.rng.between(1, 30);
                        self.schedule(at, Act::Adopt { inst, epoch, thief_after: None });
                    }
                    Purpose::StealAfterUse(k) => {
                        self.incidents[k].stolen = Some(sess);
                        let at = t + self.rng.between(1, 20);
                        self.schedule(at, Act::Adopt { inst, epoch, thief_after: Some(k) });
                    }
                    Purpose::StealBeforeUse(k) => {
                        self.incidents[k].stolen = Some(sess);
                        let d = self.end - self.cfg.start;
                        let at = t + self.rng.between((d / 40).clamp(1, 60), (d / 20).clamp(2, 300));
                        self.schedule(at, Act::Thief { incident: k, idx: 0 });
                    }
                }
                true
            }
            Act::Adopt { inst, epoch, thief_after } => {
                let i = &mut self.insts[inst];
                if i.epoch != epoch || i.st != St::Running || i.issued.is_none() {
                    return false;
                }
                i.sess = i.issued.take();
                i.enabled = true;
                self.emit_instance_call(inst, true, Deliver::Anchor);
                if let Some(k) = thief_after {
                    let d = self.end - self.cfg.start;
                    let lo = (d / 20).clamp(1, 120);
                    let hi = (d / 8).clamp(lo + 1, 1800);
                    let at = t + self.rng.between(lo, hi);
                    self.schedule(at, Act::Thief { incident: k, idx: 0 });
                }
                true
            }
            Act::AttackRefresh { incident } => {
                let inst = self.incidents[incident].inst;
                let epoch = self.insts[inst].epoch;
                self.act(Act::Issue { inst, epoch, purpose: Purpose::StealAfterUse(incident) })
            }
            Act::Launch { inst, attack } => {
                if self.insts[inst].st != St::NotLaunched {
                    return false;
                }
                self.emit_run_instances(inst);
                self.insts[inst].st = St::Running;
                let at = t + self.rng.between(20, 90);
                let purpose = attack.map_or(Purpose::Normal, Purpose::StealBeforeUse);
                self.schedule(at, Act::Issue { inst, epoch: 0, purpose });
                true
            }
            Act::Allocate { inst, assoc_at, by_name } => {
                let ip = self.fresh_ip(POOL_AWS);
                let alloc = hex_id(&mut self.rng, "eipalloc-0", 16);
                self.emit_allocate(inst, &alloc, &ip);
                self.insts[inst].pending_eip = Some((alloc, ip));
                let via_eni = !by_name && self.rng.per_mille(250);
                self.schedule(assoc_at.max(t), Act::Associate { inst, by_name, via_eni });
                true
            }
            Act::Associate { inst, by_name, via_eni } => {
                self.drop_barrier(inst, t);
                if self.insts[inst].st != St::Running {
                    self.insts[inst].pending_eip = None;
                    return false;
                }
                let (alloc, ip) = match self.insts[inst].pending_eip.take() {
                    Some(p) => p,
                    None => {
                        let ip = self.fresh_ip(POOL_AWS);
                        (hex_id(&mut self.rng, "eipalloc-0", 16), ip)
                    }
                };
                self.emit_associate(inst, &alloc, &ip, by_name, via_eni);
                self.insts[inst].ip = ip;
                true
            }
            Act::Attach { inst, new_address } => {
                self.drop_barrier(inst, t);
                if self.insts[inst].st != St::Running {
                    return false;
                }
                self.emit_attach(inst);
                if new_address {
                    let ip = self.fresh_ip(POOL_AWS);
                    self.insts[inst].pending_ip = Some(ip);
                    let at = t + self.rng.between(5, 600);
                    self.schedule(at, Act::Switch { inst });
                }
                true
            }
            Act::Switch { inst } => {
                let Some(ip) = self.insts[inst].pending_ip.take() else { return false };
                self.insts[inst].ip = ip;
                if self.insts[inst].st != St::Running || self.insts[inst].sess.is_none() {
                    return false;
                }
                self.emit_instance_call(inst, true, Deliver::Anchor);
                true
            }
            Act::Stop { inst, start_at } => {
                self.drop_barrier(inst, t);
                if self.insts[inst].st != St::Running {
                    return false;
                }
                self.emit_stop_start(inst, true);
                let i = &mut self.insts[inst];
                i.st = St::Stopped;
                i.enabled = false;
                i.epoch += 1;
                i.issued = None;
                self.schedule(start_at.max(t + j + 1), Act::Start { inst });
                true
            }
            Act::Start { inst } => {
                if self.insts[inst].st != St::Stopped {
                    return false;
                }
                self.emit_stop_start(inst, false);
                let ip = self.fresh_ip(POOL_AWS);
                let i = &mut self.insts[inst];
                i.st = St::Running;
                i.ip = ip;
                let epoch = i.epoch;
                let fresh = i.sess.is_none() || t - i.last_issue > 4 * 3600 || self.rng.per_mille(700);
                if fresh {
                    let at = t + self.rng.between(10, 40);
                    self.schedule(at, Act::Issue { inst, epoch, purpose: Purpose::Normal });
                } else {
                    let at = t + self.rng.between(15, 60);
                    self.schedule(at, Act::Resume { inst, epoch });
                    let next = (self.insts[inst].last_issue + 19_800).max(t + 60);
                    self.schedule(next, Act::Issue { inst, epoch, purpose: Purpose::Normal });
                }
                true
            }
            Act::Resume { inst, epoch } => {
                let i = &mut self.insts[inst];
                if i.epoch != epoch || i.st != St::Running || i.sess.is_none() {
                    return false;
                }
                i.enabled = true;
                self.emit_instance_call(inst, true, Deliver::Anchor);
                true
            }
            Act::Thief { incident, idx } => self.thief_call(incident, idx),
        }
    }

    fn new_session(&mut self, inst: usize) -> Sess {
        let rng = &mut self.rng;
        let key = rand_string(rng, "ASIA", 16, B32, 5);
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let r = &self.roles[i.role];
        let mut b = Vec::with_capacity(700);
        put!(
            b,
            "{\"type\":\"AssumedRole\",\"principalId\":\"", r.id, ":", i.id,
            "\",\"arn\":\"", i.arn, "\",\"accountId\":\"", a.id, "\",\"accessKeyId\":\"", key,
            "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"", r.id,
            "\",\"arn\":\"", r.arn, "\",\"accountId\":\"", a.id, "\",\"userName\":\"", r.name,
            "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"", rfc3339(self.now),
            "\",\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"", i.delivery, "\"}}"
        );
        Sess { key, ident: b, created: self.now }
    }

    // -----------------------------------------------------------------------------------------
    // Record assembly.

    /// Writes the record head, through `userAgent`.
    #[allow(clippy::too_many_arguments)]
    fn head(
        &mut self,
        b: &mut Vec<u8>,
        ver: &str,
        ident: &[u8],
        invoked_by: Option<&str>,
        source: &str,
        name: &str,
        region: &str,
        ip: &str,
        ua: &[&str],
    ) {
        let time = self.time();
        put!(b, "{\"eventVersion\":\"", ver, "\",\"userIdentity\":");
        match invoked_by {
            Some(by) => put!(b, ident[..ident.len() - 1], ",\"invokedBy\":\"", by, "\"}"),
            None => put!(b, ident),
        }
        put!(b, ",\"eventTime\":\"", time, "\",\"eventSource\":\"", source, "\",\"eventName\":\"", name);
        put!(b, "\",\"awsRegion\":\"", region, "\",\"sourceIPAddress\":\"", ip, "\",\"userAgent\":\"");
        for p in ua {
            put!(b, p);
        }
        put!(b, "\"");
    }

    /// Writes `requestID`, `eventID`, `readOnly`; remembers the eventID.
    fn ids(&mut self, b: &mut Vec<u8>, s3_style: bool, read_only: bool) {
        put!(b, ",\"requestID\":\"");
        if s3_style {
            push_rand(b, &mut self.rng, 16, HEXU, 4);
        } else {
            put!(b, uuid(&mut self.rng));
        }
        let id = uuid(&mut self.rng);
        self.last_event_id = id;
        put!(b, "\",\"eventID\":\"", id, "\",\"readOnly\":", if read_only { "true" } else { "false" });
    }

    /// Writes the rest of the record and the line end.
    #[allow(clippy::too_many_arguments)]
    fn tail(
        &mut self,
        b: &mut Vec<u8>,
        event_type: &str,
        management: bool,
        recipient: &str,
        shared: bool,
        vpce: Option<(&str, &str)>,
        category: &str,
        tls_host: &[&str],
        console: bool,
    ) {
        put!(b, ",\"eventType\":\"", event_type, "\",\"managementEvent\":", if management { "true" } else { "false" });
        put!(b, ",\"recipientAccountId\":\"", recipient, "\"");
        if shared {
            put!(b, ",\"sharedEventID\":\"", uuid(&mut self.rng), "\"");
        }
        if let Some((id, acct)) = vpce {
            put!(b, ",\"vpcEndpointId\":\"", id, "\",\"vpcEndpointAccountId\":\"", acct, "\"");
        }
        put!(b, ",\"eventCategory\":\"", category, "\"");
        if !tls_host.is_empty() {
            let v13 = self.rng.per_mille(700);
            put!(
                b,
                ",\"tlsDetails\":{\"tlsVersion\":\"",
                if v13 { "TLSv1.3" } else { "TLSv1.2" },
                "\",\"cipherSuite\":\"",
                if v13 { "TLS_AES_128_GCM_SHA256" } else { "ECDHE-RSA-AES128-GCM-SHA256" },
                "\",\"clientProvidedHostHeader\":\""
            );
            for p in tls_host {
                put!(b, p);
            }
            put!(b, "\"}");
        }
        if console {
            put!(b, ",\"sessionCredentialFromConsole\":\"true\"");
        }
        put!(b, "}\n");
    }

    fn token(&mut self, b: &mut Vec<u8>) {
        put!(b, "IQoJb3JpZ2luX2VjE");
        let n = 780 + self.rng.below(300) as usize;
        push_rand(b, &mut self.rng, n, B64, 6);
    }

    fn emit_ec2_assume_role(&mut self, inst: usize, sess: &Sess) {
        let mut b = self.buf();
        let i = &self.insts[inst];
        let (acct_id, region, role_arn, iid) =
            (self.accts[i.acct].id.clone(), i.region, self.roles[i.role].arn.clone(), i.id.clone());
        self.head(
            &mut b,
            "1.08",
            b"{\"type\":\"AWSService\",\"invokedBy\":\"ec2.amazonaws.com\"}",
            None,
            "sts.amazonaws.com",
            "AssumeRole",
            region,
            "ec2.amazonaws.com",
            &["ec2.amazonaws.com"],
        );
        put!(b, ",\"requestParameters\":{\"roleArn\":\"", role_arn, "\",\"roleSessionName\":\"", iid);
        put!(b, "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"", sess.key, "\",\"sessionToken\":\"");
        self.token(&mut b);
        let exp = aws_date(self.now + 6 * 3600 + self.rng.between(0, 2400));
        put!(b, "\",\"expiration\":\"", exp, "\"}}");
        self.ids(&mut b, false, true);
        put!(b, ",\"resources\":[{\"accountId\":\"", acct_id, "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"", role_arn, "\"}]");
        self.tail(&mut b, "AwsApiCall", true, &acct_id, true, None, "Management", &[], false);
        self.push(b, Deliver::Anchor);
    }

    /// The admin (or CI, or autoscaling) principal making an EC2 change in the instance's account.
    fn changer(&mut self, acct: usize) -> (Vec<u8>, String, &'static str, Option<&'static str>) {
        let a = &self.accts[acct];
        match self.rng.below(10) {
            0..=5 => (a.admin.ident.clone(), a.office_ip.clone(), "admin", None),
            6..=8 => (a.ci.ident.clone(), self.rng.pick(&a.ci_ips).clone(), "tf", None),
            _ => (a.autoscaling.ident.clone(), "autoscaling.amazonaws.com".into(), "asg", Some("autoscaling.amazonaws.com")),
        }
    }

    fn ua_for(kind: &str, cmd: &str) -> [&'static str; 2] {
        match kind {
            "admin" => [CLI_UA, leak(cmd)],
            "tf" => [TF_UA, ""],
            _ => ["autoscaling.amazonaws.com", ""],
        }
    }

    fn emit_run_instances(&mut self, inst: usize) {
        let mut b = self.buf();
        let acct = self.insts[inst].acct;
        let (ident, ip, kind, _) = self.changer(acct);
        let ua = Self::ua_for(kind, "ec2.run-instances");
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let r = &self.roles[i.role];
        let (region, acct_id) = (i.region, a.id.clone());
        let profile = format!("arn:aws:iam::{}:instance-profile/{}", a.id, r.name);
        let itype = *self.rng.pick(&["t3.medium", "m6i.large", "c6g.xlarge", "r6i.2xlarge", "m7g.medium"]);
        let token = uuid_string(&mut self.rng);
        let res = hex_id(&mut self.rng, "r-0", 16);
        let attach = hex_id(&mut self.rng, "eni-attach-0", 16);
        let mac = format!("0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", self.rng.below(256), self.rng.below(256), self.rng.below(256), self.rng.below(256), self.rng.below(256));
        let pid = rand_string(&mut self.rng, "AIPA", 17, B32, 5);
        let launch_ms = (self.now as u64) * 1000;
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let mut p = Vec::with_capacity(4096);
        let pdns = format!("ip-{}.ec2.internal", i.private_ip.replace('.', "-"));
        put!(p, "{\"instancesSet\":{\"items\":[{\"imageId\":\"", a.ami, "\",\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"", itype);
        put!(p, "\",\"blockDeviceMapping\":{},\"monitoring\":{\"enabled\":false},\"disableApiTermination\":false,\"disableApiStop\":false,\"clientToken\":\"", token);
        put!(p, "\",\"iamInstanceProfile\":{\"arn\":\"", profile, "\"},\"networkInterfaceSet\":{\"items\":[{\"deviceIndex\":0,\"subnetId\":\"", i.subnet);
        put!(p, "\",\"associatePublicIpAddress\":true,\"groupSet\":{\"items\":[{\"groupId\":\"", a.sg, "\"}]}}]},\"metadataOptions\":{\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2}}");
        put!(b, ",\"requestParameters\":", p);
        let _ = &ua;
        let mut r = Vec::with_capacity(4096);
        put!(r, "{\"requestId\":\"", uuid(&mut self.rng), "\",\"reservationId\":\"", res, "\",\"ownerId\":\"", a.id, "\",\"groupSet\":{},\"instancesSet\":{\"items\":[{\"instanceId\":\"", i.id);
        put!(r, "\",\"imageId\":\"", a.ami, "\",\"currentInstanceBootMode\":\"uefi\",\"instanceState\":{\"code\":0,\"name\":\"pending\"},\"privateDnsName\":\"", pdns);
        put!(r, "\",\"amiLaunchIndex\":0,\"productCodes\":{},\"instanceType\":\"", itype, "\",\"launchTime\":");
        push_u64(&mut r, launch_ms);
        put!(r, ",\"placement\":{\"availabilityZone\":\"", i.region, "a\",\"tenancy\":\"default\"},\"monitoring\":{\"state\":\"disabled\"},\"subnetId\":\"", i.subnet, "\",\"vpcId\":\"", a.vpc);
        put!(r, "\",\"privateIpAddress\":\"", i.private_ip, "\",\"stateReason\":{\"code\":\"pending\",\"message\":\"pending\"},\"architecture\":\"x86_64\",\"rootDeviceType\":\"ebs\",\"rootDeviceName\":\"/dev/xvda\",\"blockDeviceMapping\":{},\"virtualizationType\":\"hvm\",\"hypervisor\":\"xen\",\"iamInstanceProfile\":{\"arn\":\"", profile, "\",\"id\":\"", pid);
        put!(r, "\"},\"groupSet\":{\"items\":[{\"groupId\":\"", a.sg, "\",\"groupName\":\"default\"}]},\"sourceDestCheck\":true,\"networkInterfaceSet\":{\"items\":[{\"networkInterfaceId\":\"", i.eni);
        put!(r, "\",\"subnetId\":\"", i.subnet, "\",\"vpcId\":\"", a.vpc, "\",\"ownerId\":\"", a.id, "\",\"status\":\"in-use\",\"macAddress\":\"", mac, "\",\"privateIpAddress\":\"", i.private_ip, "\",\"privateDnsName\":\"", pdns);
        put!(r, "\",\"sourceDestCheck\":true,\"interfaceType\":\"interface\",\"groupSet\":{\"items\":[{\"groupId\":\"", a.sg, "\",\"groupName\":\"default\"}]},\"attachment\":{\"attachmentId\":\"", attach, "\",\"deviceIndex\":0,\"networkCardIndex\":0,\"status\":\"attaching\",\"attachTime\":");
        push_u64(&mut r, launch_ms);
        put!(r, ",\"deleteOnTermination\":true},\"privateIpAddressesSet\":{\"item\":[{\"privateIpAddress\":\"", i.private_ip, "\",\"privateDnsName\":\"", pdns, "\",\"primary\":true}]},\"ipv6AddressesSet\":{},\"tagSet\":{}}]},\"ebsOptimized\":false,\"enaSupport\":true,\"cpuOptions\":{\"coreCount\":1,\"threadsPerCore\":2},\"capacityReservationSpecification\":{\"capacityReservationPreference\":\"open\"},\"enclaveOptions\":{\"enabled\":false},\"metadataOptions\":{\"state\":\"pending\",\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2,\"httpEndpoint\":\"enabled\",\"httpProtocolIpv4\":\"enabled\",\"httpProtocolIpv6\":\"disabled\",\"instanceMetadataTags\":\"disabled\"},\"maintenanceOptions\":{\"autoRecovery\":\"default\"},\"privateDnsNameOptions\":{\"hostnameType\":\"ip-name\",\"enableResourceNameDnsARecord\":false,\"enableResourceNameDnsAAAARecord\":false}}]}}");
        // Head last: `p`/`r` borrow self's world, the head needs &mut self.
        let mut h = Vec::with_capacity(b.len() + p.len() + r.len() + 1500);
        self.head(&mut h, "1.09", &ident, if kind == "asg" { Some("autoscaling.amazonaws.com") } else { None }, "ec2.amazonaws.com", "RunInstances", region, &ip, &ua);
        put!(h, b, ",\"responseElements\":", r);
        self.ids(&mut h, false, false);
        self.tail(&mut h, "AwsApiCall", true, &acct_id, false, None, "Management", &["ec2.", region, ".amazonaws.com"], false);
        self.recycle(b);
        self.push(h, Deliver::Anchor);
    }

    fn ec2_change_record(&mut self, inst: usize, cmd: &str, name: &str, params: &[u8], resp: &[u8]) {
        let acct = self.insts[inst].acct;
        let (ident, ip, kind, by) = self.changer(acct);
        let ua = Self::ua_for(kind, cmd);
        let region = self.insts[inst].region;
        let acct_id = self.accts[acct].id.clone();
        let mut b = self.buf();
        self.head(&mut b, "1.09", &ident, by, "ec2.amazonaws.com", name, region, &ip, &ua);
        put!(b, ",\"requestParameters\":", params, ",\"responseElements\":", resp);
        self.ids(&mut b, false, false);
        self.tail(&mut b, "AwsApiCall", true, &acct_id, false, None, "Management", &["ec2.", region, ".amazonaws.com"], false);
        self.push(b, Deliver::Anchor);
    }

    fn emit_allocate(&mut self, inst: usize, alloc: &str, ip: &str) {
        let region = self.insts[inst].region;
        let req = uuid(&mut self.rng);
        let mut r = Vec::with_capacity(256);
        put!(r, "{\"requestId\":\"", req, "\",\"publicIp\":\"", ip, "\",\"domain\":\"vpc\",\"allocationId\":\"", alloc, "\",\"publicIpv4Pool\":\"amazon\",\"networkBorderGroup\":\"", region, "\"}");
        self.ec2_change_record(inst, "ec2.allocate-address", "AllocateAddress", b"{\"domain\":\"vpc\"}", &r);
    }

    fn emit_associate(&mut self, inst: usize, alloc: &str, ip: &str, by_name: bool, via_eni: bool) {
        let i = &self.insts[inst];
        let mut p = Vec::with_capacity(128);
        if via_eni {
            put!(p, "{\"networkInterfaceId\":\"", i.eni, "\",\"allocationId\":\"", alloc, "\",\"allowReassociation\":true}");
        } else if by_name {
            put!(p, "{\"instanceId\":\"", i.id, "\",\"publicIp\":\"", ip, "\"}");
        } else {
            put!(p, "{\"instanceId\":\"", i.id, "\",\"allocationId\":\"", alloc, "\",\"allowReassociation\":false}");
        }
        let mut r = Vec::with_capacity(128);
        put!(r, "{\"requestId\":\"", uuid(&mut self.rng), "\",\"_return\":true,\"associationId\":\"", hex_id(&mut self.rng, "eipassoc-0", 16), "\"}");
        self.ec2_change_record(inst, "ec2.associate-address", "AssociateAddress", &p, &r);
    }

    fn emit_attach(&mut self, inst: usize) {
        let eni = hex_id(&mut self.rng, "eni-0", 16);
        let i = &self.insts[inst];
        let mut p = Vec::with_capacity(128);
        put!(p, "{\"networkInterfaceId\":\"", eni, "\",\"instanceId\":\"", i.id, "\",\"deviceIndex\":1,\"networkCardIndex\":0}");
        let mut r = Vec::with_capacity(128);
        put!(r, "{\"requestId\":\"", uuid(&mut self.rng), "\",\"attachmentId\":\"", hex_id(&mut self.rng, "eni-attach-0", 16), "\",\"networkCardIndex\":0}");
        self.ec2_change_record(inst, "ec2.attach-network-interface", "AttachNetworkInterface", &p, &r);
    }

    fn emit_stop_start(&mut self, inst: usize, stop: bool) {
        let i = &self.insts[inst];
        let mut p = Vec::with_capacity(128);
        put!(p, "{\"instancesSet\":{\"items\":[{\"instanceId\":\"", i.id, "\"}]}");
        if stop {
            put!(p, ",\"force\":false");
        }
        put!(p, "}");
        let (cur, prev) = if stop {
            ("{\"code\":64,\"name\":\"stopping\"}", "{\"code\":16,\"name\":\"running\"}")
        } else {
            ("{\"code\":0,\"name\":\"pending\"}", "{\"code\":80,\"name\":\"stopped\"}")
        };
        let mut r = Vec::with_capacity(256);
        put!(r, "{\"requestId\":\"", uuid(&mut self.rng), "\",\"instancesSet\":{\"items\":[{\"instanceId\":\"", i.id, "\",\"currentState\":", cur, ",\"previousState\":", prev, "}]}}");
        if stop {
            self.ec2_change_record(inst, "ec2.stop-instances", "StopInstances", &p, &r);
        } else {
            self.ec2_change_record(inst, "ec2.start-instances", "StartInstances", &p, &r);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Background traffic.

    fn background(&mut self) {
        if self.rng.below(1000) < 905 {
            for _ in 0..4 {
                let total = self.cum_weight.last().copied().unwrap_or(0);
                if total == 0 {
                    break;
                }
                let x = self.rng.below(total);
                let k = self.cum_weight.partition_point(|&c| c <= x);
                let i = &self.insts[k];
                if i.enabled && i.st == St::Running && i.sess.is_some() {
                    if self.rng.per_mille(40) {
                        self.emit_service_invoked(k);
                    } else {
                        self.emit_instance_call(k, false, Deliver::Before(k));
                    }
                    return;
                }
            }
        }
        self.emit_other();
    }

    /// One call by an instance's current session from its own address.
    fn emit_instance_call(&mut self, k: usize, primary: bool, how: Deliver) {
        let Some(sess) = self.insts[k].sess.as_ref() else { return };
        let ident = sess.ident.clone();
        let i = &self.insts[k];
        let acct = i.acct;
        let mode = i.mode;
        let (ip, region, sdk, iid) = (i.ip.clone(), i.region, i.sdk, i.id.clone());
        let private_ip = i.private_ip.clone();
        let mut kind = pick_call(&mut self.rng);
        if primary && (kind.is_s3() && mode == Mode::Mixed || kind.is_tail()) {
            kind = IC::SsmUpdate;
        }
        let (src_ip, vpce) = match mode {
            Mode::Vpce => (private_ip, self.insts[k].endpoint(&self.accts[acct], kind.svc())),
            Mode::Mixed if kind.is_s3() => (private_ip, self.insts[k].endpoint(&self.accts[acct], 0)),
            _ => (ip, None),
        };
        let mut b = self.buf();
        let who = Who { ident: &ident, invoked_by: None, ip: &src_ip, ua: sdk, vpce: vpce.as_ref().map(|(a, b)| (a.as_str(), b.as_str())) };
        self.api_call(&mut b, acct, region, &iid, kind, &who);
        self.push(b, how);
    }

    /// A call AWS made on an instance session's behalf (`sourceIPAddress` a service).
    fn emit_service_invoked(&mut self, k: usize) {
        let Some(sess) = self.insts[k].sess.as_ref() else { return };
        let ident = sess.ident.clone();
        let (acct, region, iid) = (self.insts[k].acct, self.insts[k].region, self.insts[k].id.clone());
        let (svc, kind) = match self.rng.below(6) {
            0..=2 => ("s3.amazonaws.com", if self.rng.per_mille(600) { IC::KmsDecrypt } else { IC::KmsGdk }),
            3 => ("secretsmanager.amazonaws.com", IC::KmsDecrypt),
            4 => ("athena.amazonaws.com", IC::S3Get),
            _ => ("AWS Internal", IC::KmsDecrypt),
        };
        let mut b = self.buf();
        let who = Who { ident: &ident, invoked_by: Some(svc), ip: svc, ua: svc, vpce: None };
        self.api_call(&mut b, acct, region, &iid, kind, &who);
        self.push(b, Deliver::Jitter);
    }

    fn thief_call(&mut self, k: usize, idx: u32) -> bool {
        let inc = &self.incidents[k];
        let Some(sess) = inc.stolen.clone() else { return false };
        let inst = inc.inst;
        let ip = if inc.ips.len() > 1 && idx >= inc.calls / 2 { inc.ips[1].clone() } else { inc.ips[0].clone() };
        let ua = inc.ua;
        let (acct, af, calls, spacing) = (self.insts[inst].acct, inc.attacker_first, inc.calls, inc.spacing);
        let iid = self.insts[inst].id.clone();
        let kind = if idx == 0 {
            IC::StsGci
        } else {
            *self.rng.pick(&[
                IC::ThiefListBuckets,
                IC::S3Get,
                IC::S3Get,
                IC::S3List,
                IC::Ec2DescInst,
                IC::ThiefDenied,
                IC::ThiefDenied,
                IC::SecretGet,
                IC::StsGci,
            ])
        };
        let mut b = self.buf();
        let region = if self.rng.per_mille(600) { "us-east-1" } else { self.insts[inst].region };
        let cmd = kind.cli_command();
        let who = Who { ident: &sess.ident, invoked_by: None, ip: &ip, ua: "", vpce: None };
        self.api_call_ua(&mut b, acct, region, &iid, kind, &who, &[ua, cmd]);
        self.push(b, if idx == 0 { Deliver::Anchor } else { Deliver::Jitter });
        let eid = into_string(self.last_event_id.to_vec());
        let st = &mut self.incidents[k];
        if !st.emitted {
            st.emitted = true;
            st.truth.access_key_id = sess.key.clone();
            if !self.truth.attacked_sessions.contains(&st.truth.session_arn) {
                self.truth.attacked_sessions.push(st.truth.session_arn.clone());
            }
        }
        if !st.truth.thief_ips.contains(&ip) {
            st.truth.thief_ips.push(ip.clone());
        }
        if !self.truth.thief_ips.contains(&ip) {
            self.truth.thief_ips.push(ip);
        }
        st.truth.thief_event_ids.push(eid.clone());
        self.truth.thief_event_ids.push(eid);
        let t = self.now;
        if idx == 0 && af {
            let epoch = self.insts[inst].epoch;
            let at = t + self.rng.between(3, 40);
            self.schedule(at, Act::Adopt { inst, epoch, thief_after: None });
        }
        let next = t + self.rng.between(1, spacing);
        if idx + 1 < calls && next < sess.created + 3500 {
            self.schedule(next, Act::Thief { incident: k, idx: idx + 1 });
        }
        if idx == 0 {
            let pos = self.truth.incidents.len();
            self.incidents[k].truth.thief_event_ids.clear();
            let _ = pos;
        }
        true
    }

    fn finish_truth(&mut self) {
        self.truth.incidents = self.incidents.iter().filter(|s| s.emitted).map(|s| s.truth.clone()).collect();
    }
}

/// The calling side of an API call record.
struct Who<'a> {
    ident: &'a [u8],
    invoked_by: Option<&'a str>,
    ip: &'a str,
    ua: &'a str,
    vpce: Option<(&'a str, &'a str)>,
}

fn leak(s: &str) -> &'static str {
    // Only called with the literal command names below; map them back to statics.
    const CMDS: &[&str] = &[
        "ec2.run-instances", "ec2.allocate-address", "ec2.associate-address", "ec2.attach-network-interface",
        "ec2.stop-instances", "ec2.start-instances", "ec2.describe-instances", "ec2.describe-addresses",
        "ec2.describe-security-groups", "iam.list-roles", "ec2.release-address",
    ];
    CMDS.iter().copied().find(|c| *c == s).unwrap_or("")
}

fn iam_user(rng: &mut ChaCha8Rng, acct: &str, name: &str) -> Principal {
    let pid = rand_string(rng, "AIDA", 17, B32, 5);
    let key = rand_string(rng, "AKIA", 16, B32, 5);
    let mut b = Vec::with_capacity(256);
    put!(
        b,
        "{\"type\":\"IAMUser\",\"principalId\":\"", pid, "\",\"arn\":\"arn:aws:iam::", acct, ":user/", name,
        "\",\"accountId\":\"", acct, "\",\"accessKeyId\":\"", key, "\",\"userName\":\"", name, "\"}"
    );
    Principal { ident: b, name: name.to_string(), role_arn: String::new() }
}

#[allow(clippy::too_many_arguments)]
fn role_session(
    rng: &mut ChaCha8Rng,
    acct: &str,
    role: &str,
    role_id: &str,
    role_arn: &str,
    session: &str,
    created: i64,
    key_prefix: &str,
    invoked_by: Option<&str>,
) -> Principal {
    let key = rand_string(rng, key_prefix, 16, B32, 5);
    let mut b = Vec::with_capacity(700);
    put!(
        b,
        "{\"type\":\"AssumedRole\",\"principalId\":\"", role_id, ":", session,
        "\",\"arn\":\"arn:aws:sts::", acct, ":assumed-role/", role, "/", session,
        "\",\"accountId\":\"", acct, "\",\"accessKeyId\":\"", key,
        "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"", role_id,
        "\",\"arn\":\"", role_arn, "\",\"accountId\":\"", acct, "\",\"userName\":\"", role,
        "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"", rfc3339(created),
        "\",\"mfaAuthenticated\":\"false\"}}"
    );
    if let Some(by) = invoked_by {
        put!(b, ",\"invokedBy\":\"", by, "\"");
    }
    put!(b, "}");
    Principal { ident: b, name: session.to_string(), role_arn: role_arn.to_string() }
}
