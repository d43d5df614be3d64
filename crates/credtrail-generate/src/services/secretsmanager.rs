//! Secrets Manager records.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{Draw, put};

/// GetSecretValue, now and then denied to a thief.
pub(crate) fn get_secret_value(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
    let secret = c.rng.pick(&a.secrets).as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        region,
        who.ip,
        &ua2,
    );
    if who.thief && c.rng.per_mille(500) {
        put!(
            b,
            ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User: ",
            who.arn,
            " is not authorized to perform: secretsmanager:GetSecretValue on resource: ",
            secret,
            " because no identity-based policy allows the secretsmanager:GetSecretValue action\""
        );
    }
    put!(
        b,
        ",\"requestParameters\":{\"secretId\":\"",
        secret,
        "\"},\"responseElements\":null"
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
        &["secretsmanager.", region, ".amazonaws.com"],
        false,
    );
}
