//! Workload sessions besides EC2 instances, issued as AWS issues them (the records the filter's
//! `src/parse/issuer.rs` reads): ECS task roles and EKS Pod Identity (an `sts:AssumeRole` made by
//! `ecs-tasks.amazonaws.com` / `pods.eks.amazonaws.com`), IRSA (`AssumeRoleWithWebIdentity` made
//! by the pod from its own address), Lambda execution roles (`lambda.amazonaws.com`, the function
//! name as session name) and sessions chained from a task's session by its own `sts:AssumeRole`.
//! Each workload then calls from its own addresses; the first of each kind is stolen after its
//! first call and the second before it (`attacker_first`), a task's third through the account's
//! VPC endpoint, each labelled in [`crate::Truth`] like an instance theft.
//!
//! Nothing here draws from the generator's RNG unless a count is above zero, so a stream without
//! workloads is byte-identical to one from before this module.

use crate::Incident;
use crate::addresses::{POOL_AWS, POOL_THIEF, private_v4, v4};
use crate::calls::{IC, api_call};
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::record::{Core, ReqId, Who};
use crate::schedule::Act;
use crate::services::{ecs, lambda};
use crate::text::{B32, Draw, HEX, hex_id, into_string, push_rand, put, rand_string, uuid};
use crate::world::{endpoint, role_session};
use credtrail_time::expiration_text;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// How many workloads of each kind to generate (all zero: none, the stream of before).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Workloads {
    pub task: u32,
    pub pod: u32,
    pub web_identity: u32,
    pub function: u32,
    pub chained: u32,
}

impl Workloads {
    pub fn any(&self) -> bool {
        self.counts().iter().any(|&(_, n)| n > 0)
    }

    fn counts(&self) -> [(Kind, u32); 5] {
        [
            (Kind::Task, self.task),
            (Kind::Pod, self.pod),
            (Kind::WebIdentity, self.web_identity),
            (Kind::Function, self.function),
            (Kind::Chained, self.chained),
        ]
    }

    /// `task=2,pod=1,…`: the kinds named get those counts, the others none.
    pub fn parse(s: &str) -> Result<Workloads, String> {
        let mut w = Workloads::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, n) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}': expected KIND=COUNT"))?;
            let n: u32 = n
                .parse()
                .ok()
                .filter(|&n| n <= 10_000)
                .ok_or_else(|| format!("'{part}': a count from 0 to 10000"))?;
            let slot = match k {
                "task" => &mut w.task,
                "pod" => &mut w.pod,
                "web_identity" => &mut w.web_identity,
                "function" => &mut w.function,
                "chained" => &mut w.chained,
                _ => {
                    return Err(format!(
                        "'{k}': a kind of task, pod, web_identity, function, chained"
                    ));
                }
            };
            *slot = n;
        }
        Ok(w)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Task,
    Pod,
    WebIdentity,
    Function,
    Chained,
}

/// The region of every workload: the sample ranges file the tests use knows its EC2 prefix
/// (18.236.0.0/15), which a function's own calls must come from to be its own.
const REGION: &str = "us-west-2";
const SDK_UA: &str = "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64";
const THIEF_UA: &str = "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off";
/// Own calls of each workload.
const OWN_CALLS: usize = 7;
const THIEF_CALLS: u32 = 3;
/// Thief steps are numbered from here.
const THIEF_STEP: u32 = 1000;

/// A workload's records besides the thief's, in order: what the schedule's step numbers index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    /// ECS RunTask by CI: the task's network interface and its private address (awsvpc).
    RunTask,
    /// Lambda CreateFunction by CI, attaching the function to its account's VPC.
    CreateFunction,
    /// The record that issues the session (for a chained workload, its parent task's).
    Issue,
    /// A chained workload's parent task assuming the child role.
    ChainAssume,
    /// One of the workload's own calls.
    Call,
    /// ECS StopTask by CI: the task ends, minutes after its last call.
    StopTask,
}

/// How a workload's credentials are stolen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theft {
    /// After the workload's first call, from outside AWS.
    After,
    /// Before the workload's first call (`attacker_first`): from outside AWS, or for a task from
    /// an EC2 address of another region (the thief's own machine in AWS).
    First,
    /// Before the task's first call, through the account's VPC endpoint from a private address
    /// the trail never tied to the task (on premises, over Direct Connect).
    FirstViaEndpoint,
}

