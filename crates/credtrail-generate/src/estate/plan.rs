//! The estate's world and its plan: instances in their topologies, NAT gateways, thefts, and every
//! event of the estate as a small entry ordered by event time.

use super::{EstateConfig, Topology};
use crate::GenConfig;
use crate::addresses::{POOL_THIEF, v4};
use crate::generator::Gen;
use crate::record::Core;
use crate::text::{Draw, hex_id};
use crate::world::{Account, REGIONS, Role, SDK_UAS};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// One planned record (or a state change that writes none).
#[derive(Debug, Clone, Copy)]
pub(super) enum What {
    /// AllocateAddress of the account's NAT gateway's address `k`.
    NatAllocate(u32, u32),
    /// CreateNatGateway with the first addresses.
    NatCreate(u32),
    /// AllocateAddress and AssociateNatGatewayAddress of the address added later.
    NatAllocateMore(u32),
    NatAssociate(u32),
    /// A record of the central networking account (the organisation trail names it).
    Central,
    /// Traffic of other principals of an account.
    Other(u32),
    Launch(u32),
    Issue(u32),
    Call(u32),
    /// The VPC CNI assigning secondary addresses (an EKS node's own call).
    Cni(u32),
    Evict(u32),
    Resume(u32),
    Stop(u32),
    Start(u32),
    AllocateEip(u32),
    AssociateEip(u32),
    DisassociateEip(u32),
    Terminate(u32),
    /// Call `idx` of theft `k`.
    Thief(u32, u32),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub(super) t: i64,
    pub(super) seq: u32,
    pub(super) what: What,
}

pub(super) struct Nat {
    pub(super) id: String,
    /// (allocation id, address); the first `active` are in use.
    pub(super) addrs: Vec<(String, String)>,
    pub(super) active: usize,
}

pub(super) struct Node {
    pub(super) id: String,
    pub(super) acct: usize,
    pub(super) role: usize,
    pub(super) region: usize,
    pub(super) topo: Topology,
    pub(super) arn: String,
    pub(super) from: i64,
    pub(super) to: i64,
    pub(super) public: String,
    pub(super) v6: Option<String>,
    pub(super) private: String,
    pub(super) eni: String,
    pub(super) subnet: String,
    /// Addresses the VPC CNI assigned (pods), and a delegated /28 prefix.
    pub(super) pods: Vec<String>,
    pub(super) prefix: Option<(String, u8)>,
    pub(super) sdk: &'static str,
    pub(super) delivery: &'static str,
    /// Current session identity (`userIdentity`), once issued.
    pub(super) sess: Option<Vec<u8>>,
    pub(super) running: bool,
    /// An Elastic IP: (allocation id, address, association id).
    pub(super) eip: Option<(String, String, String)>,
}

pub(super) struct TheftPlan {
    pub(super) node: u32,
    pub(super) first: bool,
    pub(super) in_aws: bool,
    pub(super) ips: Vec<String>,
    pub(super) calls: u32,
    pub(super) made: bool,
}

pub(super) struct Estate<'c> {
    pub(super) cfg: &'c EstateConfig,
    pub(super) c: Core,
    pub(super) accts: Vec<Account>,
    pub(super) roles: Vec<Role>,
    /// The central networking account: the last of `accts`.
    pub(super) central: usize,
    pub(super) nats: Vec<Nat>,
    pub(super) nodes: Vec<Node>,
    pub(super) thefts: Vec<TheftPlan>,
    pub(super) events: Vec<Ev>,
    pub(super) used: HashSet<String>,
    pub(super) end: i64,
}

/// The estate's AWS EC2 block of region `r` (IPv4): `3.(16r).0.0/12`.
pub(super) fn v4_block(r: usize) -> (String, u8) {
    (format!("3.{}.0.0", 16 * r), 12)
}

/// The estate's AWS EC2 block of region `r` (IPv6): `2600:1f1r::/32`.
pub(super) fn v6_block(r: usize) -> (String, u8) {
    (format!("2600:1f1{r}::"), 32)
}

fn v4_in(rng: &mut ChaCha8Rng, r: usize) -> String {
    let x = rng.next_u32();
    format!(
        "3.{}.{}.{}",
        16 * r as u32 + (x & 15),
        (x >> 4) & 0xff,
        1 + ((x >> 12) % 254)
    )
}

