//! The records that issue a workload's session, read from the shapes AWS documents and real
//! captures show:
//!
//! - `sts:AssumeRole` made by an AWS service for a workload (`userIdentity.type` `AWSService`,
//!   `invokedBy` and `sourceIPAddress` the service): `ec2.amazonaws.com` for an instance,
//!   `ecs-tasks.amazonaws.com` for an ECS task (`roleSessionName` the task id),
//!   `pods.eks.amazonaws.com` for EKS Pod Identity (the eks-auth AssumeRoleForPodIdentity record
//!   itself has `responseElements: null`; this one carries the session tags `kubernetes-namespace`
//!   and `kubernetes-pod-name`), `lambda.amazonaws.com` for a Lambda function (`roleSessionName`
//!   the function name).
//! - `sts:AssumeRoleWithWebIdentity` made by the workload itself (IRSA, CI runners): its own
//!   `sourceIPAddress` is where the session's credentials go, and `responseElements.assumedRoleUser.arn`
//!   names the session.
//! - A judged session's own `sts:AssumeRole` or `AssumeRoleWithWebIdentity`: the session it returns
//!   is chained to it.
//!
//! `responseElements.credentials.expiration` comes in two spellings: `Apr 16, 2024, 3:20:04 PM`
//! (STS records) and RFC 3339 (`2023-12-10T11:10:32+00:00`).

use crate::detect::workload::Kind;
use crate::parse::event_time::{self, Millis};
use crate::parse::session_key::{SessionKey, is_instance_id};
use compact_str::CompactString;
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use std::net::IpAddr;

/// What an issuing record says about the session besides its key. Saved with the facts waiting
/// in the reorder window.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Issued {
    pub kind: Kind,
    /// A pod's `namespace/pod`, a function's region.
    pub detail: Option<CompactString>,
    /// `credentials.expiration`, when the record gives one that reads.
    pub expires: Option<Millis>,
    /// The issuing record's own address (web identity): the session's first lock.
    pub first_lock: Option<IpAddr>,
    /// That address came through a VPC endpoint.
    pub via_endpoint: bool,
    /// The issuing record's `awsRegion`: an instance's own region (evidence for 17). Not saved
    /// with the window, as the row's copy is not (the state format stays main's).
    #[serde(skip)]
    pub region: Option<CompactString>,
}

/// The workload kind an AWS service's AssumeRole issues credentials for.
pub fn service_kind(service: &str) -> Option<Kind> {
    match service {
        crate::detect::events::EC2 => Some(Kind::Instance),
        "ecs-tasks.amazonaws.com" => Some(Kind::Task),
        "pods.eks.amazonaws.com" => Some(Kind::Pod),
        "lambda.amazonaws.com" => Some(Kind::Function),
        _ => None,
    }
}

/// The session an AWS service's AssumeRole issues, and its kind: instance sessions must be named
/// after an instance, so that a person's AssumeRole with such a name creates none.
pub fn service_session(kind: Kind, role_arn: &str, name: &str) -> Option<SessionKey> {
    SessionKey::from_role_arn(role_arn, name)
        .filter(|s| kind != Kind::Instance || is_instance_id(&s.instance))
}

/// `requestParameters.tags` of a Pod Identity AssumeRole: `cluster/namespace` (the pod's name is
/// read from the session name, see `Workload::pod`).
pub fn pod_place(request: Option<&Object<'_, '_>>) -> Option<CompactString> {
    let tags = request?.get("tags")?;
    let mut ns = None;
    let mut cluster = None;
    for t in tags.as_array()?.iter() {
        let Some(t) = t.as_object() else { continue };
        let (Some(k), Some(v)) = (
            t.get("key").and_then(|v| v.into_string()),
            t.get("value").and_then(|v| v.into_string()),
        ) else {
            continue;
        };
        match k {
            "kubernetes-namespace" => ns = Some(v),
            "eks-cluster-name" => cluster = Some(v),
            _ => {}
        }
    }
    let ns = ns.filter(|n| !n.is_empty())?;
    Some(compact_str::format_compact!("{}/{ns}", cluster.unwrap_or("")))
}