/// The theft of the `j`th workload of `kind`: the first is stolen after its first call, the
/// second before it, and a task's third through the account's endpoint.
fn theft_of(kind: Kind, j: u32) -> Option<Theft> {
    match j {
        0 => Some(Theft::After),
        1 => Some(Theft::First),
        2 if kind == Kind::Task => Some(Theft::FirstViaEndpoint),
        _ => None,
    }
}

/// Whether the `j`th workload of `kind` is a function attached to its account's VPC: every
/// second function.
fn in_vpc(kind: Kind, j: u32) -> bool {
    kind == Kind::Function && j % 2 == 1
}

pub(crate) struct WState {
    kind: Kind,
    acct: usize,
    role_arn: String,
    name: String,
    /// The session the workload (and the thief) calls with; for a chained workload the child.
    ident: Vec<u8>,
    arn: String,
    key: String,
    /// A task's session that a chained workload's child is assumed from.
    parent: Option<(String, Vec<u8>)>,
    own_ips: Vec<String>,
    /// A task's interface and its private address (awsvpc), or a VPC function's private address:
    /// its calls through the account's VPC endpoints come from it.
    eni: Option<String>,
    private_ip: Option<String>,
    script: Vec<Own>,
    theft: Option<Theft>,
    thief_ip: Option<String>,
    issued: i64,
    truth: Incident,
}

impl WState {
    fn first_call(&self) -> u32 {
        self.script.iter().position(|&o| o == Own::Call).unwrap_or(0) as u32
    }
}

