//! ECS records: the agent registering its container instance, and tasks run by CI.

use crate::addresses::private_v4;
use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{ALNUM, B64, Draw, HEX, hex_id, push_rand, push_u64, put, uuid};
use crate::world::{APPS, Account, ECS_UA, TF_UA};
use credtrail_time::expiration_text;

pub(crate) const ECS_ATTRS: &[&str] = &[
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.branch-cni-plugin-version",
    "ecs.ami-id",
    "ecs.capability.secrets.asm.bootstrap.log-driver",
    "ecs.capability.task-eia.optimized-cpu",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "ecs.capability.ecr-endpoint",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.secrets.ssm.bootstrap.log-driver",
    "ecs.capability.efsAuth",
    "ecs.capability.full-sync",
    "com.amazonaws.ecs.capability.docker-remote-api.1.30",
    "com.amazonaws.ecs.capability.docker-remote-api.1.31",
    "com.amazonaws.ecs.capability.docker-remote-api.1.32",
    "ecs.capability.firelens.options.config.file",
    "ecs.availability-zone",
    "ecs.capability.aws-appmesh",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.container-health-check",
    "ecs.capability.pid-ipc-namespace-sharing",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.os-type",
    "ecs.cpu-architecture",
];

/// The ECS agent's RegisterContainerInstance, with its long attribute list.
pub(crate) fn register_container_instance(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "ecs.amazonaws.com",
        "RegisterContainerInstance",
        region,
        who.ip,
        &[ECS_UA],
    );
    let n = 20 + c.rng.below(80) as usize;
    let mut attrs = Vec::with_capacity(n * 70);
    put!(attrs, "[");
    for k in 0..n {
        if k > 0 {
            put!(attrs, ",");
        }
        put!(attrs, "{\"name\":\"", ECS_ATTRS[k % ECS_ATTRS.len()]);
        if k >= ECS_ATTRS.len() {
            put!(attrs, ".v");
            push_u64(&mut attrs, k as u64);
        }
        put!(attrs, "\"}");
    }
    put!(attrs, "]");
    put!(
        b,
        ",\"requestParameters\":{\"cluster\":\"",
        a.cluster,
        "\",\"instanceIdentityDocument\":\"{\\n  \\\"accountId\\\" : \\\"",
        acct,
        "\\\",\\n  \\\"architecture\\\" : \\\"x86_64\\\",\\n  \\\"availabilityZone\\\" : \\\"",
        region,
        "a\\\",\\n  \\\"imageId\\\" : \\\"",
        a.ami,
        "\\\",\\n  \\\"instanceId\\\" : \\\"",
        subject,
        "\\\",\\n  \\\"instanceType\\\" : \\\"m6i.large\\\",\\n  \\\"region\\\" : \\\"",
        region,
        "\\\",\\n  \\\"version\\\" : \\\"2017-09-30\\\"\\n}\",\"instanceIdentityDocumentSignature\":\""
    );
    push_rand(b, &mut c.rng, 344, B64, 6);
    put!(
        b,
        "\",\"totalResources\":[{\"name\":\"CPU\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":2048},{\"name\":\"MEMORY\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":7680},{\"name\":\"PORTS\",\"type\":\"STRINGSET\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":0,\"stringSetValue\":[\"22\",\"2376\",\"2375\",\"51678\",\"51679\"]}],\"versionInfo\":{\"agentVersion\":\"1.79.2\",\"agentHash\":\""
    );
    push_rand(b, &mut c.rng, 8, HEX, 4);
    put!(
        b,
        "\",\"dockerVersion\":\"DockerVersion: 24.0.5\"},\"attributes\":",
        attrs,
        "}"
    );
    let ci = uuid(&mut c.rng);
    put!(
        b,
        ",\"responseElements\":{\"containerInstance\":{\"containerInstanceArn\":\"arn:aws:ecs:",
        region,
        ":",
        acct,
        ":container-instance/",
        a.cluster,
        "/",
        ci,
        "\",\"ec2InstanceId\":\"",
        subject,
        "\",\"version\":1,\"status\":\"ACTIVE\",\"agentConnected\":false,\"runningTasksCount\":0,\"pendingTasksCount\":0,\"attributes\":",
        attrs,
        "}}"
    );
    c.ids(b, ReqId::Uuid, false);
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        who.vpce,
        "Management",
        &["ecs.", region, ".amazonaws.com"],
        false,
    );
}

