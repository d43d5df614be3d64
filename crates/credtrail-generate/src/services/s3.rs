//! S3 records: object calls (data events) and bucket listings.

use crate::calls::{Call, IC};
use crate::record::{Core, ReqId};
use crate::text::{ALNUM, Draw, push_rand, put};

/// GetObject, PutObject, ListObjects (v2) or HeadObject on one of the account's buckets.
pub(crate) fn object(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        kind,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let svc_call = who.invoked_by.is_some();
    let ua2 = who.ua;
    let bucket = c.rng.pick(&a.buckets).as_str();
    let name = match kind {
        IC::S3Get => "GetObject",
        IC::S3Put => "PutObject",
        IC::S3List => "ListObjects",
        _ => "HeadObject",
    };
    let bracket = !svc_call;
    let ua: [&str; 4] = if bracket {
        ["[", ua2[0], ua2[1], "]"]
    } else {
        [ua2[0], ua2[1], "", ""]
    };
    c.head(
        b,
        "1.10",
        who.ident,
        who.invoked_by,
        "s3.amazonaws.com",
        name,
        region,
        who.ip,
        &ua,
    );
    let denied = who.thief && kind == IC::S3Get && c.rng.per_mille(300);
    if denied {
        put!(
            b,
            ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"Access Denied\""
        );
    }
    let mut key = Vec::with_capacity(64);
    c.s3_key(&mut key);
    object_request(c, b, call, bucket, &key);
    if kind == IC::S3Put && !denied {
        put!(
            b,
            ",\"responseElements\":{\"x-amz-server-side-encryption\":\"AES256\",\"x-amz-version-id\":\""
        );
        push_rand(b, &mut c.rng, 32, ALNUM, 6);
        put!(b, "\"}");
    } else {
        put!(b, ",\"responseElements\":null");
    }
    let size = 200 + c.rng.below(5_000_000);
    let (bin, bout) = match (kind, denied) {
        (_, true) => (0, 243),
        (IC::S3Put, _) => (size, 0),
        (IC::S3Get, _) => (0, size),
        (IC::S3List, _) => (0, 300 + size % 40_000),
        _ => (0, 0),
    };
    c.s3_extra(b, bin, bout);
    c.ids(b, ReqId::S3, kind != IC::S3Put);
    object_resources(b, kind, acct, bucket, &key);
    let host: [&str; 4] = if svc_call {
        ["", "", "", ""]
    } else {
        [bucket, ".s3.", region, ".amazonaws.com"]
    };
    let host: &[&str] = if svc_call { &[] } else { &host };
    c.tail(b, "AwsApiCall", false, acct, false, who.vpce, "Data", host, false);
}

/// The object call's `requestParameters`.
fn object_request(c: &mut Core, b: &mut Vec<u8>, call: &Call, bucket: &str, key: &[u8]) {
    let Call {
        account: a,
        region,
        kind,
        ..
    } = *call;
    let acct = a.id.as_str();
    put!(
        b,
        ",\"requestParameters\":{\"bucketName\":\"",
        bucket,
        "\",\"Host\":\"",
        bucket,
        ".s3.",
        region,
        ".amazonaws.com\""
    );
    if kind == IC::S3List {
        put!(
            b,
            ",\"list-type\":\"2\",\"encoding-type\":\"url\",\"max-keys\":\"1000\",\"prefix\":\"",
            key[..key.len() / 2],
            "\""
        );
    } else {
        put!(b, ",\"key\":\"", key, "\"");
    }
    if kind == IC::S3Put && c.rng.per_mille(500) {
        put!(
            b,
            ",\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-server-side-encryption-aws-kms-key-id\":\"arn:aws:kms:",
            region,
            ":",
            acct,
            ":key/",
            a.kms_keys[0],
            "\""
        );
    }
    put!(b, "}");
}

/// The object call's `resources`: the object (or the listed prefix) and its bucket.
fn object_resources(b: &mut Vec<u8>, kind: IC, acct: &str, bucket: &str, key: &[u8]) {
    if kind == IC::S3List {
        put!(
            b,
            ",\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARNPrefix\":\"arn:aws:s3:::",
            bucket,
            "/",
            key[..key.len() / 2],
            "\"}"
        );
    } else {
        put!(
            b,
            ",\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::",
            bucket,
            "/",
            key,
            "\"}"
        );
    }
    put!(
        b,
        ",{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::",
        bucket,
        "\"}]"
    );
}

/// ListBuckets.
pub(crate) fn list_buckets(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "1.09",
        who.ident,
        None,
        "s3.amazonaws.com",
        "ListBuckets",
        region,
        who.ip,
        &ua2,
    );
    put!(
        b,
        ",\"requestParameters\":{\"Host\":\"s3.amazonaws.com\"},\"responseElements\":null"
    );
    let out = 800 + c.rng.below(3000);
    c.s3_extra(b, 0, out);
    c.ids(b, ReqId::S3, true);
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        None,
        "Management",
        &["s3.amazonaws.com"],
        false,
    );
}