impl Gen<'_> {
    /// Builds the workloads and schedules their issues; draws nothing when there are none.
    pub(crate) fn plan_workloads(&mut self) {
        let wl = self.cfg.workloads;
        if !wl.any() {
            return;
        }
        let start = self.cfg.start;
        let d = (self.end - start).max(1);
        for (kind, n) in wl.counts() {
            for j in 0..n {
                let w = self.new_workload(kind, j);
                let at = start + self.c.rng.between(0, (d / 10).min(30));
                let idx = self.workloads.len();
                self.workloads.push(w);
                self.schedule(at, Act::Workload { w: idx, step: 0 });
            }
        }
    }

    fn new_workload(&mut self, kind: Kind, j: u32) -> WState {
        let acct = (j as usize) % self.accts.len();
        let a = self.accts[acct].id.clone();
        let rng = &mut self.c.rng;
        let tag = rand_string(rng, "", 6, HEX, 4);
        let (role, name) = match kind {
            Kind::Task | Kind::Chained => (format!("ecs-task-role-{tag}"), rand_string(rng, "", 32, HEX, 4)),
            Kind::Pod => (
                format!("pod-identity-{tag}"),
                // EKS names the session eks-CLUSTER-POD-UUID, the cluster cut to 10 characters.
                format!(
                    "eks-{}-app-{tag}-{}",
                    &"prod-cluster"[..10],
                    into_string(uuid(rng).to_vec())
                ),
            ),
            Kind::WebIdentity => (
                format!("irsa-role-{tag}"),
                format!("botocore-session-{}", 1_700_000_000 + rng.below(9_000_000)),
            ),
            Kind::Function => (format!("fn-role-{tag}"), format!("ingest-{tag}")),
        };
        let role_arn = format!("arn:aws:iam::{a}:role/{role}");
        let rid = rand_string(rng, "AROA", 17, B32, 5);
        let now = self.c.now;
        let parent = (kind == Kind::Chained).then(|| {
            let arn = format!("arn:aws:sts::{a}:assumed-role/{role}/{name}");
            (
                arn,
                role_session(rng, &a, &role, &rid, &role_arn, &name, now, false),
            )
        });
        // A chained workload calls as the child session it assumes.
        let (role, role_arn, name, rid) = if kind == Kind::Chained {
            let r = format!("chained-role-{tag}");
            let ra = format!("arn:aws:iam::{a}:role/{r}");
            let rid = rand_string(rng, "AROA", 17, B32, 5);
            (r, ra, format!("chained-{tag}"), rid)
        } else {
            (role, role_arn, name, rid)
        };
        let ident = role_session(rng, &a, &role, &rid, &role_arn, &name, now, false);
        let key = key_of(&ident);
        let arn = format!("arn:aws:sts::{a}:assumed-role/{role}/{name}");
        let vpc = in_vpc(kind, j);
        let own_ips = match kind {
            // Many execution environments, each its own EC2 address in the function's region; a
            // VPC function's leave through its VPC's NAT gateway, one address there.
            Kind::Function => (0..if vpc { 1 } else { 3 })
                .map(|_| self.fresh(us_west_2_ec2))
                .collect(),
            // A task in a private subnet leaves through its VPC's NAT gateway, an EC2 address of
            // its region (so that a thief in another region is told apart, rule 17).
            Kind::Task => vec![self.fresh(us_west_2_ec2)],
            _ => vec![self.fresh(|r| v4(r, POOL_AWS))],
        };
        let (eni, private_ip) = match kind {
            Kind::Task => (
                Some(hex_id(&mut self.c.rng, "eni-0", 16)),
                Some(self.fresh(private_v4)),
            ),
            Kind::Function if vpc => (None, Some(self.fresh(private_v4))),
            _ => (None, None),
        };
        let mut script = match kind {
            Kind::Task => vec![Own::RunTask, Own::Issue],
            Kind::Chained => vec![Own::Issue, Own::ChainAssume],
            Kind::Function if vpc => vec![Own::CreateFunction, Own::Issue],
            _ => vec![Own::Issue],
        };
        script.extend([Own::Call; OWN_CALLS]);
        if kind == Kind::Task {
            script.push(Own::StopTask);
        }
        let theft = theft_of(kind, j);
        let thief_ip = theft.map(|t| match (t, kind) {
            (Theft::FirstViaEndpoint, _) => self.fresh(on_premises),
            (Theft::First, Kind::Task) => self.fresh(us_east_1_ec2),
            _ => self.fresh(|r| v4(r, POOL_THIEF)),
        });
        WState {
            kind,
            acct,
            role_arn,
            name,
            ident,
            arn: arn.clone(),
            key,
            parent,
            own_ips,
            eni,
            private_ip,
            script,
            theft,
            thief_ip,
            issued: now,
            truth: Incident {
                session_arn: arn,
                account_id: a,
                attacker_first: theft.is_some_and(|t| t != Theft::After),
                ..Incident::default()
            },
        }
    }

    pub(crate) fn workload_step(&mut self, w: usize, step: u32) -> bool {
        if step >= THIEF_STEP {
            self.workload_thief(w, step - THIEF_STEP);
            return true;
        }
        let t = self.c.now;
        let st = &self.workloads[w];
        let Some(&own) = st.script.get(step as usize) else {
            return false;
        };
        let calls_before = st.script[..step as usize]
            .iter()
            .filter(|&&o| o == Own::Call)
            .count();
        match own {
            Own::RunTask => self.workload_run_task(w),
            Own::CreateFunction => self.workload_create_function(w),
            Own::Issue => self.workload_issue(w),
            Own::ChainAssume => self.chain_assume(w),
            Own::Call => self.workload_call(w, calls_before),
            Own::StopTask => self.workload_stop_task(w),
        }
        let st = &self.workloads[w];
        let first_call = st.first_call();
        let thief_first = st.theft.is_some_and(|t| t != Theft::After);
        if thief_first && step + 1 == first_call {
            // The thief's first call comes before the workload's first; that call schedules the
            // workload's.
            let at = t + self.c.rng.between(1, 10);
            self.schedule(at, Act::Workload { w, step: THIEF_STEP });
            return true;
        }
        if let Some(&next_own) = st.script.get(step as usize + 1) {
            let next = t + if next_own == Own::StopTask {
                self.c.rng.between(120, 300)
            } else {
                self.c.rng.between(1, 20)
            };
            if next < self.workloads[w].issued + 3000 {
                self.schedule(next, Act::Workload { w, step: step + 1 });
            }
        }
        // The thief who comes after the workload's first own call, whose address locks.
        if step == first_call && self.workloads[w].theft == Some(Theft::After) {
            let at = t + self.c.rng.between(2, 30);
            self.schedule(at, Act::Workload { w, step: THIEF_STEP });
        }
        true
    }

    /// RunTask by CI for the workload's task: its interface and private address (awsvpc).
    fn workload_run_task(&mut self, w: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let ip = c.rng.pick(&a.ci_ips).as_str();
        let started = ecs::Started {
            region: REGION,
            task: &st.name,
            eni: st.eni.as_deref().unwrap_or_default(),
            private_ip: st.private_ip.as_deref().unwrap_or_default(),
        };
        ecs::run_one_task(c, a, &mut b, ip, &started);
        self.push(b, Deliver::Anchor);
    }

    /// StopTask by CI for the workload's task.
    fn workload_stop_task(&mut self, w: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let ip = c.rng.pick(&a.ci_ips).as_str();
        ecs::stop_task(c, a, &mut b, ip, REGION, &st.name);
        self.push(b, Deliver::Anchor);
    }

    /// CreateFunction by CI for the workload's function, in its account's VPC.
    fn workload_create_function(&mut self, w: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let ip = c.rng.pick(&a.ci_ips).as_str();
        lambda::create_function_in_vpc(c, a, &mut b, ip, REGION, &st.name, &st.role_arn);
        self.push(b, Deliver::Anchor);
    }

    /// The record that issues the workload's session (for a chained one, its parent task's).
    fn workload_issue(&mut self, w: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let (role_arn, name, key, arn) = match &st.parent {
            // The parent task session: its role and name are in its ARN.
            Some((parent_arn, ident)) => {
                let (role, name) = role_and_name(parent_arn);
                (
                    format!("arn:aws:iam::{}:role/{role}", a.id),
                    name.to_string(),
                    key_of(ident),
                    parent_arn.clone(),
                )
            }
            None => (
                st.role_arn.clone(),
                st.name.clone(),
                st.key.clone(),
                st.arn.clone(),
            ),
        };
        let service = match st.kind {
            Kind::Task | Kind::Chained => Some("ecs-tasks.amazonaws.com"),
            Kind::Pod => Some("pods.eks.amazonaws.com"),
            Kind::Function => Some("lambda.amazonaws.com"),
            Kind::WebIdentity => None,
        };
        issue_head(c, &mut b, service, &a.id, &st.own_ips[0]);
        put!(
            b,
            ",\"requestParameters\":{\"roleArn\":\"",
            role_arn,
            "\",\"roleSessionName\":\"",
            name,
            "\""
        );
        if st.kind == Kind::Pod {
            put!(
                b,
                ",\"tags\":[{\"key\":\"eks-cluster-name\",\"value\":\"prod-cluster\"},{\"key\":\"kubernetes-namespace\",\"value\":\"default\"},{\"key\":\"kubernetes-service-account\",\"value\":\"app\"},{\"key\":\"kubernetes-pod-name\",\"value\":\"",
                name,
                "\"}]"
            );
        }
        put!(
            b,
            "},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"",
            key,
            "\",\"sessionToken\":\""
        );
        c.token(&mut b);
        let exp = expiration_text(c.now + 3600);
        put!(
            b,
            "\",\"expiration\":\"",
            exp,
            "\"},\"assumedRoleUser\":{\"assumedRoleId\":\"AROA"
        );
        push_rand(&mut b, &mut c.rng, 17, B32, 5);
        put!(b, ":", name, "\",\"arn\":\"", arn, "\"}}");
        c.ids(&mut b, ReqId::Uuid, true);
        c.tail(
            &mut b,
            "AwsApiCall",
            true,
            &a.id,
            service.is_some(),
            None,
            "Management",
            &[],
            false,
        );
        self.push(b, Deliver::Anchor);
    }

    /// A chained workload's parent task session assumes the child role from the task's address.
    fn chain_assume(&mut self, w: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let Some((_, parent)) = &st.parent else {
            return;
        };
        c.head(
            &mut b,
            "1.08",
            parent,
            None,
            "sts.amazonaws.com",
            "AssumeRole",
            REGION,
            &st.own_ips[0],
            &[SDK_UA],
        );
        put!(
            b,
            ",\"requestParameters\":{\"roleArn\":\"",
            st.role_arn,
            "\",\"roleSessionName\":\"",
            st.name,
            "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"",
            st.key,
            "\",\"sessionToken\":\""
        );
        c.token(&mut b);
        let exp = expiration_text(c.now + 3600);
        put!(
            b,
            "\",\"expiration\":\"",
            exp,
            "\"},\"assumedRoleUser\":{\"assumedRoleId\":\"AROA"
        );
        push_rand(&mut b, &mut c.rng, 17, B32, 5);
        put!(b, ":", st.name, "\",\"arn\":\"", st.arn, "\"}}");
        c.ids(&mut b, ReqId::Uuid, false);
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
        self.push(b, Deliver::Anchor);
    }

    /// The workload's `k`th own call (from 0), from one of its own addresses: a task's and a VPC
    /// function's odd calls go through the account's VPC endpoint from the private address, the
    /// others leave through the NAT gateway.
    fn workload_call(&mut self, w: usize, k: usize) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        let kind = *c
            .rng
            .pick(&[IC::S3Get, IC::S3Put, IC::DdbGet, IC::SecretGet, IC::StsGci]);
        let (ip, vpce) = match &st.private_ip {
            Some(p) if k % 2 == 1 => (p.as_str(), Some(endpoint(a, endpoint_of(kind)))),
            _ => (st.own_ips[k % st.own_ips.len()].as_str(), None),
        };
        let who = Who {
            ident: &st.ident,
            invoked_by: None,
            ip,
            ua: [SDK_UA, ""],
            vpce,
            arn: &st.arn,
            thief: false,
        };
        api_call(c, a, &mut b, REGION, &st.name, kind, &who);
        self.push(b, if k == 0 { Deliver::Anchor } else { Deliver::Jitter });
        let eid = into_string(self.c.last_event_id.to_vec());
        self.truth.workload_event_ids.push(eid);
    }

    /// The thief's `idx`th call (from 0). A thief who calls first schedules the workload's first
    /// call after their own first, and their second after it.
    fn workload_thief(&mut self, w: usize, idx: u32) {
        let mut b = self.buf();
        let st = &self.workloads[w];
        let (Some(ip), Some(theft)) = (st.thief_ip.as_deref(), st.theft) else {
            return;
        };
        let a = &self.accts[st.acct];
        let c = &mut self.c;
        // ListBuckets is S3's management API, which a gateway endpoint does not record.
        let kinds: &[IC] = if theft == Theft::FirstViaEndpoint {
            &[IC::S3Get, IC::SecretGet, IC::StsGci]
        } else {
            &[IC::ListBuckets, IC::S3Get, IC::SecretGet, IC::StsGci]
        };
        let kind = *c.rng.pick(kinds);
        let vpce = (theft == Theft::FirstViaEndpoint).then(|| endpoint(a, endpoint_of(kind)));
        let who = Who {
            ident: &st.ident,
            invoked_by: None,
            ip,
            ua: [THIEF_UA, kind.cli_command()],
            vpce,
            arn: &st.arn,
            thief: true,
        };
        api_call(c, a, &mut b, REGION, &st.name, kind, &who);
        let ip = ip.to_string();
        self.push(
            b,
            if idx == 0 {
                Deliver::Anchor
            } else {
                Deliver::Jitter
            },
        );
        let eid = into_string(self.c.last_event_id.to_vec());
        let st = &mut self.workloads[w];
        if st.truth.thief_event_ids.is_empty() {
            st.truth.access_key_id = st.key.clone();
            st.truth.instance_id = st.name.clone();
            st.truth.thief_ips.push(ip.clone());
            self.truth.attacked_sessions.push(st.arn.clone());
            if !self.truth.thief_ips.contains(&ip) {
                self.truth.thief_ips.push(ip);
            }
        }
        st.truth.thief_event_ids.push(eid.clone());
        self.truth.thief_event_ids.push(eid);
        let t = self.c.now;
        let issued = self.workloads[w].issued;
        let next = if idx == 0 && theft != Theft::After {
            let first = self.workloads[w].first_call();
            let own = t + self.c.rng.between(2, 10);
            self.schedule(own, Act::Workload { w, step: first });
            t + self.c.rng.between(15, 40)
        } else {
            t + self.c.rng.between(1, 20)
        };
        if idx + 1 < THIEF_CALLS && next < issued + 3000 {
            self.schedule(
                next,
                Act::Workload {
                    w,
                    step: THIEF_STEP + idx + 1,
                },
            );
        }
    }

    /// Incidents of the workloads whose thieves called, for [`crate::Truth::incidents`].
    pub(crate) fn workload_incidents(&self) -> impl Iterator<Item = Incident> + '_ {
        self.workloads
            .iter()
            .filter(|s| !s.truth.thief_event_ids.is_empty())
            .map(|s| s.truth.clone())
    }
}

