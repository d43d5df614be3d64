//! ECR records: registry logins.

use crate::prelude::*;

/// GetAuthorizationToken.
pub(crate) fn get_authorization_token(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "ecr.amazonaws.com",
        "GetAuthorizationToken",
        region,
        who.ip,
        &ua2,
    );
    put!(
        b,
        ",\"requestParameters\":{\"registryIds\":[\"",
        acct,
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
        &["api.ecr.", region, ".amazonaws.com"],
        false,
    );
}
