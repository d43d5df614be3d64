//! SSM records: the agent's heartbeat, associations and inventory, and parameter reads.

use crate::calls::Call;
use crate::record::{Core, ReqId};
use crate::text::{B64, Draw, push_rand, push_u64, put};
use crate::world::SSM_UA;

pub(crate) const PACKAGES: &[&str] = &[
    "openssl-libs",
    "glibc",
    "bash",
    "coreutils",
    "curl",
    "libcurl",
    "systemd",
    "kernel",
    "python3",
    "python3-libs",
    "amazon-ssm-agent",
    "docker",
    "containerd",
    "runc",
    "nginx",
    "git",
    "vim-minimal",
    "krb5-libs",
    "libxml2",
    "sqlite-libs",
    "openssh-server",
    "sudo",
    "tzdata",
    "ca-certificates",
    "cloud-init",
    "chrony",
    "rsyslog",
    "jq",
    "awscli-2",
    "amazon-cloudwatch-agent",
];

/// The SSM agent's UpdateInstanceInformation heartbeat.
pub(crate) fn update_instance_information(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "ssm.amazonaws.com",
        "UpdateInstanceInformation",
        region,
        who.ip,
        &[SSM_UA],
    );
    let os = *c.rng.pick(&[
        ("Amazon Linux", "2023"),
        ("Amazon Linux", "2"),
        ("Ubuntu", "22.04"),
    ]);
    put!(
        b,
        ",\"requestParameters\":{\"instanceId\":\"",
        subject,
        "\",\"agentVersion\":\"3.2.1297.0\",\"agentStatus\":\"Active\",\"platformType\":\"Linux\",\"platformName\":\"",
        os.0,
        "\",\"platformVersion\":\"",
        os.1
    );
    put!(
        b,
        "\",\"iPAddress\":\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"computerName\":\"ip-",
        subject[2..10],
        ".ec2.internal\",\"agentName\":\"amazon-ssm-agent\",\"availabilityZone\":\"",
        region,
        "a\",\"sSMConnectionChannel\":\"ssmmessages\"},\"responseElements\":null"
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
        &["ssm.", region, ".amazonaws.com"],
        false,
    );
}

/// GetParameter.
pub(crate) fn get_parameter(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
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
        "ssm.amazonaws.com",
        "GetParameter",
        region,
        who.ip,
        &ua2,
    );
    let p = *c.rng.pick(&[
        "/app/config/db_host",
        "/app/config/feature_flags",
        "/app/config/log_level",
        "/shared/cw-agent-config",
    ]);
    put!(
        b,
        ",\"requestParameters\":{\"name\":\"",
        p,
        "\",\"withDecryption\":true},\"responseElements\":null"
    );
    c.ids(b, ReqId::Uuid, true);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::SSM::Parameter\",\"ARN\":\"arn:aws:ssm:",
        region,
        ":",
        acct,
        ":parameter",
        p,
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
        &["ssm.", region, ".amazonaws.com"],
        false,
    );
}

/// The SSM agent's ListInstanceAssociations.
pub(crate) fn list_instance_associations(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "ssm.amazonaws.com",
        "ListInstanceAssociations",
        region,
        who.ip,
        &[SSM_UA],
    );
    put!(
        b,
        ",\"requestParameters\":{\"instanceId\":\"",
        subject,
        "\",\"maxResults\":50},\"responseElements\":null"
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
        &["ssm.", region, ".amazonaws.com"],
        false,
    );
}

/// The SSM agent's PutInventory, with the installed packages.
pub(crate) fn put_inventory(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        subject,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    c.head(
        b,
        "1.08",
        who.ident,
        None,
        "ssm.amazonaws.com",
        "PutInventory",
        region,
        who.ip,
        &[SSM_UA],
    );
    let n = 10 + c.rng.below(80) as usize;
    let time = c.time();
    put!(
        b,
        ",\"requestParameters\":{\"instanceId\":\"",
        subject,
        "\",\"items\":[{\"typeName\":\"AWS:Application\",\"schemaVersion\":\"1.1\",\"captureTime\":\"",
        time,
        "\",\"contentHash\":\""
    );
    push_rand(b, &mut c.rng, 44, B64, 6);
    put!(b, "\",\"content\":[");
    for k in 0..n {
        if k > 0 {
            put!(b, ",");
        }
        let pkg = PACKAGES[k % PACKAGES.len()];
        put!(b, "{\"name\":\"", pkg, "\",\"version\":\"");
        push_u64(b, 1 + c.rng.below(9));
        put!(b, ".");
        push_u64(b, c.rng.below(40));
        put!(b, ".");
        push_u64(b, c.rng.below(200));
        put!(
            b,
            "\",\"release\":\"",
            [b'1' + c.rng.below(9) as u8],
            ".amzn2023\",\"architecture\":\"x86_64\",\"publisher\":\"Amazon Linux\",\"packageId\":\"",
            pkg,
            ".x86_64.rpm\",\"installedTime\":\"2024-02-1",
            [b'0' + c.rng.below(10) as u8],
            "T08:14:22Z\"}"
        );
    }
    put!(b, "]}]},\"responseElements\":null");
    c.ids(b, ReqId::Uuid, false);
    c.tail(
        b,
        "AwsApiCall",
        true,
        acct,
        false,
        who.vpce,
        "Management",
        &["ssm.", region, ".amazonaws.com"],
        false,
    );
}
