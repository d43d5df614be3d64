//! Addresses the trail says belong to something: an instance or one of its network interfaces
//! (RunInstances, CreateNetworkInterface, AssignPrivateIpAddresses, AssignIpv6Addresses), a NAT
//! gateway (CreateNatGateway, AssociateNatGatewayAddress, DisassociateNatGatewayAddress), an
//! Elastic IP association (AssociateAddress, DisassociateAddress).
//!
//! EC2 writes its responses into CloudTrail as the JSON form of its XML API, and the same list
//! comes as `{"items":[…]}`, `{"item":{…}}`, `{"item":[…]}` or a plain array depending on the call
//! and its age. These readers therefore walk the parts of a record they are given and pick the
//! fields by name, whatever nests them: these records are rare, so the walk costs nothing that
//! matters, and a shape not seen here is still read.

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use std::net::IpAddr;

/// An address or a prefix (`ipv4Prefix` of VPC CNI prefix delegation) the trail ties to an
/// instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Net {
    pub ip: IpAddr,
    /// The prefix length: 32 or 128 for one address.
    pub len: u8,
}

impl Net {
    pub fn one(ip: IpAddr) -> Net {
        let len = if ip.is_ipv4() { 32 } else { 128 };
        Net { ip, len }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let shift = 32 - u32::from(self.len.min(32));
                // A shift by the whole width is `None` on both sides: a /0 holds every address.
                u32::from(n).checked_shr(shift) == u32::from(a).checked_shr(shift)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let shift = 128 - u32::from(self.len.min(128));
                u128::from(n).checked_shr(shift) == u128::from(a).checked_shr(shift)
            }
            _ => false,
        }
    }

    /// `10.0.1.16/28`, `2600:1f18::/80`, or one address.
    pub fn parse(s: &str) -> Option<Net> {
        let Some((ip, len)) = s.split_once('/') else {
            return s.parse().ok().map(Net::one);
        };
        let ip: IpAddr = ip.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        // A wide prefix would tie half the internet to one instance: only what EC2 assigns to an
        // interface (a /28 of IPv4, an /80 of IPv6 at the widest) is taken.
        let min = if ip.is_ipv4() { 28 } else { 80 };
        (min..=max).contains(&len).then_some(Net { ip, len })
    }
}

/// Fields whose string value is an address of the interface they describe.
const ADDRESS_KEYS: [&str; 5] = [
    "privateIpAddress",
    "ipv6Address",
    "publicIp",
    "ipAddress",
    "privateIp",
];
/// Fields whose string value is a prefix assigned to the interface.
const PREFIX_KEYS: [&str; 2] = ["ipv4Prefix", "ipv6Prefix"];

/// Nesting followed at most: EC2's deepest address is some six levels down.
const MAX_DEPTH: u32 = 10;
/// Addresses taken from one record at most.
pub const MAX_NETS: usize = 256;

/// Every address and prefix in `obj`: the fields above, and bare address strings in lists
/// (`assignedIpv6Addresses`).
pub fn nets_in(obj: &Object<'_, '_>, out: &mut Vec<Net>) {
    for (k, v) in obj.iter() {
        walk(v, Some(k), 1, out);
    }
}

fn walk(v: Value<'_, '_>, key: Option<&str>, depth: u32, out: &mut Vec<Net>) {
    if depth > MAX_DEPTH || out.len() >= MAX_NETS {
        return;
    }
    if let Some(obj) = v.as_object() {
        for (k, v) in obj.iter() {
            // `{"assignedIpv6Addresses":{"item":"2600:…"}}`: the list's name says what its
            // entries are.
            let k = if k == "item" || k == "items" { key } else { Some(k) };
            walk(v, k, depth + 1, out);
        }
    } else if let Some(arr) = v.as_array() {
        for v in arr.iter() {
            match v.into_string() {
                // A bare string in a list of addresses (`assignedIpv6Addresses: ["2600:…"]`).
                Some(s) => {
                    if let Some(n) = key.and_then(|k| list_entry(k, s)).filter(|n| !out.contains(n)) {
                        out.push(n);
                    }
                }
                None => walk(v, key, depth + 1, out),
            }
        }
    } else if let (Some(k), Some(s)) = (key, v.into_string()) {
        let net = if ADDRESS_KEYS.contains(&k) {
            s.parse().ok().map(Net::one)
        } else if PREFIX_KEYS.contains(&k) {
            Net::parse(s)
        } else {
            list_entry(k, s)
        };
        if let Some(n) = net
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
}

fn list_entry(key: &str, s: &str) -> Option<Net> {
    let k = key.to_ascii_lowercase();
    if k.contains("ipv6address") || k.contains("privateipaddress") {
        s.parse().ok().map(Net::one)
    } else if k.contains("prefix") {
        Net::parse(s)
    } else {
        None
    }
}

/// The first string in `obj` at a field named `key` (any nesting, any case of its first letter),
/// e.g. a `natGatewayId`.
pub fn find_str<'i>(obj: &Object<'_, 'i>, key: &str) -> Option<&'i str> {
    find_in(obj, key, 0)
}

fn find_in<'i>(obj: &Object<'_, 'i>, key: &str, depth: u32) -> Option<&'i str> {
    if depth > MAX_DEPTH {
        return None;
    }
    for (k, v) in obj.iter() {
        if k.eq_ignore_ascii_case(key)
            && let Some(s) = v.into_string().filter(|s| !s.is_empty())
        {
            return Some(s);
        }
        if let Some(s) = find_value(v, key, depth + 1) {
            return Some(s);
        }
    }
    None
}

fn find_value<'i>(v: Value<'_, 'i>, key: &str, depth: u32) -> Option<&'i str> {
    if let Some(obj) = v.as_object() {
        return find_in(&obj, key, depth);
    }
    let arr = v.as_array()?;
    arr.iter().find_map(|v| find_value(v, key, depth + 1))
}

/// Every string in `obj` that starts with `prefix` (`eipalloc-`, `eipassoc-`), in order.
pub fn ids_in<'i>(obj: &Object<'_, 'i>, prefix: &str, out: &mut Vec<&'i str>) {
    for (_, v) in obj.iter() {
        ids_under(v, prefix, 1, out);
    }
}

