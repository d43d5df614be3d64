//! A seeded generator of realistic CloudTrail traffic, for tests and benchmarks.
//!
//! The output is NDJSON (one record per line, `\n` terminated) in the shape AWS CloudTrail writes
//! (see the real records in `tests/data/cloudtrail/`): EC2 instance-profile sessions calling from their own
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
//! What a first-use detector (Netflix's rules) can rely on, checked by the tests with a reference
//! implementation of those rules:
//! - Every key an `…/assumed-role/ROLE/i-…` session uses was issued by an EC2 AssumeRole
//!   (`sourceIPAddress` `ec2.amazonaws.com`) delivered earlier; refreshes come every 1 h to 5.5 h
//!   of event time, so a 6 h row never lapses while the instance runs.
//! - AssociateAddress names the address (`publicIp`) or an `allocationId` whose AllocateAddress was
//!   delivered earlier; with `networkInterfaceId` instead of `instanceId` the interface was named
//!   by an earlier RunInstances. The instance calls from the new address right after it.
//! - AttachNetworkInterface: either no new address, or exactly one, first used 5 s to 10 min after
//!   the change's eventTime (a record with an anchor delivery).
//! - StopInstances … StartInstances: stopped longer than `jitter_secs`; after the start the
//!   instance calls from a new public address (70 %: after a new AssumeRole; else with its old key).
//! - Instances of incidents never get address changes; thieves call only from addresses no
//!   instance ever had (disjoint first octets), within an hour of the stolen key's AssumeRole.
//! - VPC endpoint calls (`vpcEndpointId` set) come from the instance's private address: all calls
//!   of ~10 % of instances, S3 calls of another ~10 % that otherwise call from a public IPv4.
//!   About 10 % of instances call over IPv6. An instance's first call with new credentials is
//!   never a VPC endpoint call unless all its calls are.
//! - Calls AWS makes for a session (`sourceIPAddress` `s3.amazonaws.com`, `AWS Internal`, …,
//!   with `userIdentity.invokedBy`) can come at any time, jittered.
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
        let nib = if k < 16 {
            (a >> (k * 4)) & 15
        } else {
            (c >> ((k - 16) * 4)) & 15
        };
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
        format!(
            "10.{}.{}.{}",
            (x >> 1) & 0xff,
            (x >> 9) & 0xff,
            4 + ((x >> 17) % 250)
        )
    } else {
        format!(
            "172.{}.{}.{}",
            16 + ((x >> 1) & 15),
            (x >> 5) & 0xff,
            4 + ((x >> 13) % 250)
        )
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// CloudTrail's `expiration` spelling: `Jul 10, 2023, 6:30:22 PM`.
fn aws_date(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let ampm = if h < 12 { "AM" } else { "PM" };
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[(m - 1) as usize],
        d,
        y,
        h12,
        mi,
        se,
        ampm
    )
}

// ---------------------------------------------------------------------------------------------
// The world: accounts, roles, instances, other principals.

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];
const APPS: &[&str] = &[
    "web-frontend",
    "api-server",
    "batch-worker",
    "ingest",
    "kafka-broker",
    "jenkins-agent",
    "etl-runner",
    "search-node",
    "cache-proxy",
    "ml-inference",
    "bastion",
    "grafana",
    "billing",
    "payments-api",
    "media-transcoder",
    "ledger",
    "notifier",
    "crawler",
];
const PATHS: &[&str] = &[
    "/team/app/",
    "/platform/",
    "/data/etl/",
    "/service/web/",
    "/prod/compute/",
];
const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dmitri", "erin", "farid", "grace", "hiro", "ines", "jonas", "kemal", "lena",
    "mateo", "noor", "oskar", "priya",
];
const FUNCS: &[&str] = &[
    "orders-processor",
    "thumbnail-resizer",
    "audit-forwarder",
    "nightly-report",
    "slack-notifier",
    "token-rotator",
    "s3-indexer",
    "webhook-handler",
];
const SDK_UAS: &[&str] = &[
    "aws-sdk-java/1.12.470 Linux/5.10.192-183.736.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS java/17.0.8 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#5.10.197-186.748.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62",
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.40.0",
    "aws-sdk-nodejs/2.1450.0 linux/v18.17.1 exec-env/AWS_ECS_EC2 promise",
    "aws-sdk-go/1.44.329 (go1.20.7; linux; amd64)",
    "aws-sdk-ruby3/3.181.0 ua/2.0 api/s3#1.132.1 os/linux md/x86_64 lang/ruby#3.2.2 md/3.2.2",
    "aws-sdk-java/2.20.162 Linux/6.1.55-75.123.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.1+12-LTS Java/21.0.1 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-cli/2.13.25 Python/3.11.5 Linux/5.15.0-1047-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
];
const SSM_UA: &str = "aws-sdk-go/1.44.298 (go1.20.6; linux; amd64) amazon-ssm-agent/3.2.1297.0";
const ECS_UA: &str = "Go-http-client/1.1 (ECS Agent 1.79.2) aws-sdk-go/1.44.322 (go1.20.8; linux; amd64)";
const DNS_UA: &str = "aws-sdk-go/1.44.311 (go1.20.7; linux; amd64) ExternalDNS/v0.13.6";
const LAMBDA_UA: &str = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209-220.815.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.34";
const ECS_TASK_UA: &str = "aws-sdk-nodejs/3.496.0 linux/v20.11.0 exec-env/AWS_ECS_FARGATE lang/js md/nodejs#20.11.0 api/dynamodb#3.496.0";
const CLI_UA: &str =
    "aws-cli/2.15.17 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/";
const TF_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.3 (+https://www.terraform.io) terraform-provider-aws/5.38.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.0 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.146.0";
const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "AWS Internal",
];
const THIEF_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/",
    "aws-cli/1.29.62 Python/3.11.5 Linux/6.5.0-kali3-amd64 botocore/1.31.62 command/",
    "aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64 prompt/off command/",
];

struct Account {
    id: String,
    region: &'static str,
    env: &'static str,
    buckets: Vec<String>,
    kms_keys: Vec<String>,
    secrets: Vec<String>,
    tables: Vec<String>,
    cluster: String,
    zone: String,
    vpc: String,
    subnets: Vec<String>,
    sg: String,
    ami: String,
    /// Endpoints for S3 (gateway), KMS/Secrets Manager, SSM, other services.
    vpce: [String; 4],
    admin: Vec<u8>,
    console: Vec<u8>,
    ci: Vec<u8>,
    sso: Vec<Vec<u8>>,
    /// (function name, role ARN, session identity)
    lambdas: Vec<(String, String, Vec<u8>)>,
    /// (task id, role ARN, session identity)
    ecs_tasks: Vec<(String, String, Vec<u8>)>,
    autoscaling: Vec<u8>,
    office_ip: String,
    ci_ips: Vec<String>,
    nat_ip: String,
    roles: Vec<usize>,
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
    /// Private subnet: every call through a VPC endpoint, from its private address.
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
    /// Bumped by StopInstances: actions scheduled before it are void.
    epoch: u32,
    /// Periodic refreshes carry it; a newer issue voids older refreshes.
    refresh_gen: u32,
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

fn endpoint(a: &Account, svc: usize) -> (&str, &str) {
    (&a.vpce[svc % 4], &a.id)
}

// ---------------------------------------------------------------------------------------------
// The schedule.

const ANY_GEN: u32 = u32::MAX;

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
    Issue {
        inst: usize,
        epoch: u32,
        rgen: u32,
        purpose: Purpose,
    },
    /// The instance's first call with freshly issued credentials.
    Adopt {
        inst: usize,
        epoch: u32,
        thief_after: Option<usize>,
    },
    Launch {
        inst: usize,
        attack: Option<usize>,
    },
    AttackRefresh {
        incident: usize,
    },
    Allocate {
        inst: usize,
        assoc_at: i64,
        by_name: bool,
    },
    Associate {
        inst: usize,
        by_name: bool,
        via_eni: bool,
    },
    Attach {
        inst: usize,
        new_address: bool,
    },
    /// After an unnamed change: the instance's first call from its one new address.
    Switch {
        inst: usize,
    },
    Stop {
        inst: usize,
        start_at: i64,
    },
    Start {
        inst: usize,
    },
    /// First call after a start that kept the old credentials.
    Resume {
        inst: usize,
        epoch: u32,
    },
    Thief {
        incident: usize,
        idx: u32,
    },
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
    // Reversed: BinaryHeap is a max-heap and the earliest must come out first.
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
    /// Random delay, but delivered before the instance's next planned address change.
    Before(usize),
}

// ---------------------------------------------------------------------------------------------
// Record assembly.

/// The RNG and per-record state the record writers share.
struct Core {
    rng: ChaCha8Rng,
    now: i64,
    tcache: (i64, [u8; 20]),
    last_event_id: [u8; 36],
}

#[derive(Clone, Copy)]
enum ReqId {
    Uuid,
    S3,
    Dynamo,
}

