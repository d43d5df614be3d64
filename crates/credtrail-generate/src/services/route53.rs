//! Route 53 records: ExternalDNS updating a zone.

use crate::addresses::private_v4;
use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{B32, Draw, HEX, push_rand, put};
use crate::world::{APPS, DNS_UA};
use credtrail_time::expiration_text;

/// ExternalDNS's ChangeResourceRecordSets.
pub(crate) fn change_resource_record_sets(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call { account: a, who, .. } = *call;
    let acct = a.id.as_str();
    c.head(
        b,
        "1.09",
        who.ident,
        None,
        "route53.amazonaws.com",
        "ChangeResourceRecordSets",
        "us-east-1",
        who.ip,
        &[DNS_UA],
    );
    let n = 4 + c.rng.below(44) as usize;
    put!(
        b,
        ",\"requestParameters\":{\"hostedZoneId\":\"",
        a.zone,
        "\",\"changeBatch\":{\"changes\":["
    );
    for k in 0..n {
        if k > 0 {
            put!(b, ",");
        }
        let mut svc = Vec::with_capacity(24);
        put!(svc, *c.rng.pick(APPS), "-");
        push_rand(&mut svc, &mut c.rng, 5, HEX, 4);
        put!(
            b,
            "{\"action\":\"UPSERT\",\"resourceRecordSet\":{\"name\":\"",
            svc,
            ".",
            a.env,
            ".internal.example.com\",\"type\":\"A\",\"tTL\":60,\"resourceRecords\":[{\"value\":\"",
            private_v4(&mut c.rng),
            "\"}]}}"
        );
        put!(
            b,
            ",{\"action\":\"UPSERT\",\"resourceRecordSet\":{\"name\":\"externaldns-",
            svc,
            ".",
            a.env,
            ".internal.example.com\",\"type\":\"TXT\",\"tTL\":300,\"resourceRecords\":[{\"value\":\"\\\"heritage=external-dns,external-dns/owner=",
            a.env,
            "-cluster,external-dns/resource=service/default/",
            svc,
            "\\\"\"}]}}"
        );
    }
    put!(b, "]}},\"responseElements\":{\"changeInfo\":{\"id\":\"/change/C");
    push_rand(b, &mut c.rng, 19, B32, 5);
    put!(
        b,
        "\",\"status\":\"PENDING\",\"submittedAt\":\"",
        expiration_text(c.now),
        "\"}}"
    );
    c.ids(b, ReqId::Uuid, false);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::Route53::HostedZone\",\"ARN\":\"arn:aws:route53:::hostedzone/",
        a.zone,
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
        &["route53.amazonaws.com"],
        false,
    );
}
