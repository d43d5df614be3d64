//! The world the traffic happens in: accounts, roles, instances and the other principals, built
//! once before the first record.

use crate::Incident;
use crate::addresses::{POOL_AWS, POOL_CI, POOL_OFFICE, POOL_THIEF, private_v4, v4, v6};
use crate::attack::IncidentState;
use crate::generator::Gen;
use crate::text::{ALNUM, B32, Draw, hex_id, put, rand_string, uuid_string};
use credtrail_time::event_time_text;
use rand_chacha::ChaCha8Rng;

pub(crate) const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];
pub(crate) const APPS: &[&str] = &[
    "web-frontend",
    "api-server",
    "batch-worker",
    "ingest",
    "kafka-broker",
    "jenkins-agent",
    "etl-runner",
    "search-node",
    "cache-proxy",
    "ml-inference",
    "bastion",
    "grafana",
    "billing",
    "payments-api",
    "media-transcoder",
    "ledger",
    "notifier",
    "crawler",
];
pub(crate) const PATHS: &[&str] = &[
    "/team/app/",
    "/platform/",
    "/data/etl/",
    "/service/web/",
    "/prod/compute/",
];
pub(crate) const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dmitri", "erin", "farid", "grace", "hiro", "ines", "jonas", "kemal", "lena",
    "mateo", "noor", "oskar", "priya",
];
pub(crate) const FUNCS: &[&str] = &[
    "orders-processor",
    "thumbnail-resizer",
    "audit-forwarder",
    "nightly-report",
    "slack-notifier",
    "token-rotator",
    "s3-indexer",
    "webhook-handler",
];
pub(crate) const SDK_UAS: &[&str] = &[
    "aws-sdk-java/1.12.470 Linux/5.10.192-183.736.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS java/17.0.8 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#5.10.197-186.748.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62",
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.40.0",
    "aws-sdk-nodejs/2.1450.0 linux/v18.17.1 exec-env/AWS_ECS_EC2 promise",
    "aws-sdk-go/1.44.329 (go1.20.7; linux; amd64)",
    "aws-sdk-ruby3/3.181.0 ua/2.0 api/s3#1.132.1 os/linux md/x86_64 lang/ruby#3.2.2 md/3.2.2",
    "aws-sdk-java/2.20.162 Linux/6.1.55-75.123.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.1+12-LTS Java/21.0.1 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-cli/2.13.25 Python/3.11.5 Linux/5.15.0-1047-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
];
pub(crate) const SSM_UA: &str = "aws-sdk-go/1.44.298 (go1.20.6; linux; amd64) amazon-ssm-agent/3.2.1297.0";
pub(crate) const ECS_UA: &str =
    "Go-http-client/1.1 (ECS Agent 1.79.2) aws-sdk-go/1.44.322 (go1.20.8; linux; amd64)";
pub(crate) const DNS_UA: &str = "aws-sdk-go/1.44.311 (go1.20.7; linux; amd64) ExternalDNS/v0.13.6";
pub(crate) const LAMBDA_UA: &str = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209-220.815.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.34";
pub(crate) const ECS_TASK_UA: &str = "aws-sdk-nodejs/3.496.0 linux/v20.11.0 exec-env/AWS_ECS_FARGATE lang/js md/nodejs#20.11.0 api/dynamodb#3.496.0";
pub(crate) const CLI_UA: &str =
    "aws-cli/2.15.17 Python/3.11.6 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off command/";
pub(crate) const TF_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.3 (+https://www.terraform.io) terraform-provider-aws/5.38.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.0 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.146.0";
pub(crate) const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "AWS Internal",
];
pub(crate) const THIEF_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/",
    "aws-cli/1.29.62 Python/3.11.5 Linux/6.5.0-kali3-amd64 botocore/1.31.62 command/",
    "aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64 prompt/off command/",
];

pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) region: &'static str,
    pub(crate) env: &'static str,
    pub(crate) buckets: Vec<String>,
    pub(crate) kms_keys: Vec<String>,
    pub(crate) secrets: Vec<String>,
    pub(crate) tables: Vec<String>,
    pub(crate) cluster: String,
    pub(crate) zone: String,
    pub(crate) vpc: String,
    pub(crate) subnets: Vec<String>,
    pub(crate) sg: String,
    pub(crate) ami: String,
    /// Endpoints for S3 (gateway), KMS/Secrets Manager, SSM, other services.
    pub(crate) vpce: [String; 4],
    pub(crate) admin: Vec<u8>,
    pub(crate) console: Vec<u8>,
    pub(crate) ci: Vec<u8>,
    pub(crate) sso: Vec<Vec<u8>>,
    /// (function name, role ARN, session identity)
    pub(crate) lambdas: Vec<(String, String, Vec<u8>)>,
    /// (task id, role ARN, session identity)
    pub(crate) ecs_tasks: Vec<(String, String, Vec<u8>)>,
    pub(crate) autoscaling: Vec<u8>,
    pub(crate) office_ip: String,
    pub(crate) ci_ips: Vec<String>,
    pub(crate) nat_ip: String,
    pub(crate) roles: Vec<usize>,
}

pub(crate) struct Role {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) id: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// Calls from its public IPv4 address.
    V4,
    /// Calls from its IPv6 address (dual-stack endpoints).
    V6,
    /// Private subnet: every call through a VPC endpoint, from its private address.
    Vpce,
    /// Public IPv4, but S3 through a gateway endpoint (private source, `vpcEndpointId`).
    Mixed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum St {
    NotLaunched,
    Running,
    Stopped,
}

#[derive(Clone)]
pub(crate) struct Sess {
    pub(crate) key: String,
    pub(crate) ident: Vec<u8>,
    pub(crate) created: i64,
}

pub(crate) struct Inst {
    pub(crate) id: String,
    pub(crate) acct: usize,
    pub(crate) role: usize,
    pub(crate) region: &'static str,
    pub(crate) mode: Mode,
    /// The primary source address: public v4, v6, or (Vpce) private.
    pub(crate) ip: String,
    pub(crate) private_ip: String,
    pub(crate) eni: String,
    pub(crate) subnet: String,
    pub(crate) arn: String,
    pub(crate) st: St,
    /// Bumped by StopInstances: actions scheduled before it are void.
    pub(crate) epoch: u32,
    /// Periodic refreshes carry it; a newer issue voids older refreshes.
    pub(crate) refresh_gen: u32,
    pub(crate) sess: Option<Sess>,
    pub(crate) issued: Option<Sess>,
    pub(crate) enabled: bool,
    pub(crate) pending_ip: Option<String>,
    pub(crate) pending_eip: Option<(String, String)>,
    /// Event times of planned address changes not yet emitted, ascending.
    pub(crate) barriers: Vec<i64>,
    pub(crate) sdk: &'static str,
    pub(crate) delivery: &'static str,
    pub(crate) last_issue: i64,
    pub(crate) launched_later: bool,
    pub(crate) target: bool,
    pub(crate) weight: u64,
}

pub(crate) fn endpoint(a: &Account, svc: usize) -> (&str, &str) {
    (&a.vpce[svc % 4], &a.id)
}

