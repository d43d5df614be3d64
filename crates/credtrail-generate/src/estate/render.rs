//! The estate's records, written in event-time order, each with its label.

use super::plan::{Estate, Ev, What, v4_block, v6_block};
use super::{EstateInstance, EstateTruth, Label, Theft, Topology, Whose};
use crate::calls::{IC, api_call, pick_call};
use crate::principals;
use crate::record::{ReqId, Who};
use crate::text::{B32, Draw, hex_id, into_string, push_u64, put, rand_string, uuid};
use crate::world::{CLI_UA, REGIONS, THIEF_UAS, endpoint};
use credtrail_time::{event_time_text, expiration_text};
use std::io::{self, Write};

/// Who makes a control-plane record.
#[derive(Clone, Copy)]
enum Actor {
    Admin,
    AutoScaling,
    /// The instance's own session (the VPC CNI on an EKS node), from its NAT gateway.
    Node(u32),
}

impl Estate<'_> {
    pub(super) fn render(&mut self, w: &mut impl Write) -> io::Result<EstateTruth> {
        let mut truth = EstateTruth {
            ip_ranges: ip_ranges(),
            ..EstateTruth::default()
        };
        let events = std::mem::take(&mut self.events);
        let mut b = Vec::with_capacity(4096);
        for ev in &events {
            self.c.now = ev.t;
            b.clear();
            if let Some((whose, instance, theft)) = self.record(ev, &mut b) {
                w.write_all(&b)?;
                truth.labels.push(Label {
                    event_id: into_string(self.c.last_event_id.to_vec()),
                    whose,
                    instance,
                    theft,
                });
            }
        }
        truth.instances = self
            .nodes
            .iter()
            .map(|n| EstateInstance {
                id: n.id.clone(),
                topology: n.topo,
                seconds: (n.to - n.from).max(0) as u64,
            })
            .collect();
        truth.thefts = self
            .thefts
            .iter()
            .map(|t| Theft {
                instance: t.node,
                session_arn: self.nodes[t.node as usize].arn.clone(),
                thief_first: t.first,
                thief_in_aws: t.in_aws,
                thief_ips: t.ips.clone(),
                calls: t.made,
            })
            .collect();
        Ok(truth)
    }

    /// Writes the record of one event into `b`, if it makes one.
    fn record(&mut self, ev: &Ev, b: &mut Vec<u8>) -> Option<(Whose, Option<u32>, Option<u32>)> {
        let other = |n: u32| Some((Whose::Other, Some(n), None));
        match ev.what {
            What::NatAllocate(k, i) => {
                let (alloc, ip) = self.nats[k as usize].addrs[i as usize].clone();
                self.allocate(k as usize, &alloc, &ip, b);
                Some((Whose::Other, None, None))
            }
            What::NatCreate(k) => {
                self.nat_create(k as usize, b);
                Some((Whose::Other, None, None))
            }
            What::NatAllocateMore(k) => {
                let nat = &self.nats[k as usize];
                let (alloc, ip) = nat.addrs[nat.active].clone();
                self.allocate(k as usize, &alloc, &ip, b);
                Some((Whose::Other, None, None))
            }
            What::NatAssociate(k) => {
                self.nat_associate(k as usize, b);
                Some((Whose::Other, None, None))
            }
            What::Central => {
                let a = &self.accts[self.central];
                principals::admin_cli(&mut self.c, a, b);
                Some((Whose::Other, None, None))
            }
            What::Other(a) => {
                let a = &self.accts[a as usize];
                match self.c.rng.below(4) {
                    0 => principals::admin_cli(&mut self.c, a, b),
                    1 => principals::ci_terraform(&mut self.c, a, b),
                    2 => principals::lambda_call(&mut self.c, a, b),
                    _ => principals::ecs_task_call(&mut self.c, a, b),
                }
                Some((Whose::Other, None, None))
            }
            What::Launch(n) => {
                self.run_instances(n, b);
                self.nodes[n as usize].running = true;
                other(n)
            }
            What::Issue(n) => {
                let node = &self.nodes[n as usize];
                if !node.running || ev.t >= node.to {
                    return None;
                }
                self.assume_role(n, b);
                other(n)
            }
            What::Call(n) => {
                self.instance_call(n, b)?;
                Some((Whose::Instance, Some(n), None))
            }
            What::Cni(n) => {
                self.cni(n, b)?;
                Some((Whose::Instance, Some(n), None))
            }
            What::Evict(_)
            | What::Resume(_)
            | What::Stop(_)
            | What::Start(_)
            | What::AllocateEip(_)
            | What::AssociateEip(_)
            | What::DisassociateEip(_)
            | What::Terminate(_) => self.change(ev.what, b),
            What::Thief(k, idx) => {
                self.thief_call(k, idx, b)?;
                let n = self.thefts[k as usize].node;
                Some((Whose::Thief, Some(n), Some(k)))
            }
        }
    }

    /// The records of an instance's address and state changes.
    fn change(&mut self, what: What, b: &mut Vec<u8>) -> Option<(Whose, Option<u32>, Option<u32>)> {
        let other = |n: u32| Some((Whose::Other, Some(n), None));
        match what {
            What::Evict(n) => {
                self.bid_evicted(n, b);
                self.nodes[n as usize].running = false;
                other(n)
            }
            What::Resume(n) => {
                let r = self.nodes[n as usize].region;
                let ip = self.fresh_public(r);
                let node = &mut self.nodes[n as usize];
                node.public = ip;
                node.running = true;
                None
            }
            What::Stop(n) | What::Start(n) => {
                let stop = matches!(what, What::Stop(_));
                self.stop_start(n, stop, b);
                if !stop {
                    let r = self.nodes[n as usize].region;
                    self.nodes[n as usize].public = self.fresh_public(r);
                }
                self.nodes[n as usize].running = !stop;
                other(n)
            }
            What::AllocateEip(n) => {
                let r = self.nodes[n as usize].region;
                let ip = self.fresh_public(r);
                let alloc = hex_id(&mut self.c.rng, "eipalloc-0", 16);
                let assoc = hex_id(&mut self.c.rng, "eipassoc-0", 16);
                let acct = self.nodes[n as usize].acct;
                self.allocate_in(acct, &alloc, &ip, b);
                self.nodes[n as usize].eip = Some((alloc, ip, assoc));
                other(n)
            }
            What::AssociateEip(n) => {
                self.associate_eip(n, b)?;
                other(n)
            }
            What::DisassociateEip(n) => {
                self.disassociate_eip(n, b)?;
                let r = self.nodes[n as usize].region;
                self.nodes[n as usize].public = self.fresh_public(r);
                other(n)
            }
            What::Terminate(n) => {
                self.terminate(n, b);
                self.nodes[n as usize].running = false;
                other(n)
            }
            _ => None,
        }
    }

    /// The address and endpoint an instance's call comes from, by its topology.
    fn source(&mut self, n: u32, kind: IC) -> (String, Option<(String, String)>) {
        let node = &self.nodes[n as usize];
        let a = &self.accts[node.acct];
        let nat = &self.nats[node.acct];
        let rng = &mut self.c.rng;
        let via_nat =
            |rng: &mut rand_chacha::ChaCha8Rng| nat.addrs[rng.below(nat.active as u64) as usize].1.clone();
        let own = |svc: usize| {
            let (id, acct) = endpoint(a, svc);
            Some((id.to_owned(), acct.to_owned()))
        };
        match node.topo {
            Topology::Plain | Topology::Spot | Topology::AutoScaling | Topology::StopStart => {
                (node.public.clone(), None)
            }
            // S3 and EC2 have dual-stack endpoints; the rest are IPv4 only.
            Topology::DualStack => match &node.v6 {
                Some(v6) if kind.is_s3() || matches!(kind, IC::Ec2DescInst | IC::Ec2DescTags) => {
                    (v6.clone(), None)
                }
                _ => (node.public.clone(), None),
            },
            Topology::NatGateway => (via_nat(rng), None),
            Topology::Eks => {
                let roll = rng.below(10);
                let pods = node.pods.len() as u64 + u64::from(node.prefix.is_some()) * 8;
                if roll < 6 && pods > 0 {
                    let k = rng.below(pods) as usize;
                    let ip = match (node.pods.get(k), &node.prefix) {
                        (Some(ip), _) => ip.clone(),
                        (None, Some((p, _))) => prefix_address(p, (k - node.pods.len()) as u8),
                        (None, None) => node.private.clone(),
                    };
                    (ip, own(kind.svc()))
                } else if roll < 7 {
                    (node.private.clone(), own(kind.svc()))
                } else {
                    (via_nat(rng), None)
                }
            }
            Topology::CentralEndpoint => {
                if kind.is_s3() && rng.per_mille(500) {
                    (node.private.clone(), own(0))
                } else {
                    let c = &self.accts[self.central];
                    let (id, acct) = endpoint(c, kind.svc());
                    (node.private.clone(), Some((id.to_owned(), acct.to_owned())))
                }
            }
        }
    }

    fn instance_call(&mut self, n: u32, b: &mut Vec<u8>) -> Option<()> {
        let node = &self.nodes[n as usize];
        if !node.running || node.sess.is_none() || self.c.now >= node.to {
            return None;
        }
        let mut kind = pick_call(&mut self.c.rng);
        if kind.is_tail() {
            kind = IC::SsmUpdate;
        }
        // AWS on the session's behalf now and then.
        let service = self.c.rng.per_mille(30).then_some("s3.amazonaws.com");
        if service.is_some() {
            kind = IC::KmsDecrypt;
        }
        let (ip, vpce) = match service {
            Some(s) => (s.to_owned(), None),
            None => self.source(n, kind),
        };
        let node = &self.nodes[n as usize];
        let ident = node.sess.as_deref()?;
        let who = Who {
            ident,
            invoked_by: service,
            ip: &ip,
            ua: [
                if service.is_some() {
                    "s3.amazonaws.com"
                } else {
                    node.sdk
                },
                "",
            ],
            vpce: vpce.as_ref().map(|(i, a)| (i.as_str(), a.as_str())),
            arn: &node.arn,
            thief: false,
        };
        let a = &self.accts[node.acct];
        api_call(&mut self.c, a, b, REGIONS[node.region], &node.id, kind, &who);
        Some(())
    }

    fn thief_call(&mut self, k: u32, idx: u32, b: &mut Vec<u8>) -> Option<()> {
        let t = &self.thefts[k as usize];
        let node = &self.nodes[t.node as usize];
        let ident = node.sess.as_deref()?;
        let ip = if idx >= t.calls / 2 {
            t.ips.last()?
        } else {
            t.ips.first()?
        };
        let kind = if idx == 0 {
            IC::StsGci
        } else {
            *self.c.rng.pick(&[
                IC::ListBuckets,
                IC::S3Get,
                IC::S3List,
                IC::Ec2DescInst,
                IC::Denied,
                IC::SecretGet,
            ])
        };
        let ua = THIEF_UAS[k as usize % THIEF_UAS.len()];
        let who = Who {
            ident,
            invoked_by: None,
            ip,
            ua: [ua, kind.cli_command()],
            vpce: None,
            arn: &node.arn,
            thief: true,
        };
        let a = &self.accts[node.acct];
        api_call(&mut self.c, a, b, REGIONS[node.region], &node.id, kind, &who);
        self.thefts[k as usize].made = true;
        Some(())
    }

    /// The EC2 service's AssumeRole issuing the instance's credentials; the session it makes.
    fn assume_role(&mut self, n: u32, b: &mut Vec<u8>) {
        let node = &self.nodes[n as usize];
        let a = &self.accts[node.acct];
        let r = &self.roles[node.role];
        let c = &mut self.c;
        let key = rand_string(&mut c.rng, "ASIA", 16, B32, 5);
        let region = REGIONS[node.region];
        c.head(
            b,
            "1.08",
            b"{\"type\":\"AWSService\",\"invokedBy\":\"ec2.amazonaws.com\"}",
            None,
            "sts.amazonaws.com",
            "AssumeRole",
            region,
            "ec2.amazonaws.com",
            &["ec2.amazonaws.com"],
        );
        put!(
            b,
            ",\"requestParameters\":{\"roleArn\":\"",
            r.arn,
            "\",\"roleSessionName\":\"",
            node.id,
            "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"",
            key,
            "\",\"sessionToken\":\""
        );
        c.token(b);
        let exp = expiration_text(c.now + 6 * 3600 + c.rng.between(0, 2400));
        put!(b, "\",\"expiration\":\"", exp, "\"}}");
        c.ids(b, ReqId::Uuid, true);
        put!(
            b,
            ",\"resources\":[{\"accountId\":\"",
            a.id,
            "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
            r.arn,
            "\"}]"
        );
        c.tail(b, "AwsApiCall", true, &a.id, true, None, "Management", &[], false);
        let mut s = Vec::with_capacity(700);
        put!(
            s,
            "{\"type\":\"AssumedRole\",\"principalId\":\"",
            r.id,
            ":",
            node.id,
            "\",\"arn\":\"",
            node.arn,
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
            event_time_text(c.now),
            "\",\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"",
            node.delivery,
            "\"}}"
        );
        self.nodes[n as usize].sess = Some(s);
    }

    /// An EC2 control-plane record in `acct`'s region.
    #[allow(clippy::too_many_arguments)]
    fn ec2(
        &mut self,
        acct: usize,
        actor: Actor,
        cmd: &str,
        name: &str,
        params: &[u8],
        resp: &[u8],
        b: &mut Vec<u8>,
    ) {
        let a = &self.accts[acct];
        let region = REGIONS[self.region_of(acct)];
        let nat_ip;
        let (ident, ip, by, ua): (&[u8], &str, Option<&str>, [&str; 2]) = match actor {
            Actor::Admin => (&a.admin, &a.office_ip, None, [CLI_UA, cmd]),
            Actor::AutoScaling => (
                &a.autoscaling,
                "autoscaling.amazonaws.com",
                Some("autoscaling.amazonaws.com"),
                ["autoscaling.amazonaws.com", ""],
            ),
            Actor::Node(n) => {
                let node = &self.nodes[n as usize];
                let nat = &self.nats[node.acct];
                nat_ip = nat.addrs[self.c.rng.below(nat.active as u64) as usize].1.as_str();
                (
                    node.sess.as_deref().unwrap_or_default(),
                    nat_ip,
                    None,
                    [node.sdk, ""],
                )
            }
        };
        let c = &mut self.c;
        c.head(b, "1.09", ident, by, "ec2.amazonaws.com", name, region, ip, &ua);
        put!(
            b,
            ",\"requestParameters\":",
            params,
            ",\"responseElements\":",
            resp
        );
        c.ids(b, ReqId::Uuid, false);
        let host: &[&str] = if by.is_some() {
            &[]
        } else {
            &["ec2.", region, ".amazonaws.com"]
        };
        c.tail(
            b,
            "AwsApiCall",
            true,
            &a.id,
            false,
            None,
            "Management",
            host,
            false,
        );
    }

    fn allocate(&mut self, k: usize, alloc: &str, ip: &str, b: &mut Vec<u8>) {
        // The k-th NAT gateway is account k's.
        self.allocate_in(k, alloc, ip, b);
    }

    fn allocate_in(&mut self, acct: usize, alloc: &str, ip: &str, b: &mut Vec<u8>) {
        let region = REGIONS[self.region_of(acct)];
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
        self.ec2(
            acct,
            Actor::Admin,
            "ec2.allocate-address",
            "AllocateAddress",
            b"{\"domain\":\"vpc\"}",
            &r,
            b,
        );
    }

    /// CreateNatGateway: the first address by allocation id and address, the others by
    /// allocation id only (still associating), as EC2 answers.
    fn nat_create(&mut self, k: usize, b: &mut Vec<u8>) {
        let nat = &self.nats[k];
        let a = &self.accts[k];
        let subnet = &a.subnets[0];
        let mut p = Vec::with_capacity(256);
        put!(
            p,
            "{\"CreateNatGatewayRequest\":{\"SubnetId\":\"",
            subnet,
            "\",\"AllocationId\":\"",
            nat.addrs[0].0,
            "\"}}"
        );
        let mut r = Vec::with_capacity(1024);
        put!(
            r,
            "{\"CreateNatGatewayResponse\":{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"natGateway\":{\"natGatewayId\":\"",
            nat.id,
            "\",\"subnetId\":\"",
            subnet,
            "\",\"vpcId\":\"",
            a.vpc,
            "\",\"state\":\"pending\",\"connectivityType\":\"public\",\"natGatewayAddressSet\":{\"item\":["
        );
        for (i, (alloc, ip)) in nat.addrs[..nat.active].iter().enumerate() {
            if i == 0 {
                put!(
                    r,
                    "{\"allocationId\":\"",
                    alloc,
                    "\",\"publicIp\":\"",
                    ip,
                    "\",\"isPrimary\":true,\"status\":\"succeeded\"}"
                );
            } else {
                put!(
                    r,
                    ",{\"allocationId\":\"",
                    alloc,
                    "\",\"isPrimary\":false,\"status\":\"associating\"}"
                );
            }
        }
        put!(r, "]}}}}");
        self.ec2(
            k,
            Actor::Admin,
            "ec2.create-nat-gateway",
            "CreateNatGateway",
            &p,
            &r,
            b,
        );
    }

    fn nat_associate(&mut self, k: usize, b: &mut Vec<u8>) {
        let nat = &self.nats[k];
        let (alloc, _) = &nat.addrs[nat.active];
        let mut p = Vec::with_capacity(256);
        put!(
            p,
            "{\"AssociateNatGatewayAddressRequest\":{\"NatGatewayId\":\"",
            nat.id,
            "\",\"AllocationId\":{\"tag\":1,\"content\":\"",
            alloc,
            "\"}}}"
        );
        let mut r = Vec::with_capacity(256);
        put!(
            r,
            "{\"AssociateNatGatewayAddressResponse\":{\"natGatewayId\":\"",
            nat.id,
            "\",\"natGatewayAddressSet\":{\"item\":{\"allocationId\":\"",
            alloc,
            "\",\"isPrimary\":false,\"status\":\"associating\"}}}}"
        );
        self.ec2(
            k,
            Actor::Admin,
            "ec2.associate-nat-gateway-address",
            "AssociateNatGatewayAddress",
            &p,
            &r,
            b,
        );
        self.nats[k].active += 1;
    }

    /// RunInstances: the interface and its addresses (the IPv6 address of a dual-stack instance)
    /// in the response, as EC2 answers while the instance is pending (no public address yet).
    fn run_instances(&mut self, n: u32, b: &mut Vec<u8>) {
        let node = &self.nodes[n as usize];
        let a = &self.accts[node.acct];
        let by_group = matches!(node.topo, Topology::AutoScaling | Topology::Eks);
        let mut p = Vec::with_capacity(512);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"imageId\":\"",
            a.ami,
            "\",\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"m6i.large\",\"iamInstanceProfile\":{\"arn\":\"arn:aws:iam::",
            a.id,
            ":instance-profile/",
            self.roles[node.role].name,
            "\"},\"networkInterfaceSet\":{\"items\":[{\"deviceIndex\":0,\"subnetId\":\"",
            node.subnet,
            "\"}]}}"
        );
        let mut r = Vec::with_capacity(2048);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"reservationId\":\"",
            hex_id(&mut self.c.rng, "r-0", 17),
            "\",\"ownerId\":\"",
            a.id,
            "\",\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            node.id,
            "\",\"imageId\":\"",
            a.ami,
            "\",\"instanceState\":{\"code\":0,\"name\":\"pending\"},\"launchTime\":"
        );
        push_u64(&mut r, (self.c.now.max(0) as u64) * 1000);
        put!(
            r,
            ",\"subnetId\":\"",
            node.subnet,
            "\",\"vpcId\":\"",
            a.vpc,
            "\",\"privateIpAddress\":\"",
            node.private,
            "\",\"networkInterfaceSet\":{\"items\":[{\"networkInterfaceId\":\"",
            node.eni,
            "\",\"subnetId\":\"",
            node.subnet,
            "\",\"status\":\"in-use\",\"privateIpAddress\":\"",
            node.private,
            "\",\"privateIpAddressesSet\":{\"item\":[{\"privateIpAddress\":\"",
            node.private,
            "\",\"primary\":true}]},\"ipv6AddressesSet\":"
        );
        match &node.v6 {
            Some(v6) => put!(
                r,
                "{\"item\":[{\"ipv6Address\":\"",
                v6,
                "\",\"isPrimaryIpv6\":false}]}"
            ),
            None => put!(r, "{}"),
        }
        put!(
            r,
            ",\"attachment\":{\"deviceIndex\":0,\"status\":\"attaching\"}}]}}]}}"
        );
        let actor = if by_group {
            Actor::AutoScaling
        } else {
            Actor::Admin
        };
        self.ec2(node.acct, actor, "ec2.run-instances", "RunInstances", &p, &r, b);
    }

    /// The VPC CNI asks for secondary addresses for pods (and now and then a /28 prefix); the
    /// node's own session makes the call, through the NAT gateway.
    fn cni(&mut self, n: u32, b: &mut Vec<u8>) -> Option<()> {
        let node = &self.nodes[n as usize];
        if !node.running || node.sess.is_none() {
            return None;
        }
        let count = 4 + self.c.rng.below(8) as usize;
        let base = node.private.rsplit_once('.').map(|(h, _)| h.to_owned())?;
        let mut added = Vec::new();
        for _ in 0..count {
            let ip = self.fresh(|g| format!("{base}.{}", 2 + g.below(250)));
            added.push(ip);
        }
        let prefix = (self.nodes[n as usize].prefix.is_none() && self.c.rng.per_mille(300)).then(|| {
            let p = self.c.rng.below(14) as u8 + 1;
            (
                format!(
                    "{}.{}.{}.{}",
                    10,
                    200 + (n % 50),
                    (n / 50) % 256,
                    16 * u32::from(p)
                ),
                28,
            )
        });
        let node = &self.nodes[n as usize];
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"networkInterfaceId\":\"",
            node.eni,
            "\",\"secondaryPrivateIpAddressCount\":"
        );
        push_u64(&mut p, added.len() as u64);
        put!(p, "}");
        let mut r = Vec::with_capacity(512);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"networkInterfaceId\":\"",
            node.eni,
            "\",\"assignedPrivateIpAddressesSet\":{\"item\":["
        );
        for (i, ip) in added.iter().enumerate() {
            put!(
                r,
                if i == 0 { "" } else { "," },
                "{\"privateIpAddress\":\"",
                ip,
                "\"}"
            );
        }
        put!(r, "]}");
        if let Some((pfx, len)) = &prefix {
            put!(
                r,
                ",\"assignedIpv4PrefixSet\":{\"item\":[{\"ipv4Prefix\":\"",
                pfx,
                "/"
            );
            push_u64(&mut r, u64::from(*len));
            put!(r, "\"}]}");
        }
        put!(r, "}");
        let acct = node.acct;
        self.ec2(acct, Actor::Node(n), "", "AssignPrivateIpAddresses", &p, &r, b);
        let node = &mut self.nodes[n as usize];
        node.pods.extend(added);
        if prefix.is_some() {
            node.prefix = prefix;
        }
        Some(())
    }

    /// A Spot interruption, as EC2 writes it: an `AwsServiceEvent` naming the instance.
    fn bid_evicted(&mut self, n: u32, b: &mut Vec<u8>) {
        let node = &self.nodes[n as usize];
        let a = &self.accts[node.acct];
        let region = REGIONS[node.region];
        let mut ident = Vec::with_capacity(96);
        put!(
            ident,
            "{\"accountId\":\"",
            a.id,
            "\",\"invokedBy\":\"ec2.amazonaws.com\"}"
        );
        let c = &mut self.c;
        c.head(
            b,
            "1.05",
            &ident,
            None,
            "ec2.amazonaws.com",
            "BidEvictedEvent",
            region,
            "ec2.amazonaws.com",
            &["ec2.amazonaws.com"],
        );
        put!(b, ",\"requestParameters\":null,\"responseElements\":null");
        c.ids(b, ReqId::Uuid, false);
        put!(
            b,
            ",\"serviceEventDetails\":{\"instanceIdSet\":[\"",
            node.id,
            "\"]}"
        );
        c.tail(
            b,
            "AwsServiceEvent",
            true,
            &a.id,
            false,
            None,
            "Management",
            &[],
            false,
        );
    }

    fn stop_start(&mut self, n: u32, stop: bool, b: &mut Vec<u8>) {
        let node = &self.nodes[n as usize];
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            node.id,
            "\"}]}}"
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
            node.id,
            "\",\"currentState\":",
            cur,
            ",\"previousState\":",
            prev,
            "}]}}"
        );
        let acct = node.acct;
        let (cmd, name) = if stop {
            ("ec2.stop-instances", "StopInstances")
        } else {
            ("ec2.start-instances", "StartInstances")
        };
        self.ec2(acct, Actor::Admin, cmd, name, &p, &r, b);
    }

    fn terminate(&mut self, n: u32, b: &mut Vec<u8>) {
        let node = &self.nodes[n as usize];
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            node.id,
            "\"}]}}"
        );
        let mut r = Vec::with_capacity(256);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            node.id,
            "\",\"currentState\":{\"code\":32,\"name\":\"shutting-down\"},\"previousState\":{\"code\":16,\"name\":\"running\"}}]}}"
        );
        let acct = node.acct;
        self.ec2(acct, Actor::AutoScaling, "", "TerminateInstances", &p, &r, b);
    }

    fn associate_eip(&mut self, n: u32, b: &mut Vec<u8>) -> Option<()> {
        let node = &self.nodes[n as usize];
        let (alloc, ip, assoc) = node.eip.clone()?;
        if !node.running {
            return None;
        }
        let mut p = Vec::with_capacity(128);
        put!(
            p,
            "{\"instanceId\":\"",
            node.id,
            "\",\"allocationId\":\"",
            alloc,
            "\",\"allowReassociation\":false}"
        );
        let mut r = Vec::with_capacity(128);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"_return\":true,\"associationId\":\"",
            assoc,
            "\"}"
        );
        let acct = node.acct;
        self.ec2(
            acct,
            Actor::Admin,
            "ec2.associate-address",
            "AssociateAddress",
            &p,
            &r,
            b,
        );
        self.nodes[n as usize].public = ip;
        Some(())
    }

    fn disassociate_eip(&mut self, n: u32, b: &mut Vec<u8>) -> Option<()> {
        let node = &self.nodes[n as usize];
        let (_, _, assoc) = node.eip.clone()?;
        if !node.running {
            return None;
        }
        let mut p = Vec::with_capacity(64);
        put!(p, "{\"associationId\":\"", assoc, "\"}");
        let mut r = Vec::with_capacity(96);
        put!(
            r,
            "{\"requestId\":\"",
            uuid(&mut self.c.rng),
            "\",\"_return\":true}"
        );
        let acct = node.acct;
        self.ec2(
            acct,
            Actor::Admin,
            "ec2.disassociate-address",
            "DisassociateAddress",
            &p,
            &r,
            b,
        );
        self.nodes[n as usize].eip = None;
        Some(())
    }
}

