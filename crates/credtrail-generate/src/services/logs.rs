//! CloudWatch Logs records.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{Draw, put};

/// CreateLogStream.
pub(crate) fn create_log_stream(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "logs.amazonaws.com",
        "CreateLogStream",
        region,
        who.ip,
        &ua2,
    );
    let g = *c.rng.pick(&[
        "/app/api",
        "/app/worker",
        "/var/log/messages",
        "/aws/ec2/cloud-init",
    ]);
    put!(
        b,
        ",\"requestParameters\":{\"logGroupName\":\"",
        g,
        "\",\"logStreamName\":\"",
        subject,
        "\"},\"responseElements\":null"
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
        &["logs.", region, ".amazonaws.com"],
        false,
    );
}
