//! API calls: which an instance session makes how often, and the record of each.

use crate::prelude::*;

/// API calls by instance sessions (and, reusing the shapes, by other sessions).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum IC {
    S3Get,
    S3Put,
    S3List,
    S3Head,
    KmsDecrypt,
    KmsGdk,
    SsmUpdate,
    SsmGetParam,
    SecretGet,
    Ec2DescInst,
    Ec2DescTags,
    StsGci,
    LogsStream,
    EcrToken,
    DdbGet,
    DdbPut,
    DdbQuery,
    AsgDesc,
    SsmAssoc,
    CfnDescRes,
    StsChain,
    EcsRegister,
    R53Change,
    SsmInventory,
    ListBuckets,
    Denied,
}

pub(crate) const IC_TABLE: &[(IC, u32)] = &[
    (IC::S3Get, 130),
    (IC::S3Put, 60),
    (IC::S3List, 35),
    (IC::S3Head, 30),
    (IC::KmsDecrypt, 80),
    (IC::KmsGdk, 30),
    (IC::SsmUpdate, 90),
    (IC::SsmGetParam, 50),
    (IC::SecretGet, 40),
    (IC::Ec2DescInst, 30),
    (IC::Ec2DescTags, 30),
    (IC::StsGci, 35),
    (IC::LogsStream, 25),
    (IC::EcrToken, 20),
    (IC::DdbGet, 60),
    (IC::DdbPut, 40),
    (IC::DdbQuery, 40),
    (IC::AsgDesc, 10),
    (IC::SsmAssoc, 30),
    (IC::CfnDescRes, 10),
    (IC::StsChain, 12),
    (IC::EcsRegister, 1),
    (IC::R53Change, 2),
    (IC::SsmInventory, 2),
];

pub(crate) fn pick_call(rng: &mut ChaCha8Rng) -> IC {
    let total: u32 = IC_TABLE.iter().map(|e| e.1).sum();
    let mut x = rng.below(u64::from(total)) as u32;
    for &(k, w) in IC_TABLE {
        if x < w {
            return k;
        }
        x -= w;
    }
    IC::S3Get
}

impl IC {
    pub(crate) fn is_s3(self) -> bool {
        matches!(self, IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head)
    }
    pub(crate) fn is_tail(self) -> bool {
        matches!(self, IC::EcsRegister | IC::R53Change | IC::SsmInventory)
    }
    /// Which of the account's VPC endpoints the call would go through.
    pub(crate) fn svc(self) -> usize {
        match self {
            IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head | IC::ListBuckets => 0,
            IC::KmsDecrypt | IC::KmsGdk | IC::SecretGet => 1,
            IC::SsmUpdate | IC::SsmGetParam | IC::SsmAssoc | IC::SsmInventory => 2,
            _ => 3,
        }
    }
    pub(crate) fn cli_command(self) -> &'static str {
        match self {
            IC::StsGci => "sts.get-caller-identity",
            IC::ListBuckets => "s3.ls",
            IC::S3Get => "s3.cp",
            IC::S3List => "s3.ls",
            IC::Ec2DescInst => "ec2.describe-instances",
            IC::SecretGet => "secretsmanager.get-secret-value",
            IC::Denied => "iam.list-users",
            _ => "configure.list",
        }
    }
}

