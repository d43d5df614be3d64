//! Who owns a foreign address: AWS's published `ip-ranges.json`, as a sorted range table.
//!
//! The file (<https://ip-ranges.amazonaws.com/ip-ranges.json>, documented in the VPC user guide,
//! "AWS IP address ranges") lists `prefixes` (`ip_prefix`, `region`, `network_border_group`,
//! `service`) and `ipv6_prefixes` (`ipv6_prefix`, ...). A block is listed once per service subset
//! it belongs to: `AMAZON` is the superset, so `3.80.0.0/12` appears as `AMAZON` and again as `EC2`.
//! Prefixes are CIDR blocks, so any two are either disjoint or nested.
//!
//! [`AwsRanges`] flattens them into non-overlapping `start..=end` segments per address family,
//! each carrying the (region, service, network border group) of the most specific prefix covering
//! it: the longest prefix wins; for the same prefix, a named service wins over `AMAZON`; between two
//! named services for the same prefix, the alphabetically first (so the table does not depend on the
//! file's order). Adjacent segments with the same owner are merged. A lookup is one binary search.
//!
//! IPv4 and IPv6 are separate tables: an IPv4-mapped IPv6 address (`::ffff:3.80.0.1`) is looked up
//! as the IPv6 address it is, and AWS publishes no IPv6 prefix covering `::ffff:0:0/96`.

use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The owner of an address inside AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsRange<'a> {
    /// An AWS region such as `us-east-1`, or `GLOBAL`.
    pub region: &'a str,
    /// The service subset: `EC2`, `S3`, `CLOUDFRONT`, ..., or `AMAZON` when only the superset
    /// lists the block.
    pub service: &'a str,
    pub network_border_group: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Owner {
    region: String,
    service: String,
    network_border_group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment<T> {
    start: T,
    end: T,
    owner: u32,
}

/// AWS's address ranges, ready for O(log n) lookups.
#[derive(Debug, Clone, Default)]
pub struct AwsRanges {
    v4: Vec<Segment<u32>>,
    v6: Vec<Segment<u128>>,
    owners: Vec<Owner>,
    sync_token: String,
    create_date: String,
    prefixes: usize,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "syncToken", default)]
    sync_token: Option<String>,
    #[serde(rename = "createDate", default)]
    create_date: Option<String>,
    prefixes: Option<Vec<serde_json::Value>>,
    ipv6_prefixes: Option<Vec<serde_json::Value>>,
}

/// One listed prefix, before flattening.
struct Listed<T> {
    start: T,
    end: T,
    len: u8,
    owner: u32,
}

impl AwsRanges {
    /// Parses the bytes of an `ip-ranges.json`.
    pub fn parse(json: &[u8]) -> Result<AwsRanges, RangesError> {
        let file: File = serde_json::from_slice(json).map_err(|e| RangesError::NotRanges(e.to_string()))?;
        let missing = |name: &str| RangesError::NotRanges(format!("no \"{name}\" array"));
        let prefixes = file.prefixes.ok_or_else(|| missing("prefixes"))?;
        let ipv6_prefixes = file.ipv6_prefixes.ok_or_else(|| missing("ipv6_prefixes"))?;
        let mut interner = Interner::default();
        let mut v4 = Vec::with_capacity(prefixes.len());
        for (i, entry) in prefixes.iter().enumerate() {
            let at = || format!("prefixes[{i}]");
            let text = field(entry, "ip_prefix", &at)?;
            let (start, end, len) = parse_v4(text)
                .ok_or_else(|| entry_error(&at, format!(".ip_prefix: not an IPv4 prefix: {text:?}")))?;
            let owner = interner.owner(entry, &at)?;
            v4.push(Listed {
                start,
                end,
                len,
                owner,
            });
        }
        let mut v6 = Vec::with_capacity(ipv6_prefixes.len());
        for (i, entry) in ipv6_prefixes.iter().enumerate() {
            let at = || format!("ipv6_prefixes[{i}]");
            let text = field(entry, "ipv6_prefix", &at)?;
            let (start, end, len) = parse_v6(text)
                .ok_or_else(|| entry_error(&at, format!(".ipv6_prefix: not an IPv6 prefix: {text:?}")))?;
            let owner = interner.owner(entry, &at)?;
            v6.push(Listed {
                start,
                end,
                len,
                owner,
            });
        }
        let prefixes = v4.len() + v6.len();
        let owners = interner.owners;
        // Higher is more specific: a named subset over the AMAZON superset, then the
        // alphabetically first name.
        let rank: Vec<_> = owners
            .iter()
            .map(|o| (o.service != "AMAZON", std::cmp::Reverse(o.service.as_str())))
            .collect();
        let v4 = flatten(v4, &rank);
        let v6 = flatten(v6, &rank);
        Ok(AwsRanges {
            v4,
            v6,
            owners,
            sync_token: file.sync_token.unwrap_or_default(),
            create_date: file.create_date.unwrap_or_default(),
            prefixes,
        })
    }

