//! Records of AWS services' own making, one module per service.

pub(crate) mod ec2;
pub(crate) mod sts;