fn v6_in(rng: &mut ChaCha8Rng, r: usize) -> String {
    let mut s = format!("2600:1f1{r}");
    for _ in 0..6 {
        s.push_str(&format!(":{:x}", 1 + rng.below(0xfffe)));
    }
    s
}

impl<'c> Estate<'c> {
    pub(super) fn new(cfg: &'c EstateConfig) -> Estate<'c> {
        // The accounts, their principals and roles as the record-slot generator builds them, one
        // more for the central networking account.
        let world = GenConfig {
            seed: cfg.seed,
            records: 0,
            instances: 1,
            accounts: cfg.accounts + 1,
            attacks: 0,
            start: cfg.start,
            ..GenConfig::default()
        };
        let Gen { c, accts, roles, .. } = Gen::new(&world);
        let central = accts.len() - 1;
        let mut e = Estate {
            cfg,
            c,
            accts,
            roles,
            central,
            nats: Vec::new(),
            nodes: Vec::new(),
            thefts: Vec::new(),
            events: Vec::new(),
            used: HashSet::new(),
            end: cfg.start + 86_400 * i64::from(cfg.days),
        };
        e.plan();
        e
    }

    fn at(&mut self, t: i64, what: What) {
        if t < self.end {
            let seq = self.events.len() as u32;
            self.events.push(Ev { t, seq, what });
        }
    }

    /// `what` at a random time in `t + lo ..= t + hi`.
    fn after(&mut self, t: i64, (lo, hi): (i64, i64), what: What) {
        let d = self.c.rng.between(lo, hi);
        self.at(t + d, what);
    }

    pub(super) fn fresh(&mut self, f: impl Fn(&mut ChaCha8Rng) -> String) -> String {
        loop {
            let s = f(&mut self.c.rng);
            if self.used.insert(s.clone()) {
                return s;
            }
        }
    }

    pub(super) fn fresh_public(&mut self, r: usize) -> String {
        self.fresh(|g| v4_in(g, r))
    }

    pub(super) fn region_of(&self, acct: usize) -> usize {
        let name = self.accts[acct].region;
        REGIONS.iter().position(|&r| r == name).unwrap_or(0)
    }

    fn plan(&mut self) {
        let t0 = self.cfg.start;
        self.at(t0 + 1, What::Central);
        let mut t = t0 + 7200;
        while t < self.end {
            self.at(t, What::Central);
            t += 7200;
        }
        for a in 0..self.central {
            self.plan_nat(a);
        }
        let total = self.cfg.shares.total();
        for _ in 0..self.cfg.instances {
            let mut x = self.c.rng.below(total);
            let mut topo = Topology::Plain;
            for t in Topology::ALL {
                let w = u64::from(self.cfg.shares.0[t as usize]);
                if x < w {
                    topo = t;
                    break;
                }
                x -= w;
            }
            let acct = self.c.rng.below(self.central as u64) as usize;
            if topo == Topology::AutoScaling {
                self.plan_group(acct);
            } else {
                let launched = matches!(topo, Topology::Eks)
                    || (topo == Topology::DualStack && self.c.rng.per_mille(500));
                let from = if launched {
                    t0 + self.c.rng.between(30, 3600)
                } else {
                    t0
                };
                self.plan_node(acct, topo, launched, from, self.end);
            }
        }
        self.plan_thefts();
        // Other principals: about one record in twelve.
        let others = self.events.len() / 11;
        for _ in 0..others {
            let t = t0 + self.c.rng.between(0, self.end - t0 - 1);
            let a = self.c.rng.below(self.central as u64) as u32;
            self.at(t, What::Other(a));
        }
        self.events.sort_by_key(|e| (e.t, e.seq));
    }

    fn plan_nat(&mut self, a: usize) {
        let t0 = self.cfg.start;
        let r = self.region_of(a);
        let n = match self.c.rng.below(10) {
            0..=2 => 1,
            3..=5 => 2,
            6..=8 => 3,
            _ => 4,
        };
        let more = self.c.rng.per_mille(300);
        let mut addrs = Vec::new();
        for _ in 0..n + usize::from(more) {
            let ip = self.fresh_public(r);
            addrs.push((hex_id(&mut self.c.rng, "eipalloc-0", 16), ip));
        }
        let id = hex_id(&mut self.c.rng, "nat-0", 17);
        let k = self.nats.len() as u32;
        for i in 0..n {
            self.at(t0 + 2 + i as i64, What::NatAllocate(k, i as u32));
        }
        self.at(t0 + 10, What::NatCreate(k));
        if more {
            let t = t0 + self.c.rng.between(3600, (self.end - t0) / 2);
            self.at(t - 30, What::NatAllocateMore(k));
            self.at(t, What::NatAssociate(k));
        }
        self.nats.push(Nat { id, addrs, active: n });
    }

    /// An Auto Scaling group: instances of two to ten hours, each launched before the last one is
    /// terminated.
    fn plan_group(&mut self, acct: usize) {
        let mut from = self.cfg.start + self.c.rng.between(30, 600);
        while from < self.end {
            let to = (from + self.c.rng.between(7200, 36_000)).min(self.end);
            let n = self.plan_node(acct, Topology::AutoScaling, true, from, to);
            if to >= self.end {
                break;
            }
            self.at(to, What::Terminate(n));
            from = to - self.c.rng.between(60, 600);
        }
    }

    /// One instance: its addresses, its credentials (issued soon after it runs, refreshed every
    /// one to five and a half hours), its calls, and its topology's address changes.
    pub(super) fn plan_node(
        &mut self,
        acct: usize,
        topo: Topology,
        launched: bool,
        from: i64,
        to: i64,
    ) -> u32 {
        let r = self.region_of(acct);
        let public = self.fresh_public(r);
        let private = self.fresh(crate::addresses::private_v4);
        let v6 = (topo == Topology::DualStack).then(|| self.fresh(|g| v6_in(g, r)));
        let rng = &mut self.c.rng;
        let a = &self.accts[acct];
        let role = *rng.pick(&a.roles);
        let id = hex_id(rng, "i-0", 17);
        let arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            a.id, self.roles[role].name, id
        );
        let node = Node {
            arn,
            acct,
            role,
            region: r,
            topo,
            from,
            to,
            public,
            v6,
            private,
            eni: hex_id(rng, "eni-0", 17),
            subnet: rng.pick(&a.subnets).clone(),
            pods: Vec::new(),
            prefix: None,
            sdk: SDK_UAS[rng.below(SDK_UAS.len() as u64) as usize],
            delivery: if rng.per_mille(850) { "2.0" } else { "1.0" },
            sess: None,
            running: !launched,
            eip: None,
            id,
        };
        let n = self.nodes.len() as u32;
        self.nodes.push(node);
        if launched {
            self.at(from, What::Launch(n));
        }
        let first = from + self.c.rng.between(20, if launched { 60 } else { 1800 });
        let mut t = first;
        while t < to {
            self.at(t, What::Issue(n));
            t += self.c.rng.between(3600, 19_800);
        }
        if topo == Topology::Eks {
            self.after(first, (15, 45), What::Cni(n));
            let more = self.c.rng.between(first + 3600, to);
            self.at(more, What::Cni(n));
        }
        self.plan_calls(n, first + 1, to);
        self.plan_changes(n, first, to);
        n
    }