    /// Reads and parses an `ip-ranges.json`; errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<AwsRanges, RangesError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RangesError::Read {
            path: path.into(),
            source,
        })?;
        AwsRanges::parse(&bytes).map_err(|e| RangesError::File {
            path: path.into(),
            source: Box::new(e),
        })
    }

    /// The AWS range `ip` is in, if any.
    pub fn lookup(&self, ip: IpAddr) -> Option<AwsRange<'_>> {
        let owner = match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => find(&self.v6, u128::from(v6)),
        }?;
        let o = &self.owners[owner as usize];
        Some(AwsRange {
            region: &o.region,
            service: &o.service,
            network_border_group: &o.network_border_group,
        })
    }

    /// The file's `syncToken` (publication time, Unix seconds), empty if it had none.
    pub fn sync_token(&self) -> &str {
        &self.sync_token
    }

    /// The file's `createDate` (`YYYY-MM-DD-hh-mm-ss`, UTC), empty if it had none.
    pub fn create_date(&self) -> &str {
        &self.create_date
    }

    /// Prefixes listed in the file (both families, duplicates included).
    pub fn prefixes(&self) -> usize {
        self.prefixes
    }

    /// Segments in the flattened tables (IPv4, IPv6).
    pub fn segments(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }
}

/// Why an `ip-ranges.json` was refused.
#[derive(Debug, thiserror::Error)]
pub enum RangesError {
    #[error("not an AWS ip-ranges.json document: {0}")]
    NotRanges(String),
    /// A listed prefix (`at`, such as `prefixes[3]`) that does not read.
    #[error("{at}{what}")]
    Entry { at: String, what: String },
    #[error("too many distinct owners")]
    TooManyOwners,
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: Box<RangesError> },
}

fn entry_error(at: &dyn Fn() -> String, what: String) -> RangesError {
    RangesError::Entry { at: at(), what }
}

fn field<'a>(
    entry: &'a serde_json::Value,
    name: &str,
    at: &dyn Fn() -> String,
) -> Result<&'a str, RangesError> {
    if !entry.is_object() {
        return Err(entry_error(at, ": not an object".into()));
    }
    match entry.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(entry_error(at, format!(".{name}: not a string"))),
        None => Err(entry_error(at, format!(": no \"{name}\""))),
    }
}

#[derive(Default)]
struct Interner {
    owners: Vec<Owner>,
    index: HashMap<Owner, u32>,
}

impl Interner {
    fn owner(&mut self, entry: &serde_json::Value, at: &dyn Fn() -> String) -> Result<u32, RangesError> {
        let region = field(entry, "region", at)?;
        let service = field(entry, "service", at)?;
        // Older files have no network border group; it then equals the region.
        let network_border_group = match entry.get("network_border_group") {
            None => region,
            Some(_) => field(entry, "network_border_group", at)?,
        };
        let owner = Owner {
            region: region.to_owned(),
            service: service.to_owned(),
            network_border_group: network_border_group.to_owned(),
        };
        if let Some(&i) = self.index.get(&owner) {
            return Ok(i);
        }
        let i = u32::try_from(self.owners.len()).map_err(|_| RangesError::TooManyOwners)?;
        self.owners.push(owner.clone());
        self.index.insert(owner, i);
        Ok(i)
    }
}

/// `a.b.c.d/len` as its first and last address. Host bits set below the mask are ignored.
fn parse_v4(s: &str) -> Option<(u32, u32, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len = parse_len(len, 32)?;
    let host = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    let start = u32::from(addr) & !host;
    Some((start, start | host, len))
}

