//! Auto Scaling records: an instance asking about its own group.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::put;

/// DescribeAutoScalingInstances.
pub(crate) fn describe_auto_scaling_instances(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "1.08",
        who.ident,
        None,
        "autoscaling.amazonaws.com",
        "DescribeAutoScalingInstances",
        region,
        who.ip,
        &ua2,
    );
    put!(
        b,
        ",\"requestParameters\":{\"instanceIds\":[\"",
        subject,
        "\"]},\"responseElements\":null"
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
        &["autoscaling.", region, ".amazonaws.com"],
        false,
    );
}
