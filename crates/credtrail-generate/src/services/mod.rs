//! Records of each AWS service, one module per service: the API calls callers make, and the
//! lifecycle records (EC2, STS) the schedule asks for.

pub(crate) mod autoscaling;
pub(crate) mod cloudformation;
pub(crate) mod dynamodb;
pub(crate) mod ec2;
pub(crate) mod ecr;
pub(crate) mod ecs;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod lambda;
pub(crate) mod logs;
pub(crate) mod route53;
pub(crate) mod s3;
pub(crate) mod secretsmanager;
pub(crate) mod ssm;
pub(crate) mod sts;