/// `responseElements.assumedRoleUser.arn`: the session an STS call returned.
pub fn returned_session(response: Option<&Object<'_, '_>>) -> Option<SessionKey> {
    let arn = response?
        .get("assumedRoleUser")?
        .as_object()?
        .get("arn")?
        .into_string()?;
    SessionKey::from_session_arn(arn)
}

/// `responseElements.credentials.expiration`, in either spelling.
pub fn expiration(response: Option<&Object<'_, '_>>) -> Option<Millis> {
    let creds = response?.get("credentials")?;
    let s = Value::as_object(&creds)?.get("expiration")?.into_string()?;
    parse_expiration(s)
}

/// `Apr 16, 2024, 3:20:04 PM` (what STS records write) or RFC 3339.
pub fn parse_expiration(s: &str) -> Option<Millis> {
    event_time::parse(s).or_else(|| parse_us_time(s))
}

/// `MMM D, YYYY, H:MM:SS AM|PM`, UTC.
fn parse_us_time(s: &str) -> Option<Millis> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (month, rest) = s.split_once(' ')?;
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let (day, rest) = rest.split_once(", ")?;
    let (year, rest) = rest.split_once(", ")?;
    let (clock, half) = rest.split_once(' ')?;
    let mut parts = clock.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |t: &str, max: u32| -> Option<u32> {
        (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
            .filter(|&n| n <= max)
    };
    let (day, year, h, m, sec) = (
        num(day, 31)?,
        num(year, 9999)?,
        num(h, 12)?,
        num(m, 59)?,
        num(sec, 60)?,
    );
    if h == 0 {
        return None;
    }
    let hour = match half {
        "AM" => h % 12,
        "PM" => h % 12 + 12,
        _ => return None,
    };
    event_time::parse(&format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{m:02}:{sec:02}Z"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_an_expiration_read() {
        let iso = parse_expiration("2024-04-16T15:20:04Z").unwrap();
        assert_eq!(parse_expiration("Apr 16, 2024, 3:20:04 PM"), Some(iso));
        assert_eq!(parse_expiration("2024-04-16T15:20:04+00:00"), Some(iso));
        let midnight = parse_expiration("2024-03-01T00:05:00Z").unwrap();
        assert_eq!(parse_expiration("Mar 1, 2024, 12:05:00 AM"), Some(midnight));
        assert_eq!(
            parse_expiration("Mar 1, 2024, 12:05:00 PM"),
            Some(midnight + 12 * event_time::HOUR)
        );
        for bad in [
            "",
            "Foo 1, 2024, 1:00:00 PM",
            "Mar 1, 2024, 13:00:00 PM",
            "Mar 1, 2024, 1:00:00",
            "Mar 1 2024",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad}");
        }
    }

    #[test]
    fn services_issue_their_kinds_and_instances_need_an_instance_name() {
        assert_eq!(service_kind("ecs-tasks.amazonaws.com"), Some(Kind::Task));
        assert_eq!(service_kind("pods.eks.amazonaws.com"), Some(Kind::Pod));
        assert_eq!(service_kind("lambda.amazonaws.com"), Some(Kind::Function));
        assert_eq!(service_kind("ec2.amazonaws.com"), Some(Kind::Instance));
        assert_eq!(service_kind("eks.amazonaws.com"), None);
        let role = "arn:aws:iam::1:role/r";
        assert!(service_session(Kind::Instance, role, "4d2b5b5e1c2f4e4e9a6d3c0f6b7a8e9d").is_none());
        assert!(service_session(Kind::Task, role, "4d2b5b5e1c2f4e4e9a6d3c0f6b7a8e9d").is_some());
    }
}
