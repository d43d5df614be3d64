//! EC2 control-plane records that change an instance's address: RunInstances, AllocateAddress,
//! AssociateAddress, AttachNetworkInterface, StopInstances and StartInstances.

use crate::prelude::*;

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