/// RegisterTaskDefinition by CI (Terraform): a task definition with its containers' environment.
pub(crate) fn register_task_definition(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
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
pub(crate) fn run_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
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
        if k > 0 {
            put!(b, ",");
        }
        started_task(c, a, b, &td);
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

/// One task of RunTask's response, as started (PROVISIONING).
fn started_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, td: &str) {
    let task = hex_id(&mut c.rng, "", 32);
    let eni = hex_id(&mut c.rng, "eni-0", 16);
    let pip = private_v4(&mut c.rng);
    let started = Started {
        region: a.region,
        task: &task,
        eni: &eni,
        private_ip: &pip,
    };
    started_task_with(c, a, b, td, &started);
}

/// A task RunTask starts: its id, and its network interface (awsvpc) with its private address.
pub(crate) struct Started<'a> {
    pub(crate) region: &'a str,
    pub(crate) task: &'a str,
    pub(crate) eni: &'a str,
    pub(crate) private_ip: &'a str,
}

fn started_task_with(c: &mut Core, a: &Account, b: &mut Vec<u8>, td: &str, s: &Started<'_>) {
    let Started {
        region,
        task,
        eni,
        private_ip: pip,
    } = *s;
    put!(
        b,
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

/// `ecs:RunTask` by CI starting one given task (a workload's), in `s.region`: the response's
/// attachment details name its interface and private address, as awsvpc mode reports them.
pub(crate) fn run_one_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str, s: &Started<'_>) {
    let region = s.region;
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
    let td = format!("arn:aws:ecs:{region}:{}:task-definition/{}-app:7", a.id, a.env);
    put!(
        b,
        ",\"requestParameters\":{\"cluster\":\"",
        a.cluster,
        "\",\"count\":1,\"launchType\":\"FARGATE\",\"taskDefinition\":\"",
        td,
        "\",\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"",
        a.subnets[0],
        "\"],\"securityGroups\":[\"",
        a.sg,
        "\"],\"assignPublicIp\":\"DISABLED\"}},\"enableECSManagedTags\":true,\"enableExecuteCommand\":false}"
    );
    put!(b, ",\"responseElements\":{\"failures\":[],\"tasks\":[");
    started_task_with(c, a, b, &td, s);
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

/// `ecs:StopTask` by CI: `requestParameters.task` is the task's ARN; the response is the task
/// as it stops.
pub(crate) fn stop_task(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str, region: &str, task: &str) {
    c.head(
        b,
        "1.08",
        &a.ci,
        None,
        "ecs.amazonaws.com",
        "StopTask",
        region,
        ip,
        &[TF_UA],
    );
    let arn = format!("arn:aws:ecs:{region}:{}:task/{}/{task}", a.id, a.cluster);
    put!(
        b,
        ",\"requestParameters\":{\"cluster\":\"",
        a.cluster,
        "\",\"task\":\"",
        arn,
        "\",\"reason\":\"deployment replaced the task\"},\"responseElements\":{\"task\":{\"clusterArn\":\"arn:aws:ecs:",
        region,
        ":",
        a.id,
        ":cluster/",
        a.cluster,
        "\",\"desiredStatus\":\"STOPPED\",\"lastStatus\":\"RUNNING\",\"launchType\":\"FARGATE\",\"stopCode\":\"UserInitiated\",\"stoppedReason\":\"deployment replaced the task\",\"stoppingAt\":\"",
        expiration_text(c.now),
        "\",\"taskArn\":\"",
        arn,
        "\",\"version\":4}}"
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
