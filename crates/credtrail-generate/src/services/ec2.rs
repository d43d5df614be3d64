//! EC2 control-plane records that change an instance's address: RunInstances, AllocateAddress,
//! AssociateAddress, AttachNetworkInterface, StopInstances and StartInstances.

use crate::calls::Call;
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::record::{Core, ReqId};
use crate::text::{B32, Draw, hex_id, push_u64, put, rand_string, uuid};
use crate::world::{Account, CLI_UA, Inst, TF_UA};
use rand::RngCore;

impl Gen<'_> {
    /// Writes an EC2 control-plane record by the admin, CI (Terraform) or the autoscaling
    /// service-linked role, in the instance's account; delivered as an anchor.
    pub(crate) fn ec2_change(
        &mut self,
        inst: usize,
        cmd: &'static str,
        name: &str,
        params: &[u8],
        resp: &[u8],
    ) {
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

    pub(crate) fn emit_run_instances(&mut self, inst: usize) {
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
        let launched = Launched {
            inst: i,
            account: a,
            profile,
            itype,
            token,
            reservation: res,
            attachment: attach,
            mac,
            profile_id: pid,
            launch_ms,
            private_dns: pdns,
        };
        let p = launched.request();
        let o = launched.response(uuid(rng));
        self.ec2_change(inst, "ec2.run-instances", "RunInstances", &p, &o);
    }

    pub(crate) fn emit_allocate(&mut self, inst: usize, alloc: &str, ip: &str) {
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

    pub(crate) fn emit_associate(
        &mut self,
        inst: usize,
        alloc: &str,
        ip: &str,
        by_name: bool,
        via_eni: bool,
    ) {
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

    pub(crate) fn emit_attach(&mut self, inst: usize) {
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

    pub(crate) fn emit_stop_start(&mut self, inst: usize, stop: bool) {
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
}

/// DescribeInstances of the caller's own instance.
pub(crate) fn describe_instances(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
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

/// DescribeTags of the caller's own instance.
pub(crate) fn describe_tags(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
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

/// What RunInstances made up for a launched instance, shared by the request and the response.
struct Launched<'a> {
    inst: &'a Inst,
    account: &'a Account,
    profile: String,
    itype: &'static str,
    token: [u8; 36],
    reservation: String,
    attachment: String,
    mac: String,
    profile_id: String,
    launch_ms: u64,
    private_dns: String,
}

impl Launched<'_> {
    /// `requestParameters`.
    fn request(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(1024);
        put!(
            p,
            "{\"instancesSet\":{\"items\":[{\"imageId\":\"",
            self.account.ami,
            "\",\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"",
            self.itype
        );
        put!(
            p,
            "\",\"blockDeviceMapping\":{},\"monitoring\":{\"enabled\":false},\"disableApiTermination\":false,\"disableApiStop\":false,\"clientToken\":\"",
            self.token
        );
        put!(
            p,
            "\",\"iamInstanceProfile\":{\"arn\":\"",
            self.profile,
            "\"},\"networkInterfaceSet\":{\"items\":[{\"deviceIndex\":0,\"subnetId\":\"",
            self.inst.subnet
        );
        put!(
            p,
            "\",\"associatePublicIpAddress\":true,\"groupSet\":{\"items\":[{\"groupId\":\"",
            self.account.sg,
            "\"}]}}]},\"metadataOptions\":{\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2}}"
        );
        p
    }

    /// `responseElements`.
    fn response(&self, request_id: [u8; 36]) -> Vec<u8> {
        let mut o = Vec::with_capacity(4096);
        put!(
            o,
            "{\"requestId\":\"",
            request_id,
            "\",\"reservationId\":\"",
            self.reservation,
            "\",\"ownerId\":\"",
            self.account.id,
            "\",\"groupSet\":{},\"instancesSet\":{\"items\":[{\"instanceId\":\"",
            self.inst.id
        );
        put!(
            o,
            "\",\"imageId\":\"",
            self.account.ami,
            "\",\"currentInstanceBootMode\":\"uefi\",\"instanceState\":{\"code\":0,\"name\":\"pending\"},\"privateDnsName\":\"",
            self.private_dns
        );
        put!(
            o,
            "\",\"amiLaunchIndex\":0,\"productCodes\":{},\"instanceType\":\"",
            self.itype,
            "\",\"launchTime\":"
        );
        push_u64(&mut o, self.launch_ms);
        put!(
            o,
            ",\"placement\":{\"availabilityZone\":\"",
            self.inst.region,
            "a\",\"tenancy\":\"default\"},\"monitoring\":{\"state\":\"disabled\"},\"subnetId\":\"",
            self.inst.subnet,
            "\",\"vpcId\":\"",
            self.account.vpc
        );
        put!(
            o,
            "\",\"privateIpAddress\":\"",
            self.inst.private_ip,
            "\",\"stateReason\":{\"code\":\"pending\",\"message\":\"pending\"},\"architecture\":\"x86_64\",\"rootDeviceType\":\"ebs\",\"rootDeviceName\":\"/dev/xvda\",\"blockDeviceMapping\":{},\"virtualizationType\":\"hvm\",\"hypervisor\":\"xen\",\"iamInstanceProfile\":{\"arn\":\"",
            self.profile,
            "\",\"id\":\"",
            self.profile_id
        );
        put!(
            o,
            "\"},\"groupSet\":{\"items\":[{\"groupId\":\"",
            self.account.sg,
            "\",\"groupName\":\"default\"}]},\"sourceDestCheck\":true,\"networkInterfaceSet\":{\"items\":[{\"networkInterfaceId\":\"",
            self.inst.eni
        );
        put!(
            o,
            "\",\"subnetId\":\"",
            self.inst.subnet,
            "\",\"vpcId\":\"",
            self.account.vpc,
            "\",\"ownerId\":\"",
            self.account.id,
            "\",\"status\":\"in-use\",\"macAddress\":\"",
            self.mac,
            "\",\"privateIpAddress\":\"",
            self.inst.private_ip,
            "\",\"privateDnsName\":\"",
            self.private_dns
        );
        put!(
            o,
            "\",\"sourceDestCheck\":true,\"interfaceType\":\"interface\",\"groupSet\":{\"items\":[{\"groupId\":\"",
            self.account.sg,
            "\",\"groupName\":\"default\"}]},\"attachment\":{\"attachmentId\":\"",
            self.attachment,
            "\",\"deviceIndex\":0,\"networkCardIndex\":0,\"status\":\"attaching\",\"attachTime\":"
        );
        push_u64(&mut o, self.launch_ms);
        put!(
            o,
            ",\"deleteOnTermination\":true},\"privateIpAddressesSet\":{\"item\":[{\"privateIpAddress\":\"",
            self.inst.private_ip,
            "\",\"privateDnsName\":\"",
            self.private_dns,
            "\",\"primary\":true}]},\"ipv6AddressesSet\":{},\"tagSet\":{}}]},\"ebsOptimized\":false,\"enaSupport\":true,\"cpuOptions\":{\"coreCount\":1,\"threadsPerCore\":2},\"capacityReservationSpecification\":{\"capacityReservationPreference\":\"open\"},\"enclaveOptions\":{\"enabled\":false},\"metadataOptions\":{\"state\":\"pending\",\"httpTokens\":\"required\",\"httpPutResponseHopLimit\":2,\"httpEndpoint\":\"enabled\",\"httpProtocolIpv4\":\"enabled\",\"httpProtocolIpv6\":\"disabled\",\"instanceMetadataTags\":\"disabled\"},\"maintenanceOptions\":{\"autoRecovery\":\"default\"},\"privateDnsNameOptions\":{\"hostnameType\":\"ip-name\",\"enableResourceNameDnsARecord\":false,\"enableResourceNameDnsAAAARecord\":false}}]}}"
        );
        o
    }
}
