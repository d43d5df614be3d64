//! NAT gateways with several public addresses (rule 15): an instance behind one calls from any of
//! them, so all public addresses of one gateway are one egress. Kept by the resolver, in input
//! order across all instances (a gateway serves many), and handed to each call from one of them.

use compact_str::CompactString;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Gateways remembered at most; past it the map is cleared (the rule then falls back to the plain
/// method until the trail names the gateways again).
const MAX_GATEWAYS: usize = 1 << 16;
/// Addresses one gateway holds at most (AWS allows eight per gateway by default).
const MAX_ADDRESSES: usize = 64;

/// One gateway's addresses, and the association or allocation id each came with.
#[derive(Default)]
struct Gateway {
    addresses: Vec<super::state::GatewayAddress>,
    /// The addresses alone, shared with every call from one of them.
    shared: Arc<[IpAddr]>,
}

#[derive(Default)]
pub struct Egress {
    gateways: HashMap<CompactString, Gateway, ahash::RandomState>,
    by_ip: HashMap<IpAddr, CompactString, ahash::RandomState>,
}

impl Egress {
    /// Every gateway and its addresses, sorted by gateway id, for a state file.
    pub fn export(&self) -> Vec<(CompactString, Vec<super::state::GatewayAddress>)> {
        let mut out: Vec<_> = self
            .gateways
            .iter()
            .map(|(id, g)| (id.clone(), g.addresses.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn import(saved: &[(CompactString, Vec<super::state::GatewayAddress>)]) -> Egress {
        let mut e = Egress::default();
        for (id, addresses) in saved {
            for (ip, alloc, assoc) in addresses {
                e.join(id, *ip, alloc.clone(), assoc.clone());
            }
        }
        e
    }

    /// The addresses of the gateway `ip` belongs to, when it belongs to one with others.
    pub fn of(&self, ip: IpAddr) -> Option<Arc<[IpAddr]>> {
        if self.by_ip.is_empty() {
            return None;
        }
        let g = self.gateways.get(self.by_ip.get(&ip)?)?;
        (g.shared.len() > 1).then(|| g.shared.clone())
    }

    /// `ip` joined `gateway` (with the ids its record gave).
    pub fn join(
        &mut self,
        gateway: &str,
        ip: IpAddr,
        allocation: Option<CompactString>,
        association: Option<CompactString>,
    ) {
        if self.gateways.len() >= MAX_GATEWAYS && !self.gateways.contains_key(gateway) {
            self.gateways.clear();
            self.by_ip.clear();
        }
        // An address is in one gateway at a time.
        if let Some(old) = self.by_ip.get(&ip).cloned()
            && old != gateway
        {
            self.remove(&old, |a| a.0 == ip);
        }
        let g = self.gateways.entry(gateway.into()).or_default();
        if g.addresses.len() >= MAX_ADDRESSES || g.addresses.iter().any(|a| a.0 == ip) {
            return;
        }
        g.addresses.push((ip, allocation, association));
        g.shared = g.addresses.iter().map(|a| a.0).collect();
        self.by_ip.insert(ip, gateway.into());
    }

    /// The address named by `id` (an association or allocation id) left `gateway`.
    pub fn leave(&mut self, gateway: &str, id: &str) {
        self.remove(gateway, |a| {
            a.1.as_deref() == Some(id) || a.2.as_deref() == Some(id)
        });
    }

    fn remove(&mut self, gateway: &str, which: impl Fn(&super::state::GatewayAddress) -> bool) {
        let Some(g) = self.gateways.get_mut(gateway) else {
            return;
        };
        let by_ip = &mut self.by_ip;
        g.addresses.retain(|a| {
            let gone = which(a);
            if gone {
                by_ip.remove(&a.0);
            }
            !gone
        });
        g.shared = g.addresses.iter().map(|a| a.0).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A gateway's addresses are one egress; one that leaves is no longer part of it, and an
    /// address alone in its gateway is no egress of several. (Mutation: not removing on leave
    /// fails the last assertion but one.)
    #[test]
    fn a_gateways_addresses_are_one_egress() {
        let mut e = Egress::default();
        e.join("nat-1", ip("3.3.3.3"), Some("eipalloc-a".into()), None);
        assert_eq!(e.of(ip("3.3.3.3")), None, "one address is no group");
        e.join(
            "nat-1",
            ip("3.3.3.4"),
            Some("eipalloc-b".into()),
            Some("eipassoc-b".into()),
        );
        assert_eq!(
            e.of(ip("3.3.3.3")).as_deref(),
            Some(&[ip("3.3.3.3"), ip("3.3.3.4")][..])
        );
        assert_eq!(e.of(ip("9.9.9.9")), None);
        e.leave("nat-1", "eipassoc-b");
        assert_eq!(e.of(ip("3.3.3.3")), None);
        assert_eq!(e.of(ip("3.3.3.4")), None);
    }
}
