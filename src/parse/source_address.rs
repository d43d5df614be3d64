//! What a `sourceIPAddress` names: an AWS service acting for the caller, an IP address, or neither.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// `<service>.amazonaws.com` or `AWS Internal`: AWS called on the session's behalf.
    AwsService,
    Ip(IpAddr),
    /// Anything else (`redacted`, `fe80::1%eth0`, `01.2.3.4`, two addresses in one string). It can
    /// neither lock a session nor be compared with a lock.
    NotAnAddress,
}

impl Source {
    pub fn classify(s: &str) -> Source {
        // std's parsers reject zone ids and leading zeros, which is what we want: those are not
        // literals CloudTrail writes for a caller, and "01.2.3.4" must not compare equal to "1.2.3.4".
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Source::Ip(ip);
        }
        if s == "AWS Internal" || is_service_principal(s) {
            return Source::AwsService;
        }
        Source::NotAnAddress
    }
}

/// `ec2.amazonaws.com`, `s3.eu-west-1.amazonaws.com`: a host name under amazonaws.com.
fn is_service_principal(s: &str) -> bool {
    s.strip_suffix(".amazonaws.com").is_some_and(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    })
}

/// Addresses a VPC endpoint can report: RFC 1918, the shared range 100.64.0.0/10, and IPv6 unique
/// local fc00::/7.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || is_shared_v4(v4),
        IpAddr::V6(v6) => is_unique_local_v6(v6),
    }
}

fn is_shared_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (b & 0b1100_0000) == 64
}

fn is_unique_local_v6(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xfe00) == 0xfc00
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn services_addresses_and_the_rest() {
        assert_eq!(Source::classify("AWS Internal"), Source::AwsService);
        assert_eq!(Source::classify("s3.amazonaws.com"), Source::AwsService);
        assert_eq!(
            Source::classify("ssm.eu-west-1.amazonaws.com"),
            Source::AwsService
        );
        assert_eq!(Source::classify(".amazonaws.com"), Source::NotAnAddress);
        assert_eq!(Source::classify("evil amazonaws.com"), Source::NotAnAddress);
        assert_eq!(Source::classify("3.3.3.3"), Source::Ip(ip("3.3.3.3")));
        assert_eq!(Source::classify("2600:1F18::1"), Source::Ip(ip("2600:1f18::1")));
        assert_eq!(Source::classify("01.2.3.4"), Source::NotAnAddress);
        assert_eq!(Source::classify("fe80::1%eth0"), Source::NotAnAddress);
        assert_eq!(
            Source::classify("81.2.69.142, 192.168.10.10"),
            Source::NotAnAddress
        );
        assert_eq!(Source::classify("redacted"), Source::NotAnAddress);
    }

    #[test]
    fn private_ranges_and_their_neighbours() {
        for p in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "fc00::1",
            "fdff::1",
        ] {
            assert!(is_private(&ip(p)), "{p}");
        }
        for p in [
            "9.255.255.255",
            "172.32.0.1",
            "172.15.0.1",
            "192.169.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "fe00::1",
            "fe80::1",
            "3.3.3.3",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_private(&ip(p)), "{p}");
        }
    }
}
