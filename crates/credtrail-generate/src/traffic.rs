//! Background traffic: instance sessions' own calls, calls AWS makes on their behalf, and
//! everyone else (people, CI, Lambda and ECS tasks, services).

use crate::prelude::*;

/// A large deployment call by CI: a task definition, an image manifest or a role policy.
pub(crate) fn big_ci_call(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
    match c.rng.below(3) {
        0 => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "ecs.amazonaws.com",
                "RegisterTaskDefinition",
                region,
                ip,
                &[TF_UA],
            );
            let n_env = 5 + c.rng.below(60) as usize;
            let n_ctr = 1 + c.rng.below(3) as usize;
            let mut defs = Vec::with_capacity(n_ctr * (n_env * 70 + 600));
            put!(defs, "[");
            for k in 0..n_ctr {
                if k > 0 {
                    put!(defs, ",");
                }
                let app = *c.rng.pick(APPS);
                put!(
                    defs,
                    "{\"name\":\"",
                    app,
                    "\",\"image\":\"",
                    a.id,
                    ".dkr.ecr.",
                    region,
                    ".amazonaws.com/",
                    app,
                    ":"
                );
                push_rand(&mut defs, &mut c.rng, 12, HEX, 4);
                put!(
                    defs,
                    "\",\"cpu\":512,\"memory\":1024,\"portMappings\":[{\"containerPort\":8080,\"hostPort\":8080,\"protocol\":\"tcp\"}],\"essential\":true,\"environment\":["
                );
                for e in 0..n_env {
                    if e > 0 {
                        put!(defs, ",");
                    }
                    put!(defs, "{\"name\":\"", ENV_NAMES[e % ENV_NAMES.len()], "_");
                    push_u64(&mut defs, e as u64);
                    put!(defs, "\",\"value\":\"");
                    push_rand(&mut defs, &mut c.rng, 8 + (e % 24), ALNUM, 6);
                    put!(defs, "\"}");
                }
                put!(
                    defs,
                    "],\"logConfiguration\":{\"logDriver\":\"awslogs\",\"options\":{\"awslogs-group\":\"/ecs/",
                    app,
                    "\",\"awslogs-region\":\"",
                    region,
                    "\",\"awslogs-stream-prefix\":\"ecs\"}}}"
                );
            }
            put!(defs, "]");
            put!(
                b,
                ",\"requestParameters\":{\"family\":\"",
                a.env,
                "-app\",\"taskRoleArn\":\"",
                a.ecs_tasks[0].1,
                "\",\"networkMode\":\"awsvpc\",\"containerDefinitions\":",
                defs,
                ",\"requiresCompatibilities\":[\"FARGATE\"],\"cpu\":\"1024\",\"memory\":\"2048\"}"
            );
            put!(
                b,
                ",\"responseElements\":{\"taskDefinition\":{\"taskDefinitionArn\":\"arn:aws:ecs:",
                region,
                ":",
                a.id,
                ":task-definition/",
                a.env,
                "-app:"
            );
            push_u64(b, 1 + c.rng.below(900));
            put!(
                b,
                "\",\"containerDefinitions\":",
                defs,
                ",\"family\":\"",
                a.env,
                "-app\",\"status\":\"ACTIVE\",\"revision\":7}}"
            );
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["ecs.", region, ".amazonaws.com"],
                false,
            );
        }
        1 => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "ecr.amazonaws.com",
                "PutImage",
                region,
                ip,
                &[TF_UA],
            );
            let n = 3 + c.rng.below(25) as usize;
            let mut m = Vec::with_capacity(n * 200 + 400);
            put!(
                m,
                "{\\n   \\\"schemaVersion\\\": 2,\\n   \\\"mediaType\\\": \\\"application/vnd.docker.distribution.manifest.v2+json\\\",\\n   \\\"config\\\": {\\n      \\\"mediaType\\\": \\\"application/vnd.docker.container.image.v1+json\\\",\\n      \\\"size\\\": 7023,\\n      \\\"digest\\\": \\\"sha256:"
            );
            push_rand(&mut m, &mut c.rng, 64, HEX, 4);
            put!(m, "\\\"\\n   },\\n   \\\"layers\\\": [");
            for k in 0..n {
                put!(
                    m,
                    if k > 0 { "," } else { "" },
                    "\\n      {\\n         \\\"mediaType\\\": \\\"application/vnd.docker.image.rootfs.diff.tar.gzip\\\",\\n         \\\"size\\\": "
                );
                push_u64(&mut m, 1000 + c.rng.below(90_000_000));
                put!(m, ",\\n         \\\"digest\\\": \\\"sha256:");
                push_rand(&mut m, &mut c.rng, 64, HEX, 4);
                put!(m, "\\\"\\n      }");
            }
            put!(m, "\\n   ]\\n}");
            let repo = *c.rng.pick(APPS);
            put!(
                b,
                ",\"requestParameters\":{\"repositoryName\":\"",
                repo,
                "\",\"imageTag\":\""
            );
            push_rand(b, &mut c.rng, 12, HEX, 4);
            put!(
                b,
                "\",\"imageManifest\":\"",
                m,
                "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}"
            );
            put!(
                b,
                ",\"responseElements\":{\"image\":{\"registryId\":\"",
                a.id,
                "\",\"repositoryName\":\"",
                repo,
                "\",\"imageId\":{\"imageDigest\":\"sha256:"
            );
            push_rand(b, &mut c.rng, 64, HEX, 4);
            put!(
                b,
                "\"},\"imageManifest\":\"",
                m,
                "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}}"
            );
            c.ids(b, ReqId::Uuid, false);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                a.id,
                "\",\"ARN\":\"arn:aws:ecr:",
                region,
                ":",
                a.id,
                ":repository/",
                repo,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["api.ecr.", region, ".amazonaws.com"],
                false,
            );
        }
        _ => {
            c.head(
                b,
                "1.08",
                &a.ci,
                None,
                "iam.amazonaws.com",
                "PutRolePolicy",
                "us-east-1",
                ip,
                &[TF_UA],
            );
            let n = 2 + c.rng.below(30) as usize;
            put!(
                b,
                ",\"requestParameters\":{\"roleName\":\"",
                a.ecs_tasks[1].1.rsplit('/').next().unwrap_or("role"),
                "\",\"policyName\":\"inline-access\",\"policyDocument\":\"{\\n  \\\"Version\\\": \\\"2012-10-17\\\",\\n  \\\"Statement\\\": ["
            );
            for k in 0..n {
                let bucket = c.rng.pick(&a.buckets);
                put!(
                    b,
                    if k > 0 { "," } else { "" },
                    "\\n    {\\n      \\\"Sid\\\": \\\"S"
                );
                push_u64(b, k as u64);
                put!(
                    b,
                    "\\\",\\n      \\\"Effect\\\": \\\"Allow\\\",\\n      \\\"Action\\\": [\\n        \\\"s3:GetObject\\\",\\n        \\\"s3:PutObject\\\",\\n        \\\"s3:ListBucket\\\"\\n      ],\\n      \\\"Resource\\\": [\\n        \\\"arn:aws:s3:::",
                    bucket,
                    "\\\",\\n        \\\"arn:aws:s3:::",
                    bucket,
                    "/*\\\"\\n      ]\\n    }"
                );
            }
            put!(b, "\\n  ]\\n}\"},\"responseElements\":null");
            c.ids(b, ReqId::Uuid, false);
            c.tail(
                b,
                "AwsApiCall",
                true,
                &a.id,
                false,
                None,
                "Management",
                &["iam.amazonaws.com"],
                false,
            );
        }
    }
}

