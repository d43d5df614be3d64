//! STS records: the AssumeRole by which EC2 issues and refreshes an instance's credentials.

use crate::calls::Call;
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::record::{Core, ReqId};
use crate::text::{B32, Draw, push_rand, put, rand_string};
use crate::world::Sess;
use credtrail_time::{event_time_text, expiration_text};

impl Gen<'_> {
    pub(crate) fn new_session(&mut self, inst: usize) -> Sess {
        let key = rand_string(&mut self.c.rng, "ASIA", 16, B32, 5);
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let r = &self.roles[i.role];
        let mut b = Vec::with_capacity(700);
        put!(
            b,
            "{\"type\":\"AssumedRole\",\"principalId\":\"",
            r.id,
            ":",
            i.id,
            "\",\"arn\":\"",
            i.arn,
            "\",\"accountId\":\"",
            a.id,
            "\",\"accessKeyId\":\"",
            key,
            "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
            r.id,
            "\",\"arn\":\"",
            r.arn,
            "\",\"accountId\":\"",
            a.id,
            "\",\"userName\":\"",
            r.name,
            "\"},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"",
            event_time_text(self.c.now),
            "\",\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"",
            i.delivery,
            "\"}}"
        );
        Sess {
            key,
            ident: b,
            created: self.c.now,
        }
    }

    pub(crate) fn emit_ec2_assume_role(&mut self, inst: usize, sess: &Sess) {
        let mut b = self.buf();
        let i = &self.insts[inst];
        let a = &self.accts[i.acct];
        let role_arn = self.roles[i.role].arn.as_str();
        let c = &mut self.c;
        c.head(
            &mut b,
            "1.08",
            b"{\"type\":\"AWSService\",\"invokedBy\":\"ec2.amazonaws.com\"}",
            None,
            "sts.amazonaws.com",
            "AssumeRole",
            i.region,
            "ec2.amazonaws.com",
            &["ec2.amazonaws.com"],
        );
        put!(
            b,
            ",\"requestParameters\":{\"roleArn\":\"",
            role_arn,
            "\",\"roleSessionName\":\"",
            i.id
        );
        put!(
            b,
            "\"},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"",
            sess.key,
            "\",\"sessionToken\":\""
        );
        c.token(&mut b);
        let exp = expiration_text(c.now + 6 * 3600 + c.rng.between(0, 2400));
        put!(b, "\",\"expiration\":\"", exp, "\"}}");
        c.ids(&mut b, ReqId::Uuid, true);
        put!(
            b,
            ",\"resources\":[{\"accountId\":\"",
            a.id,
            "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"",
            role_arn,
            "\"}]"
        );
        c.tail(
            &mut b,
            "AwsApiCall",
            true,
            &a.id,
            true,
            None,
            "Management",
            &[],
            false,
        );
        self.push(b, Deliver::Anchor);
    }
}

/// GetCallerIdentity.
pub(crate) fn get_caller_identity(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "sts.amazonaws.com",
        "GetCallerIdentity",
        region,
        who.ip,
        &ua2,
    );
    put!(b, ",\"requestParameters\":null,\"responseElements\":null");
    c.ids(b, ReqId::Uuid, true);
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        who.vpce,
        "Management",
        &["sts.", region, ".amazonaws.com"],
        false,
    );
}

/// AssumeRole by the instance session into another role (role chaining).
pub(crate) fn assume_role_chain(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "sts.amazonaws.com",
        "AssumeRole",
        region,
        who.ip,
        &ua2,
    );
    let role = *c
        .rng
        .pick(&["cross-account-reader", "artifact-publisher", "metrics-writer"]);
    let sess = format!("botocore-session-{}", c.now);
    let rid = rand_string(&mut c.rng, "AROA", 17, B32, 5);
    put!(
        b,
        ",\"requestParameters\":{\"roleArn\":\"arn:aws:iam::",
        acct,
        ":role/",
        role,
        "\",\"roleSessionName\":\"",
        sess,
        "\",\"durationSeconds\":3600}"
    );
    put!(b, ",\"responseElements\":{\"credentials\":{\"accessKeyId\":\"");
    push_rand(b, &mut c.rng, 4, B32, 5);
    put!(b, "ASIA");
    push_rand(b, &mut c.rng, 12, B32, 5);
    put!(b, "\",\"sessionToken\":\"");
    c.token(b);
    put!(
        b,
        "\",\"expiration\":\"",
        expiration_text(c.now + 3600),
        "\"},\"assumedRoleUser\":{\"assumedRoleId\":\"",
        rid,
        ":",
        sess,
        "\",\"arn\":\"arn:aws:sts::",
        acct,
        ":assumed-role/",
        role,
        "/",
        sess,
        "\"}}"
    );
    c.ids(b, ReqId::Uuid, true);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::",
        acct,
        ":role/",
        role,
        "\"}]"
    );
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        who.vpce,
        "Management",
        &["sts.", region, ".amazonaws.com"],
        false,
    );
}