/// Writes one complete API call record of kind `kind` made by `who`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn api_call(
    c: &mut Core,
    a: &Account,
    b: &mut Vec<u8>,
    region: &str,
    subject: &str,
    kind: IC,
    who: &Who,
) {
    let acct = a.id.as_str();
    let svc_call = who.invoked_by.is_some();
    let ua2 = who.ua;
    match kind {
        IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head => {
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
            let host: [&str; 4] = if svc_call {
                ["", "", "", ""]
            } else {
                [bucket, ".s3.", region, ".amazonaws.com"]
            };
            let host: &[&str] = if svc_call { &[] } else { &host };
            c.tail(b, "AwsApiCall", false, acct, false, who.vpce, "Data", host, false);
        }
        IC::ListBuckets => {
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
        IC::KmsDecrypt | IC::KmsGdk => {
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
        IC::SsmUpdate => {
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
        IC::SsmGetParam => {
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
        IC::SecretGet => {
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
        IC::Ec2DescInst => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "ec2.amazonaws.com",
                "DescribeInstances",
                region,
                who.ip,
                &ua2,
            );
            if who.thief {
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{},\"filterSet\":{}},\"responseElements\":null"
                );
            } else {
                put!(
                    b,
                    ",\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"",
                    subject,
                    "\"}]},\"filterSet\":{}},\"responseElements\":null"
                );
            }
            c.ids(b, ReqId::Uuid, true);
            c.tail(
                b,
                "AwsApiCall",
                true,
                acct,
                false,
                who.vpce,
                "Management",
                &["ec2.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::Ec2DescTags => {
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "ec2.amazonaws.com",
                "DescribeTags",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"filterSet\":{\"items\":[{\"name\":\"resource-id\",\"valueSet\":{\"items\":[{\"value\":\"",
                subject,
                "\"}]}},{\"name\":\"resource-type\",\"valueSet\":{\"items\":[{\"value\":\"instance\"}]}}]}},\"responseElements\":null"
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
                &["ec2.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::StsGci => {
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
        IC::LogsStream => {
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
        IC::EcrToken => {
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
        IC::DdbGet | IC::DdbPut | IC::DdbQuery => {
            let table = c.rng.pick(&a.tables).as_str();
            let name = match kind {
                IC::DdbGet => "GetItem",
                IC::DdbPut => "PutItem",
                _ => "Query",
            };
            c.head(
                b,
                "1.09",
                who.ident,
                None,
                "dynamodb.amazonaws.com",
                name,
                region,
                who.ip,
                &ua2,
            );
            put!(b, ",\"requestParameters\":{\"tableName\":\"", table, "\"");
            match kind {
                IC::DdbQuery => put!(
                    b,
                    ",\"keyConditionExpression\":\"#pk = :pk AND begins_with(#sk, :sk)\",\"limit\":100,\"consistentRead\":false"
                ),
                _ => {
                    put!(b, ",\"key\":{\"pk\":\"ORDER#");
                    push_rand(b, &mut c.rng, 12, HEXU, 4);
                    put!(b, "\",\"sk\":\"ITEM#");
                    push_u64(b, c.rng.below(100));
                    put!(b, "\"}");
                }
            }
            put!(b, "},\"responseElements\":null");
            c.ids(b, ReqId::Dynamo, kind != IC::DdbPut);
            put!(
                b,
                ",\"resources\":[{\"accountId\":\"",
                acct,
                "\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:",
                region,
                ":",
                acct,
                ":table/",
                table,
                "\"}]"
            );
            c.tail(
                b,
                "AwsApiCall",
                false,
                acct,
                false,
                who.vpce,
                "Data",
                &["dynamodb.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::AsgDesc => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "autoscaling.amazonaws.com",
                "DescribeAutoScalingInstances",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"instanceIds\":[\"",
                subject,
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
                &["autoscaling.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::SsmAssoc => {
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
        IC::CfnDescRes => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "cloudformation.amazonaws.com",
                "DescribeStackResource",
                region,
                who.ip,
                &ua2,
            );
            put!(
                b,
                ",\"requestParameters\":{\"stackName\":\"arn:aws:cloudformation:",
                region,
                ":",
                acct,
                ":stack/",
                a.env,
                "-app/",
                uuid(&mut c.rng),
                "\",\"logicalResourceId\":\"LaunchTemplate\"},\"responseElements\":null"
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
                &["cloudformation.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::StsChain => {
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
        IC::EcsRegister => {
            c.head(
                b,
                "1.08",
                who.ident,
                None,
                "ecs.amazonaws.com",
                "RegisterContainerInstance",
                region,
                who.ip,
                &[ECS_UA],
            );
            let n = 20 + c.rng.below(80) as usize;
            let mut attrs = Vec::with_capacity(n * 70);
            put!(attrs, "[");
            for k in 0..n {
                if k > 0 {
                    put!(attrs, ",");
                }
                put!(attrs, "{\"name\":\"", ECS_ATTRS[k % ECS_ATTRS.len()]);
                if k >= ECS_ATTRS.len() {
                    put!(attrs, ".v");
                    push_u64(&mut attrs, k as u64);
                }
                put!(attrs, "\"}");
            }
            put!(attrs, "]");
            put!(
                b,
                ",\"requestParameters\":{\"cluster\":\"",
                a.cluster,
                "\",\"instanceIdentityDocument\":\"{\\n  \\\"accountId\\\" : \\\"",
                acct,
                "\\\",\\n  \\\"architecture\\\" : \\\"x86_64\\\",\\n  \\\"availabilityZone\\\" : \\\"",
                region,
                "a\\\",\\n  \\\"imageId\\\" : \\\"",
                a.ami,
                "\\\",\\n  \\\"instanceId\\\" : \\\"",
                subject,
                "\\\",\\n  \\\"instanceType\\\" : \\\"m6i.large\\\",\\n  \\\"region\\\" : \\\"",
                region,
                "\\\",\\n  \\\"version\\\" : \\\"2017-09-30\\\"\\n}\",\"instanceIdentityDocumentSignature\":\""
            );
            push_rand(b, &mut c.rng, 344, B64, 6);
            put!(
                b,
                "\",\"totalResources\":[{\"name\":\"CPU\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":2048},{\"name\":\"MEMORY\",\"type\":\"INTEGER\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":7680},{\"name\":\"PORTS\",\"type\":\"STRINGSET\",\"doubleValue\":0.0,\"longValue\":0,\"integerValue\":0,\"stringSetValue\":[\"22\",\"2376\",\"2375\",\"51678\",\"51679\"]}],\"versionInfo\":{\"agentVersion\":\"1.79.2\",\"agentHash\":\""
            );
            push_rand(b, &mut c.rng, 8, HEX, 4);
            put!(
                b,
                "\",\"dockerVersion\":\"DockerVersion: 24.0.5\"},\"attributes\":",
                attrs,
                "}"
            );
            let ci = uuid(&mut c.rng);
            put!(
                b,
                ",\"responseElements\":{\"containerInstance\":{\"containerInstanceArn\":\"arn:aws:ecs:",
                region,
                ":",
                acct,
                ":container-instance/",
                a.cluster,
                "/",
                ci,
                "\",\"ec2InstanceId\":\"",
                subject,
                "\",\"version\":1,\"status\":\"ACTIVE\",\"agentConnected\":false,\"runningTasksCount\":0,\"pendingTasksCount\":0,\"attributes\":",
                attrs,
                "}}"
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
                &["ecs.", region, ".amazonaws.com"],
                false,
            );
        }
        IC::R53Change => {
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
        IC::SsmInventory => {
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
        IC::Denied => {
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
    }
}

pub(crate) const ECS_ATTRS: &[&str] = &[
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.branch-cni-plugin-version",
    "ecs.ami-id",
    "ecs.capability.secrets.asm.bootstrap.log-driver",
    "ecs.capability.task-eia.optimized-cpu",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "ecs.capability.ecr-endpoint",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.secrets.ssm.bootstrap.log-driver",
    "ecs.capability.efsAuth",
    "ecs.capability.full-sync",
    "com.amazonaws.ecs.capability.docker-remote-api.1.30",
    "com.amazonaws.ecs.capability.docker-remote-api.1.31",
    "com.amazonaws.ecs.capability.docker-remote-api.1.32",
    "ecs.capability.firelens.options.config.file",
    "ecs.availability-zone",
    "ecs.capability.aws-appmesh",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.container-health-check",
    "ecs.capability.pid-ipc-namespace-sharing",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.os-type",
    "ecs.cpu-architecture",
];

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
