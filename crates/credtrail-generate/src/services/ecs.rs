//! ECS records: the agent registering its container instance, and tasks run by CI.

use crate::prelude::*;

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
