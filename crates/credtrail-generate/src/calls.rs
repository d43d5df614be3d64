//! API calls: which an instance session makes how often, and the record of each.

use crate::record::{Core, Who};
use crate::services::{
    autoscaling, cloudformation, dynamodb, ec2, ecr, ecs, iam, kms, logs, route53, s3, secretsmanager, ssm,
    sts,
};
use crate::text::Draw;
use crate::world::Account;
use rand_chacha::ChaCha8Rng;

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

/// One API call to write: by whom, where, of which kind.
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) account: &'a Account,
    pub(crate) region: &'a str,
    /// The instance the call concerns (the SSM agent names it).
    pub(crate) subject: &'a str,
    pub(crate) kind: IC,
    pub(crate) who: &'a Who<'a>,
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
    let call = Call {
        account: a,
        region,
        subject,
        kind,
        who,
    };
    match kind {
        IC::S3Get | IC::S3Put | IC::S3List | IC::S3Head => s3::object(c, b, &call),
        IC::ListBuckets => s3::list_buckets(c, b, &call),
        IC::KmsDecrypt | IC::KmsGdk => kms::key_use(c, b, &call),
        IC::SsmUpdate => ssm::update_instance_information(c, b, &call),
        IC::SsmGetParam => ssm::get_parameter(c, b, &call),
        IC::SecretGet => secretsmanager::get_secret_value(c, b, &call),
        IC::Ec2DescInst => ec2::describe_instances(c, b, &call),
        IC::Ec2DescTags => ec2::describe_tags(c, b, &call),
        IC::StsGci => sts::get_caller_identity(c, b, &call),
        IC::LogsStream => logs::create_log_stream(c, b, &call),
        IC::EcrToken => ecr::get_authorization_token(c, b, &call),
        IC::DdbGet | IC::DdbPut | IC::DdbQuery => dynamodb::item_call(c, b, &call),
        IC::AsgDesc => autoscaling::describe_auto_scaling_instances(c, b, &call),
        IC::SsmAssoc => ssm::list_instance_associations(c, b, &call),
        IC::CfnDescRes => cloudformation::describe_stack_resource(c, b, &call),
        IC::StsChain => sts::assume_role_chain(c, b, &call),
        IC::EcsRegister => ecs::register_container_instance(c, b, &call),
        IC::R53Change => route53::change_resource_record_sets(c, b, &call),
        IC::SsmInventory => ssm::put_inventory(c, b, &call),
        IC::Denied => iam::denied(c, b, &call),
    }
}
