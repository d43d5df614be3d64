//! IAM records: calls refused for want of a policy.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{Draw, push_u64, put};
use crate::world::{Account, TF_UA};

/// A call the caller may not make (IAM or Secrets Manager listing): AccessDenied.
pub(crate) fn denied(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
    let (src, name, action, res): (&str, &str, &str, String) = match c.rng.below(4) {
        0 => (
            "iam.amazonaws.com",
            "ListUsers",
            "iam:ListUsers",
            format!("arn:aws:iam::{acct}:user/"),
        ),
        1 => (
            "iam.amazonaws.com",
            "ListRoles",
            "iam:ListRoles",
            format!("arn:aws:iam::{acct}:role/"),
        ),
        2 => (
            "iam.amazonaws.com",
            "GetAccountAuthorizationDetails",
            "iam:GetAccountAuthorizationDetails",
            "*".to_string(),
        ),
        _ => (
            "secretsmanager.amazonaws.com",
            "ListSecrets",
            "secretsmanager:ListSecrets",
            "*".to_string(),
        ),
    };
    let reg = if src.starts_with("iam") {
        "us-east-1"
    } else {
        region
    };
    c.head(b, "1.08", who.ident, None, src, name, reg, who.ip, &ua2);
    put!(
        b,
        ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User: ",
        who.arn,
        " is not authorized to perform: ",
        action,
        " on resource: ",
        res,
        " because no identity-based policy allows the ",
        action,
        " action\""
    );
    put!(b, ",\"requestParameters\":null,\"responseElements\":null");
    c.ids(b, ReqId::Uuid, true);
    let host: [&str; 3] = if src.starts_with("iam") {
        ["iam.amazonaws.com", "", ""]
    } else {
        ["secretsmanager.", region, ".amazonaws.com"]
    };
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        None,
        "Management",
        &host,
        false,
    );
}

/// PutRolePolicy by CI: an inline policy over the account's buckets.
pub(crate) fn put_role_policy(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
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
