//! The session table's key: which assumed-role session of which instance a record speaks of.
//!
//! Calls name their session as `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`; the EC2
//! AssumeRole that issues it names `arn:PARTITION:iam::ACCOUNT:role/PATH/ROLE` and `SESSION`
//! separately. Both are reduced to the same key; the role path is not part of the session ARN.

use compact_str::CompactString;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    /// Only the partitions whose EC2 instance credentials the method is defined for; others
    /// (`aws-iso`, typos) make no key, so they are never judged.
    fn parse(s: &str) -> Option<Partition> {
        match s {
            "aws" => Some(Partition::Aws),
            "aws-cn" => Some(Partition::AwsCn),
            "aws-us-gov" => Some(Partition::AwsUsGov),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct SessionKey {
    pub partition: Partition,
    pub account: CompactString,
    pub role: CompactString,
    /// The role session name: for EC2 instance credentials, the instance id.
    pub instance: CompactString,
}

impl SessionKey {
    /// From a caller's `userIdentity.arn`. The blog's `arn:aws:iam::…:assumed-role/…` spelling is
    /// accepted as the same key.
    pub fn from_session_arn(arn: &str) -> Option<SessionKey> {
        let (partition, service, account, resource) = split_arn(arn)?;
        if service != "sts" && service != "iam" {
            return None;
        }
        let rest = resource.strip_prefix("assumed-role/")?;
        let (role, session) = cut(rest, b'/')?;
        if role.is_empty() || session.is_empty() || session.as_bytes().contains(&b'/') {
            return None;
        }
        Some(SessionKey {
            partition,
            account: account.into(),
            role: role.into(),
            instance: session.into(),
        })
    }

    /// From an AssumeRole's `requestParameters.roleArn` and `roleSessionName`.
    pub fn from_role_arn(role_arn: &str, session_name: &str) -> Option<SessionKey> {
        let (partition, service, account, resource) = split_arn(role_arn)?;
        if service != "iam" || session_name.is_empty() || session_name.contains('/') {
            return None;
        }
        let path_and_name = resource.strip_prefix("role/")?;
        let role = path_and_name.rsplit('/').next()?;
        if role.is_empty() {
            return None;
        }
        Some(SessionKey {
            partition,
            account: account.into(),
            role: role.into(),
            instance: session_name.into(),
        })
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` with an empty region (IAM and STS are global).
fn split_arn(arn: &str) -> Option<(Partition, &str, &str, &str)> {
    // Cut at bytes: `:` and `/` are ASCII, so every cut is a char boundary. `str::splitn` was the
    // costly part of reading a call record's identity, and every call record has one.
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = cut(rest, b':')?;
    let partition = Partition::parse(partition)?;
    let (service, rest) = cut(rest, b':')?;
    let (region, rest) = cut(rest, b':')?;
    if !region.is_empty() {
        return None;
    }
    let (account, resource) = cut(rest, b':')?;
    if account.is_empty() || account.as_bytes().contains(&b'/') {
        return None;
    }
    Some((partition, service, account, resource))
}

/// `s` before and after the first `sep`, an ASCII byte.
fn cut(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// EC2 names instance sessions after the instance id (`i-` and hex digits; anonymised captures use
/// other letters, so only the prefix is required).
pub fn is_instance_id(s: &str) -> bool {
    s.len() > 2 && s.starts_with("i-")
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:sts::{}:assumed-role/{}/{}",
            self.partition.as_str(),
            self.account,
            self.role,
            self.instance
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `str::splitn` version `split_arn` replaced: the same answers for any string.
    fn split_arn_by_str(arn: &str) -> Option<(Partition, &str, &str, &str)> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = Partition::parse(parts.next()?)?;
        let service = parts.next()?;
        if !parts.next()?.is_empty() {
            return None;
        }
        let account = parts.next()?;
        let resource = parts.next()?;
        if account.is_empty() || account.contains('/') {
            return None;
        }
        Some((partition, service, account, resource))
    }

    proptest::proptest! {
        #[test]
        fn split_arn_cuts_as_splitn_did(
            n in 0usize..8,
            p in ("arn|arx|", "aws|aws-cn|x|", "sts|iam|é", "|us-east-1", "123456789012||a/b"),
            q in ("assumed-role/r/i-1|x:y|", "z|"),
            t in ".{0,40}",
        ) {
            let parts = [p.0, p.1, p.2, p.3, p.4, q.0, q.1];
            let s = parts[..n.min(parts.len())].join(":");
            proptest::prop_assert_eq!(split_arn(&s), split_arn_by_str(&s));
            proptest::prop_assert_eq!(split_arn(&t), split_arn_by_str(&t));
        }
    }

    #[test]
    fn role_arn_and_session_arn_meet() {
        let issued = SessionKey::from_role_arn(
            "arn:aws:iam::123456789012:role/svc/team/app-role",
            "i-0123456789abcdef0",
        )
        .unwrap();
        let used = SessionKey::from_session_arn(
            "arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0",
        )
        .unwrap();
        let blog = SessionKey::from_session_arn(
            "arn:aws:iam::123456789012:assumed-role/app-role/i-0123456789abcdef0",
        )
        .unwrap();
        assert_eq!(issued, used);
        assert_eq!(issued, blog);
        assert_eq!(
            used.to_string(),
            "arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0"
        );
    }

    #[test]
    fn partitions_are_part_of_the_key() {
        let cn = SessionKey::from_session_arn("arn:aws-cn:sts::1:assumed-role/r/i-1").unwrap();
        let gov = SessionKey::from_session_arn("arn:aws-us-gov:sts::1:assumed-role/r/i-1").unwrap();
        let aws = SessionKey::from_session_arn("arn:aws:sts::1:assumed-role/r/i-1").unwrap();
        assert_ne!(cn, aws);
        assert_ne!(gov, aws);
        assert!(SessionKey::from_session_arn("arn:aws-iso:sts::1:assumed-role/r/i-1").is_none());
    }

    #[test]
    fn malformed_arns_make_no_key() {
        for arn in [
            "",
            "arn:aws:sts::1:assumed-role/r",
            "arn:aws:sts::1:assumed-role//i-1",
            "arn:aws:sts::1:assumed-role/r/i-1/x",
            "arn:aws:sts::1:role/r/i-1",
            "arn:aws:s3::1:assumed-role/r/i-1",
            "arn:aws:sts:us-east-1:1:assumed-role/r/i-1",
            "arn:aws:sts:::assumed-role/r/i-1",
            "arn:aws:iam::123456789012:user/admin",
        ] {
            assert!(SessionKey::from_session_arn(arn).is_none(), "{arn}");
        }
        assert!(SessionKey::from_role_arn("arn:aws:iam::1:role/", "i-1").is_none());
        assert!(SessionKey::from_role_arn("arn:aws:iam::1:role/r", "").is_none());
        assert!(SessionKey::from_role_arn("arn:aws:sts::1:role/r", "i-1").is_none());
    }

    #[test]
    fn instance_ids() {
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("i-786a3A8B5C0d92eF4"));
        assert!(!is_instance_id("i-"));
        assert!(!is_instance_id("awslambda_55"));
    }
}