/// The head of an issuing record: an AWS service's AssumeRole for its workload, or (`service`
/// none) the workload's own AssumeRoleWithWebIdentity from `ip`.
fn issue_head(c: &mut Core, b: &mut Vec<u8>, service: Option<&str>, acct: &str, ip: &str) {
    match service {
        Some(s) => {
            let ident = format!("{{\"type\":\"AWSService\",\"invokedBy\":\"{s}\"}}");
            c.head(
                b,
                "1.08",
                ident.as_bytes(),
                None,
                "sts.amazonaws.com",
                "AssumeRole",
                REGION,
                s,
                &[s],
            );
        }
        None => {
            let provider = format!(
                "arn:aws:iam::{}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/8BA4C1E2",
                acct
            );
            let ident = format!(
                "{{\"type\":\"WebIdentityUser\",\"principalId\":\"{provider}:sts.amazonaws.com:system:serviceaccount:default:app\",\"userName\":\"system:serviceaccount:default:app\",\"identityProvider\":\"{provider}\"}}"
            );
            c.head(
                b,
                "1.08",
                ident.as_bytes(),
                None,
                "sts.amazonaws.com",
                "AssumeRoleWithWebIdentity",
                REGION,
                ip,
                &[SDK_UA],
            );
        }
    }
}