fn parse_v6(s: &str) -> Option<(u128, u128, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv6Addr = addr.parse().ok()?;
    let len = parse_len(len, 128)?;
    let host = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    let start = u128::from(addr) & !host;
    Some((start, start | host, len))
}

fn parse_len(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let len: u8 = s.parse().ok()?;
    (len <= max).then_some(len)
}

/// The unsigned integers addresses are held in.
trait Addr: Copy + Ord {
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Addr for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Addr for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// Flattens nested or disjoint CIDR blocks into sorted, non-overlapping segments owned by the most
/// specific block covering them, then merges neighbours with the same owner.
fn flatten<T: Addr, R: Ord>(mut listed: Vec<Listed<T>>, rank: &[R]) -> Vec<Segment<T>> {
    // The same block listed several times keeps its best owner. Sorting puts, for one start,
    // larger blocks first, so parents precede children.
    listed.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.len.cmp(&b.len))
            .then_with(|| rank[b.owner as usize].cmp(&rank[a.owner as usize]))
    });
    listed.dedup_by(|later, first| later.start == first.start && later.len == first.len);

    let mut out: Vec<Segment<T>> = Vec::with_capacity(listed.len());
    let mut emit = |start: T, end: T, owner: u32| {
        if let Some(last) = out.last_mut()
            && last.owner == owner
            && last.end.succ() == Some(start)
        {
            last.end = end;
            return;
        }
        out.push(Segment { start, end, owner });
    };
    // Blocks that contain the cursor, outermost first; `cursor` is the first address not yet
    // emitted (None once the top of the address space has been emitted).
    let mut open: Vec<(T, u32)> = Vec::new();
    let mut cursor: Option<T> = None;
    for block in listed {
        // Close the blocks that end before this one starts, emitting what their children left.
        while let Some(&(end, owner)) = open.last() {
            if end >= block.start {
                break;
            }
            if let Some(c) = cursor
                && c <= end
            {
                emit(c, end, owner);
            }
            cursor = end.succ();
            open.pop();
        }
        // CIDR blocks nest, so the innermost open block (if any) contains this one: emit its part
        // before this block.
        if let Some(&(_, owner)) = open.last()
            && let Some(c) = cursor
            && c < block.start
            && let Some(before) = block.start.pred()
        {
            emit(c, before, owner);
        }
        cursor = Some(block.start);
        open.push((block.end, block.owner));
    }
    while let Some((end, owner)) = open.pop() {
        if let Some(c) = cursor
            && c <= end
        {
            emit(c, end, owner);
        }
        cursor = end.succ();
    }
    out
}