pub(crate) fn iam_user(rng: &mut ChaCha8Rng, acct: &str, name: &str, with_key: bool) -> Vec<u8> {
    let pid = rand_string(rng, "AIDA", 17, B32, 5);
    let key = rand_string(rng, "AKIA", 16, B32, 5);
    let mut b = Vec::with_capacity(256);
    put!(
        b,
        "{\"type\":\"IAMUser\",\"principalId\":\"",
        pid,
        "\",\"arn\":\"arn:aws:iam::",
        acct,
        ":user/",
        name,
        "\",\"accountId\":\"",
        acct,
        "\""
    );
    if with_key {
        put!(b, ",\"accessKeyId\":\"", key, "\"");
    }
    put!(b, ",\"userName\":\"", name, "\"}");
    b
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn role_session(
    rng: &mut ChaCha8Rng,
    acct: &str,
    role: &str,
    role_id: &str,
    role_arn: &str,
    session: &str,
    created: i64,
    mfa: bool,
) -> Vec<u8> {
    let key = rand_string(rng, "ASIA", 16, B32, 5);
    let mut b = Vec::with_capacity(700);
    put!(
        b,
        "{\"type\":\"AssumedRole\",\"principalId\":\"",
        role_id,
        ":",
        session,
        "\",\"arn\":\"arn:aws:sts::",
        acct,
        ":assumed-role/",
        role,
        "/",
        session,
        "\",\"accountId\":\"",
        acct,
        "\",\"accessKeyId\":\"",
        key,
        "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
        role_id,
        "\",\"arn\":\"",
        role_arn,
        "\",\"accountId\":\"",
        acct,
        "\",\"userName\":\"",
        role,
        "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"",
        event_time_text(created),
        "\",\"mfaAuthenticated\":\"",
        if mfa { "true" } else { "false" },
        "\"}}}"
    );
    b
}

impl Gen<'_> {
    pub(crate) fn fresh(&mut self, f: impl Fn(&mut ChaCha8Rng) -> String) -> String {
        loop {
            let ip = f(&mut self.c.rng);
            if self.used_ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    pub(crate) fn fresh_public(&mut self) -> String {
        self.fresh(|r| v4(r, POOL_AWS))
    }

    /// Builds the accounts, the instances and the incidents, in that order (the draws follow it).
    pub(crate) fn build_world(&mut self) {
        let n_accts = self.cfg.accounts.max(1);
        for a in 0..n_accts {
            let acct = self.build_account(a);
            self.accts.push(acct);
        }
        let n = self.cfg.instances;
        let attacks = self.cfg.attacks.min(n);
        let n_af = attacks / 2;
        let n_if = attacks - n_af;
        let n_launch = (n_af + n / 20).min(n - n_if);
        let first_launched = n - n_launch;
        self.build_instances(n_accts, first_launched, n_af);
        self.build_incidents(attacks, first_launched);
    }

    /// Account number `a`, with its resources, principals and instance roles.
    fn build_account(&mut self, a: usize) -> Account {
        let start = self.cfg.start;
        let nat_ip = self.fresh_public();
        let rng = &mut self.c.rng;
        let id = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
        let region = if a == 0 { "us-east-1" } else { *rng.pick(REGIONS) };
        let org = *rng.pick(&["acme", "globex", "initech", "umbrella", "hooli", "stark"]);
        let env = *rng.pick(&["prod", "staging", "shared", "data"]);
        let buckets = (0..4)
            .map(|k| {
                let kind = ["assets", "logs", "artifacts", "datalake", "backups", "uploads"][(k + a) % 6];
                format!("{org}-{env}-{kind}-{}", hex_id(rng, "", 6))
            })
            .collect();
        let kms_keys = (0..3).map(|_| uuid_string(rng)).collect();
        let secrets = ["db/primary", "api/stripe", "oauth/client", "redis/auth"]
            .iter()
            .map(|s| {
                format!(
                    "arn:aws:secretsmanager:{region}:{id}:secret:{env}/{s}-{}",
                    rand_string(rng, "", 6, ALNUM, 6)
                )
            })
            .collect();
        let tables = ["orders", "sessions", "inventory", "idempotency-keys"]
            .iter()
            .map(|s| format!("{env}-{s}"))
            .collect();
        let vpce = [
            hex_id(rng, "vpce-0", 16),
            hex_id(rng, "vpce-0", 16),
            hex_id(rng, "vpce-0", 16),
            hex_id(rng, "vpce-0", 16),
        ];
        let admin_name = *rng.pick(&["ops-admin", "platform-admin", "netops"]);
        let admin = iam_user(rng, &id, admin_name, true);
        let console = iam_user(rng, &id, PEOPLE[(a * 5 + 3) % PEOPLE.len()], false);
        let ci = iam_user(rng, &id, "ci-deployer", true);
        let sso = sso_sessions(rng, a, &id, org, start);
        let lambdas = lambda_sessions(rng, a, &id, start);
        let ecs_tasks = ecs_task_sessions(rng, &id, start);
        let autoscaling = autoscaling_session(rng, &id, start);
        let office_ip = v4(rng, POOL_OFFICE);
        let ci_ips = (0..3).map(|_| v4(rng, POOL_CI)).collect();
        let n_roles = 3 + rng.below(4) as usize;
        let mut roles = Vec::new();
        for k in 0..n_roles {
            let app = APPS[(a * 5 + k * 7 + rng.below(3) as usize) % APPS.len()];
            let name = match rng.below(3) {
                0 => format!("{app}-instance-role"),
                1 => format!("{app}-InstanceRole-{}", rand_string(rng, "", 12, B32, 5)),
                _ => format!("{app}Role"),
            };
            let path = if rng.per_mille(300) { *rng.pick(PATHS) } else { "/" };
            let arn = format!("arn:aws:iam::{id}:role{path}{name}");
            let rid = rand_string(rng, "AROA", 17, B32, 5);
            roles.push(self.roles.len());
            self.roles.push(Role { name, arn, id: rid });
        }
        Account {
            region,
            env,
            buckets,
            kms_keys,
            secrets,
            tables,
            cluster: format!("{env}-cluster"),
            zone: rand_string(rng, "Z0", 19, B32, 5),
            vpc: hex_id(rng, "vpc-0", 16),
            subnets: (0..3).map(|_| hex_id(rng, "subnet-0", 16)).collect(),
            sg: hex_id(rng, "sg-0", 16),
            ami: hex_id(rng, "ami-0", 16),
            vpce,
            admin,
            console,
            ci,
            sso,
            lambdas,
            ecs_tasks,
            autoscaling,
            office_ip,
            ci_ips,
            nat_ip,
            roles,
            id,
        }
    }

    /// The instances: the last `n - first_launched` are launched during the stream, the first
    /// `n_af` of those for attacker-first incidents.
    fn build_instances(&mut self, n_accts: usize, first_launched: usize, n_af: usize) {
        let n = self.cfg.instances;
        for k in 0..n {
            let acct = if k < n_accts {
                k
            } else {
                self.c.rng.below(n_accts as u64) as usize
            };
            let launched_later = k >= first_launched;
            // Attacker-first targets (the first launched ones) must call from a public address.
            let af_target = launched_later && k < first_launched + n_af;
            let roll = self.c.rng.below(100);
            let mode = if af_target {
                if roll < 80 { Mode::V4 } else { Mode::V6 }
            } else {
                match roll {
                    0..=69 => Mode::V4,
                    70..=79 => Mode::V6,
                    80..=89 => Mode::Vpce,
                    _ => Mode::Mixed,
                }
            };
            let private_ip = self.fresh(private_v4);
            let ip = match mode {
                Mode::V4 | Mode::Mixed => self.fresh_public(),
                Mode::V6 => self.fresh(|r| v6(r, "2600:1f18:")),
                Mode::Vpce => private_ip.clone(),
            };
            let rng = &mut self.c.rng;
            let a = &self.accts[acct];
            let role = *rng.pick(&a.roles);
            let id = hex_id(rng, "i-0", 16);
            let arn = format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                a.id, self.roles[role].name, id
            );
            let weight = [1u64, 2, 4, 8, 16][rng.below(5) as usize] * (1 + rng.below(4));
            self.insts.push(Inst {
                id,
                acct,
                role,
                region: a.region,
                mode,
                ip,
                private_ip,
                eni: hex_id(rng, "eni-0", 16),
                subnet: rng.pick(&a.subnets).clone(),
                arn,
                st: if launched_later {
                    St::NotLaunched
                } else {
                    St::Running
                },
                epoch: 0,
                refresh_gen: 0,
                sess: None,
                issued: None,
                enabled: false,
                pending_ip: None,
                pending_eip: None,
                barriers: Vec::new(),
                sdk: SDK_UAS[rng.below(SDK_UAS.len() as u64) as usize],
                delivery: if rng.per_mille(850) { "2.0" } else { "1.0" },
                last_issue: i64::MIN / 4,
                launched_later,
                target: false,
                weight,
            });
        }
        let mut acc = 0;
        self.cum_weight = self
            .insts
            .iter()
            .map(|i| {
                acc += i.weight;
                acc
            })
            .collect();
    }

    /// Incidents: even-numbered instance-first (an initial instance with a public address),
    /// odd-numbered attacker-first (an instance launched for it).
    fn build_incidents(&mut self, attacks: usize, first_launched: usize) {
        let start = self.cfg.start;
        let initial: Vec<usize> = (0..first_launched)
            .filter(|&k| self.insts[k].mode != Mode::Vpce)
            .collect();
        let mut chosen: Vec<usize> = Vec::new();
        let mut next_af = first_launched;
        let d = (self.end - start).max(1);
        for k in 0..attacks {
            let af = k % 2 == 1;
            let inst = if af {
                next_af += 1;
                Some(next_af - 1)
            } else {
                let free: Vec<usize> = initial.iter().copied().filter(|i| !chosen.contains(i)).collect();
                (!free.is_empty()).then(|| free[self.c.rng.below(free.len() as u64) as usize])
            };
            let Some(inst) = inst else { continue };
            chosen.push(inst);
            self.insts[inst].target = true;
            let n_ips = if self.c.rng.per_mille(300) { 2 } else { 1 };
            let ips = (0..n_ips).map(|_| self.fresh(|r| v4(r, POOL_THIEF))).collect();
            let rng = &mut self.c.rng;
            let spacing = (d / 200).clamp(2, 90);
            let calls = rng.between(6, 20) as u32;
            let ua = *rng.pick(THIEF_UAS);
            let i = &self.insts[inst];
            self.incidents.push(IncidentState {
                inst,
                ips,
                ua,
                stolen: None,
                calls,
                spacing,
                emitted: false,
                truth: Incident {
                    session_arn: i.arn.clone(),
                    instance_id: i.id.clone(),
                    account_id: self.accts[i.acct].id.clone(),
                    attacker_first: af,
                    ..Incident::default()
                },
            });
        }
    }
}

/// The account's SSO users' console sessions: one administrator, two read-only.
fn sso_sessions(rng: &mut ChaCha8Rng, a: usize, id: &str, org: &str, start: i64) -> Vec<Vec<u8>> {
    let mut sso = Vec::new();
    for k in 0..3 {
        let person = PEOPLE[(a * 3 + k) % PEOPLE.len()];
        let kind = if k == 0 {
            "AdministratorAccess"
        } else {
            "ReadOnlyAccess"
        };
        let r = format!("AWSReservedSSO_{kind}_{}", hex_id(rng, "", 16));
        let rid = rand_string(rng, "AROA", 17, B32, 5);
        let arn = format!("arn:aws:iam::{id}:role/aws-reserved/sso.amazonaws.com/{r}");
        let created = start - rng.between(600, 36_000);
        sso.push(role_session(
            rng,
            id,
            &r,
            &rid,
            &arn,
            &format!("{person}@{org}.com"),
            created,
            true,
        ));
    }
    sso
}

/// The account's Lambda functions: (function name, role ARN, session identity).
fn lambda_sessions(rng: &mut ChaCha8Rng, a: usize, id: &str, start: i64) -> Vec<(String, String, Vec<u8>)> {
    let mut lambdas = Vec::new();
    for k in 0..3 {
        let f = FUNCS[(a * 2 + k) % FUNCS.len()];
        let rname = format!(
            "{f}-role-{}",
            rand_string(rng, "", 8, B32, 5).to_ascii_lowercase()
        );
        let rid = rand_string(rng, "AROA", 17, B32, 5);
        let arn = format!("arn:aws:iam::{id}:role/service-role/{rname}");
        let created = start - rng.between(60, 3000);
        let ident = role_session(rng, id, &rname, &rid, &arn, f, created, false);
        lambdas.push((f.to_string(), arn, ident));
    }
    lambdas
}

/// The account's ECS task roles: (task id, role ARN, session identity).
fn ecs_task_sessions(rng: &mut ChaCha8Rng, id: &str, start: i64) -> Vec<(String, String, Vec<u8>)> {
    let mut ecs_tasks = Vec::new();
    for rname in ["ecs-task-api-role", "ecs-task-worker-role"] {
        let rid = rand_string(rng, "AROA", 17, B32, 5);
        let arn = format!("arn:aws:iam::{id}:role/{rname}");
        let task = hex_id(rng, "", 32);
        let created = start - rng.between(60, 20_000);
        let ident = role_session(rng, id, rname, &rid, &arn, &task, created, false);
        ecs_tasks.push((task, arn, ident));
    }
    ecs_tasks
}

/// The autoscaling service-linked role's session.
fn autoscaling_session(rng: &mut ChaCha8Rng, id: &str, start: i64) -> Vec<u8> {
    let asg_rid = rand_string(rng, "AROA", 17, B32, 5);
    let asg_arn = format!(
        "arn:aws:iam::{id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    );
    let created = start - rng.between(60, 3000);
    role_session(
        rng,
        id,
        "AWSServiceRoleForAutoScaling",
        &asg_rid,
        &asg_arn,
        "AutoScaling",
        created,
        false,
    )
}