/// The account endpoint a call of `kind` goes through (`Account::vpce`: S3's gateway, Secrets
/// Manager's, another service's).
fn endpoint_of(kind: IC) -> usize {
    match kind {
        IC::S3Get | IC::S3Put | IC::S3List | IC::ListBuckets => 0,
        IC::SecretGet => 1,
        _ => 3,
    }
}

/// An EC2 address of us-west-2 (18.236.0.0/15 in AWS's ranges and in the tests' sample).
fn us_west_2_ec2(r: &mut ChaCha8Rng) -> String {
    let x = r.next_u32();
    format!(
        "18.{}.{}.{}",
        236 + (x & 1),
        (x >> 1) & 0xff,
        1 + ((x >> 9) % 254)
    )
}

/// An EC2 address of us-east-1 (3.80.0.0/12): a thief's own machine in another region.
fn us_east_1_ec2(r: &mut ChaCha8Rng) -> String {
    let x = r.next_u32();
    format!(
        "3.{}.{}.{}",
        80 + (x & 15),
        (x >> 4) & 0xff,
        1 + ((x >> 12) % 254)
    )
}

/// An on-premises address behind Direct Connect (192.168/16, which [`private_v4`] never draws).
fn on_premises(r: &mut ChaCha8Rng) -> String {
    let x = r.next_u32();
    format!("192.168.{}.{}", x & 0xff, 1 + ((x >> 8) % 254))
}