fn find<T: Addr>(segments: &[Segment<T>], x: T) -> Option<u32> {
    let i = segments.partition_point(|s| s.end < x);
    segments.get(i).filter(|s| s.start <= x).map(|s| s.owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn sample() -> AwsRanges {
        AwsRanges::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/ip-ranges-sample.json"
        ))
        .unwrap()
    }

    fn at(r: &AwsRanges, ip: &str) -> Option<(String, String)> {
        r.lookup(ip.parse().unwrap())
            .map(|a| (a.region.to_owned(), a.service.to_owned()))
    }

    fn owner(region: &str, service: &str) -> Option<(String, String)> {
        Some((region.to_owned(), service.to_owned()))
    }

    #[test]
    fn sample_file_loads() {
        let r = sample();
        assert_eq!(r.sync_token(), "1718236389");
        assert_eq!(r.create_date(), "2024-06-12-23-53-09");
        assert!(r.prefixes() >= 20, "{}", r.prefixes());
    }

    #[test]
    fn inside_edges_and_just_outside() {
        let r = sample();
        // 3.80.0.0/12 us-east-1, listed as AMAZON and as EC2.
        assert_eq!(at(&r, "3.80.0.0"), owner("us-east-1", "EC2"));
        assert_eq!(at(&r, "3.89.12.7"), owner("us-east-1", "EC2"));
        assert_eq!(at(&r, "3.95.255.255"), owner("us-east-1", "EC2"));
        assert_eq!(at(&r, "3.79.255.255"), None);
        assert_eq!(at(&r, "3.96.0.0"), None);
        // 52.94.76.0/22 us-west-2, AMAZON only.
        assert_eq!(at(&r, "52.94.76.0"), owner("us-west-2", "AMAZON"));
        assert_eq!(at(&r, "52.94.79.255"), owner("us-west-2", "AMAZON"));
        assert_eq!(at(&r, "52.94.80.0"), None);
        assert_eq!(at(&r, "52.94.75.255"), None);
        // Not AWS at all.
        assert_eq!(at(&r, "203.0.113.9"), None);
        assert_eq!(at(&r, "10.0.0.1"), None);
    }

    #[test]
    fn a_named_service_wins_over_amazon_for_the_same_block() {
        let r = sample();
        assert_eq!(at(&r, "3.5.140.1"), owner("ap-northeast-2", "S3"));
        assert_eq!(at(&r, "18.236.0.0"), owner("us-west-2", "EC2"));
        assert_eq!(at(&r, "18.237.255.255"), owner("us-west-2", "EC2"));
        assert_eq!(at(&r, "18.238.0.0"), None);
    }

    #[test]
    fn nested_prefixes_the_longest_wins() {
        let r = sample();
        // 15.177.0.0/18 GLOBAL ROUTE53_HEALTHCHECKS holds 15.177.8.0/21 us-east-1 ROUTE53_HEALTHCHECKS.
        assert_eq!(at(&r, "15.177.0.0"), owner("GLOBAL", "ROUTE53_HEALTHCHECKS"));
        assert_eq!(at(&r, "15.177.7.255"), owner("GLOBAL", "ROUTE53_HEALTHCHECKS"));
        assert_eq!(at(&r, "15.177.8.0"), owner("us-east-1", "ROUTE53_HEALTHCHECKS"));
        assert_eq!(
            at(&r, "15.177.15.255"),
            owner("us-east-1", "ROUTE53_HEALTHCHECKS")
        );
        assert_eq!(at(&r, "15.177.16.0"), owner("GLOBAL", "ROUTE53_HEALTHCHECKS"));
        assert_eq!(at(&r, "15.177.63.255"), owner("GLOBAL", "ROUTE53_HEALTHCHECKS"));
        assert_eq!(at(&r, "15.177.64.0"), None);
        let local = r.lookup("15.220.0.1".parse().unwrap()).unwrap();
        assert_eq!(local.network_border_group, "us-west-2-lax-1");
        assert_eq!(local.region, "us-west-2");
    }

    #[test]
    fn ipv6() {
        let r = sample();
        // 2600:1f18::/32 AMAZON holds 2600:1f18::/33 EC2 (both us-east-1).
        assert_eq!(at(&r, "2600:1f18::"), owner("us-east-1", "EC2"));
        assert_eq!(
            at(&r, "2600:1f18:7fff:ffff:ffff:ffff:ffff:ffff"),
            owner("us-east-1", "EC2")
        );
        assert_eq!(at(&r, "2600:1f18:8000::"), owner("us-east-1", "AMAZON"));
        assert_eq!(
            at(&r, "2600:1f18:ffff:ffff:ffff:ffff:ffff:ffff"),
            owner("us-east-1", "AMAZON")
        );
        assert_eq!(at(&r, "2600:1f19::"), None);
        assert_eq!(at(&r, "2600:1f17:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(at(&r, "2600:9000:5300::1"), owner("GLOBAL", "CLOUDFRONT"));
        assert_eq!(at(&r, "2001:db8::1"), None);
    }

    #[test]
    fn ipv4_mapped_ipv6_is_not_matched_as_ipv4() {
        let r = sample();
        assert!(at(&r, "3.80.0.1").is_some());
        assert_eq!(at(&r, "::ffff:3.80.0.1"), None);
        assert_eq!(at(&r, "::3.80.0.1"), None);
    }

    #[test]
    fn duplicates_and_neighbours_merge() {
        let r = AwsRanges::parse(
            br#"{"syncToken":"1","createDate":"x","prefixes":[
              {"ip_prefix":"10.0.1.0/24","region":"r","service":"EC2","network_border_group":"r"},
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"EC2","network_border_group":"r"},
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"AMAZON","network_border_group":"r"},
              {"ip_prefix":"10.0.2.0/24","region":"r","service":"S3","network_border_group":"r"}
            ],"ipv6_prefixes":[]}"#,
        )
        .unwrap();
        assert_eq!(r.segments(), (2, 0));
        assert_eq!(at(&r, "10.0.1.255"), owner("r", "EC2"));
        assert_eq!(at(&r, "10.0.2.0"), owner("r", "S3"));
    }

    #[test]
    fn two_named_services_for_one_block_do_not_depend_on_file_order() {
        let a = br#"{"prefixes":[
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"EC2","network_border_group":"r"},
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"CODEBUILD","network_border_group":"r"}
            ],"ipv6_prefixes":[]}"#;
        let b = br#"{"prefixes":[
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"CODEBUILD","network_border_group":"r"},
              {"ip_prefix":"10.0.0.0/24","region":"r","service":"EC2","network_border_group":"r"}
            ],"ipv6_prefixes":[]}"#;
        for doc in [&a[..], &b[..]] {
            let r = AwsRanges::parse(doc).unwrap();
            assert_eq!(at(&r, "10.0.0.7"), owner("r", "CODEBUILD"));
        }
    }

    #[test]
    fn the_edges_of_the_address_space() {
        let r = AwsRanges::parse(
            br#"{"prefixes":[
              {"ip_prefix":"0.0.0.0/0","region":"all","service":"AMAZON","network_border_group":"all"},
              {"ip_prefix":"255.255.255.0/24","region":"top","service":"EC2","network_border_group":"top"},
              {"ip_prefix":"0.0.0.0/24","region":"bottom","service":"EC2","network_border_group":"bottom"}
            ],"ipv6_prefixes":[
              {"ipv6_prefix":"::/0","region":"all","service":"AMAZON","network_border_group":"all"},
              {"ipv6_prefix":"ffff::/16","region":"top","service":"EC2","network_border_group":"top"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(at(&r, "0.0.0.0"), owner("bottom", "EC2"));
        assert_eq!(at(&r, "0.0.1.0"), owner("all", "AMAZON"));
        assert_eq!(at(&r, "255.255.254.255"), owner("all", "AMAZON"));
        assert_eq!(at(&r, "255.255.255.255"), owner("top", "EC2"));
        assert_eq!(at(&r, "::"), owner("all", "AMAZON"));
        assert_eq!(
            at(&r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            owner("top", "EC2")
        );
        assert_eq!(at(&r, "fffe::1"), owner("all", "AMAZON"));
    }

    /// The table agrees with "the most specific listed prefix containing the address" computed by
    /// brute force, on random nested prefixes.
    #[test]
    fn agrees_with_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let services = ["AMAZON", "EC2", "S3", "CLOUDFRONT"];
        for _ in 0..50 {
            let mut entries = Vec::new();
            let mut doc = String::from(r#"{"prefixes":["#);
            for i in 0..40 {
                // Stay inside 10.0.0.0/16 so that prefixes collide and nest often.
                let len: u8 = rng.random_range(16..=28);
                let addr = 0x0a00_0000u32 | (rng.random::<u32>() & 0xffff);
                let (start, end, _) = parse_v4(&format!("{}/{len}", Ipv4Addr::from(addr))).unwrap();
                let service = services[rng.random_range(0..services.len())];
                let region = format!("r{}", rng.random_range(0..3));
                if i > 0 {
                    doc.push(',');
                }
                doc.push_str(&format!(
                    r#"{{"ip_prefix":"{}/{len}","region":"{region}","service":"{service}","network_border_group":"{region}"}}"#,
                    Ipv4Addr::from(addr)
                ));
                entries.push((start, end, len, region, service));
            }
            doc.push_str(r#"],"ipv6_prefixes":[]}"#);
            let r = AwsRanges::parse(doc.as_bytes()).unwrap();
            for _ in 0..2000 {
                let x = 0x0a00_0000u32 | (rng.random::<u32>() & 0x1_ffff);
                // Most specific: longest prefix, then a named service over AMAZON, then the
                // alphabetically first service. Blocks equal on all three (two regions) are a tie.
                let key = |e: &(u32, u32, u8, String, &str)| {
                    (e.2, e.4 != "AMAZON", std::cmp::Reverse(e.4.to_owned()))
                };
                let covering: Vec<_> = entries.iter().filter(|e| e.0 <= x && x <= e.1).collect();
                let best = covering.iter().map(|e| key(e)).max();
                let want: Vec<_> = covering
                    .iter()
                    .filter(|e| Some(key(e)) == best)
                    .map(|e| (e.3.clone(), e.4.to_owned()))
                    .collect();
                let got = r
                    .lookup(IpAddr::V4(Ipv4Addr::from(x)))
                    .map(|a| (a.region.to_owned(), a.service.to_owned()));
                match &got {
                    None => assert!(want.is_empty(), "{}: want {want:?}, got None", Ipv4Addr::from(x)),
                    Some(g) => assert!(
                        want.contains(g),
                        "{}: want {want:?}, got {g:?}",
                        Ipv4Addr::from(x)
                    ),
                }
            }
        }
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let err = |doc: &str| AwsRanges::parse(doc.as_bytes()).unwrap_err().to_string();
        assert!(err("<html>rate limited</html>").starts_with("not an AWS ip-ranges.json document"));
        assert!(err("[]").starts_with("not an AWS ip-ranges.json document"));
        assert_eq!(
            err(r#"{"syncToken":"1","ipv6_prefixes":[]}"#),
            "not an AWS ip-ranges.json document: no \"prefixes\" array"
        );
        assert_eq!(
            err(r#"{"prefixes":[]}"#),
            "not an AWS ip-ranges.json document: no \"ipv6_prefixes\" array"
        );
        assert!(err(r#"{"prefixes":{},"ipv6_prefixes":[]}"#).contains("not an AWS ip-ranges.json"));
        let bad = |p: &str| {
            err(&format!(
                r#"{{"prefixes":[{{"ip_prefix":"3.80.0.0/12","region":"us-east-1","service":"EC2"}},{{"ip_prefix":"{p}","region":"us-east-1","service":"EC2"}}],"ipv6_prefixes":[]}}"#
            ))
        };
        assert_eq!(
            bad("3.80.0.0/33"),
            "prefixes[1].ip_prefix: not an IPv4 prefix: \"3.80.0.0/33\""
        );
        assert_eq!(
            bad("3.80.0.0"),
            "prefixes[1].ip_prefix: not an IPv4 prefix: \"3.80.0.0\""
        );
        assert_eq!(
            bad("3.80.0/12"),
            "prefixes[1].ip_prefix: not an IPv4 prefix: \"3.80.0/12\""
        );
        assert_eq!(
            bad("2600:1f18::/33"),
            "prefixes[1].ip_prefix: not an IPv4 prefix: \"2600:1f18::/33\""
        );
        assert_eq!(
            bad("3.80.0.0/+1"),
            "prefixes[1].ip_prefix: not an IPv4 prefix: \"3.80.0.0/+1\""
        );
        assert_eq!(
            err(
                r#"{"prefixes":[],"ipv6_prefixes":[{"ipv6_prefix":"3.80.0.0/12","region":"r","service":"S"}]}"#
            ),
            "ipv6_prefixes[0].ipv6_prefix: not an IPv6 prefix: \"3.80.0.0/12\""
        );
        assert_eq!(
            err(r#"{"prefixes":[{"ip_prefix":"3.80.0.0/12","service":"EC2"}],"ipv6_prefixes":[]}"#),
            "prefixes[0]: no \"region\""
        );
        assert_eq!(
            err(r#"{"prefixes":[{"ip_prefix":12,"region":"r","service":"EC2"}],"ipv6_prefixes":[]}"#),
            "prefixes[0].ip_prefix: not a string"
        );
        assert_eq!(
            err(r#"{"prefixes":["3.80.0.0/12"],"ipv6_prefixes":[]}"#),
            "prefixes[0]: not an object"
        );
    }

    #[test]
    fn load_names_the_file() {
        let e = AwsRanges::load("/nonexistent/ip-ranges.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read /nonexistent/ip-ranges.json: "), "{e}");
        let dir = std::env::temp_dir().join(format!("credtrail-ip-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ip-ranges.json");
        std::fs::write(&path, b"{\"prefixes\":[]}").unwrap();
        let e = AwsRanges::load(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: not an AWS ip-ranges.json document: no \"ipv6_prefixes\" array",
                path.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
