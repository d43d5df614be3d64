//! Traffic of principals other than instance sessions: people at the CLI and in the console,
//! CI, Lambda functions and ECS tasks, and AWS services' own roles.

use crate::addresses::{POOL_LAMBDA, v4};
use crate::calls::{IC, api_call};
use crate::record::{Core, ReqId, Who};
use crate::services::{ecr, ecs, iam};
use crate::text::{B32, Draw, push_rand, put, uuid};
use crate::world::{Account, BROWSER_UAS, CLI_UA, ECS_TASK_UA, LAMBDA_UA, TF_UA};
use credtrail_time::expiration_text;

/// The admin looking around with the CLI.
pub(crate) fn admin_cli(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
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
        b,
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
    c.ids(b, ReqId::Uuid, true);
    c.tail(
        b,
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

/// SSO users in the console.
pub(crate) fn sso_console(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
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
    c.head(b, "1.08", ident, None, source, name, region, &a.office_ip, &[ua]);
    put!(b, ",\"requestParameters\":", params, ",\"responseElements\":null");
    c.ids(b, ReqId::Uuid, ro);
    let host = source.trim_end_matches(".amazonaws.com");
    c.tail(
        b,
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

/// CI with Terraform: small reads, and now and then a large deployment call.
pub(crate) fn ci_terraform(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
    let ip = c.rng.pick(&a.ci_ips).as_str();
    if c.rng.per_mille(100) {
        big_ci_call(c, a, b, ip);
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
        api_call(c, a, b, region, "terraform", kind, &who);
    }
}

/// Lambda functions, from an ever-changing AWS address.
pub(crate) fn lambda_call(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
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
    api_call(c, a, b, region, f, kind, &who);
}

/// ECS tasks behind the NAT gateway.
pub(crate) fn ecs_task_call(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
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
    api_call(c, a, b, region, task, kind, &who);
}

/// Lambda / ECS obtaining their role credentials (not an EC2 AssumeRole).
pub(crate) fn service_role_credentials(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
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
        b,
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
    push_rand(b, &mut c.rng, 16, B32, 5);
    put!(b, "\",\"sessionToken\":\"");
    c.token(b);
    put!(
        b,
        "\",\"expiration\":\"",
        expiration_text(c.now + 12 * 3600),
        "\"}}"
    );
    c.ids(b, ReqId::Uuid, true);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        a.id,
        "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
        role_arn,
        "\"}]"
    );
    c.tail(b, "AwsApiCall", true, &a.id, true, None, "Management", &[], false);
}

/// The autoscaling service-linked role checking instances.
pub(crate) fn autoscaling_check(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
    let name = if c.rng.per_mille(500) {
        "DescribeInstanceStatus"
    } else {
        "DescribeInstanceAttribute"
    };
    let by = "autoscaling.amazonaws.com";
    c.head(
        b,
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
    c.ids(b, ReqId::Uuid, true);
    c.tail(
        b,
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

/// Console sign-ins.
pub(crate) fn console_sign_in(c: &mut Core, a: &Account, b: &mut Vec<u8>) {
    let region = a.region;
    let ok = c.rng.per_mille(900);
    let ua = *c.rng.pick(&BROWSER_UAS[..2]);
    c.head(
        b,
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
        b,
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

/// A large deployment call by CI: a task definition, an image manifest or a role policy.
pub(crate) fn big_ci_call(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    match c.rng.below(3) {
        0 => ecs::register_task_definition(c, a, b, ip),
        1 => ecr::put_image(c, a, b, ip),
        _ => iam::put_role_policy(c, a, b, ip),
    }
}