/// The `accessKeyId` inside a session identity [`role_session`] wrote.
fn key_of(ident: &[u8]) -> String {
    let s = String::from_utf8_lossy(ident);
    s.split("\"accessKeyId\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// `ROLE` and `NAME` of `arn:aws:sts::ACCT:assumed-role/ROLE/NAME`.
fn role_and_name(arn: &str) -> (&str, &str) {
    let rest = arn.split_once("assumed-role/").map_or("", |p| p.1);
    rest.split_once('/').unwrap_or((rest, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenConfig, generate_to_vec};

    #[test]
    fn counts_parse_and_bad_ones_are_refused() {
        let w = Workloads::parse("task=2,chained=1").unwrap();
        assert_eq!((w.task, w.chained, w.pod), (2, 1, 0));
        assert!(!Workloads::parse("").unwrap().any());
        for bad in ["task", "task=x", "vm=1", "pod=10001"] {
            assert!(Workloads::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_is_issued_as_aws_issues_it_and_the_stream_stays_exact() {
        let cfg = GenConfig {
            records: 3000,
            workloads: Workloads::parse("task=1,pod=1,web_identity=1,function=1,chained=1").unwrap(),
            ..GenConfig::default()
        };
        let (out, truth) = generate_to_vec(&cfg);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3000);
        for issuer in [
            "\"sourceIPAddress\":\"ecs-tasks.amazonaws.com\"",
            "\"sourceIPAddress\":\"pods.eks.amazonaws.com\"",
            "\"sourceIPAddress\":\"lambda.amazonaws.com\"",
            "\"eventName\":\"AssumeRoleWithWebIdentity\"",
            "\"kubernetes-namespace\"",
            "assumed-role/chained-role-",
        ] {
            assert!(text.contains(issuer), "{issuer}");
        }
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        // Five stolen workloads besides the default config's three instance incidents.
        assert_eq!(truth.incidents.len(), 8);
        let again = generate_to_vec(&cfg);
        assert_eq!(again.1, truth);
    }
}