/// Address `k` (0 to 15) of a /28 prefix `a.b.c.d`.
fn prefix_address(p: &str, k: u8) -> String {
    match p.rsplit_once('.') {
        Some((head, last)) => format!(
            "{head}.{}",
            last.parse::<u8>().unwrap_or(0).saturating_add(k % 16)
        ),
        None => p.to_owned(),
    }
}

/// The estate's EC2 blocks in the form of AWS's `ip-ranges.json`.
fn ip_ranges() -> String {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (r, region) in REGIONS.iter().enumerate() {
        let (ip, len) = v4_block(r);
        v4.push(format!(
            "{{\"ip_prefix\":\"{ip}/{len}\",\"region\":\"{region}\",\"service\":\"AMAZON\",\"network_border_group\":\"{region}\"}},{{\"ip_prefix\":\"{ip}/{len}\",\"region\":\"{region}\",\"service\":\"EC2\",\"network_border_group\":\"{region}\"}}"
        ));
        let (ip, len) = v6_block(r);
        v6.push(format!(
            "{{\"ipv6_prefix\":\"{ip}/{len}\",\"region\":\"{region}\",\"service\":\"AMAZON\",\"network_border_group\":\"{region}\"}},{{\"ipv6_prefix\":\"{ip}/{len}\",\"region\":\"{region}\",\"service\":\"EC2\",\"network_border_group\":\"{region}\"}}"
        ));
    }
    format!(
        "{{\"syncToken\":\"1709251200\",\"createDate\":\"2024-03-01-00-00-00\",\"prefixes\":[{}],\"ipv6_prefixes\":[{}]}}\n",
        v4.join(","),
        v6.join(",")
    )
}