impl Core {
    fn time(&mut self) -> [u8; 20] {
        if self.tcache.0 != self.now {
            self.tcache = (self.now, rfc3339(self.now));
        }
        self.tcache.1
    }

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
            Some(by) if ident.last() == Some(&b'}') => {
                put!(b, ident[..ident.len() - 1], ",\"invokedBy\":\"", by, "\"}")
            }
            _ => put!(b, ident),
        }
        put!(
            b,
            ",\"eventTime\":\"",
            time,
            "\",\"eventSource\":\"",
            source,
            "\",\"eventName\":\"",
            name
        );
        put!(
            b,
            "\",\"awsRegion\":\"",
            region,
            "\",\"sourceIPAddress\":\"",
            ip,
            "\",\"userAgent\":\""
        );
        for p in ua {
            put!(b, p);
        }
        put!(b, "\"");
    }

    /// Writes `requestID`, `eventID`, `readOnly` and remembers the eventID.
    fn ids(&mut self, b: &mut Vec<u8>, req: ReqId, read_only: bool) {
        put!(b, ",\"requestID\":\"");
        match req {
            ReqId::Uuid => put!(b, uuid(&mut self.rng)),
            ReqId::S3 => push_rand(b, &mut self.rng, 16, HEXU, 4),
            ReqId::Dynamo => push_rand(b, &mut self.rng, 52, B32, 5),
        }
        let id = uuid(&mut self.rng);
        self.last_event_id = id;
        put!(
            b,
            "\",\"eventID\":\"",
            id,
            "\",\"readOnly\":",
            if read_only { "true" } else { "false" }
        );
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
        put!(
            b,
            ",\"eventType\":\"",
            event_type,
            "\",\"managementEvent\":",
            if management { "true" } else { "false" }
        );
        put!(b, ",\"recipientAccountId\":\"", recipient, "\"");
        if shared {
            put!(b, ",\"sharedEventID\":\"", uuid(&mut self.rng), "\"");
        }
        if let Some((id, acct)) = vpce {
            put!(
                b,
                ",\"vpcEndpointId\":\"",
                id,
                "\",\"vpcEndpointAccountId\":\"",
                acct,
                "\""
            );
        }
        put!(b, ",\"eventCategory\":\"", category, "\"");
        if !tls_host.is_empty() {
            let v13 = self.rng.per_mille(700);
            put!(
                b,
                ",\"tlsDetails\":{\"tlsVersion\":\"",
                if v13 { "TLSv1.3" } else { "TLSv1.2" },
                "\",\"cipherSuite\":\"",
                if v13 {
                    "TLS_AES_128_GCM_SHA256"
                } else {
                    "ECDHE-RSA-AES128-GCM-SHA256"
                },
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

    fn s3_extra(&mut self, b: &mut Vec<u8>, bytes_in: u64, bytes_out: u64) {
        put!(
            b,
            ",\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":"
        );
        push_u64(b, bytes_in);
        put!(b, ",\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"");
        push_rand(b, &mut self.rng, 76, B64, 6);
        put!(b, "\",\"bytesTransferredOut\":");
        push_u64(b, bytes_out);
        put!(b, "}");
    }

    fn s3_key(&mut self, b: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let prefix = *rng.pick(&[
            "data/events",
            "exports/daily",
            "uploads/images",
            "reports",
            "models/checkpoints",
            "static/js",
            "logs/app",
        ]);
        put!(
            b,
            prefix,
            "/2024/0",
            [b'1' + rng.below(4) as u8],
            "/",
            [b'1' + rng.below(9) as u8],
            "/part-"
        );
        push_rand(b, rng, 5, HEX, 4);
        put!(b, "-");
        push_rand(b, rng, 8, HEX, 4);
        put!(b, *rng.pick(&[".parquet", ".json.gz", ".jpg", ".csv", ".bin"]));
    }
}

/// The calling side of an API call record.
struct Who<'a> {
    ident: &'a [u8],
    invoked_by: Option<&'a str>,
    ip: &'a str,
    /// User agent, in up to two parts (`aws-cli/… command/` + `s3.cp`).
    ua: [&'a str; 2],
    vpce: Option<(&'a str, &'a str)>,
    /// The caller's ARN, for error messages.
    arn: &'a str,
    /// Thieves get denied now and then.
    thief: bool,
}

/// API calls by instance sessions (and, reusing the shapes, by other sessions).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum IC {
    S3Get,
    S3Put,
    S3List,
    S3Head,
    KmsDecrypt,
    KmsGdk,
    SsmUpdate,
    SsmGetParam,
    SecretGet,
    Ec2DescInst,
    Ec2DescTags,
    StsGci,
    LogsStream,
    EcrToken,
    DdbGet,
    DdbPut,
    DdbQuery,
    AsgDesc,
    SsmAssoc,
    CfnDescRes,
    StsChain,
    EcsRegister,
    R53Change,
    SsmInventory,
    ListBuckets,
    Denied,
}

const IC_TABLE: &[(IC, u32)] = &[
    (IC::S3Get, 130),
    (IC::S3Put, 60),
    (IC::S3List, 35),
    (IC::S3Head, 30),
    (IC::KmsDecrypt, 80),
    (IC::KmsGdk, 30),
    (IC::SsmUpdate, 90),
    (IC::SsmGetParam, 50),
    (IC::SecretGet, 40),
    (IC::Ec2DescInst, 30),
    (IC::Ec2DescTags, 30),
    (IC::StsGci, 35),
    (IC::LogsStream, 25),
    (IC::EcrToken, 20),
    (IC::DdbGet, 60),
    (IC::DdbPut, 40),
    (IC::DdbQuery, 40),
    (IC::AsgDesc, 10),
    (IC::SsmAssoc, 30),
    (IC::CfnDescRes, 10),
    (IC::StsChain, 12),
    (IC::EcsRegister, 1),
    (IC::R53Change, 2),
    (IC::SsmInventory, 2),
];

fn pick_call(rng: &mut ChaCha8Rng) -> IC {
    let total: u32 = IC_TABLE.iter().map(|e| e.1).sum();
    let mut x = rng.below(u64::from(total)) as u32;
    for &(k, w) in IC_TABLE {
        if x < w {
            return k;
        }
        x -= w;
    }
    IC::S3Get
}

impl IC {
    fn is_s3(self) -> bool {
        matches!(self, IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head)
    }
    fn is_tail(self) -> bool {
        matches!(self, IC::EcsRegister | IC::R53Change | IC::SsmInventory)
    }
    /// Which of the account's VPC endpoints the call would go through.
    fn svc(self) -> usize {
        match self {
            IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head | IC::ListBuckets => 0,
            IC::KmsDecrypt | IC::KmsGdk | IC::SecretGet => 1,
            IC::SsmUpdate | IC::SsmGetParam | IC::SsmAssoc | IC::SsmInventory => 2,
            _ => 3,
        }
    }
    fn cli_command(self) -> &'static str {
        match self {
            IC::StsGci => "sts.get-caller-identity",
            IC::ListBuckets => "s3.ls",
            IC::S3Get => "s3.cp",
            IC::S3List => "s3.ls",
            IC::Ec2DescInst => "ec2.describe-instances",
            IC::SecretGet => "secretsmanager.get-secret-value",
            IC::Denied => "iam.list-users",
            _ => "configure.list",
        }
    }
}

/// Writes one complete API call record of kind `kind` made by `who`.
#[allow(clippy::too_many_arguments)]
fn api_call(c: &mut Core, a: &Account, b: &mut Vec<u8>, region: &str, subject: &str, kind: IC, who: &Who) {
    let acct = a.id.as_str();
    let svc_call = who.invoked_by.is_some();
    let ua2 = who.ua;
    match kind {
        IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head => {
            let bucket = c.rng.pick(&a.buckets).as_str();
            let name = match kind {
                IC::S3Get => "GetObject",
                IC::S3Put => "PutObject",
                IC::S3List => "ListObjects",
                _ => "HeadObject",
            };
            let bracket = !svc_call;
            let ua: [&str; 4] = if bracket {
                ["[", ua2[0], ua2[1], "]"]
            } else {
                [ua2[0], ua2[1], "", ""]
            };
            c.head(
                b,
                "1.10",
                who.ident,
                who.invoked_by,
                "s3.amazonaws.com",
                name,
                region,
                who.ip,
                &ua,
            );
            let denied = who.thief && kind == IC::S3Get && c.rng.per_mille(300);
            if denied {
                put!(
                    b,
                    ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"Access Denied\""
                );
            }
            let mut key = Vec::with_capacity(64);
            c.s3_key(&mut key);
            put!(
                b,
                ",\"requestParameters\":{\"bucketName\":\"",
                bucket,
                "\",\"Host\":\"",
                bucket,
                ".s3.",
                region,
                ".amazonaws.com\""
            );
            if kind == IC::S3List {
                put!(
                    b,
                    ",\"list-type\":\"2\",\"encoding-type\":\"url\",\"max-keys\":\"1000\",\"prefix\":\"",
                    key[..key.len() / 2],
                    "\""
                );
            } else {
                put!(b, ",\"key\":\"", key, "\"");
            }
            if kind == IC::S3Put && c.rng.per_mille(500) {
                put!(
                    b,
                    ",\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-server-side-encryption-aws-kms-key-id\":\"arn:aws:kms:",
                    region,
                    ":",
                    acct,
                    ":key/",
                    a.kms_keys[0],
                    "\""
                );
            }
            put!(b, "}");
            if kind == IC::S3Put && !denied {
                put!(
                    b,
                    ",\"responseElements\":{\"x-amz-server-side-encryption\":\"AES256\",\"x-amz-version-id\":\""
                );
                push_rand(b, &mut c.rng, 32, ALNUM, 6);
                put!(b, "\"}");
            } else {
                put!(b, ",\"responseElements\":null");
            }
            let size = 200 + c.rng.below(5_000_000);
            let (bin, bout) = match (kind, denied) {
                (_, true) => (0, 243),
                (IC::S3Put, _) => (size, 0),
                (IC::S3Get, _) => (0, size),
                (IC::S3List, _) => (0, 300 + size % 40_000),
                _ => (0, 0),
            };
            c.s3_extra(b, bin, bout);
            c.ids(b, ReqId::S3, kind != IC::S3Put);
            if kind == IC::S3List {
                put!(
                    b,
                    ",\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARNPrefix\":\"arn:aws:s3:::",
                    bucket,
                    "/",
                    key[..key.len() / 2],
                    "\"}"
                );
            } else {
                put!(
                    b,
                    ",\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::",
                    bucket,
                    "/",
                    key,
                    "\"}"
                );
            }
            put!(
                b,
                ",{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::",
                bucket,
                "\"}]"
            );
            let host: [&str; 4] = if svc_call {
                ["", "", "", ""]
            } else {
                [bucket, ".s3.", region, ".amazonaws.com"]
            };
            let host: &[&str] = if svc_call { &[] } else { &host };
            c.tail(b, "AwsApiCall", false, acct, false, who.vpce, "Data", host, false);
        }
        IC::ListBuckets => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "s3.amazonaws.com",
                "ListBuckets",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"Host\":\"s3.amazonaws.com\"},\"responseElements\":null"
            );
            let out = 800 + c.rng.below(3000);
            c.s3_extra(b, 0, out);
            c.ids(b, ReqId::S3, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                None,
                "Management",
                &["s3.amazonaws.com"],
                false,
            );
        }
        IC::KmsDecrypt | IC::KmsGdk => {
            let name = if kind == IC::KmsDecrypt {
                "Decrypt"
            } else {
                "GenerateDataKey"
            };
            let key = c.rng.pick(&a.kms_keys).as_str();
            c.head(
                b,
                "1.08",
                who.ident,
                who.invoked_by,
                "kms.amazonaws.com",
                name,
                region,
                who.ip,
                &ua2,
            );
            put!(b, ",\"requestParameters\":{");
            if kind == IC::KmsGdk {
                put!(
                    b,
                    "\"keyId\":\"arn:aws:kms:",
                    region,
                    ":",
                    acct,
                    ":key/",
                    key,
                    "\",\"keySpec\":\"AES_256\","
                );
            }
            match who.invoked_by {
                Some("secretsmanager.amazonaws.com") => {
                    put!(
                        b,
                        "\"encryptionContext\":{\"SecretARN\":\"",
                        c.rng.pick(&a.secrets),
                        "\",\"SecretVersionId\":\"",
                        uuid(&mut c.rng),
                        "\"}"
                    )
                }
                _ => {
                    let bucket = c.rng.pick(&a.buckets).as_str();
                    put!(
                        b,
                        "\"encryptionContext\":{\"aws:s3:arn\":\"arn:aws:s3:::",
                        bucket,
                        "/"
                    );
                    c.s3_key(b);
                    put!(b, "\"}");
                }
            }
            put!(
                b,
                ",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:",
                region,
                ":",
                acct,
                ":key/",
                key,
                "\"}]"
            );
            let host = if svc_call {
                None
            } else {
                Some(["kms.", region, ".amazonaws.com"])
            };
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                host.as_ref().map_or(&[][..], |h| &h[..]),
                false,
            );
        }
        IC::SsmUpdate => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                region,
                who.ip,
                &[SSM_UA],
            );
            let os = *c.rng.pick(&[
                ("Amazon Linux", "2023"),
                ("Amazon Linux", "2"),
                ("Ubuntu", "22.04"),
            ]);
            put!(
                b,
                ",\"requestParameters\":{\"instanceId\":\"",
                subject,
                "\",\"agentVersion\":\"3.2.1297.0\",\"agentStatus\":\"Active\",\"platformType\":\"Linux\",\"platformName\":\"",
                os.0,
                "\",\"platformVersion\":\"",
                os.1
            );
            put!(
                b,
                "\",\"iPAddress\":\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"computerName\":\"ip-",
                subject[2..10],
                ".ec2.internal\",\"agentName\":\"amazon-ssm-agent\",\"availabilityZone\":\"",
                region,
                "a\",\"sSMConnectionChannel\":\"ssmmessages\"},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ssm.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::SsmGetParam => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ssm.amazonaws.com",
                "GetParameter",
                region,
                who.ip,
                &ua2,
            );
            let p = *c.rng.pick(&[
                "/app/config/db_host",
                "/app/config/feature_flags",
                "/app/config/log_level",
                "/shared/cw-agent-config",
            ]);
            put!(
                b,
                ",\"requestParameters\":{\"name\":\"",
                p,
                "\",\"withDecryption\":true},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::SSM::Parameter\",\"ARN\":\"arn:aws:ssm:",
                region,
                ":",
                acct,
                ":parameter",
                p,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ssm.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::SecretGet => {
            let secret = c.rng.pick(&a.secrets).as_str();
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                region,
                who.ip,
                &ua2,
            );
            if who.thief && c.rng.per_mille(500) {
                put!(
                    b,
                    ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User: ",
                    who.arn,
                    " is not authorized to perform: secretsmanager:GetSecretValue on resource: ",
                    secret,
                    " because no identity-based policy allows the secretsmanager:GetSecretValue action\""
                );
            }
            put!(
                b,
                ",\"requestParameters\":{\"secretId\":\"",
                secret,
                "\"},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["secretsmanager.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::Ec2DescInst => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "ec2.amazonaws.com",
                "DescribeInstances",
                region,
                who.ip,
                &ua2,
            );
            if who.thief {
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{},\"filterSet\":{}},\"responseElements\":null"
                );
            } else {
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"",
                    subject,
                    "\"}]},\"filterSet\":{}},\"responseElements\":null"
                );
            }
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ec2.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::Ec2DescTags => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "ec2.amazonaws.com",
                "DescribeTags",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"filterSet\":{\"items\":[{\"name\":\"resource-id\",\"valueSet\":{\"items\":[{\"value\":\"",
                subject,
                "\"}]}},{\"name\":\"resource-type\",\"valueSet\":{\"items\":[{\"value\":\"instance\"}]}}]}},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ec2.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::StsGci => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "sts.amazonaws.com",
                "GetCallerIdentity",
                region,
                who.ip,
                &ua2,
            );
            put!(b, ",\"requestParameters\":null,\"responseElements\":null");
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["sts.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::LogsStream => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "logs.amazonaws.com",
                "CreateLogStream",
                region,
                who.ip,
                &ua2,
            );
            let g = *c.rng.pick(&[
                "/app/api",
                "/app/worker",
                "/var/log/messages",
                "/aws/ec2/cloud-init",
            ]);
            put!(
                b,
                ",\"requestParameters\":{\"logGroupName\":\"",
                g,
                "\",\"logStreamName\":\"",
                subject,
                "\"},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["logs.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::EcrToken => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ecr.amazonaws.com",
                "GetAuthorizationToken",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"registryIds\":[\"",
                acct,
                "\"]},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["api.ecr.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::DdbGet | IC::DdbPut | IC::DdbQuery => {
            let table = c.rng.pick(&a.tables).as_str();
            let name = match kind {
                IC::DdbGet => "GetItem",
                IC::DdbPut => "PutItem",
                _ => "Query",
            };
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "dynamodb.amazonaws.com",
                name,
                region,
                who.ip,
                &ua2,
            );
            put!(b, ",\"requestParameters\":{\"tableName\":\"", table, "\"");
            match kind {
                IC::DdbQuery => put!(
                    b,
                    ",\"keyConditionExpression\":\"#pk = :pk AND begins_with(#sk, :sk)\",\"limit\":100,\"consistentRead\":false"
                ),
                _ => {
                    put!(b, ",\"key\":{\"pk\":\"ORDER#");
                    push_rand(b, &mut c.rng, 12, HEXU, 4);
                    put!(b, "\",\"sk\":\"ITEM#");
                    push_u64(b, c.rng.below(100));
                    put!(b, "\"}");
                }
            }
            put!(b, "},\"responseElements\":null");
            c.ids(b, ReqId::Dynamo, kind != IC::DdbPut);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:",
                region,
                ":",
                acct,
                ":table/",
                table,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                false,
                acct,
                false,
                who.vpce,
                "Data",
                &["dynamodb.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::AsgDesc => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "autoscaling.amazonaws.com",
                "DescribeAutoScalingInstances",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"instanceIds\":[\"",
                subject,
                "\"]},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["autoscaling.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::SsmAssoc => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ssm.amazonaws.com",
                "ListInstanceAssociations",
                region,
                who.ip,
                &[SSM_UA],
            );
            put!(
                b,
                ",\"requestParameters\":{\"instanceId\":\"",
                subject,
                "\",\"maxResults\":50},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ssm.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::CfnDescRes => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "cloudformation.amazonaws.com",
                "DescribeStackResource",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"stackName\":\"arn:aws:cloudformation:",
                region,
                ":",
                acct,
                ":stack/",
                a.env,
                "-app/",
                uuid(&mut c.rng),
                "\",\"logicalResourceId\":\"LaunchTemplate\"},\"responseElements\":null"
            );
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["cloudformation.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::StsChain => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "sts.amazonaws.com",
                "AssumeRole",
                region,
                who.ip,
                &ua2,
            );
            let role = *c
                .rng
                .pick(&["cross-account-reader", "artifact-publisher", "metrics-writer"]);
            let sess = format!("botocore-session-{}", c.now);
            let rid = rand_string(&mut c.rng, "AROA", 17, B32, 5);
            put!(
                b,
                ",\"requestParameters\":{\"roleArn\":\"arn:aws:iam::",
                acct,
                ":role/",
                role,
                "\",\"roleSessionName\":\"",
                sess,
                "\",\"durationSeconds\":3600}"
            );
            put!(b, ",\"responseElements\":{\"credentials\":{\"accessKeyId\":\"");
            push_rand(b, &mut c.rng, 4, B32, 5);
            put!(b, "ASIA");
            push_rand(b, &mut c.rng, 12, B32, 5);
            put!(b, "\",\"sessionToken\":\"");
            c.token(b);
            put!(
                b,
                "\",\"expiration\":\"",
                aws_date(c.now + 3600),
                "\"},\"assumedRoleUser\":{\"assumedRoleId\":\"",
                rid,
                ":",
                sess,
                "\",\"arn\":\"arn:aws:sts::",
                acct,
                ":assumed-role/",
                role,
                "/",
                sess,
                "\"}}"
            );
            c.ids(b, ReqId::Uuid, true);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::",
                acct,
                ":role/",
                role,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["sts.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::EcsRegister => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ecs.amazonaws.com",
                "RegisterContainerInstance",
                region,
                who.ip,
                &[ECS_UA],
            );
            let n = 20 + c.rng.below(80) as usize;
            let mut attrs = Vec::with_capacity(n * 70);
            put!(attrs, "[");
            for k in 0..n {
                if k > 0 {
                    put!(attrs, ",");
                }
                put!(attrs, "{\"name\":\"", ECS_ATTRS[k % ECS_ATTRS.len()]);
                if k >= ECS_ATTRS.len() {
                    put!(attrs, ".v");
                    push_u64(&mut attrs, k as u64);
                }
                put!(attrs, "\"}");
            }
            put!(attrs, "]");
            put!(
                b,
                ",\"requestParameters\":{\"cluster\":\"",
                a.cluster,
                "\",\"instanceIdentityDocument\":\"{\\n  \\\"accountId\\\" : \\\"",
                acct,
                "\\\",\\n  \\\"architecture\\\" : \\\"x86_64\\\",\\n  \\\"availabilityZone\\\" : \\\"",
                region,
                "a\\\",\\n  \\\"imageId\\\" : \\\"",
                a.ami,
                "\\\",\\n  \\\"instanceId\\\" : \\\"",
                subject,
                "\\\",\\n  \\\"instanceType\\\" : \\\"m6i.large\\\",\\n  \\\"region\\\" : \\\"",
                region,
                "\\\",\\n  \\\"version\\\" : \\\"2017-09-30\\\"\\n}\",\"instanceIdentityDocumentSignature\":\""
            );
            push_rand(b, &mut c.rng, 344, B64, 6);
            put!(
                b,
                "\",\"totalResources\":[{\"name\":\"CPU\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":2048},{\"name\":\"MEMORY\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":7680},{\"name\":\"PORTS\",\"type\":\"STRINGSET\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":0,\"stringSetValue\":[\"22\",\"2376\",\"2375\",\"51678\",\"51679\"]}],\"versionInfo\":{\"agentVersion\":\"1.79.2\",\"agentHash\":\""
            );
            push_rand(b, &mut c.rng, 8, HEX, 4);
            put!(
                b,
                "\",\"dockerVersion\":\"DockerVersion: 24.0.5\"},\"attributes\":",
                attrs,
                "}"
            );
            let ci = uuid(&mut c.rng);
            put!(
                b,
                ",\"responseElements\":{\"containerInstance\":{\"containerInstanceArn\":\"arn:aws:ecs:",
                region,
                ":",
                acct,
                ":container-instance/",
                a.cluster,
                "/",
                ci,
                "\",\"ec2InstanceId\":\"",
                subject,
                "\",\"version\":1,\"status\":\"ACTIVE\",\"agentConnected\":false,\"runningTasksCount\":0,\"pendingTasksCount\":0,\"attributes\":",
                attrs,
                "}}"
            );
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ecs.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::R53Change => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "route53.amazonaws.com",
                "ChangeResourceRecordSets",
                "us-east-1",
                who.ip,
                &[DNS_UA],
            );
            let n = 4 + c.rng.below(44) as usize;
            put!(
                b,
                ",\"requestParameters\":{\"hostedZoneId\":\"",
                a.zone,
                "\",\"changeBatch\":{\"changes\":["
            );
            for k in 0..n {
                if k > 0 {
                    put!(b, ",");
                }
                let mut svc = Vec::with_capacity(24);
                put!(svc, *c.rng.pick(APPS), "-");
                push_rand(&mut svc, &mut c.rng, 5, HEX, 4);
                put!(
                    b,
                    "{\"action\":\"UPSERT\",\"resourceRecordSet\":{\"name\":\"",
                    svc,
                    ".",
                    a.env,
                    ".internal.example.com\",\"type\":\"A\",\"tTL\":60,\"resourceRecords\":[{\"value\":\"",
                    private_v4(&mut c.rng),
                    "\"}]}}"
                );
                put!(
                    b,
                    ",{\"action\":\"UPSERT\",\"resourceRecordSet\":{\"name\":\"externaldns-",
                    svc,
                    ".",
                    a.env,
                    ".internal.example.com\",\"type\":\"TXT\",\"tTL\":300,\"resourceRecords\":[{\"value\":\"\\\"heritage=external-dns,external-dns/owner=",
                    a.env,
                    "-cluster,external-dns/resource=service/default/",
                    svc,
                    "\\\"\"}]}}"
                );
            }
            put!(b, "]}},\"responseElements\":{\"changeInfo\":{\"id\":\"/change/C");
            push_rand(b, &mut c.rng, 19, B32, 5);
            put!(
                b,
                "\",\"status\":\"PENDING\",\"submittedAt\":\"",
                aws_date(c.now),
                "\"}}"
            );
            c.ids(b, ReqId::Uuid, false);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::Route53::HostedZone\",\"ARN\":\"arn:aws:route53:::hostedzone/",
                a.zone,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["route53.amazonaws.com"],
                false,
            );
        }
        IC::SsmInventory => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ssm.amazonaws.com",
                "PutInventory",
                region,
                who.ip,
                &[SSM_UA],
            );
            let n = 10 + c.rng.below(80) as usize;
            let time = c.time();
            put!(
                b,
                ",\"requestParameters\":{\"instanceId\":\"",
                subject,
                "\",\"items\":[{\"typeName\":\"AWS:Application\",\"schemaVersion\":\"1.1\",\"captureTime\":\"",
                time,
                "\",\"contentHash\":\""
            );
            push_rand(b, &mut c.rng, 44, B64, 6);
            put!(b, "\",\"content\":[");
            for k in 0..n {
                if k > 0 {
                    put!(b, ",");
                }
                let pkg = PACKAGES[k % PACKAGES.len()];
                put!(b, "{\"name\":\"", pkg, "\",\"version\":\"");
                push_u64(b, 1 + c.rng.below(9));
                put!(b, ".");
                push_u64(b, c.rng.below(40));
                put!(b, ".");
                push_u64(b, c.rng.below(200));
                put!(
                    b,
                    "\",\"release\":\"",
                    [b'1' + c.rng.below(9) as u8],
                    ".amzn2023\",\"architecture\":\"x86_64\",\"publisher\":\"Amazon Linux\",\"packageId\":\"",
                    pkg,
                    ".x86_64.rpm\",\"installedTime\":\"2024-02-1",
                    [b'0' + c.rng.below(10) as u8],
                    "T08:14:22Z\"}"
                );
            }
            put!(b, "]}]},\"responseElements\":null");
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ssm.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::Denied => {
            let (src, name, action, res): (&str, &str, &str, String) = match c.rng.below(4) {
                0 => (
                    "iam.amazonaws.com",
                    "ListUsers",
                    "iam:ListUsers",
                    format!("arn:aws:iam::{acct}:user/"),
                ),
                1 => (
                    "iam.amazonaws.com",
                    "ListRoles",
                    "iam:ListRoles",
                    format!("arn:aws:iam::{acct}:role/"),
                ),
                2 => (
                    "iam.amazonaws.com",
                    "GetAccountAuthorizationDetails",
                    "iam:GetAccountAuthorizationDetails",
                    "*".to_string(),
                ),
                _ => (
                    "secretsmanager.amazonaws.com",
                    "ListSecrets",
                    "secretsmanager:ListSecrets",
                    "*".to_string(),
                ),
            };
            let reg = if src.starts_with("iam") {
                "us-east-1"
            } else {
                region
            };
            c.head(b, "1.08", who.ident, None, src, name, reg, who.ip, &ua2);
            put!(
                b,
                ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User: ",
                who.arn,
                " is not authorized to perform: ",
                action,
                " on resource: ",
                res,
                " because no identity-based policy allows the ",
                action,
                " action\""
            );
            put!(b, ",\"requestParameters\":null,\"responseElements\":null");
            c.ids(b, ReqId::Uuid, true);
            let host: [&str; 3] = if src.starts_with("iam") {
                ["iam.amazonaws.com", "", ""]
            } else {
                ["secretsmanager.", region, ".amazonaws.com"]
            };
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                None,
                "Management",
                &host,
                false,
            );
        }
    }
}