pub(crate) const ENV_NAMES: &[&str] = &[
    "DATABASE_URL",
    "REDIS_HOST",
    "LOG_LEVEL",
    "FEATURE_FLAG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "AWS_REGION",
    "QUEUE_URL",
    "SENTRY_DSN",
    "HTTP_TIMEOUT_MS",
    "CACHE_TTL",
];

/// `ecs:RunTask`, whose response describes the started tasks in detail.
pub(crate) fn ecs_run_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
    c.head(
        b,
        "1.08",
        &a.ci,
        None,
        "ecs.amazonaws.com",
        "RunTask",
        region,
        ip,
        &[TF_UA],
    );
    let n = 1 + c.rng.below(8) as usize;
    let td = format!(
        "arn:aws:ecs:{region}:{}:task-definition/{}-app:{}",
        a.id,
        a.env,
        1 + c.rng.below(300)
    );
    put!(
        b,
        ",\"requestParameters\":{\"cluster\":\"",
        a.cluster,
        "\",\"count\":"
    );
    push_u64(b, n as u64);
    put!(
        b,
        ",\"launchType\":\"FARGATE\",\"taskDefinition\":\"",
        td,
        "\",\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"",
        a.subnets[0],
        "\",\"",
        a.subnets[1],
        "\"],\"securityGroups\":[\"",
        a.sg,
        "\"],\"assignPublicIp\":\"DISABLED\"}},\"enableECSManagedTags\":true,\"enableExecuteCommand\":false}"
    );
    put!(b, ",\"responseElements\":{\"failures\":[],\"tasks\":[");
    for k in 0..n {
        let task = hex_id(&mut c.rng, "", 32);
        let eni = hex_id(&mut c.rng, "eni-0", 16);
        let pip = private_v4(&mut c.rng);
        put!(
            b,
            if k > 0 { "," } else { "" },
            "{\"attachments\":[{\"id\":\"",
            uuid(&mut c.rng),
            "\",\"type\":\"ElasticNetworkInterface\",\"status\":\"PRECREATED\",\"details\":[{\"name\":\"subnetId\",\"value\":\"",
            a.subnets[0],
            "\"},{\"name\":\"networkInterfaceId\",\"value\":\"",
            eni,
            "\"},{\"name\":\"privateIPv4Address\",\"value\":\"",
            pip,
            "\"}]}]"
        );
        put!(
            b,
            ",\"availabilityZone\":\"",
            region,
            "a\",\"clusterArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":cluster/",
            a.cluster,
            "\",\"containers\":[{\"containerArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":container/",
            a.cluster,
            "/",
            task,
            "/",
            uuid(&mut c.rng),
            "\",\"taskArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":task/",
            a.cluster,
            "/",
            task
        );
        put!(
            b,
            "\",\"name\":\"app\",\"image\":\"",
            a.id,
            ".dkr.ecr.",
            region,
            ".amazonaws.com/app:latest\",\"lastStatus\":\"PENDING\",\"networkInterfaces\":[],\"cpu\":\"512\",\"memory\":\"1024\"}],\"cpu\":\"1024\",\"createdAt\":\"",
            expiration_text(c.now),
            "\",\"desiredStatus\":\"RUNNING\",\"enableExecuteCommand\":false,\"group\":\"family:",
            a.env,
            "-app\",\"lastStatus\":\"PROVISIONING\",\"launchType\":\"FARGATE\",\"memory\":\"2048\",\"overrides\":{\"containerOverrides\":[{\"name\":\"app\"}],\"inferenceAcceleratorOverrides\":[]},\"platformVersion\":\"1.4.0\",\"platformFamily\":\"Linux\",\"tags\":[{\"key\":\"aws:ecs:clusterName\",\"value\":\"",
            a.cluster,
            "\"}],\"taskArn\":\"arn:aws:ecs:",
            region,
            ":",
            a.id,
            ":task/",
            a.cluster,
            "/",
            task,
            "\",\"taskDefinitionArn\":\"",
            td,
            "\",\"version\":1,\"ephemeralStorage\":{\"sizeInGiB\":20}}"
        );
    }
    put!(b, "]}");
    c.ids(b, ReqId::Uuid, false);
    c.tail(
        b,
        "AwsApiCall",
        true,
        &a.id,
        false,
        None,
        "Management",
        &["ecs.", region, ".amazonaws.com"],
        false,
    );
}

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
            0..=99 => {
                let (src, name, cmd, params): (&str, &str, &str, &[&str]) = match c.rng.below(4) {
                    0 => (
                        "ec2",
                        "DescribeInstances",
                        "ec2.describe-instances",
                        &[
                            "{\"instancesSet\":{},\"filterSet\":{\"items\":[{\"name\":\"instance-state-name\",\"valueSet\":{\"items\":[{\"value\":\"running\"}]}},{\"name\":\"tag:Environment\",\"valueSet\":{\"items\":[{\"value\":\"",
                            a.env,
                            "\"}]}}]}}",
                        ],
                    ),
                    1 => (
                        "ec2",
                        "DescribeAddresses",
                        "ec2.describe-addresses",
                        &["{\"publicIpsSet\":{},\"allocationIdsSet\":{},\"filterSet\":{}}"],
                    ),
                    2 => (
                        "ec2",
                        "DescribeSecurityGroups",
                        "ec2.describe-security-groups",
                        &[
                            "{\"securityGroupSet\":{},\"securityGroupIdSet\":{\"items\":[{\"groupId\":\"",
                            a.sg.as_str(),
                            "\"}]},\"filterSet\":{}}",
                        ],
                    ),
                    _ => ("iam", "ListRoles", "iam.list-roles", &["{\"maxItems\":1000}"]),
                };
                let reg = if src == "iam" { "us-east-1" } else { region };
                let source = if src == "iam" {
                    "iam.amazonaws.com"
                } else {
                    "ec2.amazonaws.com"
                };
                c.head(
                    &mut b,
                    "1.09",
                    &a.admin,
                    None,
                    source,
                    name,
                    reg,
                    &a.office_ip,
                    &[CLI_UA, cmd],
                );
                put!(b, ",\"requestParameters\":");
                for p in params {
                    put!(b, p);
                }
                put!(b, ",\"responseElements\":null");
                c.ids(&mut b, ReqId::Uuid, true);
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &[src, ".", reg, ".amazonaws.com"],
                    false,
                );
            }
            // SSO users in the console.
            100..=279 => {
                let ident = c.rng.pick(&a.sso);
                let ua = *c.rng.pick(BROWSER_UAS);
                let (source, name, params, ro): (&str, &str, &str, bool) = match c.rng.below(6) {
                    0 => (
                        "ec2.amazonaws.com",
                        "DescribeInstances",
                        "{\"maxResults\":1000,\"instancesSet\":{},\"filterSet\":{}}",
                        true,
                    ),
                    1 => (
                        "monitoring.amazonaws.com",
                        "DescribeAlarms",
                        "{\"maxRecords\":100}",
                        true,
                    ),
                    2 => (
                        "s3.amazonaws.com",
                        "GetBucketLocation",
                        "{\"location\":\"\",\"Host\":\"s3.amazonaws.com\"}",
                        true,
                    ),
                    3 => (
                        "cloudtrail.amazonaws.com",
                        "LookupEvents",
                        "{\"maxResults\":50,\"lookupAttributes\":[{\"attributeKey\":\"ReadOnly\",\"attributeValue\":\"false\"}]}",
                        true,
                    ),
                    4 => (
                        "health.amazonaws.com",
                        "DescribeEventAggregates",
                        "{\"aggregateField\":\"eventTypeCategory\",\"filter\":{\"eventStatusCodes\":[\"open\",\"upcoming\"]}}",
                        true,
                    ),
                    _ => (
                        "ec2.amazonaws.com",
                        "ModifyInstanceAttribute",
                        "{\"instanceId\":\"i-0c0ffee0c0ffee000\",\"disableApiTermination\":{\"value\":true}}",
                        false,
                    ),
                };
                c.head(
                    &mut b,
                    "1.08",
                    ident,
                    None,
                    source,
                    name,
                    region,
                    &a.office_ip,
                    &[ua],
                );
                put!(b, ",\"requestParameters\":", params, ",\"responseElements\":null");
                c.ids(&mut b, ReqId::Uuid, ro);
                let host = source.trim_end_matches(".amazonaws.com");
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &[host, ".", region, ".amazonaws.com"],
                    true,
                );
            }
            // CI with Terraform: small reads, and now and then a large deployment call.
            280..=419 => {
                let ip = c.rng.pick(&a.ci_ips).as_str();
                if c.rng.per_mille(100) {
                    big_ci_call(c, a, &mut b, ip);
                } else {
                    let kind = *c.rng.pick(&[
                        IC::S3Get,
                        IC::S3Put,
                        IC::DdbGet,
                        IC::DdbPut,
                        IC::Ec2DescTags,
                        IC::StsGci,
                    ]);
                    let who = Who {
                        ident: &a.ci,
                        invoked_by: None,
                        ip,
                        ua: [TF_UA, ""],
                        vpce: None,
                        arn: "",
                        thief: false,
                    };
                    api_call(c, a, &mut b, region, "terraform", kind, &who);
                }
            }
            // Lambda functions, from an ever-changing AWS address.
            420..=699 => {
                let (f, _, ident) = c.rng.pick(&a.lambdas);
                let ip = v4(&mut c.rng, POOL_LAMBDA);
                let kind = *c.rng.pick(&[
                    IC::DdbPut,
                    IC::DdbQuery,
                    IC::DdbGet,
                    IC::S3Get,
                    IC::S3Put,
                    IC::KmsDecrypt,
                    IC::SecretGet,
                    IC::SsmGetParam,
                ]);
                let who = Who {
                    ident,
                    invoked_by: None,
                    ip: &ip,
                    ua: [LAMBDA_UA, ""],
                    vpce: None,
                    arn: "",
                    thief: false,
                };
                api_call(c, a, &mut b, region, f, kind, &who);
            }
            // ECS tasks behind the NAT gateway.
            700..=819 => {
                let (task, _, ident) = c.rng.pick(&a.ecs_tasks);
                let kind = *c
                    .rng
                    .pick(&[IC::DdbPut, IC::DdbGet, IC::S3Get, IC::KmsDecrypt, IC::SecretGet]);
                let who = Who {
                    ident,
                    invoked_by: None,
                    ip: &a.nat_ip,
                    ua: [ECS_TASK_UA, ""],
                    vpce: None,
                    arn: "",
                    thief: false,
                };
                api_call(c, a, &mut b, region, task, kind, &who);
            }
            // Lambda / ECS obtaining their role credentials (not an EC2 AssumeRole).
            820..=899 => {
                let (svc, session, role_arn) = if c.rng.per_mille(600) {
                    let (f, arn, _) = c.rng.pick(&a.lambdas);
                    ("lambda.amazonaws.com", f.as_str(), arn.as_str())
                } else {
                    let (t, arn, _) = c.rng.pick(&a.ecs_tasks);
                    ("ecs-tasks.amazonaws.com", t.as_str(), arn.as_str())
                };
                let mut ident = Vec::with_capacity(64);
                put!(ident, "{\"type\":\"AWSService\",\"invokedBy\":\"", svc, "\"}");
                c.head(
                    &mut b,
                    "1.08",
                    &ident,
                    None,
                    "sts.amazonaws.com",
                    "AssumeRole",
                    region,
                    svc,
                    &[svc],
                );
                put!(
                    b,
                    ",\"requestParameters\":{\"roleArn\":\"",
                    role_arn,
                    "\",\"roleSessionName\":\"",
                    session,
                    "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"ASIA"
                );
                push_rand(&mut b, &mut c.rng, 16, B32, 5);
                put!(b, "\",\"sessionToken\":\"");
                c.token(&mut b);
                put!(
                    b,
                    "\",\"expiration\":\"",
                    expiration_text(c.now + 12 * 3600),
                    "\"}}"
                );
                c.ids(&mut b, ReqId::Uuid, true);
                put!(
                    b,
                    ",\"resources\":[{\"accountId\":\"",
                    a.id,
                    "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
                    role_arn,
                    "\"}]"
                );
                c.tail(
                    &mut b,
                    "AwsApiCall",
                    true,
                    &a.id,
                    true,
                    None,
                    "Management",
                    &[],
                    false,
                );
            }
            // The autoscaling service-linked role.
            900..=939 => {
                let name = if c.rng.per_mille(500) {
                    "DescribeInstanceStatus"
                } else {
                    "DescribeInstanceAttribute"
                };
                let by = "autoscaling.amazonaws.com";
                c.head(
                    &mut b,
                    "1.09",
                    &a.autoscaling,
                    Some(by),
                    "ec2.amazonaws.com",
                    name,
                    region,
                    by,
                    &[by],
                );
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{},\"filterSet\":{},\"includeAllInstances\":false},\"responseElements\":null"
                );
                c.ids(&mut b, ReqId::Uuid, true);
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
            }
            // Console sign-ins.
            940..=983 => {
                let ok = c.rng.per_mille(900);
                let ua = *c.rng.pick(&BROWSER_UAS[..2]);
                c.head(
                    &mut b,
                    "1.08",
                    &a.console,
                    None,
                    "signin.amazonaws.com",
                    "ConsoleLogin",
                    region,
                    &a.office_ip,
                    &[ua],
                );
                if !ok {
                    put!(b, ",\"errorMessage\":\"Failed authentication\"");
                }
                put!(
                    b,
                    ",\"requestParameters\":null,\"responseElements\":{\"ConsoleLogin\":\"",
                    if ok { "Success" } else { "Failure" },
                    "\"}"
                );
                put!(
                    b,
                    ",\"additionalEventData\":{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAUsed\":\"Yes\"}"
                );
                put!(b, ",\"eventID\":\"", uuid(&mut c.rng), "\",\"readOnly\":false");
                c.tail(
                    &mut b,
                    "AwsConsoleSignIn",
                    true,
                    &a.id,
                    false,
                    None,
                    "Management",
                    &["signin.aws.amazon.com"],
                    false,
                );
            }
            // ECS RunTask by CI (large response).
            984..=998 => {
                let ip = c.rng.pick(&a.ci_ips).as_str();
                ecs_run_task(c, a, &mut b, ip);
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
