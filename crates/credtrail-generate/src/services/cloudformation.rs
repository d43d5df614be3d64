//! CloudFormation records: cfn-init reading its stack resource.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{put, uuid};

/// DescribeStackResource (cfn-init).
pub(crate) fn describe_stack_resource(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "cloudformation.amazonaws.com",
        "DescribeStackResource",
        region,
        who.ip,
        &ua2,
    );
    put!(
        b,
        ",\"requestParameters\":{\"stackName\":\"arn:aws:cloudformation:",
        region,
        ":",
        acct,
        ":stack/",
        a.env,
        "-app/",
        uuid(&mut c.rng),
        "\",\"logicalResourceId\":\"LaunchTemplate\"},\"responseElements\":null"
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
        &["cloudformation.", region, ".amazonaws.com"],
        false,
    );
}