const ECS_ATTRS: &[&str] = &[
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.branch-cni-plugin-version",
    "ecs.ami-id",
    "ecs.capability.secrets.asm.bootstrap.log-driver",
    "ecs.capability.task-eia.optimized-cpu",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "ecs.capability.ecr-endpoint",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.secrets.ssm.bootstrap.log-driver",
    "ecs.capability.efsAuth",
    "ecs.capability.full-sync",
    "com.amazonaws.ecs.capability.docker-remote-api.1.30",
    "com.amazonaws.ecs.capability.docker-remote-api.1.31",
    "com.amazonaws.ecs.capability.docker-remote-api.1.32",
    "ecs.capability.firelens.options.config.file",
    "ecs.availability-zone",
    "ecs.capability.aws-appmesh",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.container-health-check",
    "ecs.capability.pid-ipc-namespace-sharing",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.os-type",
    "ecs.cpu-architecture",
];

const PACKAGES: &[&str] = &[
    "openssl-libs",
    "glibc",
    "bash",
    "coreutils",
    "curl",
    "libcurl",
    "systemd",
    "kernel",
    "python3",
    "python3-libs",
    "amazon-ssm-agent",
    "docker",
    "containerd",
    "runc",
    "nginx",
    "git",
    "vim-minimal",
    "krb5-libs",
    "libxml2",
    "sqlite-libs",
    "openssh-server",
    "sudo",
    "tzdata",
    "ca-certificates",
    "cloud-init",
    "chrony",
    "rsyslog",
    "jq",
    "awscli-2",
    "amazon-cloudwatch-agent",
];

// ---------------------------------------------------------------------------------------------
// The generator.

struct Gen<'c> {
    cfg: &'c GenConfig,
    c: Core,
    accts: Vec<Account>,
    roles: Vec<Role>,
    insts: Vec<Inst>,
    cum_weight: Vec<u64>,
    incidents: Vec<IncidentState>,
    sched: BinaryHeap<Due>,
    sched_seq: u64,
    used_ips: HashSet<String>,
    end: i64,
    out: BinaryHeap<Pending>,
    pool: Vec<Vec<u8>>,
    seq: u64,
    jitter_ms: u64,
    truth: Truth,
}

/// Spreads `records` over event time.
fn slot_time(cfg: &GenConfig, i: usize) -> i64 {
    let rate = if cfg.events_per_sec.is_finite() && cfg.events_per_sec > 0.0 {
        cfg.events_per_sec
    } else {
        1.0
    };
    cfg.start + (i as f64 / rate).floor() as i64
}

