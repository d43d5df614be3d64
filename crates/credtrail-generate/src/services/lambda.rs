//! Lambda records: a function created by CI, attached to its account's VPC.

use crate::record::{Core, ReqId};
use crate::text::{B64, push_rand, put};
use crate::world::{Account, TF_UA};
use credtrail_time::expiration_text;

/// `lambda:CreateFunction` (recorded as `CreateFunction20150331`) by CI: `vpcConfig` names the
/// subnets and security group in the request, and the response adds the VPC, as AWS applied it.
pub(crate) fn create_function_in_vpc(
    c: &mut Core,
    a: &Account,
    b: &mut Vec<u8>,
    ip: &str,
    region: &str,
    name: &str,
    role_arn: &str,
) {
    c.head(
        b,
        "1.08",
        &a.ci,
        None,
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        region,
        ip,
        &[TF_UA],
    );
    let vpc = format!(
        "{{\"subnetIds\":[\"{}\",\"{}\"],\"securityGroupIds\":[\"{}\"]",
        a.subnets[0], a.subnets[1], a.sg
    );
    put!(
        b,
        ",\"requestParameters\":{\"functionName\":\"",
        name,
        "\",\"runtime\":\"python3.12\",\"role\":\"",
        role_arn,
        "\",\"handler\":\"app.handler\",\"code\":{},\"timeout\":30,\"memorySize\":256,\"vpcConfig\":",
        vpc,
        "},\"publish\":false,\"packageType\":\"Zip\",\"architectures\":[\"arm64\"]}"
    );
    put!(
        b,
        ",\"responseElements\":{\"functionName\":\"",
        name,
        "\",\"functionArn\":\"arn:aws:lambda:",
        region,
        ":",
        a.id,
        ":function:",
        name,
        "\",\"runtime\":\"python3.12\",\"role\":\"",
        role_arn,
        "\",\"handler\":\"app.handler\",\"codeSize\":4096,\"timeout\":30,\"memorySize\":256,\"lastModified\":\"",
        expiration_text(c.now),
        "\",\"codeSha256\":\""
    );
    push_rand(b, &mut c.rng, 43, B64, 6);
    put!(
        b,
        "=\",\"version\":\"$LATEST\",\"vpcConfig\":",
        vpc,
        ",\"vpcId\":\"",
        a.vpc,
        "\"},\"state\":\"Pending\",\"stateReasonCode\":\"Creating\",\"packageType\":\"Zip\",\"architectures\":[\"arm64\"]}"
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
        &["lambda.", region, ".amazonaws.com"],
        false,
    );
}
