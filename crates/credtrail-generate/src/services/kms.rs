//! KMS records: decryption and data keys, often asked for by S3 or Secrets Manager.

use crate::calls::{Call, IC};
use crate::record::{Core, ReqId};
use crate::text::{Draw, put, uuid};

/// Decrypt or GenerateDataKey, for S3 or Secrets Manager when a service calls.
pub(crate) fn key_use(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
    let name = if kind == IC::KmsDecrypt {
        "Decrypt"
    } else {
        "GenerateDataKey"
    };
    let key = c.rng.pick(&a.kms_keys).as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        who.invoked_by,
        "kms.amazonaws.com",
        name,
        region,
        who.ip,
        &ua2,
    );
    put!(b, ",\"requestParameters\":{");
    if kind == IC::KmsGdk {
        put!(
            b,
            "\"keyId\":\"arn:aws:kms:",
            region,
            ":",
            acct,
            ":key/",
            key,
            "\",\"keySpec\":\"AES_256\","
        );
    }
    match who.invoked_by {
        Some("secretsmanager.amazonaws.com") => {
            put!(
                b,
                "\"encryptionContext\":{\"SecretARN\":\"",
                c.rng.pick(&a.secrets),
                "\",\"SecretVersionId\":\"",
                uuid(&mut c.rng),
                "\"}"
            )
        }
        _ => {
            let bucket = c.rng.pick(&a.buckets).as_str();
            put!(
                b,
                "\"encryptionContext\":{\"aws:s3:arn\":\"arn:aws:s3:::",
                bucket,
                "/"
            );
            c.s3_key(b);
            put!(b, "\"}");
        }
    }
    put!(
        b,
        ",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"},\"responseElements\":null"
    );
    c.ids(b, ReqId::Uuid, true);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:",
        region,
        ":",
        acct,
        ":key/",
        key,
        "\"}]"
    );
    let host = if svc_call {
        None
    } else {
        Some(["kms.", region, ".amazonaws.com"])
    };
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        who.vpce,
        "Management",
        host.as_ref().map_or(&[][..], |h| &h[..]),
        false,
    );
}