    fn plan_calls(&mut self, n: u32, from: i64, to: i64) {
        let gap = (3600 / i64::from(self.cfg.calls_per_hour)).max(1);
        let mut t = from + self.c.rng.between(0, gap);
        while t < to {
            self.at(t, What::Call(n));
            t += self.c.rng.between(1, 2 * gap);
        }
    }

    /// Spot interruptions, stops and starts, Elastic IPs; each followed by a call from the new
    /// address soon after.
    fn plan_changes(&mut self, n: u32, first: i64, to: i64) {
        let topo = self.nodes[n as usize].topo;
        let day = 86_400;
        let mut t = first + self.c.rng.between(3600, day / 2);
        while t + 4 * 3600 < to {
            match topo {
                Topology::Spot => {
                    let back = t + self.c.rng.between(600, 3600);
                    self.at(t, What::Evict(n));
                    self.at(back, What::Resume(n));
                    if self.c.rng.per_mille(500) {
                        self.after(back, (10, 40), What::Issue(n));
                    }
                    self.after(back, (45, 120), What::Call(n));
                }
                Topology::StopStart if self.c.rng.per_mille(500) => {
                    let back = t + self.c.rng.between(900, 7200);
                    self.at(t, What::Stop(n));
                    self.at(back, What::Start(n));
                    if self.c.rng.per_mille(700) {
                        self.after(back, (10, 40), What::Issue(n));
                    }
                    self.after(back, (45, 120), What::Call(n));
                }
                Topology::StopStart => {
                    let gone = t + self.c.rng.between(3600, 3 * 3600);
                    let lead = self.c.rng.between(5, 600);
                    self.at(t - lead, What::AllocateEip(n));
                    self.at(t, What::AssociateEip(n));
                    self.after(t, (5, 120), What::Call(n));
                    self.at(gone, What::DisassociateEip(n));
                    self.after(gone, (5, 300), What::Call(n));
                }
                _ => return,
            }
            t += self.c.rng.between(day / 2, day);
        }
    }