fn iam_user(rng: &mut ChaCha8Rng, acct: &str, name: &str, with_key: bool) -> Vec<u8> {
    let pid = rand_string(rng, "AIDA", 17, B32, 5);
    let key = rand_string(rng, "AKIA", 16, B32, 5);
    let mut b = Vec::with_capacity(256);
    put!(
        b,
        "{\"type\":\"IAMUser\",\"principalId\":\"",
        pid,
        "\",\"arn\":\"arn:aws:iam::",
        acct,
        ":user/",
        name,
        "\",\"accountId\":\"",
        acct,
        "\""
    );
    if with_key {
        put!(b, ",\"accessKeyId\":\"", key, "\"");
    }
    put!(b, ",\"userName\":\"", name, "\"}");
    b
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
    mfa: bool,
) -> Vec<u8> {
    let key = rand_string(rng, "ASIA", 16, B32, 5);
    let mut b = Vec::with_capacity(700);
    put!(
        b,
        "{\"type\":\"AssumedRole\",\"principalId\":\"",
        role_id,
        ":",
        session,
        "\",\"arn\":\"arn:aws:sts::",
        acct,
        ":assumed-role/",
        role,
        "/",
        session,
        "\",\"accountId\":\"",
        acct,
        "\",\"accessKeyId\":\"",
        key,
        "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
        role_id,
        "\",\"arn\":\"",
        role_arn,
        "\",\"accountId\":\"",
        acct,
        "\",\"userName\":\"",
        role,
        "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"",
        rfc3339(created),
        "\",\"mfaAuthenticated\":\"",
        if mfa { "true" } else { "false" },
        "\"}}}"
    );
    b
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c GenConfig) -> Gen<'c> {
        let end = slot_time(cfg, cfg.records.saturating_sub(1));
        let mut g = Gen {
            cfg,
            c: Core {
                rng: ChaCha8Rng::seed_from_u64(cfg.seed),
                now: cfg.start,
                tcache: (i64::MIN, [0; 20]),
                last_event_id: [b'0'; 36],
            },
            accts: Vec::new(),
            roles: Vec::new(),
            insts: Vec::new(),
            cum_weight: Vec::new(),
            incidents: Vec::new(),
            sched: BinaryHeap::new(),
            sched_seq: 0,
            used_ips: HashSet::new(),
            end,
            out: BinaryHeap::new(),
            pool: Vec::new(),
            seq: 0,
            jitter_ms: u64::from(cfg.jitter_secs) * 1000,
            truth: Truth::default(),
        };
        g.build_world();
        g.plan();
        g
    }

    fn fresh(&mut self, f: impl Fn(&mut ChaCha8Rng) -> String) -> String {
        loop {
            let ip = f(&mut self.c.rng);
            if self.used_ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    fn fresh_public(&mut self) -> String {
        self.fresh(|r| v4(r, POOL_AWS))
    }

    fn build_world(&mut self) {
        let n_accts = self.cfg.accounts.max(1);
        let start = self.cfg.start;
        for a in 0..n_accts {
            let nat_ip = self.fresh_public();
            let rng = &mut self.c.rng;
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
                .map(|s| {
                    format!(
                        "arn:aws:secretsmanager:{region}:{id}:secret:{env}/{s}-{}",
                        rand_string(rng, "", 6, ALNUM, 6)
                    )
                })
                .collect();
            let tables = ["orders", "sessions", "inventory", "idempotency-keys"]
                .iter()
                .map(|s| format!("{env}-{s}"))
                .collect();
            let vpce = [
                hex_id(rng, "vpce-0", 16),
                hex_id(rng, "vpce-0", 16),
                hex_id(rng, "vpce-0", 16),
                hex_id(rng, "vpce-0", 16),
            ];
            let admin_name = *rng.pick(&["ops-admin", "platform-admin", "netops"]);
            let admin = iam_user(rng, &id, admin_name, true);
            let console = iam_user(rng, &id, PEOPLE[(a * 5 + 3) % PEOPLE.len()], false);
            let ci = iam_user(rng, &id, "ci-deployer", true);
            let mut sso = Vec::new();
            for k in 0..3 {
                let person = PEOPLE[(a * 3 + k) % PEOPLE.len()];
                let kind = if k == 0 {
                    "AdministratorAccess"
                } else {
                    "ReadOnlyAccess"
                };
                let r = format!("AWSReservedSSO_{kind}_{}", hex_id(rng, "", 16));
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                let arn = format!("arn:aws:iam::{id}:role/aws-reserved/sso.amazonaws.com/{r}");
                let created = start - rng.between(600, 36_000);
                sso.push(role_session(
                    rng,
                    &id,
                    &r,
                    &rid,
                    &arn,
                    &format!("{person}@{org}.com"),
                    created,
                    true,
                ));
            }
            let mut lambdas = Vec::new();
            for k in 0..3 {
                let f = FUNCS[(a * 2 + k) % FUNCS.len()];
                let rname = format!(
                    "{f}-role-{}",
                    rand_string(rng, "", 8, B32, 5).to_ascii_lowercase()
                );
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                let arn = format!("arn:aws:iam::{id}:role/service-role/{rname}");
                let created = start - rng.between(60, 3000);
                let ident = role_session(rng, &id, &rname, &rid, &arn, f, created, false);
                lambdas.push((f.to_string(), arn, ident));
            }
            let mut ecs_tasks = Vec::new();
            for rname in ["ecs-task-api-role", "ecs-task-worker-role"] {
                let rid = rand_string(rng, "AROA", 17, B32, 5);
                let arn = format!("arn:aws:iam::{id}:role/{rname}");
                let task = hex_id(rng, "", 32);
                let created = start - rng.between(60, 20_000);
                let ident = role_session(rng, &id, rname, &rid, &arn, &task, created, false);
                ecs_tasks.push((task, arn, ident));
            }
            let asg_rid = rand_string(rng, "AROA", 17, B32, 5);
            let asg_arn = format!(
                "arn:aws:iam::{id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
            );
            let created = start - rng.between(60, 3000);
            let autoscaling = role_session(
                rng,
                &id,
                "AWSServiceRoleForAutoScaling",
                &asg_rid,
                &asg_arn,
                "AutoScaling",
                created,
                false,
            );
            let office_ip = v4(rng, POOL_OFFICE);
            let ci_ips = (0..3).map(|_| v4(rng, POOL_CI)).collect();
            let n_roles = 3 + rng.below(4) as usize;
            let mut roles = Vec::new();
            for k in 0..n_roles {
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
            let acct = Account {
                region,
                env,
                buckets,
                kms_keys,
                secrets,
                tables,
                cluster: format!("{env}-cluster"),
                zone: rand_string(rng, "Z0", 19, B32, 5),
                vpc: hex_id(rng, "vpc-0", 16),
                subnets: (0..3).map(|_| hex_id(rng, "subnet-0", 16)).collect(),
                sg: hex_id(rng, "sg-0", 16),
                ami: hex_id(rng, "ami-0", 16),
                vpce,
                admin,
                console,
                ci,
                sso,
                lambdas,
                ecs_tasks,
                autoscaling,
                office_ip,
                ci_ips,
                nat_ip,
                roles,
                id,
            };
            self.accts.push(acct);
        }

        let n = self.cfg.instances;
        let attacks = self.cfg.attacks.min(n);
        let n_af = attacks / 2;
        let n_if = attacks - n_af;
        let n_launch = (n_af + n / 20).min(n - n_if);
        let first_launched = n - n_launch;
        for k in 0..n {
            let acct = if k < n_accts {
                k
            } else {
                self.c.rng.below(n_accts as u64) as usize
            };
            let launched_later = k >= first_launched;
            // Attacker-first targets (the first launched ones) must call from a public address.
            let af_target = launched_later && k < first_launched + n_af;
            let roll = self.c.rng.below(100);
            let mode = if af_target {
                if roll < 80 { Mode::V4 } else { Mode::V6 }
            } else {
                match roll {
                    0..=69 => Mode::V4,
                    70..=79 => Mode::V6,
                    80..=89 => Mode::Vpce,
                    _ => Mode::Mixed,
                }
            };
            let private_ip = self.fresh(private_v4);
            let ip = match mode {
                Mode::V4 | Mode::Mixed => self.fresh_public(),
                Mode::V6 => self.fresh(|r| v6(r, "2600:1f18:")),
                Mode::Vpce => private_ip.clone(),
            };
            let rng = &mut self.c.rng;
            let a = &self.accts[acct];
            let role = *rng.pick(&a.roles);
            let id = hex_id(rng, "i-0", 16);
            let arn = format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                a.id, self.roles[role].name, id
            );
            let weight = [1u64, 2, 4, 8, 16][rng.below(5) as usize] * (1 + rng.below(4));
            self.insts.push(Inst {
                id,
                acct,
                role,
                region: a.region,
                mode,
                ip,
                private_ip,
                eni: hex_id(rng, "eni-0", 16),
                subnet: rng.pick(&a.subnets).clone(),
                arn,
                st: if launched_later {
                    St::NotLaunched
                } else {
                    St::Running
                },
                epoch: 0,
                refresh_gen: 0,
                sess: None,
                issued: None,
                enabled: false,
                pending_ip: None,
                pending_eip: None,
                barriers: Vec::new(),
                sdk: SDK_UAS[rng.below(SDK_UAS.len() as u64) as usize],
                delivery: if rng.per_mille(850) { "2.0" } else { "1.0" },
                last_issue: i64::MIN / 4,
                launched_later,
                target: false,
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
        let initial: Vec<usize> = (0..first_launched)
            .filter(|&k| self.insts[k].mode != Mode::Vpce)
            .collect();
        let mut chosen: Vec<usize> = Vec::new();
        let mut next_af = first_launched;
        let d = (self.end - start).max(1);
        for k in 0..attacks {
            let af = k % 2 == 1;
            let inst = if af {
                next_af += 1;
                Some(next_af - 1)
            } else {
                let free: Vec<usize> = initial.iter().copied().filter(|i| !chosen.contains(i)).collect();
                (!free.is_empty()).then(|| free[self.c.rng.below(free.len() as u64) as usize])
            };
            let Some(inst) = inst else { continue };
            chosen.push(inst);
            self.insts[inst].target = true;
            let n_ips = if self.c.rng.per_mille(300) { 2 } else { 1 };
            let ips = (0..n_ips).map(|_| self.fresh(|r| v4(r, POOL_THIEF))).collect();
            let rng = &mut self.c.rng;
            let spacing = (d / 200).clamp(2, 90);
            let calls = rng.between(6, 20) as u32;
            let ua = *rng.pick(THIEF_UAS);
            let i = &self.insts[inst];
            self.incidents.push(IncidentState {
                inst,
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
        self.sched.push(Due {
            at,
            seq: self.sched_seq,
            act,
        });
    }

    fn plan(&mut self) {
        let start = self.cfg.start;
        let d = (self.end - start).max(1);
        let j = i64::from(self.cfg.jitter_secs);
        for k in 0..self.insts.len() {
            let i = &self.insts[k];
            if !i.launched_later {
                let at = start + self.c.rng.between(0, (d / 10).min(30));
                self.schedule(
                    at,
                    Act::Issue {
                        inst: k,
                        epoch: 0,
                        rgen: ANY_GEN,
                        purpose: Purpose::Normal,
                    },
                );
            } else if !i.target {
                let at = start + d / 20 + self.c.rng.between(0, d * 3 / 4);
                self.schedule(
                    at,
                    Act::Launch {
                        inst: k,
                        attack: None,
                    },
                );
            }
        }
        let n = self.incidents.len() as i64;
        for k in 0..self.incidents.len() {
            let lo = start + d * 15 / 100 + d * 60 / 100 * k as i64 / n;
            let mut at = lo + self.c.rng.between(0, d * 60 / 100 / n / 2);
            let act = if self.incidents[k].truth.attacker_first {
                // Launch, issue, the thief's first call and the instance's take up to ~d/4.
                at = (at - d / 8).max(start);
                Act::Launch {
                    inst: self.incidents[k].inst,
                    attack: Some(k),
                }
            } else {
                Act::AttackRefresh { incident: k }
            };
            self.schedule(at, act);
        }

        // Address changes, on instances not involved in incidents, never two within an hour.
        let eligible: Vec<usize> = (0..self.insts.len())
            .filter(|&k| !self.insts[k].target && matches!(self.insts[k].mode, Mode::V4 | Mode::Mixed))
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
            let k = *self.c.rng.pick(&eligible);
            let at = self.c.rng.between(earliest, latest);
            if planned.iter().any(|&(p, t)| p == k && (t - at).abs() < 3600) {
                continue;
            }
            planned.push((k, at));
            match self.c.rng.below(100) {
                0..=29 => {
                    let lead = self.c.rng.between(5, 600);
                    self.schedule(
                        at - lead,
                        Act::Allocate {
                            inst: k,
                            assoc_at: at,
                            by_name: false,
                        },
                    );
                }
                30..=49 => {
                    if self.c.rng.per_mille(500) {
                        let lead = self.c.rng.between(5, 600);
                        self.schedule(
                            at - lead,
                            Act::Allocate {
                                inst: k,
                                assoc_at: at,
                                by_name: true,
                            },
                        );
                    } else {
                        self.schedule(
                            at,
                            Act::Associate {
                                inst: k,
                                by_name: true,
                                via_eni: false,
                            },
                        );
                    }
                }
                50..=74 => {
                    let new_address = self.c.rng.per_mille(700);
                    self.schedule(at, Act::Attach { inst: k, new_address });
                }
                _ => {
                    let start_at = at + j + self.c.rng.between(5, 900);
                    self.schedule(at, Act::Stop { inst: k, start_at });
                }
            }
            let b = &mut self.insts[k].barriers;
            let pos = b.partition_point(|&t| t <= at);
            b.insert(pos, at);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Main loop and delivery.

    fn run(&mut self, w: &mut impl Write) -> io::Result<()> {
        for i in 0..self.cfg.records {
            let t = slot_time(self.cfg, i);
            self.c.now = t;
            // Everything built later is keyed at or after `t`, in a later build position.
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
        self.truth.incidents = self
            .incidents
            .iter()
            .filter(|s| s.emitted)
            .map(|s| s.truth.clone())
            .collect();
        Ok(())
    }

    fn key(&self, t: i64, delay_ms: u64) -> u64 {
        ((t - self.cfg.start).max(0) as u64) * 1000 + delay_ms
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 8192 && buf.capacity() <= 64 * 1024 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048))
    }

    fn push(&mut self, buf: Vec<u8>, how: Deliver) {
        let t = self.c.now;
        let mut delay = match how {
            Deliver::Anchor => 0,
            _ if self.jitter_ms == 0 => 0,
            _ => self.c.rng.random_range(0..=self.jitter_ms),
        };
        if let Deliver::Before(k) = how
            && let Some(&b) = self.insts[k].barriers.first()
        {
            delay = delay.min(((b - t).max(0) as u64) * 1000);
        }
        self.seq += 1;
        let key = self.key(t, delay);
        self.out.push(Pending {
            key,
            seq: self.seq,
            buf,
        });
    }

    fn drop_barrier(&mut self, k: usize, at: i64) {
        let b = &mut self.insts[k].barriers;
        // The action runs at or after its planned time; its barrier is the earliest one not
        // later than now.
        if let Some(pos) = b.iter().rposition(|&t| t <= at) {
            b.remove(pos);
        }
    }

    /// Handles one scheduled action; true if it emitted a record.
    fn act(&mut self, act: Act) -> bool {
        let t = self.c.now;
        let j = i64::from(self.cfg.jitter_secs);
        match act {
            Act::Issue {
                inst,
                epoch,
                rgen,
                purpose,
            } => {
                let i = &self.insts[inst];
                if i.epoch != epoch || i.st != St::Running || (rgen != ANY_GEN && rgen != i.refresh_gen) {
                    return false;
                }
                let sess = self.new_session(inst);
                self.emit_ec2_assume_role(inst, &sess);
                let i = &mut self.insts[inst];
                i.last_issue = t;
                i.issued = Some(sess.clone());
                i.refresh_gen = i.refresh_gen.wrapping_add(1) % ANY_GEN;
                let rgen = i.refresh_gen;
                // Refresh well inside the 6 h the credentials (and a detector's row) live.
                let next = t + self.c.rng.between(3600, 19_800);
                self.schedule(
                    next,
                    Act::Issue {
                        inst,
                        epoch,
                        rgen,
                        purpose: Purpose::Normal,
                    },
                );
                match purpose {
                    Purpose::Normal => {
                        let at = t + self.c.rng.between(1, 30);
                        self.schedule(
                            at,
                            Act::Adopt {
                                inst,
                                epoch,
                                thief_after: None,
                            },
                        );
                    }
                    Purpose::StealAfterUse(k) => {
                        self.incidents[k].stolen = Some(sess);
                        let at = t + self.c.rng.between(1, 20);
                        self.schedule(
                            at,
                            Act::Adopt {
                                inst,
                                epoch,
                                thief_after: Some(k),
                            },
                        );
                    }
                    Purpose::StealBeforeUse(k) => {
                        self.incidents[k].stolen = Some(sess);
                        let d = self.end - self.cfg.start;
                        let at = t + self.c.rng.between((d / 40).clamp(1, 60), (d / 20).clamp(2, 300));
                        self.schedule(at, Act::Thief { incident: k, idx: 0 });
                    }
                }
                true
            }
            Act::Adopt {
                inst,
                epoch,
                thief_after,
            } => {
                let i = &mut self.insts[inst];
                if i.epoch != epoch || i.st != St::Running {
                    return false;
                }
                if let Some(s) = i.issued.take() {
                    i.sess = Some(s);
                }
                if i.sess.is_none() {
                    return false;
                }
                i.enabled = true;
                self.emit_instance_call(inst, true, Deliver::Anchor);
                if let Some(k) = thief_after {
                    let d = self.end - self.cfg.start;
                    let lo = (d / 20).clamp(1, 120);
                    let hi = (d / 8).clamp(lo + 1, 1800);
                    let at = t + self.c.rng.between(lo, hi);
                    self.schedule(at, Act::Thief { incident: k, idx: 0 });
                }
                true
            }
            Act::AttackRefresh { incident } => {
                let inst = self.incidents[incident].inst;
                let epoch = self.insts[inst].epoch;
                self.act(Act::Issue {
                    inst,
                    epoch,
                    rgen: ANY_GEN,
                    purpose: Purpose::StealAfterUse(incident),
                })
            }
            Act::Launch { inst, attack } => {
                if self.insts[inst].st != St::NotLaunched {
                    return false;
                }
                self.emit_run_instances(inst);
                self.insts[inst].st = St::Running;
                let d = self.end - self.cfg.start;
                let at = t + self.c.rng.between((d / 30).clamp(1, 20), (d / 15).clamp(2, 90));
                let purpose = attack.map_or(Purpose::Normal, Purpose::StealBeforeUse);
                self.schedule(
                    at,
                    Act::Issue {
                        inst,
                        epoch: 0,
                        rgen: ANY_GEN,
                        purpose,
                    },
                );
                true
            }
            Act::Allocate {
                inst,
                assoc_at,
                by_name,
            } => {
                let ip = self.fresh_public();
                let alloc = hex_id(&mut self.c.rng, "eipalloc-0", 16);
                self.emit_allocate(inst, &alloc, &ip);
                self.insts[inst].pending_eip = Some((alloc, ip));
                // Launched instances' interfaces are known from RunInstances.
                let via_eni = !by_name && self.insts[inst].launched_later && self.c.rng.per_mille(500);
                self.schedule(
                    assoc_at.max(t),
                    Act::Associate {
                        inst,
                        by_name,
                        via_eni,
                    },
                );
                true
            }
            Act::Associate {
                inst,
                by_name,
                via_eni,
            } => {
                self.drop_barrier(inst, t);
                if self.insts[inst].st != St::Running {
                    self.insts[inst].pending_eip = None;
                    return false;
                }
                let (alloc, ip) = match self.insts[inst].pending_eip.take() {
                    Some(p) => p,
                    None => {
                        let ip = self.fresh_public();
                        (hex_id(&mut self.c.rng, "eipalloc-0", 16), ip)
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
                    let ip = self.fresh_public();
                    self.insts[inst].pending_ip = Some(ip);
                    let at = t + self.c.rng.between(5, 600);
                    self.schedule(at, Act::Switch { inst });
                }
                true
            }
            Act::Switch { inst } => {
                let Some(ip) = self.insts[inst].pending_ip.take() else {
                    return false;
                };
                self.insts[inst].ip = ip;
                let i = &self.insts[inst];
                if i.st != St::Running || i.sess.is_none() || !i.enabled {
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
                // Stopped for longer than the jitter: nothing from before the stop is delivered
                // after the start.
                self.schedule(start_at.max(t + j + 1), Act::Start { inst });
                true
            }
            Act::Start { inst } => {
                if self.insts[inst].st != St::Stopped {
                    return false;
                }
                self.emit_stop_start(inst, false);
                let ip = self.fresh_public();
                let fresh = self.c.rng.per_mille(700);
                let i = &mut self.insts[inst];
                i.st = St::Running;
                i.ip = ip;
                let epoch = i.epoch;
                if fresh || i.sess.is_none() || t - i.last_issue > 4 * 3600 {
                    let at = t + self.c.rng.between(10, 40);
                    self.schedule(
                        at,
                        Act::Issue {
                            inst,
                            epoch,
                            rgen: ANY_GEN,
                            purpose: Purpose::Normal,
                        },
                    );
                } else {
                    i.refresh_gen = i.refresh_gen.wrapping_add(1) % ANY_GEN;
                    let (rgen, next) = (i.refresh_gen, (i.last_issue + 19_800).max(t + 60));
                    let at = t + self.c.rng.between(15, 60);
                    self.schedule(at, Act::Resume { inst, epoch });
                    self.schedule(
                        next,
                        Act::Issue {
                            inst,
                            epoch,
                            rgen,
                            purpose: Purpose::Normal,
                        },
                    );
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
        let key = rand_string(&mut self.c.rng, "ASIA", 16, B32, 5);
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let r = &self.roles[i.role];
        let mut b = Vec::with_capacity(700);
        put!(
            b,
            "{\"type\":\"AssumedRole\",\"principalId\":\"",
            r.id,
            ":",
            i.id,
            "\",\"arn\":\"",
            i.arn,
            "\",\"accountId\":\"",
            a.id,
            "\",\"accessKeyId\":\"",
            key,
            "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
            r.id,
            "\",\"arn\":\"",
            r.arn,
            "\",\"accountId\":\"",
            a.id,
            "\",\"userName\":\"",
            r.name,
            "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"",
            rfc3339(self.c.now),
            "\",\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"",
            i.delivery,
            "\"}}"
        );
        Sess {
            key,
            ident: b,
            created: self.c.now,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Lifecycle records.

    fn emit_ec2_assume_role(&mut self, inst: usize, sess: &Sess) {
        let mut b = self.buf();
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let role_arn = self.roles[i.role].arn.as_str();
        let c = &mut self.c;
        c.head(
            &mut b,
            "1.08",
            b"{\"type\":\"AWSService\",\"invokedBy\":\"ec2.amazonaws.com\"}",
            None,
            "sts.amazonaws.com",
            "AssumeRole",
            i.region,
            "ec2.amazonaws.com",
            &["ec2.amazonaws.com"],
        );
        put!(
            b,
            ",\"requestParameters\":{\"roleArn\":\"",
            role_arn,
            "\",\"roleSessionName\":\"",
            i.id
        );
        put!(
            b,
            "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"",
            sess.key,
            "\",\"sessionToken\":\""
        );
        c.token(&mut b);
        let exp = aws_date(c.now + 6 * 3600 + c.rng.between(0, 2400));
        put!(b, "\",\"expiration\":\"", exp, "\"}}");
        c.ids(&mut b, ReqId::Uuid, true);
        put!(
            b,
            ",\"resources\":[{\"accountId\":\"",
            a.id,
            "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
            role_arn,
            "\"}]"
        );
        c.tail(
            &mut b,
            "AwsApiCall",
            true,
            &a.id,
            true,
            None,
            "Management",
            &[],
            false,
        );
        self.push(b, Deliver::Anchor);
    }

    /// Writes an EC2 control-plane record by the admin, CI (Terraform) or the autoscaling
    /// service-linked role, in the instance's account; delivered as an anchor.
    fn ec2_change(&mut self, inst: usize, cmd: &'static str, name: &str, params: &[u8], resp: &[u8]) {
        let mut b = self.buf();
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let c = &mut self.c;
        let who = c.rng.below(10);
        let (ident, ip, by, ua): (&[u8], &str, Option<&str>, [&str; 2]) = match who {
            0..=5 => (a.admin.as_slice(), a.office_ip.as_str(), None, [CLI_UA, cmd]),
            6..=8 => (a.ci.as_slice(), c.rng.pick(&a.ci_ips).as_str(), None, [TF_UA, ""]),
            _ => (
                a.autoscaling.as_slice(),
                "autoscaling.amazonaws.com",
                Some("autoscaling.amazonaws.com"),
                ["autoscaling.amazonaws.com", ""],
            ),
        };
        c.head(
            &mut b,
            "1.09",
            ident,
            by,
            "ec2.amazonaws.com",
            name,
            i.region,
            ip,
            &ua,
        );
        put!(
            b,
            ",\"requestParameters\":",
            params,
            ",\"responseElements\":",
            resp
        );
        c.ids(&mut b, ReqId::Uuid, false);
        let host: &[&str] = if by.is_some() {
            &[]
        } else {
            &["ec2.", i.region, ".amazonaws.com"]
        };
        c.tail(
            &mut b,
            "AwsApiCall",
            true,
            &a.id,
            false,
            None,
            "Management",
            host,
            false,
        );
        self.push(b, Deliver::Anchor);
    }

    fn emit_run_instances(&mut self, inst: usize) {
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let r = &self.roles[i.role];
        let rng = &mut self.c.rng;
        let profile = format!("arn:aws:iam::{}:instance-profile/{}", a.id, r.name);
        let itype = *rng.pick(&[
            "t3.medium",
            "m6i.large",
            "c6g.xlarge",
            "r6i.2xlarge",
            "m7g.medium",
        ]);
        let token = uuid(rng);
        let res = hex_id(rng, "r-0", 16);
        let attach = hex_id(rng, "eni-attach-0", 16);
        let x = rng.next_u64().to_le_bytes();
        let mac = format!(
            "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            x[0], x[1], x[2], x[3], x[4]
        );
        let pid = rand_string(rng, "AIPA", 17, B32, 5);
        let launch_ms = (self.c.now.max(0) as u64) * 1000;
        let pdns = format!("ip-{}.ec2.internal", i.private_ip.replace('.', "-"));
        let mut p = Vec::with_capacity(1024);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"imageId\":\"",
            a.ami,
            "\",\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"",
            itype
        );
        put!(
            p,
            "\",\"blockDeviceMapping\":{},\"monitoring\":{\"enabled\":false},\"disableApiTermination\":false,\"disableApiStop\":false,\"clientToken\":\"",
            token
        );
        put!(
            p,
            "\",\"iamInstanceProfile\":{\"arn\":\"",
            profile,
            "\"},\"networkInterfaceSet\":{\"items\":[{\"deviceIndex\":0,\"subnetId\":\"",
            i.subnet
        );
        put!(
            p,
            "\",\"associatePublicIpAddress\":true,\"groupSet\":{\"items\":[{\"groupId\":\"",
            a.sg,
            "\"}]}}]},\"metadataOptions\":{\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2}}"
        );
        let mut o = Vec::with_capacity(4096);
        put!(
            o,
            "{\"requestId\":\"",
            uuid(rng),
            "\",\"reservationId\":\"",
            res,
            "\",\"ownerId\":\"",
            a.id,
            "\",\"groupSet\":{},\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            i.id
        );
        put!(
            o,
            "\",\"imageId\":\"",
            a.ami,
            "\",\"currentInstanceBootMode\":\"uefi\",\"instanceState\":{\"code\":0,\"name\":\"pending\"},\"privateDnsName\":\"",
            pdns
        );
        put!(
            o,
            "\",\"amiLaunchIndex\":0,\"productCodes\":{},\"instanceType\":\"",
            itype,
            "\",\"launchTime\":"
        );
        push_u64(&mut o, launch_ms);
        put!(
            o,
            ",\"placement\":{\"availabilityZone\":\"",
            i.region,
            "a\",\"tenancy\":\"default\"},\"monitoring\":{\"state\":\"disabled\"},\"subnetId\":\"",
            i.subnet,
            "\",\"vpcId\":\"",
            a.vpc
        );
        put!(
            o,
            "\",\"privateIpAddress\":\"",
            i.private_ip,
            "\",\"stateReason\":{\"code\":\"pending\",\"message\":\"pending\"},\"architecture\":\"x86_64\",\"rootDeviceType\":\"ebs\",\"rootDeviceName\":\"/dev/xvda\",\"blockDeviceMapping\":{},\"virtualizationType\":\"hvm\",\"hypervisor\":\"xen\",\"iamInstanceProfile\":{\"arn\":\"",
            profile,
            "\",\"id\":\"",
            pid
        );
        put!(
            o,
            "\"},\"groupSet\":{\"items\":[{\"groupId\":\"",
            a.sg,
            "\",\"groupName\":\"default\"}]},\"sourceDestCheck\":true,\"networkInterfaceSet\":{\"items\":[{\"networkInterfaceId\":\"",
            i.eni
        );
        put!(
            o,
            "\",\"subnetId\":\"",
            i.subnet,
            "\",\"vpcId\":\"",
            a.vpc,
            "\",\"ownerId\":\"",
            a.id,
            "\",\"status\":\"in-use\",\"macAddress\":\"",
            mac,
            "\",\"privateIpAddress\":\"",
            i.private_ip,
            "\",\"privateDnsName\":\"",
            pdns
        );
        put!(
            o,
            "\",\"sourceDestCheck\":true,\"interfaceType\":\"interface\",\"groupSet\":{\"items\":[{\"groupId\":\"",
            a.sg,
            "\",\"groupName\":\"default\"}]},\"attachment\":{\"attachmentId\":\"",
            attach,
            "\",\"deviceIndex\":0,\"networkCardIndex\":0,\"status\":\"attaching\",\"attachTime\":"
        );
        push_u64(&mut o, launch_ms);
        put!(
            o,
            ",\"deleteOnTermination\":true},\"privateIpAddressesSet\":{\"item\":[{\"privateIpAddress\":\"",
            i.private_ip,
            "\",\"privateDnsName\":\"",
            pdns,
            "\",\"primary\":true}]},\"ipv6AddressesSet\":{},\"tagSet\":{}}]},\"ebsOptimized\":false,\"enaSupport\":true,\"cpuOptions\":{\"coreCount\":1,\"threadsPerCore\":2},\"capacityReservationSpecification\":{\"capacityReservationPreference\":\"open\"},\"enclaveOptions\":{\"enabled\":false},\"metadataOptions\":{\"state\":\"pending\",\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2,\"httpEndpoint\":\"enabled\",\"httpProtocolIpv4\":\"enabled\",\"httpProtocolIpv6\":\"disabled\",\"instanceMetadataTags\":\"disabled\"},\"maintenanceOptions\":{\"autoRecovery\":\"default\"},\"privateDnsNameOptions\":{\"hostnameType\":\"ip-name\",\"enableResourceNameDnsARecord\":false,\"enableResourceNameDnsAAAARecord\":false}}]}}"
        );
        self.ec2_change(inst, "ec2.run-instances", "RunInstances", &p, &o);
    }

    fn emit_allocate(&mut self, inst: usize, alloc: &str, ip: &str) {
        let region = self.insts[inst].region;
        let mut r = Vec::with_capacity(256);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"publicIp\":\"",
            ip,
            "\",\"domain\":\"vpc\",\"allocationId\":\"",
            alloc,
            "\",\"publicIpv4Pool\":\"amazon\",\"networkBorderGroup\":\"",
            region,
            "\"}"
        );
        self.ec2_change(
            inst,
            "ec2.allocate-address",
            "AllocateAddress",
            b"{\"domain\":\"vpc\"}",
            &r,
        );
    }

    fn emit_associate(&mut self, inst: usize, alloc: &str, ip: &str, by_name: bool, via_eni: bool) {
        let i = &self.insts[inst];
        let mut p = Vec::with_capacity(128);
        if via_eni {
            put!(
                p,
                "{\"networkInterfaceId\":\"",
                i.eni,
                "\",\"allocationId\":\"",
                alloc,
                "\",\"allowReassociation\":true}"
            );
        } else if by_name {
            put!(p, "{\"instanceId\":\"", i.id, "\",\"publicIp\":\"", ip, "\"}");
        } else {
            put!(
                p,
                "{\"instanceId\":\"",
                i.id,
                "\",\"allocationId\":\"",
                alloc,
                "\",\"allowReassociation\":false}"
            );
        }
        let mut r = Vec::with_capacity(128);
        let assoc = hex_id(&mut self.c.rng, "eipassoc-0", 16);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"_return\":true,\"associationId\":\"",
            assoc,
            "\"}"
        );
        self.ec2_change(inst, "ec2.associate-address", "AssociateAddress", &p, &r);
    }

    fn emit_attach(&mut self, inst: usize) {
        let eni = hex_id(&mut self.c.rng, "eni-0", 16);
        let attach = hex_id(&mut self.c.rng, "eni-attach-0", 16);
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"networkInterfaceId\":\"",
            eni,
            "\",\"instanceId\":\"",
            self.insts[inst].id,
            "\",\"deviceIndex\":1,\"networkCardIndex\":0}"
        );
        let mut r = Vec::with_capacity(128);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"attachmentId\":\"",
            attach,
            "\",\"networkCardIndex\":0}"
        );
        self.ec2_change(
            inst,
            "ec2.attach-network-interface",
            "AttachNetworkInterface",
            &p,
            &r,
        );
    }

    fn emit_stop_start(&mut self, inst: usize, stop: bool) {
        let id = &self.insts[inst].id;
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            id,
            "\"}]}",
            if stop { ",\"force\":false}" } else { "}" }
        );
        let (cur, prev) = if stop {
            (
                "{\"code\":64,\"name\":\"stopping\"}",
                "{\"code\":16,\"name\":\"running\"}",
            )
        } else {
            (
                "{\"code\":0,\"name\":\"pending\"}",
                "{\"code\":80,\"name\":\"stopped\"}",
            )
        };
        let mut r = Vec::with_capacity(256);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            id,
            "\",\"currentState\":",
            cur,
            ",\"previousState\":",
            prev,
            "}]}}"
        );
        if stop {
            self.ec2_change(inst, "ec2.stop-instances", "StopInstances", &p, &r);
        } else {
            self.ec2_change(inst, "ec2.start-instances", "StartInstances", &p, &r);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Instance and thief calls.

    /// One call by an instance's current session from its own address. `primary`: from its
    /// primary address (not S3 through the gateway endpoint of a Mixed instance) and small.
    fn emit_instance_call(&mut self, k: usize, primary: bool, how: Deliver) {
        let mut b = self.buf();
        let i = &self.insts[k];
        let Some(sess) = i.sess.as_ref() else { return };
        let a = &self.accts[i.acct];
        let c = &mut self.c;
        let mut kind = pick_call(&mut c.rng);
        if primary && ((kind.is_s3() && i.mode == Mode::Mixed) || kind.is_tail()) {
            kind = IC::SsmUpdate;
        }
        let (ip, vpce) = match i.mode {
            Mode::Vpce => (i.private_ip.as_str(), Some(endpoint(a, kind.svc()))),
            Mode::Mixed if kind.is_s3() => (i.private_ip.as_str(), Some(endpoint(a, 0))),
            _ => (i.ip.as_str(), None),
        };
        let who = Who {
            ident: &sess.ident,
            invoked_by: None,
            ip,
            ua: [i.sdk, ""],
            vpce,
            arn: &i.arn,
            thief: false,
        };
        api_call(c, a, &mut b, i.region, &i.id, kind, &who);
        self.push(b, how);
    }

    /// A call AWS made on an instance session's behalf (`sourceIPAddress` names a service).
    fn emit_service_invoked(&mut self, k: usize) {
        let mut b = self.buf();
        let i = &self.insts[k];
        let Some(sess) = i.sess.as_ref() else { return };
        let a = &self.accts[i.acct];
        let c = &mut self.c;
        let (svc, kind) = match c.rng.below(6) {
            0..=2 => (
                "s3.amazonaws.com",
                if c.rng.per_mille(600) {
                    IC::KmsDecrypt
                } else {
                    IC::KmsGdk
                },
            ),
            3 => ("secretsmanager.amazonaws.com", IC::KmsDecrypt),
            4 => ("athena.amazonaws.com", IC::S3Get),
            _ => ("AWS Internal", IC::KmsDecrypt),
        };
        let who = Who {
            ident: &sess.ident,
            invoked_by: Some(svc),
            ip: svc,
            ua: [svc, ""],
            vpce: None,
            arn: &i.arn,
            thief: false,
        };
        api_call(c, a, &mut b, i.region, &i.id, kind, &who);
        self.push(b, Deliver::Jitter);
    }

    fn thief_call(&mut self, k: usize, idx: u32) -> bool {
        let mut b = self.buf();
        let inc = &self.incidents[k];
        let Some(sess) = inc.stolen.as_ref() else {
            return false;
        };
        let i = &self.insts[inc.inst];
        let a = &self.accts[i.acct];
        let c = &mut self.c;
        let ip = if inc.ips.len() > 1 && idx >= inc.calls / 2 {
            &inc.ips[1]
        } else {
            &inc.ips[0]
        };
        let kind = if idx == 0 {
            IC::StsGci
        } else {
            *c.rng.pick(&[
                IC::ListBuckets,
                IC::S3Get,
                IC::S3Get,
                IC::S3List,
                IC::Ec2DescInst,
                IC::Denied,
                IC::Denied,
                IC::SecretGet,
                IC::StsGci,
            ])
        };
        let region = if c.rng.per_mille(600) {
            "us-east-1"
        } else {
            i.region
        };
        let who = Who {
            ident: &sess.ident,
            invoked_by: None,
            ip,
            ua: [inc.ua, kind.cli_command()],
            vpce: None,
            arn: &i.arn,
            thief: true,
        };
        api_call(c, a, &mut b, region, &i.id, kind, &who);
        let (created, key, ip) = (sess.created, sess.key.clone(), ip.clone());
        let (inst, calls, spacing) = (inc.inst, inc.calls, inc.spacing);
        self.push(
            b,
            if idx == 0 {
                Deliver::Anchor
            } else {
                Deliver::Jitter
            },
        );

        let eid = into_string(self.c.last_event_id.to_vec());
        let st = &mut self.incidents[k];
        if !st.emitted {
            st.emitted = true;
            st.truth.access_key_id = key;
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

        let t = self.c.now;
        if idx == 0 && st.truth.attacker_first {
            // The instance's first call with these credentials comes after the thief's.
            let epoch = self.insts[inst].epoch;
            let d = self.end - self.cfg.start;
            let at = t + self.c.rng.between(3, (d / 20).clamp(4, 40));
            self.schedule(
                at,
                Act::Adopt {
                    inst,
                    epoch,
                    thief_after: None,
                },
            );
        }
        // Every call within an hour of the AssumeRole that issued the credentials.
        let next = t + self.c.rng.between(1, spacing);
        if idx + 1 < calls && next < created + 3500 {
            self.schedule(
                next,
                Act::Thief {
                    incident: k,
                    idx: idx + 1,
                },
            );
        }
        true
    }

    // -----------------------------------------------------------------------------------------
    // Background traffic.

    fn background(&mut self) {
        if self.c.rng.below(1000) < 905 {
            let total = self.cum_weight.last().copied().unwrap_or(0);
            for _ in 0..4 {
                if total == 0 {
                    break;
                }
                let x = self.c.rng.below(total);
                let k = self.cum_weight.partition_point(|&c| c <= x);
                let i = &self.insts[k];
                if i.enabled && i.st == St::Running && i.sess.is_some() {
                    if self.c.rng.per_mille(40) {
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

    /// Traffic not made by instance sessions.
    fn emit_other(&mut self) {
        let mut b = self.buf();
        let c = &mut self.c;
        let ai = c.rng.below(self.accts.len() as u64) as usize;
        let a = &self.accts[ai];
        let region = a.region;
        let mut how = Deliver::Jitter;
        match c.rng.below(1000) {
            // The admin looking around with the CLI.
            0..=99 => {
                let (src, name, cmd, params): (&str, &str, &str, &[&str]) = match c.rng.below(4) {
                    0 => (
                        "ec2",
                        "DescribeInstances",
                        "ec2.describe-instances",
                        &[
                            "{\"instancesSet\":{},\"filterSet\":{\"items\":[{\"name\":\"instance-state-name\",\"valueSet\":{\"items\":[{\"value\":\"running\"}]}},{\"name\":\"tag:Environment\",\"valueSet\":{\"items\":[{\"value\":\"",
                            a.env,
                            "\"}]}}]}}",
                        ],
                    ),
                    1 => (
                        "ec2",
                        "DescribeAddresses",
                        "ec2.describe-addresses",
                        &["{\"publicIpsSet\":{},\"allocationIdsSet\":{},\"filterSet\":{}}"],
                    ),
                    2 => (
                        "ec2",
                        "DescribeSecurityGroups",
                        "ec2.describe-security-groups",
                        &[
                            "{\"securityGroupSet\":{},\"securityGroupIdSet\":{\"items\":[{\"groupId\":\"",
                            a.sg.as_str(),
                            "\"}]},\"filterSet\":{}}",
                        ],
                    ),
                    _ => ("iam", "ListRoles", "iam.list-roles", &["{\"maxItems\":1000}"]),
                };
                let reg = if src == "iam" { "us-east-1" } else { region };
                let source = if src == "iam" {
                    "iam.amazonaws.com"
                } else {
                    "ec2.amazonaws.com"
                };
                c.head(
                    &mut b,
                    "1.09",
                    &a.admin,
                    None,
                    source,
                    name,
                    reg,
                    &a.office_ip,
                    &[CLI_UA, cmd],
                );
                put!(b, ",\"requestParameters\":");
                for p in params {
                    put!(b, p);
                }
                put!(b, ",\"responseElements\":null");
                c.ids(&mut b, ReqId::Uuid, true);
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &[src, ".", reg, ".amazonaws.com"],
                    false,
                );
            }
            // SSO users in the console.
            100..=279 => {
                let ident = c.rng.pick(&a.sso);
                let ua = *c.rng.pick(BROWSER_UAS);
                let (source, name, params, ro): (&str, &str, &str, bool) = match c.rng.below(6) {
                    0 => (
                        "ec2.amazonaws.com",
                        "DescribeInstances",
                        "{\"maxResults\":1000,\"instancesSet\":{},\"filterSet\":{}}",
                        true,
                    ),
                    1 => (
                        "monitoring.amazonaws.com",
                        "DescribeAlarms",
                        "{\"maxRecords\":100}",
                        true,
                    ),
                    2 => (
                        "s3.amazonaws.com",
                        "GetBucketLocation",
                        "{\"location\":\"\",\"Host\":\"s3.amazonaws.com\"}",
                        true,
                    ),
                    3 => (
                        "cloudtrail.amazonaws.com",
                        "LookupEvents",
                        "{\"maxResults\":50,\"lookupAttributes\":[{\"attributeKey\":\"ReadOnly\",\"attributeValue\":\"false\"}]}",
                        true,
                    ),
                    4 => (
                        "health.amazonaws.com",
                        "DescribeEventAggregates",
                        "{\"aggregateField\":\"eventTypeCategory\",\"filter\":{\"eventStatusCodes\":[\"open\",\"upcoming\"]}}",
                        true,
                    ),
                    _ => (
                        "ec2.amazonaws.com",
                        "ModifyInstanceAttribute",
                        "{\"instanceId\":\"i-0c0ffee0c0ffee000\",\"disableApiTermination\":{\"value\":true}}",
                        false,
                    ),
                };
                c.head(
                    &mut b,
                    "1.08",
                    ident,
                    None,
                    source,
                    name,
                    region,
                    &a.office_ip,
                    &[ua],
                );
                put!(b, ",\"requestParameters\":", params, ",\"responseElements\":null");
                c.ids(&mut b, ReqId::Uuid, ro);
                let host = source.trim_end_matches(".amazonaws.com");
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &[host, ".", region, ".amazonaws.com"],
                    true,
                );
            }
            // CI with Terraform: small reads, and now and then a large deployment call.
            280..=419 => {
                let ip = c.rng.pick(&a.ci_ips).as_str();
                if c.rng.per_mille(100) {
                    big_ci_call(c, a, &mut b, ip);
                } else {
                    let kind = *c.rng.pick(&[
                        IC::S3Get,
                        IC::S3Put,
                        IC::DdbGet,
                        IC::DdbPut,
                        IC::Ec2DescTags,
                        IC::StsGci,
                    ]);
                    let who = Who {
                        ident: &a.ci,
                        invoked_by: None,
                        ip,
                        ua: [TF_UA, ""],
                        vpce: None,
                        arn: "",
                        thief: false,
                    };
                    api_call(c, a, &mut b, region, "terraform", kind, &who);
                }
            }
            // Lambda functions, from an ever-changing AWS address.
            420..=699 => {
                let (f, _, ident) = c.rng.pick(&a.lambdas);
                let ip = v4(&mut c.rng, POOL_LAMBDA);
                let kind = *c.rng.pick(&[
                    IC::DdbPut,
                    IC::DdbQuery,
                    IC::DdbGet,
                    IC::S3Get,
                    IC::S3Put,
                    IC::KmsDecrypt,
                    IC::SecretGet,
                    IC::SsmGetParam,
                ]);
                let who = Who {
                    ident,
                    invoked_by: None,
                    ip: &ip,
                    ua: [LAMBDA_UA, ""],
                    vpce: None,
                    arn: "",
                    thief: false,
                };
                api_call(c, a, &mut b, region, f, kind, &who);
            }
            // ECS tasks behind the NAT gateway.
            700..=819 => {
                let (task, _, ident) = c.rng.pick(&a.ecs_tasks);
                let kind = *c
                    .rng
                    .pick(&[IC::DdbPut, IC::DdbGet, IC::S3Get, IC::KmsDecrypt, IC::SecretGet]);
                let who = Who {
                    ident,
                    invoked_by: None,
                    ip: &a.nat_ip,
                    ua: [ECS_TASK_UA, ""],
                    vpce: None,
                    arn: "",
                    thief: false,
                };
                api_call(c, a, &mut b, region, task, kind, &who);
            }
            // Lambda / ECS obtaining their role credentials (not an EC2 AssumeRole).
            820..=899 => {
                let (svc, session, role_arn) = if c.rng.per_mille(600) {
                    let (f, arn, _) = c.rng.pick(&a.lambdas);
                    ("lambda.amazonaws.com", f.as_str(), arn.as_str())
                } else {
                    let (t, arn, _) = c.rng.pick(&a.ecs_tasks);
                    ("ecs-tasks.amazonaws.com", t.as_str(), arn.as_str())
                };
                let mut ident = Vec::with_capacity(64);
                put!(ident, "{\"type\":\"AWSService\",\"invokedBy\":\"", svc, "\"}");
                c.head(
                    &mut b,
                    "1.08",
                    &ident,
                    None,
                    "sts.amazonaws.com",
                    "AssumeRole",
                    region,
                    svc,
                    &[svc],
                );
                put!(
                    b,
                    ",\"requestParameters\":{\"roleArn\":\"",
                    role_arn,
                    "\",\"roleSessionName\":\"",
                    session,
                    "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"ASIA"
                );
                push_rand(&mut b, &mut c.rng, 16, B32, 5);
                put!(b, "\",\"sessionToken\":\"");
                c.token(&mut b);
                put!(b, "\",\"expiration\":\"", aws_date(c.now + 12 * 3600), "\"}}");
                c.ids(&mut b, ReqId::Uuid, true);
                put!(
                    b,
                    ",\"resources\":[{\"accountId\":\"",
                    a.id,
                    "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
                    role_arn,
                    "\"}]"
                );
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    true,
                    None,
                    "Management",
                    &[],
                    false,
                );
            }
            // The autoscaling service-linked role.
            900..=939 => {
                let name = if c.rng.per_mille(500) {
                    "DescribeInstanceStatus"
                } else {
                    "DescribeInstanceAttribute"
                };
                let by = "autoscaling.amazonaws.com";
                c.head(
                    &mut b,
                    "1.09",
                    &a.autoscaling,
                    Some(by),
                    "ec2.amazonaws.com",
                    name,
                    region,
                    by,
                    &[by],
                );
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{},\"filterSet\":{},\"includeAllInstances\":false},\"responseElements\":null"
                );
                c.ids(&mut b, ReqId::Uuid, true);
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &[],
                    false,
                );
            }
            // Console sign-ins.
            940..=983 => {
                let ok = c.rng.per_mille(900);
                let ua = *c.rng.pick(&BROWSER_UAS[..2]);
                c.head(
                    &mut b,
                    "1.08",
                    &a.console,
                    None,
                    "signin.amazonaws.com",
                    "ConsoleLogin",
                    region,
                    &a.office_ip,
                    &[ua],
                );
                if !ok {
                    put!(b, ",\"errorMessage\":\"Failed authentication\"");
                }
                put!(
                    b,
                    ",\"requestParameters\":null,\"responseElements\":{\"ConsoleLogin\":\"",
                    if ok { "Success" } else { "Failure" },
                    "\"}"
                );
                put!(
                    b,
                    ",\"additionalEventData\":{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAUsed\":\"Yes\"}"
                );
                put!(b, ",\"eventID\":\"", uuid(&mut c.rng), "\",\"readOnly\":false");
                c.tail(
                    &mut b,
                    "AwsConsoleSignIn",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &["signin.aws.amazon.com"],
                    false,
                );
            }
            // ECS RunTask by CI (large response).
            984..=998 => {
                let ip = c.rng.pick(&a.ci_ips).as_str();
                ecs_run_task(c, a, &mut b, ip);
            }
            // An Elastic IP allocated for nothing in particular.
            _ => {
                let ip = loop {
                    let ip = v4(&mut c.rng, POOL_AWS);
                    if self.used_ips.insert(ip.clone()) {
                        break ip;
                    }
                };
                let alloc = hex_id(&mut c.rng, "eipalloc-0", 16);
                c.head(
                    &mut b,
                    "1.09",
                    &a.admin,
                    None,
                    "ec2.amazonaws.com",
                    "AllocateAddress",
                    region,
                    &a.office_ip,
                    &[CLI_UA, "ec2.allocate-address"],
                );
                put!(
                    b,
                    ",\"requestParameters\":{\"domain\":\"vpc\"},\"responseElements\":{\"requestId\":\"",
                    uuid(&mut c.rng),
                    "\",\"publicIp\":\"",
                    ip,
                    "\",\"domain\":\"vpc\",\"allocationId\":\"",
                    alloc,
                    "\",\"publicIpv4Pool\":\"amazon\",\"networkBorderGroup\":\"",
                    region,
                    "\"}"
                );
                c.ids(&mut b, ReqId::Uuid, false);
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &["ec2.", region, ".amazonaws.com"],
                    false,
                );
                how = Deliver::Anchor;
            }
        }
        self.push(b, how);
    }
}

/// A large deployment call by CI: a task definition, an image manifest or a role policy.
fn big_ci_call(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
    match c.rng.below(3) {
        0 => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "ecs.amazonaws.com",
                "RegisterTaskDefinition",
                region,
                ip,
                &[TF_UA],
            );
            let n_env = 5 + c.rng.below(60) as usize;
            let n_ctr = 1 + c.rng.below(3) as usize;
            let mut defs = Vec::with_capacity(n_ctr * (n_env * 70 + 600));
            put!(defs, "[");
            for k in 0..n_ctr {
                if k > 0 {
                    put!(defs, ",");
                }
                let app = *c.rng.pick(APPS);
                put!(
                    defs,
                    "{\"name\":\"",
                    app,
                    "\",\"image\":\"",
                    a.id,
                    ".dkr.ecr.",
                    region,
                    ".amazonaws.com/",
                    app,
                    ":"
                );
                push_rand(&mut defs, &mut c.rng, 12, HEX, 4);
                put!(
                    defs,
                    "\",\"cpu\":512,\"memory\":1024,\"portMappings\":[{\"containerPort\":8080,\"hostPort\":8080,\"protocol\":\"tcp\"}],\"essential\":true,\"environment\":["
                );
                for e in 0..n_env {
                    if e > 0 {
                        put!(defs, ",");
                    }
                    put!(defs, "{\"name\":\"", ENV_NAMES[e % ENV_NAMES.len()], "_");
                    push_u64(&mut defs, e as u64);
                    put!(defs, "\",\"value\":\"");
                    push_rand(&mut defs, &mut c.rng, 8 + (e % 24), ALNUM, 6);
                    put!(defs, "\"}");
                }
                put!(
                    defs,
                    "],\"logConfiguration\":{\"logDriver\":\"awslogs\",\"options\":{\"awslogs-group\":\"/ecs/",
                    app,
                    "\",\"awslogs-region\":\"",
                    region,
                    "\",\"awslogs-stream-prefix\":\"ecs\"}}}"
                );
            }
            put!(defs, "]");
            put!(
                b,
                ",\"requestParameters\":{\"family\":\"",
                a.env,
                "-app\",\"taskRoleArn\":\"",
                a.ecs_tasks[0].1,
                "\",\"networkMode\":\"awsvpc\",\"containerDefinitions\":",
                defs,
                ",\"requiresCompatibilities\":[\"FARGATE\"],\"cpu\":\"1024\",\"memory\":\"2048\"}"
            );
            put!(
                b,
                ",\"responseElements\":{\"taskDefinition\":{\"taskDefinitionArn\":\"arn:aws:ecs:",
                region,
                ":",
                a.id,
                ":task-definition/",
                a.env,
                "-app:"
            );
            push_u64(b, 1 + c.rng.below(900));
            put!(
                b,
                "\",\"containerDefinitions\":",
                defs,
                ",\"family\":\"",
                a.env,
                "-app\",\"status\":\"ACTIVE\",\"revision\":7}}"
            );
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["ecs.", region, ".amazonaws.com"],
                false,
            );
        }
        1 => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "ecr.amazonaws.com",
                "PutImage",
                region,
                ip,
                &[TF_UA],
            );
            let n = 3 + c.rng.below(25) as usize;
            let mut m = Vec::with_capacity(n * 200 + 400);
            put!(
                m,
                "{\\n   \\\"schemaVersion\\\": 2,\\n   \\\"mediaType\\\": \\\"application/vnd.docker.distribution.manifest.v2+json\\\",\\n   \\\"config\\\": {\\n      \\\"mediaType\\\": \\\"application/vnd.docker.container.image.v1+json\\\",\\n      \\\"size\\\": 7023,\\n      \\\"digest\\\": \\\"sha256:"
            );
            push_rand(&mut m, &mut c.rng, 64, HEX, 4);
            put!(m, "\\\"\\n   },\\n   \\\"layers\\\": [");
            for k in 0..n {
                put!(
                    m,
                    if k > 0 { "," } else { "" },
                    "\\n      {\\n         \\\"mediaType\\\": \\\"application/vnd.docker.image.rootfs.diff.tar.gzip\\\",\\n         \\\"size\\\": "
                );
                push_u64(&mut m, 1000 + c.rng.below(90_000_000));
                put!(m, ",\\n         \\\"digest\\\": \\\"sha256:");
                push_rand(&mut m, &mut c.rng, 64, HEX, 4);
                put!(m, "\\\"\\n      }");
            }
            put!(m, "\\n   ]\\n}");
            let repo = *c.rng.pick(APPS);
            put!(
                b,
                ",\"requestParameters\":{\"repositoryName\":\"",
                repo,
                "\",\"imageTag\":\""
            );
            push_rand(b, &mut c.rng, 12, HEX, 4);
            put!(
                b,
                "\",\"imageManifest\":\"",
                m,
                "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}"
            );
            put!(
                b,
                ",\"responseElements\":{\"image\":{\"registryId\":\"",
                a.id,
                "\",\"repositoryName\":\"",
                repo,
                "\",\"imageId\":{\"imageDigest\":\"sha256:"
            );
            push_rand(b, &mut c.rng, 64, HEX, 4);
            put!(
                b,
                "\"},\"imageManifest\":\"",
                m,
                "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}}"
            );
            c.ids(b, ReqId::Uuid, false);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                a.id,
                "\",\"ARN\":\"arn:aws:ecr:",
                region,
                ":",
                a.id,
                ":repository/",
                repo,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["api.ecr.", region, ".amazonaws.com"],
                false,
            );
        }
        _ => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "iam.amazonaws.com",
                "PutRolePolicy",
                "us-east-1",
                ip,
                &[TF_UA],
            );
            let n = 2 + c.rng.below(30) as usize;
            put!(
                b,
                ",\"requestParameters\":{\"roleName\":\"",
                a.ecs_tasks[1].1.rsplit('/').next().unwrap_or("role"),
                "\",\"policyName\":\"inline-access\",\"policyDocument\":\"{\\n  \\\"Version\\\": \\\"2012-10-17\\\",\\n  \\\"Statement\\\": ["
            );
            for k in 0..n {
                let bucket = c.rng.pick(&a.buckets);
                put!(
                    b,
                    if k > 0 { "," } else { "" },
                    "\\n    {\\n      \\\"Sid\\\": \\\"S"
                );
                push_u64(b, k as u64);
                put!(
                    b,
                    "\\\",\\n      \\\"Effect\\\": \\\"Allow\\\",\\n      \\\"Action\\\": [\\n        \\\"s3:GetObject\\\",\\n        \\\"s3:PutObject\\\",\\n        \\\"s3:ListBucket\\\"\\n      ],\\n      \\\"Resource\\\": [\\n        \\\"arn:aws:s3:::",
                    bucket,
                    "\\\",\\n        \\\"arn:aws:s3:::",
                    bucket,
                    "/*\\\"\\n      ]\\n    }"
                );
            }
            put!(b, "\\n  ]\\n}\"},\"responseElements\":null");
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["iam.amazonaws.com"],
                false,
            );
        }
    }
}