fn ids_under<'i>(v: Value<'_, 'i>, prefix: &str, depth: u32, out: &mut Vec<&'i str>) {
    if depth > MAX_DEPTH || out.len() >= MAX_NETS {
        return;
    }
    if let Some(obj) = v.as_object() {
        for (_, v) in obj.iter() {
            ids_under(v, prefix, depth + 1, out);
        }
    } else if let Some(arr) = v.as_array() {
        for v in arr.iter() {
            ids_under(v, prefix, depth + 1, out);
        }
    } else if let Some(s) = v.into_string()
        && s.starts_with(prefix)
        && !out.contains(&s)
    {
        out.push(s);
    }
}

/// One address of a NAT gateway as its records list it: an object with an `allocationId` and/or
/// a `publicIp`, perhaps an `associationId`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NatAddress {
    pub allocation_id: Option<compact_str::CompactString>,
    pub ip: Option<IpAddr>,
    pub association_id: Option<compact_str::CompactString>,
}

/// The NAT gateway addresses listed in `obj`: each object holding an `allocationId` or a
/// `publicIp` is one.
pub fn nat_addresses(obj: &Object<'_, '_>, out: &mut Vec<NatAddress>) {
    for (_, v) in obj.iter() {
        nat_addresses_under(v, 1, out);
    }
}

fn nat_addresses_under(v: Value<'_, '_>, depth: u32, out: &mut Vec<NatAddress>) {
    if depth > MAX_DEPTH || out.len() >= MAX_NETS {
        return;
    }
    if let Some(obj) = v.as_object() {
        if let Some(a) = nat_address(&obj) {
            out.push(a);
            return;
        }
        for (_, v) in obj.iter() {
            nat_addresses_under(v, depth + 1, out);
        }
    } else if let Some(arr) = v.as_array() {
        for v in arr.iter() {
            nat_addresses_under(v, depth + 1, out);
        }
    }
}

fn nat_address(obj: &Object<'_, '_>) -> Option<NatAddress> {
    let s = |k: &str| {
        obj.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.into_string())
            .filter(|s| !s.is_empty())
    };
    let allocation_id = s("allocationId").filter(|a| a.starts_with("eipalloc-"));
    let ip = s("publicIp").and_then(|p| p.parse().ok());
    if allocation_id.is_none() && ip.is_none() {
        return None;
    }
    Some(NatAddress {
        allocation_id: allocation_id.map(Into::into),
        ip,
        association_id: s("associationId").map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Prefixes contain what they cover and nothing of the other family; a prefix wider than
    /// EC2 assigns is refused. (Mutation: comparing without the shift fails the /28 case.)
    #[test]
    fn nets_contain_their_addresses() {
        let p = Net::parse("10.0.1.16/28").unwrap();
        assert!(p.contains(ip("10.0.1.31")));
        assert!(!p.contains(ip("10.0.1.32")));
        assert!(!p.contains(ip("::ffff:10.0.1.16")));
        let one = Net::parse("2600:1f18::7").unwrap();
        assert!(one.contains(ip("2600:1f18::7")));
        assert!(!one.contains(ip("2600:1f18::8")));
        assert!(
            Net::parse("2600:1f18::/80")
                .unwrap()
                .contains(ip("2600:1f18::ffff"))
        );
        assert_eq!(Net::parse("10.0.0.0/8"), None);
        assert_eq!(Net::parse("::/0"), None);
        assert_eq!(Net::parse("10.0.0.1/x"), None);
    }

    fn tape_nets(json: &str) -> Vec<Net> {
        let mut bytes = json.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let mut out = Vec::new();
        nets_in(&tape.as_value().as_object().unwrap(), &mut out);
        out
    }

    /// The shapes EC2 writes: item objects, item lists, items lists, bare strings in a list.
    #[test]
    fn addresses_are_found_whatever_nests_them() {
        let got = tape_nets(
            r#"{"networkInterface":{"privateIpAddress":"10.0.0.5",
                "privateIpAddressesSet":{"item":[{"privateIpAddress":"10.0.0.5"},{"privateIpAddress":"10.0.0.6"}]},
                "ipv6AddressesSet":{"items":[{"ipv6Address":"2600:1f18::7"}]},
                "macAddress":"0a:1b","description":"10.0.0.9"},
                "assignedIpv6Addresses":["2600:1f18::8"],
                "AssignIpv6AddressesResponse":{"assignedIpv6Addresses":{"item":"2600:1f18::9"}},
                "assignedIpv4PrefixSet":{"item":{"ipv4Prefix":"10.0.2.16/28"}}}"#,
        );
        let want: Vec<Net> = [
            "10.0.0.5",
            "10.0.0.6",
            "2600:1f18::7",
            "2600:1f18::8",
            "2600:1f18::9",
        ]
        .iter()
        .map(|s| Net::one(ip(s)))
        .chain(Net::parse("10.0.2.16/28"))
        .collect();
        assert_eq!(got, want);
    }
}
