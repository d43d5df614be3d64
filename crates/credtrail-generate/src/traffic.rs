//! Background traffic: instance sessions' own calls, calls AWS makes on their behalf, and
//! everyone else (people, CI, Lambda and ECS tasks, services).

use crate::addresses::{POOL_AWS, v4};
use crate::calls::{IC, api_call, pick_call};
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::principals;
use crate::record::{ReqId, Who};
use crate::services::ecs;
use crate::text::{Draw, hex_id, put, uuid};
use crate::world::{CLI_UA, Mode, St, endpoint};

impl Gen<'_> {
    /// One call by an instance's current session from its own address. `primary`: from its
    /// primary address (not S3 through the gateway endpoint of a Mixed instance) and small.
    pub(crate) fn emit_instance_call(&mut self, k: usize, primary: bool, how: Deliver) {
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
    pub(crate) fn emit_service_invoked(&mut self, k: usize) {
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

    pub(crate) fn background(&mut self) {
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
    pub(crate) fn emit_other(&mut self) {
        let mut b = self.buf();
        let c = &mut self.c;
        let ai = c.rng.below(self.accts.len() as u64) as usize;
        let a = &self.accts[ai];
        let region = a.region;
        let mut how = Deliver::Jitter;
        match c.rng.below(1000) {
            // The admin looking around with the CLI.
            0..=99 => principals::admin_cli(c, a, &mut b),
            // SSO users in the console.
            100..=279 => principals::sso_console(c, a, &mut b),
            // CI with Terraform: small reads, and now and then a large deployment call.
            280..=419 => principals::ci_terraform(c, a, &mut b),
            // Lambda functions, from an ever-changing AWS address.
            420..=699 => principals::lambda_call(c, a, &mut b),
            // ECS tasks behind the NAT gateway.
            700..=819 => principals::ecs_task_call(c, a, &mut b),
            // Lambda / ECS obtaining their role credentials (not an EC2 AssumeRole).
            820..=899 => principals::service_role_credentials(c, a, &mut b),
            // The autoscaling service-linked role.
            900..=939 => principals::autoscaling_check(c, a, &mut b),
            // Console sign-ins.
            940..=983 => principals::console_sign_in(c, a, &mut b),
            // ECS RunTask by CI (large response).
            984..=998 => {
                let ip = c.rng.pick(&a.ci_ips).as_str();
                ecs::run_task(c, a, &mut b, ip);
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