    /// Thefts: instance-first ones during an instance's life; thief-first ones on an instance
    /// launched for the purpose, whose first credentials the thief uses before it does.
    fn plan_thefts(&mut self) {
        let t0 = self.cfg.start;
        let span = self.end - t0;
        for _ in 0..self.cfg.thefts {
            let first = self.c.rng.below(1000) < u64::from(self.cfg.thief_first_per_mille);
            let in_aws = self.c.rng.per_mille(400);
            let (n, start) = if first {
                let acct = self.c.rng.below(self.central as u64) as usize;
                let topo = *self.c.rng.pick(&[
                    Topology::Plain,
                    Topology::DualStack,
                    Topology::NatGateway,
                    Topology::Spot,
                ]);
                let from = t0 + span / 10 + self.c.rng.between(0, span * 7 / 10);
                let n = self.plan_thief_first_node(acct, topo, from);
                (n, None)
            } else {
                let candidates: Vec<u32> = (0..self.nodes.len() as u32)
                    .filter(|&n| {
                        let node = &self.nodes[n as usize];
                        node.to - node.from > 4 * 3600 && !self.thefts.iter().any(|t| t.node == n)
                    })
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                let n = *self.c.rng.pick(&candidates);
                let node = &self.nodes[n as usize];
                let (lo, hi) = (node.from + 3600, node.to - 3600);
                (n, Some(self.c.rng.between(lo, hi)))
            };
            let r = self.nodes[n as usize].region;
            let count = if self.c.rng.per_mille(300) { 2 } else { 1 };
            let ips = (0..count)
                .map(|_| {
                    if in_aws {
                        let other =
                            (r + 1 + self.c.rng.below(REGIONS.len() as u64 - 1) as usize) % REGIONS.len();
                        self.fresh_public(other)
                    } else {
                        self.fresh(|g| v4(g, POOL_THIEF))
                    }
                })
                .collect();
            let calls = 3 + self.c.rng.below(12) as u32;
            let begin = match start {
                Some(t) => t,
                // The launch's first AssumeRole comes 20 to 60 s after it; the thief 1 to 15 s later.
                None => self.first_issue(n) + self.c.rng.between(1, 15),
            };
            let mut t = begin;
            let k = self.thefts.len() as u32;
            for idx in 0..calls {
                self.at(t, What::Thief(k, idx));
                t += self.c.rng.between(5, 300);
            }
            self.thefts.push(TheftPlan {
                node: n,
                first,
                in_aws,
                ips,
                calls,
                made: false,
            });
        }
    }

    /// An instance launched at `from` whose own first call comes two to four minutes after its
    /// first credentials: time for a thief who took them at once to call first.
    fn plan_thief_first_node(&mut self, acct: usize, topo: Topology, from: i64) -> u32 {
        let n = self.plan_node(acct, topo, true, from, self.end);
        // plan_node planned calls from just after the first issue: drop those before the
        // instance's first call.
        let first = self.first_issue(n);
        let own = first + self.c.rng.between(120, 240);
        self.events
            .retain(|e| !(matches!(e.what, What::Call(m) if m == n) && e.t < own));
        self.at(own, What::Call(n));
        n
    }

    fn first_issue(&self, n: u32) -> i64 {
        self.events
            .iter()
            .filter(|e| matches!(e.what, What::Issue(m) if m == n))
            .map(|e| e.t)
            .min()
            .unwrap_or(self.nodes[n as usize].from)
    }
}