const ENV_NAMES: &[&str] = &[
    "DATABASE_URL",
    "REDIS_HOST",
    "LOG_LEVEL",
    "FEATURE_FLAG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "AWS_REGION",
    "QUEUE_URL",
    "SENTRY_DSN",
    "HTTP_TIMEOUT_MS",
    "CACHE_TTL",
];

/// `ecs:RunTask`, whose response describes the started tasks in detail.
fn ecs_run_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
    c.head(
        b,
        "1.08",
        &a.ci,
        None,
        "ecs.amazonaws.com",
        "RunTask",
        region,
        ip,
        &[TF_UA],
    );
    let n = 1 + c.rng.below(8) as usize;
    let td = format!(
        "arn:aws:ecs:{region}:{}:task-definition/{}-app:{}",
        a.id,
        a.env,
        1 + c.rng.below(300)
    );
    put!(
        b,
        ",\"requestParameters\":{\"cluster\":\"",
        a.cluster,
        "\",\"count\":"
    );
    push_u64(b, n as u64);
    put!(
        b,
        ",\"launchType\":\"FARGATE\",\"taskDefinition\":\"",
        td,
        "\",\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"",
        a.subnets[0],
        "\",\"",
        a.subnets[1],
        "\"],\"securityGroups\":[\"",
        a.sg,
        "\"],\"assignPublicIp\":\"DISABLED\"}},\"enableECSManagedTags\":true,\"enableExecuteCommand\":false}"
    );
    put!(b, ",\"responseElements\":{\"failures\":[],\"tasks\":[");
    for k in 0..n {
        let task = hex_id(&mut c.rng, "", 32);
        let eni = hex_id(&mut c.rng, "eni-0", 16);
        let pip = private_v4(&mut c.rng);
        put!(
            b,
            if k > 0 { "," } else { "" },
            "{\"attachments\":[{\"id\":\"",
            uuid(&mut c.rng),
            "\",\"type\":\"ElasticNetworkInterface\",\"status\":\"PRECREATED\",\"details\":[{\"name\":\"subnetId\",\"value\":\"",
            a.subnets[0],
            "\"},{\"name\":\"networkInterfaceId\",\"value\":\"",
            eni,
            "\"},{\"name\":\"privateIPv4Address\",\"value\":\"",
            pip,
            "\"}]}]"
        );
        put!(
            b,
            ",\"availabilityZone\":\"",
            region,
            "a\",\"clusterArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":cluster/",
            a.cluster,
            "\",\"containers\":[{\"containerArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":container/",
            a.cluster,
            "/",
            task,
            "/",
            uuid(&mut c.rng),
            "\",\"taskArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":task/",
            a.cluster,
            "/",
            task
        );
        put!(
            b,
            "\",\"name\":\"app\",\"image\":\"",
            a.id,
            ".dkr.ecr.",
            region,
            ".amazonaws.com/app:latest\",\"lastStatus\":\"PENDING\",\"networkInterfaces\":[],\"cpu\":\"512\",\"memory\":\"1024\"}],\"cpu\":\"1024\",\"createdAt\":\"",
            aws_date(c.now),
            "\",\"desiredStatus\":\"RUNNING\",\"enableExecuteCommand\":false,\"group\":\"family:",
            a.env,
            "-app\",\"lastStatus\":\"PROVISIONING\",\"launchType\":\"FARGATE\",\"memory\":\"2048\",\"overrides\":{\"containerOverrides\":[{\"name\":\"app\"}],\"inferenceAcceleratorOverrides\":[]},\"platformVersion\":\"1.4.0\",\"platformFamily\":\"Linux\",\"tags\":[{\"key\":\"aws:ecs:clusterName\",\"value\":\"",
            a.cluster,
            "\"}],\"taskArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":task/",
            a.cluster,
            "/",
            task,
            "\",\"taskDefinitionArn\":\"",
            td,
            "\",\"version\":1,\"ephemeralStorage\":{\"sizeInGiB\":20}}"
        );
    }
    put!(b, "]}");
    c.ids(b, ReqId::Uuid, false);
    c.tail(
        b,
        "AwsApiCall",
        true,
        &a.id,
        false,
        None,
        "Management",
        &["ecs.", region, ".amazonaws.com"],
        false,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};
    use std::net::IpAddr;

    fn cfg(records: usize) -> GenConfig {
        GenConfig {
            records,
            ..GenConfig::default()
        }
    }

    /// A long stream at a low rate: hours of event time, so refreshes, stops and changes happen.
    fn long_cfg(seed: u64) -> GenConfig {
        GenConfig {
            seed,
            records: 16_000,
            events_per_sec: 1.0,
            attacks: 6,
            instances: 40,
            ..GenConfig::default()
        }
    }

    fn lines(out: &[u8]) -> Vec<&[u8]> {
        assert!(out.is_empty() || out.ends_with(b"\n"));
        out.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect()
    }

    fn parse(out: &[u8]) -> Vec<Value> {
        lines(out)
            .iter()
            .enumerate()
            .map(|(n, l)| {
                serde_json::from_slice(l).unwrap_or_else(|e| {
                    panic!("line {} is not JSON: {e}: {}", n + 1, String::from_utf8_lossy(l))
                })
            })
            .collect()
    }

    fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
        let mut v = v;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }

    fn time_of(v: &Value) -> i64 {
        let t = s(v, &["eventTime"]).expect("eventTime");
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            .unix_timestamp()
    }

    /// `(account, role, instance)` of an instance session ARN.
    fn instance_session(arn: &str) -> Option<(String, String, String)> {
        let rest = arn.strip_prefix("arn:aws:sts::")?;
        let (acct, rest) = rest.split_once(":assumed-role/")?;
        let (role, sess) = rest.split_once('/')?;
        sess.starts_with("i-")
            .then(|| (acct.to_string(), role.to_string(), sess.to_string()))
    }

    fn is_ec2_issue(v: &Value) -> bool {
        s(v, &["eventName"]) == Some("AssumeRole") && s(v, &["sourceIPAddress"]) == Some("ec2.amazonaws.com")
    }

    #[test]
    fn time_formatting_matches_the_time_crate() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2000 {
            let t = rng.between(0, 4_102_444_800);
            let ours = rfc3339(t);
            let theirs = time::OffsetDateTime::from_unix_timestamp(t).expect("t");
            let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            assert_eq!(
                std::str::from_utf8(&ours).expect("ascii"),
                theirs.format(&f).expect("fmt")
            );
        }
        assert_eq!(&rfc3339(1_709_251_200), b"2024-03-01T00:00:00Z");
        assert_eq!(
            aws_date(1_688_990_422 + 6 * 3600 + 35 * 60 - 35 * 60),
            "Jul 10, 2023, 6:00:22 PM"
        );
        assert_eq!(aws_date(1_709_251_200), "Mar 1, 2024, 12:00:00 AM");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let c = cfg(5_000);
        let (a, ta) = generate_to_vec(&c);
        let (b, tb) = generate_to_vec(&c);
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        let (d, _) = generate_to_vec(&GenConfig { seed: 2, ..c.clone() });
        assert_ne!(a, d);
        // generate() into any writer gives the same bytes as generate_to_vec().
        let mut w = Vec::new();
        let tw = generate(&c, &mut w).expect("write");
        assert_eq!(w, a);
        assert_eq!(tw, ta);
    }

    #[test]
    fn exact_record_count() {
        for (records, jitter, eps) in [
            (0, 120, 50.0),
            (1, 120, 50.0),
            (7, 0, 50.0),
            (333, 5, 0.5),
            (12_345, 120, 50.0),
            (4_000, 600, 1000.0),
        ] {
            let c = GenConfig {
                records,
                jitter_secs: jitter,
                events_per_sec: eps,
                ..GenConfig::default()
            };
            let (out, _) = generate_to_vec(&c);
            assert_eq!(lines(&out).len(), records, "{c:?}");
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), records);
        }
        // Degenerate configs still produce exactly the count.
        for c in [
            GenConfig {
                instances: 0,
                attacks: 5,
                records: 500,
                ..GenConfig::default()
            },
            GenConfig {
                instances: 1,
                attacks: 5,
                accounts: 0,
                records: 500,
                ..GenConfig::default()
            },
            GenConfig {
                instances: 3,
                attacks: 3,
                records: 500,
                events_per_sec: 0.0,
                ..GenConfig::default()
            },
        ] {
            let (out, _) = generate_to_vec(&c);
            assert_eq!(parse(&out).len(), 500, "{c:?}");
        }
    }

    #[test]
    fn every_line_is_a_cloudtrail_record() {
        let (out, _) = generate_to_vec(&cfg(20_000));
        let recs = parse(&out);
        let mut ids = HashSet::new();
        for v in &recs {
            for f in [
                "eventVersion",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "eventID",
                "eventType",
                "recipientAccountId",
                "eventCategory",
            ] {
                assert!(s(v, &[f]).is_some_and(|x| !x.is_empty()), "{f} missing: {v}");
            }
            assert!(v["userIdentity"].is_object(), "{v}");
            assert!(
                v.get("requestParameters").is_some() && v.get("responseElements").is_some(),
                "{v}"
            );
            assert!(
                v["managementEvent"].is_boolean() && v["readOnly"].is_boolean(),
                "{v}"
            );
            let t = s(v, &["eventTime"]).unwrap_or_default();
            assert_eq!(t.len(), 20, "{t}");
            time_of(v);
            let id = s(v, &["eventID"]).unwrap_or_default();
            assert_eq!(id.len(), 36);
            assert!(ids.insert(id.to_string()), "duplicate eventID {id}");
            let acct = s(v, &["recipientAccountId"]).unwrap_or_default();
            assert!(
                acct.len() == 12 && acct.bytes().all(|c| c.is_ascii_digit()),
                "{acct}"
            );
        }
    }

    #[test]
    fn field_shapes() {
        let (out, _) = generate_to_vec(&long_cfg(3));
        let recs = parse(&out);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut bump = |k: &'static str| *seen.entry(k).or_default() += 1;
        let mut role_paths = HashSet::new();
        for v in &recs {
            let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
            let name = s(v, &["eventName"]).unwrap_or_default();
            let arn = s(v, &["userIdentity", "arn"]).unwrap_or_default();
            if is_ec2_issue(v) {
                bump("ec2-assume-role");
                assert_eq!(s(v, &["eventSource"]), Some("sts.amazonaws.com"));
                assert_eq!(s(v, &["userAgent"]), Some("ec2.amazonaws.com"));
                assert_eq!(s(v, &["userIdentity", "type"]), Some("AWSService"));
                assert_eq!(s(v, &["userIdentity", "invokedBy"]), Some("ec2.amazonaws.com"));
                let role_arn = s(v, &["requestParameters", "roleArn"]).expect("roleArn");
                let sess = s(v, &["requestParameters", "roleSessionName"]).expect("roleSessionName");
                assert!(sess.starts_with("i-0") && sess.len() == 19, "{sess}");
                let key = s(v, &["responseElements", "credentials", "accessKeyId"]).expect("key");
                assert!(key.starts_with("ASIA") && key.len() == 20);
                assert!(
                    s(v, &["responseElements", "credentials", "sessionToken"])
                        .expect("token")
                        .len()
                        > 500
                );
                assert!(s(v, &["responseElements", "credentials", "expiration"]).is_some());
                let acct = s(v, &["recipientAccountId"]).unwrap_or_default();
                assert!(role_arn.starts_with(&format!("arn:aws:iam::{acct}:role/")));
                if role_arn.matches('/').count() > 1 {
                    role_paths.insert(role_arn.to_string());
                }
            }
            if let Some((acct, role, inst)) = instance_session(arn) {
                bump("instance-session");
                assert_eq!(s(v, &["userIdentity", "type"]), Some("AssumedRole"));
                assert_eq!(inst.len(), 19);
                assert!(inst[2..].bytes().all(|c| c.is_ascii_hexdigit()));
                assert_eq!(s(v, &["userIdentity", "accountId"]), Some(acct.as_str()));
                assert_eq!(
                    s(
                        v,
                        &["userIdentity", "sessionContext", "sessionIssuer", "userName"]
                    ),
                    Some(role.as_str())
                );
                let issuer =
                    s(v, &["userIdentity", "sessionContext", "sessionIssuer", "arn"]).expect("issuer");
                assert!(issuer.ends_with(&format!("/{role}")), "{issuer}");
                assert!(
                    s(
                        v,
                        &["userIdentity", "sessionContext", "attributes", "creationDate"]
                    )
                    .is_some()
                );
                assert!(matches!(
                    s(v, &["userIdentity", "sessionContext", "ec2RoleDelivery"]),
                    Some("2.0" | "1.0")
                ));
                assert!(s(v, &["userIdentity", "accessKeyId"]).is_some_and(|k| k.starts_with("ASIA")));
                let p = s(v, &["userIdentity", "principalId"]).unwrap_or_default();
                assert!(p.starts_with("AROA") && p.ends_with(&format!(":{inst}")));
                match src.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => bump("ipv6"),
                    Ok(IpAddr::V4(ip)) => {
                        if v.get("vpcEndpointId").is_some() {
                            bump("vpce");
                            assert!(ip.is_private(), "{src}");
                            assert!(s(v, &["vpcEndpointId"]).is_some_and(|e| e.starts_with("vpce-")));
                        } else {
                            assert!(!ip.is_private(), "private source without endpoint: {v}");
                        }
                    }
                    Err(_) => {
                        assert!(src == "AWS Internal" || src.ends_with(".amazonaws.com"), "{src}");
                        assert!(s(v, &["userIdentity", "invokedBy"]).is_some(), "{v}");
                        bump(if src == "AWS Internal" {
                            "aws-internal"
                        } else {
                            "service-source"
                        });
                    }
                }
            } else if s(v, &["userIdentity", "type"]) == Some("AssumedRole") {
                bump("other-assumed-role");
            }
            match name {
                "ConsoleLogin" => {
                    bump("console");
                    assert_eq!(s(v, &["eventType"]), Some("AwsConsoleSignIn"));
                }
                "AllocateAddress" => {
                    assert!(
                        s(v, &["responseElements", "allocationId"])
                            .is_some_and(|a| a.starts_with("eipalloc-"))
                    );
                    assert!(
                        s(v, &["responseElements", "publicIp"]).is_some_and(|a| a.parse::<IpAddr>().is_ok())
                    );
                    assert_eq!(s(v, &["responseElements", "domain"]), Some("vpc"));
                    bump("allocate");
                }
                "AssociateAddress" => {
                    let rp = &v["requestParameters"];
                    assert!(rp.get("instanceId").is_some() || rp.get("networkInterfaceId").is_some());
                    if rp.get("publicIp").is_some() {
                        bump("associate-named");
                    } else {
                        assert!(s(rp, &["allocationId"]).is_some());
                        bump(if rp.get("networkInterfaceId").is_some() {
                            "associate-eni"
                        } else {
                            "associate-alloc"
                        });
                    }
                }
                "AttachNetworkInterface" => {
                    assert!(
                        s(v, &["requestParameters", "networkInterfaceId"])
                            .is_some_and(|e| e.starts_with("eni-"))
                    );
                    assert!(s(v, &["requestParameters", "instanceId"]).is_some());
                    assert_eq!(v["requestParameters"]["deviceIndex"], 1);
                    bump("attach");
                }
                "StopInstances" | "StartInstances" => {
                    assert!(
                        s(
                            &v["requestParameters"]["instancesSet"]["items"][0],
                            &["instanceId"]
                        )
                        .is_some()
                    );
                    bump("stop-start");
                }
                "RunInstances" => {
                    let item = &v["responseElements"]["instancesSet"]["items"][0];
                    assert!(s(item, &["instanceId"]).is_some());
                    assert!(s(&item["networkInterfaceSet"]["items"][0], &["networkInterfaceId"]).is_some());
                    bump("run-instances");
                }
                _ => {}
            }
            if v.get("errorCode").is_some() {
                bump("error");
            }
        }
        for k in [
            "ec2-assume-role",
            "instance-session",
            "ipv6",
            "vpce",
            "service-source",
            "aws-internal",
            "other-assumed-role",
            "console",
            "allocate",
            "associate-named",
            "associate-alloc",
            "attach",
            "stop-start",
            "run-instances",
            "error",
        ] {
            assert!(seen.get(k).copied().unwrap_or(0) > 0, "no {k} records: {seen:?}");
        }
        assert!(!role_paths.is_empty(), "no role with a path");
    }

    #[test]
    fn record_mix() {
        let (out, _) = generate_to_vec(&cfg(20_000));
        let recs = parse(&out);
        let inst = recs
            .iter()
            .filter(|v| instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()).is_some())
            .count();
        let share = inst as f64 / recs.len() as f64;
        assert!((0.84..=0.95).contains(&share), "instance-session share {share}");
    }

    #[test]
    fn sizes() {
        let (out, _) = generate_to_vec(&cfg(20_000));
        let ls = lines(&out);
        let mean = out.len() as f64 / ls.len() as f64;
        assert!((1200.0..=2200.0).contains(&mean), "mean {mean}");
        let big = ls.iter().filter(|l| l.len() >= 5_000).count();
        let max = ls.iter().map(|l| l.len()).max().unwrap_or(0);
        assert!(big >= 20, "only {big} records of 5 KB or more");
        assert!((10_000..=64 * 1024).contains(&max), "max {max}");
    }

    fn check_jitter(out: &[u8], jitter: i64) -> i64 {
        let times: Vec<i64> = parse(out).iter().map(time_of).collect();
        let mut max_seen = i64::MIN;
        let mut worst = 0;
        for &t in &times {
            max_seen = max_seen.max(t);
            worst = worst.max(max_seen - t);
            assert!(
                max_seen - t <= jitter,
                "a record at {t} follows one at {max_seen}"
            );
        }
        worst
    }

    #[test]
    fn jitter_is_bounded() {
        for j in [0u32, 7, 120, 600] {
            let c = GenConfig {
                jitter_secs: j,
                ..cfg(10_000)
            };
            let (out, _) = generate_to_vec(&c);
            let worst = check_jitter(&out, i64::from(j));
            // 10k records at 50/s span 200 s: no record can be more out of order than that.
            let usable = i64::from(j).min(200);
            assert!(worst >= usable / 2, "jitter {j} barely used: {worst}");
        }
    }

    /// Every key an instance session uses was issued by an EC2 AssumeRole delivered before it, for
    /// that instance and role; and no call's event time precedes its key's issue.
    #[test]
    fn assume_role_precedes_each_session_use() {
        for c in [
            cfg(20_000),
            long_cfg(5),
            GenConfig {
                jitter_secs: 600,
                ..long_cfg(6)
            },
        ] {
            let (out, _) = generate_to_vec(&c);
            let mut issued: HashMap<String, ((String, String, String), i64)> = HashMap::new();
            let mut calls = 0;
            for v in parse(&out) {
                if is_ec2_issue(&v) {
                    let role_arn = s(&v, &["requestParameters", "roleArn"]).unwrap_or_default();
                    let role = role_arn.rsplit('/').next().unwrap_or_default().to_string();
                    let acct = s(&v, &["recipientAccountId"]).unwrap_or_default().to_string();
                    let inst = s(&v, &["requestParameters", "roleSessionName"])
                        .unwrap_or_default()
                        .to_string();
                    let key = s(&v, &["responseElements", "credentials", "accessKeyId"]).unwrap_or_default();
                    issued.insert(key.to_string(), ((acct, role, inst), time_of(&v)));
                } else if let Some(sess) =
                    instance_session(s(&v, &["userIdentity", "arn"]).unwrap_or_default())
                {
                    calls += 1;
                    let key = s(&v, &["userIdentity", "accessKeyId"]).unwrap_or_default();
                    let Some((owner, at)) = issued.get(key) else {
                        panic!("key {key} used before its AssumeRole: {v}")
                    };
                    assert_eq!(owner, &sess);
                    assert!(time_of(&v) >= *at);
                }
            }
            assert!(calls > 1000);
        }
    }

    /// The Netflix rules, as the detector applies them, over the output in order.
    #[derive(Default)]
    struct RefDetector {
        rows: HashMap<String, Row>,
        allocations: HashMap<String, IpAddr>,
        interfaces: HashMap<String, String>,
        alerts: Vec<(String, String, String)>,
        first_locks: HashMap<String, String>,
    }

    #[derive(Default)]
    struct Row {
        expires: i64,
        locks: Vec<(IpAddr, bool)>,
        pending: Vec<(i64, Option<IpAddr>)>,
    }

    impl RefDetector {
        fn feed(&mut self, v: &Value) {
            let t = time_of(v);
            let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
            let id = s(v, &["eventID"]).unwrap_or_default().to_string();
            if let Some((_, _, inst)) = instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default())
                && let Ok(ip) = src.parse::<IpAddr>()
            {
                {
                    let row = self.rows.get_mut(&inst).expect("call before any AssumeRole");
                    assert!(t <= row.expires, "call after the session expired: {v}");
                    let private =
                        v.get("vpcEndpointId").is_some() && matches!(ip, IpAddr::V4(x) if x.is_private());
                    if row.locks.contains(&(ip, private)) {
                    } else if !row.locks.iter().any(|l| l.1 == private) {
                        row.locks.push((ip, private));
                        self.first_locks.entry(inst.clone()).or_insert(id.clone());
                    } else if let Some(p) = row.pending.iter().position(|p| p.1 == Some(ip)) {
                        row.pending.remove(p);
                        row.locks.push((ip, private));
                    } else if let Some(p) = row
                        .pending
                        .iter()
                        .position(|p| p.1.is_none() && p.0 <= t && t <= p.0 + 900)
                    {
                        row.pending.remove(p);
                        row.locks.push((ip, private));
                    } else {
                        self.alerts.push((id.clone(), inst.clone(), src.to_string()));
                    }
                }
            }
            if v["errorCode"].is_string() {
                return;
            }
            let rp = &v["requestParameters"];
            match s(v, &["eventName"]).unwrap_or_default() {
                "AssumeRole" if src == "ec2.amazonaws.com" => {
                    let inst = s(rp, &["roleSessionName"]).unwrap_or_default().to_string();
                    let row = self.rows.entry(inst).or_default();
                    if t > row.expires {
                        *row = Row::default();
                    }
                    row.expires = row.expires.max(t + 6 * 3600);
                }
                "AllocateAddress" => {
                    let re = &v["responseElements"];
                    let ip = s(re, &["publicIp"])
                        .and_then(|x| x.parse().ok())
                        .expect("publicIp");
                    self.allocations
                        .insert(s(re, &["allocationId"]).unwrap_or_default().to_string(), ip);
                }
                "RunInstances" => {
                    for item in v["responseElements"]["instancesSet"]["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        for nic in item["networkInterfaceSet"]["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                        {
                            let n = s(nic, &["networkInterfaceId"]).unwrap_or_default().to_string();
                            self.interfaces
                                .insert(n, s(item, &["instanceId"]).unwrap_or_default().to_string());
                        }
                    }
                }
                "AssociateAddress" | "AttachNetworkInterface" => {
                    let inst = match (s(rp, &["instanceId"]), s(rp, &["networkInterfaceId"])) {
                        (Some(i), _) => i.to_string(),
                        (None, Some(n)) => self.interfaces.get(n).cloned().expect("unknown interface"),
                        _ => panic!("no target: {v}"),
                    };
                    let ip = match (s(rp, &["publicIp"]), s(rp, &["allocationId"])) {
                        (Some(ip), _) => Some(ip.parse().expect("publicIp")),
                        (None, Some(a)) => {
                            Some(*self.allocations.get(a).expect("allocation announced before"))
                        }
                        _ => None,
                    };
                    if let Some(row) = self.rows.get_mut(&inst) {
                        row.pending.push((t, ip));
                    }
                }
                "StopInstances" | "StartInstances" => {
                    let inst = s(&rp["instancesSet"]["items"][0], &["instanceId"]).unwrap_or_default();
                    if let Some(row) = self.rows.get_mut(inst) {
                        row.locks.clear();
                    }
                }
                _ => {}
            }
        }
    }

    /// Replays the output through the Netflix rules: the only alerts are thief calls and, for
    /// attacker-first incidents, the robbed instance's own calls; every incident alerts.
    fn check_detection(c: &GenConfig) -> (usize, usize) {
        let (out, truth) = generate_to_vec(c);
        let recs = parse(&out);
        let mut det = RefDetector::default();
        for v in &recs {
            det.feed(v);
        }
        let thief: HashSet<&str> = truth.thief_event_ids.iter().map(|s| s.as_str()).collect();
        let af: HashMap<&str, &Incident> = truth
            .incidents
            .iter()
            .filter(|i| i.attacker_first)
            .map(|i| (i.instance_id.as_str(), i))
            .collect();
        let alerted: HashSet<&str> = det.alerts.iter().map(|a| a.0.as_str()).collect();
        for (id, inst, src) in &det.alerts {
            if thief.contains(id.as_str()) {
                continue;
            }
            let inc = af
                .get(inst.as_str())
                .unwrap_or_else(|| panic!("false alert {id} on {inst} from {src} ({c:?})"));
            assert!(!inc.thief_ips.contains(src));
        }
        let mut thief_alerts = 0;
        for inc in &truth.incidents {
            assert!(!inc.thief_event_ids.is_empty());
            if inc.attacker_first {
                // The thief's first call locked the session; the instance's calls are the alerts.
                assert_eq!(
                    det.first_locks.get(&inc.instance_id),
                    Some(&inc.thief_event_ids[0]),
                    "{inc:?}"
                );
                assert!(
                    det.alerts
                        .iter()
                        .any(|a| a.1 == inc.instance_id && !thief.contains(a.0.as_str())),
                    "{inc:?}"
                );
            } else {
                for id in &inc.thief_event_ids {
                    assert!(
                        alerted.contains(id.as_str()),
                        "thief call {id} not alerted ({inc:?})"
                    );
                    thief_alerts += 1;
                }
            }
        }
        (det.alerts.len(), thief_alerts)
    }

    #[test]
    fn detection_ground_truth_holds() {
        let (alerts, thief_alerts) = check_detection(&cfg(20_000));
        assert!(alerts > 0 && thief_alerts > 0);
    }

    #[test]
    fn detection_ground_truth_holds_over_hours() {
        for seed in 1..=2 {
            check_detection(&long_cfg(seed));
        }
    }

    #[test]
    fn detection_ground_truth_holds_for_any_jitter() {
        check_detection(&GenConfig {
            jitter_secs: 0,
            ..long_cfg(9)
        });
        check_detection(&GenConfig {
            jitter_secs: 900,
            ..long_cfg(10)
        });
    }

    #[test]
    fn detection_ground_truth_holds_with_many_instances() {
        check_detection(&GenConfig {
            records: 40_000,
            events_per_sec: 200.0,
            attacks: 10,
            instances: 200,
            accounts: 7,
            ..long_cfg(11)
        });
    }

    #[test]
    fn truth_matches_output() {
        let c = long_cfg(21);
        let (out, truth) = generate_to_vec(&c);
        let recs = parse(&out);
        assert_eq!(truth.incidents.len(), c.attacks);
        assert_eq!(truth.attacked_sessions.len(), c.attacks);
        assert!(truth.incidents.iter().filter(|i| i.attacker_first).count() == c.attacks / 2);
        assert!(!truth.thief_ips.is_empty());
        let by_id: HashMap<&str, &Value> = recs
            .iter()
            .map(|v| (s(v, &["eventID"]).unwrap_or_default(), v))
            .collect();
        let thief: HashSet<&str> = truth.thief_event_ids.iter().map(|s| s.as_str()).collect();
        assert_eq!(thief.len(), truth.thief_event_ids.len());
        let issued_at: HashMap<&str, i64> = recs
            .iter()
            .filter(|v| is_ec2_issue(v))
            .map(|v| {
                (
                    s(v, &["responseElements", "credentials", "accessKeyId"]).unwrap_or_default(),
                    time_of(v),
                )
            })
            .collect();
        for inc in &truth.incidents {
            assert!(truth.attacked_sessions.contains(&inc.session_arn));
            for id in &inc.thief_event_ids {
                let v = by_id
                    .get(id.as_str())
                    .unwrap_or_else(|| panic!("thief event {id} not in output"));
                assert_eq!(s(v, &["userIdentity", "arn"]), Some(inc.session_arn.as_str()));
                assert_eq!(
                    s(v, &["userIdentity", "accessKeyId"]),
                    Some(inc.access_key_id.as_str())
                );
                let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
                assert!(inc.thief_ips.iter().any(|i| i == src) && truth.thief_ips.iter().any(|i| i == src));
                assert!(s(v, &["userAgent"]).is_some_and(|u| u.contains("aws-cli/")));
                let dt = time_of(v) - issued_at[inc.access_key_id.as_str()];
                assert!((0..=3600).contains(&dt), "thief call {dt} s after the AssumeRole");
            }
        }
        assert!(
            recs.iter()
                .any(|v| thief.contains(s(v, &["eventID"]).unwrap_or_default())
                    && v.get("errorCode").is_some())
        );
        // No thief address was ever an instance's, and all thief records are in the truth.
        let mut instance_ips = HashSet::new();
        for v in &recs {
            let id = s(v, &["eventID"]).unwrap_or_default();
            if instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()).is_some()
                && !thief.contains(id)
            {
                instance_ips.insert(s(v, &["sourceIPAddress"]).unwrap_or_default());
            }
            if let Some(ip) = s(v, &["responseElements", "publicIp"]) {
                instance_ips.insert(ip);
            }
            if let Some(ip) = s(v, &["requestParameters", "publicIp"]) {
                instance_ips.insert(ip);
            }
            if truth
                .thief_ips
                .iter()
                .any(|t| Some(t.as_str()) == s(v, &["sourceIPAddress"]))
            {
                assert!(thief.contains(id), "untracked record from a thief address: {v}");
            }
        }
        for ip in &truth.thief_ips {
            assert!(
                !instance_ips.contains(ip.as_str()),
                "thief address {ip} was an instance's"
            );
        }
    }

    #[test]
    fn default_truth_is_not_empty() {
        let (out, truth) = generate_to_vec(&GenConfig::default());
        assert!(
            !truth.attacked_sessions.is_empty()
                && !truth.thief_event_ids.is_empty()
                && !truth.thief_ips.is_empty()
        );
        assert_eq!(truth.incidents.len(), 3);
        let text = String::from_utf8(out).expect("utf8");
        for id in &truth.thief_event_ids {
            assert!(text.contains(&format!("\"eventID\":\"{id}\"")));
        }
    }

    /// Unnamed changes (AttachNetworkInterface) are followed by exactly one new address, used
    /// within 15 minutes; Stop is followed by a Start later than the jitter.
    #[test]
    fn unnamed_changes_are_used_promptly() {
        let c = long_cfg(31);
        let (out, _) = generate_to_vec(&c);
        let recs = parse(&out);
        let mut ips: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        let mut attaches = Vec::new();
        let mut changes: HashMap<String, Vec<i64>> = HashMap::new();
        for v in &recs {
            if let Some((_, _, inst)) = instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()) {
                let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
                if v.get("vpcEndpointId").is_none() && src.parse::<IpAddr>().is_ok() {
                    ips.entry(inst).or_default().push((time_of(v), src.to_string()));
                }
            }
            let rp = &v["requestParameters"];
            let target =
                s(rp, &["instanceId"]).or_else(|| s(&rp["instancesSet"]["items"][0], &["instanceId"]));
            match (s(v, &["eventName"]).unwrap_or_default(), target) {
                ("AttachNetworkInterface", Some(i)) => {
                    attaches.push((i.to_string(), time_of(v)));
                    changes.entry(i.to_string()).or_default().push(time_of(v));
                }
                ("AssociateAddress" | "StartInstances", Some(i)) => {
                    changes.entry(i.to_string()).or_default().push(time_of(v))
                }
                _ => {}
            }
        }
        assert!(!attaches.is_empty());
        let mut changed = 0;
        for (inst, at) in attaches {
            let mut calls = ips.get(&inst).cloned().unwrap_or_default();
            calls.sort();
            let before: HashSet<&str> = calls.iter().filter(|c| c.0 < at).map(|c| c.1.as_str()).collect();
            let until = changes[&inst]
                .iter()
                .copied()
                .filter(|&t| t > at)
                .min()
                .unwrap_or(i64::MAX);
            let new: Vec<&(i64, String)> = calls
                .iter()
                .filter(|c| c.0 >= at && c.0 < until && !before.contains(c.1.as_str()))
                .collect();
            if let Some(first) = new.first() {
                changed += 1;
                assert!(
                    first.0 - at <= 900,
                    "first new address {} s after the change",
                    first.0 - at
                );
                let distinct: HashSet<&str> = new.iter().map(|c| c.1.as_str()).collect();
                assert_eq!(distinct.len(), 1);
            }
        }
        assert!(changed > 0);
    }

    /// Memory stays bounded: the records held back for delivery never exceed the jitter window.
    #[test]
    fn pending_records_are_bounded() {
        let c = GenConfig {
            records: 50_000,
            events_per_sec: 100.0,
            jitter_secs: 30,
            ..GenConfig::default()
        };
        let mut g = Gen::new(&c);
        let mut sink = std::io::sink();
        let mut max = 0;
        // Run the loop by hand to watch the queue.
        for i in 0..c.records {
            let t = slot_time(&c, i);
            g.c.now = t;
            let horizon = g.key(t, 0);
            while g.out.peek().is_some_and(|p| p.key <= horizon) {
                if let Some(p) = g.out.pop() {
                    sink.write_all(&p.buf).expect("sink");
                }
            }
            max = max.max(g.out.len());
            let mut done = false;
            while !done && g.sched.peek().is_some_and(|d| d.at <= t) {
                if let Some(d) = g.sched.pop() {
                    done = g.act(d.act);
                }
            }
            if !done {
                g.background();
            }
        }
        assert!(
            max <= (31.0 * c.events_per_sec) as usize + 10,
            "{max} records held"
        );
    }

    /// Many seeds and shapes of config: `cargo test --release -- --ignored generator::tests::seed_sweep`
    #[test]
    #[ignore]
    fn seed_sweep() {
        for seed in 100..160u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = GenConfig {
                seed,
                records: rng.between(2_000, 40_000) as usize,
                instances: rng.between(2, 300) as usize,
                accounts: rng.between(1, 9) as usize,
                attacks: rng.between(1, 8) as usize,
                jitter_secs: *rng.pick(&[0, 1, 30, 120, 300, 900]),
                events_per_sec: *rng.pick(&[0.5, 2.0, 20.0, 50.0, 400.0]),
                ..GenConfig::default()
            };
            let (out, _) = generate_to_vec(&c);
            assert_eq!(lines(&out).len(), c.records, "{c:?}");
            check_jitter(&out, i64::from(c.jitter_secs));
            check_detection(&c);
        }
    }

    /// `cargo test --release -- --ignored --nocapture generator::tests::speed_and_stats`
    #[test]
    #[ignore]
    fn speed_and_stats() {
        let c = GenConfig {
            records: 100_000,
            ..GenConfig::default()
        };
        let (out, truth) = generate_to_vec(&c);
        let recs = parse(&out);
        let ls = lines(&out);
        let mut sizes: Vec<usize> = ls.iter().map(|l| l.len() + 1).collect();
        sizes.sort_unstable();
        let pct = |p: usize| sizes[(sizes.len() - 1) * p / 100];
        println!(
            "records {} bytes {} mean {:.0} p50 {} p90 {} p99 {} max {} >=5KB {} >=10KB {} >=20KB {}",
            recs.len(),
            out.len(),
            out.len() as f64 / recs.len() as f64,
            pct(50),
            pct(90),
            pct(99),
            sizes[sizes.len() - 1],
            sizes.iter().filter(|&&s| s >= 5_000).count(),
            sizes.iter().filter(|&&s| s >= 10_000).count(),
            sizes.iter().filter(|&&s| s >= 20_000).count(),
        );
        let mut mix: HashMap<String, usize> = HashMap::new();
        for v in &recs {
            let arn = s(v, &["userIdentity", "arn"]).unwrap_or_default();
            let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
            let k = if is_ec2_issue(v) {
                "ec2 AssumeRole (issue)".to_string()
            } else if instance_session(arn).is_some() {
                match src.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => "instance session, IPv6".into(),
                    Ok(_) if v.get("vpcEndpointId").is_some() => "instance session, VPC endpoint".into(),
                    Ok(_) => "instance session, public IPv4".into(),
                    Err(_) => format!("instance session, via {src}"),
                }
            } else {
                format!(
                    "{} {}",
                    s(v, &["userIdentity", "type"]).unwrap_or("?"),
                    if s(v, &["eventType"]) == Some("AwsConsoleSignIn") {
                        "console sign-in"
                    } else {
                        ""
                    }
                )
            };
            *mix.entry(k).or_default() += 1;
            if matches!(
                s(v, &["eventName"]),
                Some(
                    "AllocateAddress"
                        | "AssociateAddress"
                        | "AttachNetworkInterface"
                        | "StopInstances"
                        | "StartInstances"
                        | "RunInstances"
                )
            ) {
                *mix.entry(format!("  change: {}", s(v, &["eventName"]).unwrap_or_default()))
                    .or_default() += 1;
            }
        }
        let mut mix: Vec<_> = mix.into_iter().collect();
        mix.sort();
        for (k, n) in mix {
            println!("{k:45} {n:7} {:5.2} %", n as f64 * 100.0 / recs.len() as f64);
        }
        println!(
            "truth: {} incidents, {} thief events, thief ips {:?}",
            truth.incidents.len(),
            truth.thief_event_ids.len(),
            truth.thief_ips
        );

        // Speed: 1 GiB-class stream into a sink.
        struct Count(u64);
        impl Write for Count {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let c = GenConfig {
            records: 400_000,
            ..GenConfig::default()
        };
        let mut w = Count(0);
        let t0 = std::time::Instant::now();
        generate(&c, &mut w).expect("gen");
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "speed: {} records, {:.1} MB in {:.3} s = {:.0} MB/s, {:.0} records/s",
            c.records,
            w.0 as f64 / 1e6,
            dt,
            w.0 as f64 / 1e6 / dt,
            c.records as f64 / dt
        );
    }
}
