//! The longest identities AWS issues. A record naming a longer one is not from AWS, and is
//! malformed: it is counted and reported, never kept. Without these bounds a session cost what its
//! strings weighed: 2 000 sessions with 64 KiB instance ids took 685 MB and a state of 131 MB.
//!
//! - Account ids are 12 digits (IAM User Guide, "Your AWS account ID").
//! - Role names are 1 to 64 characters (IAM API Reference, `CreateRole`, `RoleName`).
//! - Role session names are 2 to 64 characters (STS API Reference, `AssumeRole`,
//!   `RoleSessionName`); an instance's session is named after its id.
//! - ARNs, a role's with its path included, are at most 2 048 characters (STS API Reference,
//!   `AssumeRole`, `RoleArn`).
//! - EC2 resource ids are a prefix and 8 or 17 hex digits (`i-`: 19 characters, `eni-`: 21,
//!   `eipalloc-`: 26; EC2 User Guide, "Resource IDs"); 64 leaves room for anonymised captures.

use super::record::Malformed;
use super::session_key::SessionKey;

pub const ACCOUNT: usize = 12;
pub const ROLE_NAME: usize = 64;
pub const SESSION_NAME: usize = 64;
pub const ARN: usize = 2048;
pub const RESOURCE_ID: usize = 64;

/// `value` of `field` if it is at most `max` bytes long.
pub fn at_most<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, Malformed> {
    if value.len() > max {
        return Err(Malformed(format!(
            "{field} is {} bytes long, more than AWS allows ({max})",
            value.len()
        )));
    }
    Ok(value)
}

/// An EC2 resource id (instance, interface, allocation) of `field`.
pub fn resource_id<'a>(field: &str, value: &'a str) -> Result<&'a str, Malformed> {
    at_most(field, value, RESOURCE_ID)
}

/// The parts of a session key read from `field`. Every judged record passes here, so the field
/// names are formatted only for the message of a key that fails (formatting them up front was 6 %
/// of all instructions of a run).
pub fn session<'k>(field: &str, key: &'k SessionKey) -> Result<&'k SessionKey, Malformed> {
    for (part, value, max) in [
        ("account", &key.account, ACCOUNT),
        ("role name", &key.role, ROLE_NAME),
        ("session name", &key.instance, SESSION_NAME),
    ] {
        if value.len() > max {
            return Err(at_most(&format!("{field}'s {part}"), value, max).unwrap_err());
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits as AWS gives them, each both ways: at the limit is a session, one byte past it
    /// is malformed. (Mutation: `>=` for `>` fails the first half.)
    #[test]
    fn identities_up_to_aws_limits_are_kept_and_longer_ones_malformed() {
        let key = |account: &str, role: &str, session: &str| {
            SessionKey::from_session_arn(&format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"))
                .unwrap()
        };
        let (a, r, s) = ("1".repeat(12), "r".repeat(64), format!("i-{}", "0".repeat(62)));
        assert!(session("arn", &key(&a, &r, &s)).is_ok());
        for bad in [
            key(&format!("{a}1"), &r, &s),
            key(&a, &format!("{r}r"), &s),
            key(&a, &r, &format!("{s}0")),
        ] {
            let e = session("userIdentity.arn", &bad).unwrap_err();
            assert!(e.0.contains("more than AWS allows"), "{}", e.0);
        }
        assert!(resource_id("instanceId", &"i".repeat(64)).is_ok());
        assert_eq!(
            resource_id("instanceId", &"i".repeat(65)).unwrap_err().0,
            "instanceId is 65 bytes long, more than AWS allows (64)"
        );
    }
}
