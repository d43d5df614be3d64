//! ECR records: registry logins.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{Draw, HEX, push_rand, push_u64, put};
use crate::world::{APPS, Account, TF_UA};

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

/// PutImage by CI: an image manifest.
pub(crate) fn put_image(c: &mut Core, a: &Account, b: &mut Vec<u8>, ip: &str) {
    let region = a.region;
    c.head(
        b,
        "1.08",
        &a.ci,
        None,
        "ecr.amazonaws.com",
        "PutImage",
        region,
        ip,
        &[TF_UA],
    );
    let n = 3 + c.rng.below(25) as usize;
    let mut m = Vec::with_capacity(n * 200 + 400);
    put!(
        m,
        "{\\n   \\\"schemaVersion\\\": 2,\\n   \\\"mediaType\\\": \\\"application/vnd.docker.distribution.manifest.v2+json\\\",\\n   \\\"config\\\": {\\n      \\\"mediaType\\\": \\\"application/vnd.docker.container.image.v1+json\\\",\\n      \\\"size\\\": 7023,\\n      \\\"digest\\\": \\\"sha256:"
    );
    push_rand(&mut m, &mut c.rng, 64, HEX, 4);
    put!(m, "\\\"\\n   },\\n   \\\"layers\\\": [");
    for k in 0..n {
        put!(
            m,
            if k > 0 { "," } else { "" },
            "\\n      {\\n         \\\"mediaType\\\": \\\"application/vnd.docker.image.rootfs.diff.tar.gzip\\\",\\n         \\\"size\\\": "
        );
        push_u64(&mut m, 1000 + c.rng.below(90_000_000));
        put!(m, ",\\n         \\\"digest\\\": \\\"sha256:");
        push_rand(&mut m, &mut c.rng, 64, HEX, 4);
        put!(m, "\\\"\\n      }");
    }
    put!(m, "\\n   ]\\n}");
    let repo = *c.rng.pick(APPS);
    put!(
        b,
        ",\"requestParameters\":{\"repositoryName\":\"",
        repo,
        "\",\"imageTag\":\""
    );
    push_rand(b, &mut c.rng, 12, HEX, 4);
    put!(
        b,
        "\",\"imageManifest\":\"",
        m,
        "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}"
    );
    put!(
        b,
        ",\"responseElements\":{\"image\":{\"registryId\":\"",
        a.id,
        "\",\"repositoryName\":\"",
        repo,
        "\",\"imageId\":{\"imageDigest\":\"sha256:"
    );
    push_rand(b, &mut c.rng, 64, HEX, 4);
    put!(
        b,
        "\"},\"imageManifest\":\"",
        m,
        "\",\"imageManifestMediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}}"
    );
    c.ids(b, ReqId::Uuid, false);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        a.id,
        "\",\"ARN\":\"arn:aws:ecr:",
        region,
        ":",
        a.id,
        ":repository/",
        repo,
        "\"}]"
    );
    c.tail(
        b,
        "AwsApiCall",
        true,
        &a.id,
        false,
        None,
        "Management",
        &["api.ecr.", region, ".amazonaws.com"],
        false,
    );
}
