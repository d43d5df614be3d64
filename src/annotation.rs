//! The `credtrail` object added to a record that has something to say, and how it is spliced into
//! the record's bytes without re-serialising them.

use crate::detector::{Lock, LockOrigin, Slot, Verdict, VerdictKind};
use crate::event_time::{self, Millis};
use serde::Serialize;

/// What annotating needs besides the verdict.
#[derive(Debug, Clone, Default)]
pub struct Annotator {
    /// `--ip-change-window`, for the reason of an `ip_added`.
    pub window: Millis,
    /// `--aws-ip-ranges`, to say who owns a foreign address.
    pub ranges: Option<std::sync::Arc<crate::ip_ranges::AwsRanges>>,
}

/// Who the foreign address of an alert belongs to, and how bad that makes it.
#[derive(Serialize)]
struct OriginOut {
    /// `OutsideAWS`, `InsideAWS` (the split GuardDuty makes), `private`, or `unclassified` (no
    /// `--aws-ip-ranges` given).
    class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    severity: &'static str,
}

/// The annotation's schema; the README documents it field by field.
#[derive(Serialize)]
struct Annotation<'a> {
    verdict: &'static str,
    reason: String,
    session: String,
    instance_id: &'a str,
    source_ip: &'a str,
    slot: &'static str,
    locked_ips: Vec<LockedIp>,
    ttl_expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_change_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<OriginOut>,
    /// Set when the session's row was inferred from its calls (`--infer-sessions`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inferred: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_endpoint_account: Option<&'a str>,
}

#[derive(Serialize)]
struct LockedIp {
    ip: String,
    slot: &'static str,
    since: String,
    origin: &'static str,
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Public => "public",
        Slot::Private => "private",
    }
}

fn describe_locks(locks: &[Lock], slot: Slot) -> String {
    let mut parts: Vec<String> = locks
        .iter()
        .filter(|l| l.slot == slot)
        .map(|l| {
            let how = match l.origin {
                LockOrigin::FirstUse => "by the session's first call from it",
                LockOrigin::AddressChange => "after an address change",
            };
            format!("{} (locked {} {how})", l.ip, event_time::format(l.since))
        })
        .collect();
    if parts.is_empty() {
        parts.push("nothing".into());
    }
    parts.join(", ")
}

fn reason(v: &Verdict, window_note: impl Fn(Millis) -> String) -> String {
    let inst = &v.session.instance;
    let role = &v.session.role;
    let slot = slot_name(v.slot);
    if let Some(acct) = &v.foreign_endpoint {
        return format!(
            "Credentials of instance {inst} (role {role}) were used through a VPC endpoint of account \
             {acct}, not the session's account {}: an endpoint the attacker owns hides where stolen keys \
             are used. Check who owns account {acct}.",
            v.session.account
        );
    }
    match v.kind {
        VerdictKind::Duplicate => format!(
            "CloudTrail delivered this record (same eventID) again; it was alerted the first time from {}.",
            v.source
        ),
        VerdictKind::Compromise => format!(
            "Credentials of instance {inst} (role {role}) were used from {src}, outside the {slot} \
             address the session is locked to: {locks}. Either they were stolen and used from {src}, \
             or the locked address is the thief's, who called first: check which address is the \
             instance's.",
            src = v.source,
            locks = describe_locks(&v.locks, v.slot)
        ),
        VerdictKind::Locked if v.first_lock => format!(
            "First call of this session from a {slot} address: {} now locks it for instance {inst}.",
            v.source
        ),
        VerdictKind::Locked => format!(
            "Call from the {slot} address the session is locked to ({}).",
            v.source
        ),
        VerdictKind::AwsService => format!(
            "{} called on the session's behalf; AWS service addresses never lock nor alert.",
            v.source
        ),
        VerdictKind::IpAdded => match v.change {
            Some((at, true)) => format!(
                "New address {} accepted: an address change for instance {inst} at {} named it.",
                v.source,
                event_time::format(at)
            ),
            Some((at, false)) => format!(
                "New address {} accepted: first new address after an address change for instance \
                 {inst} at {}{}.",
                v.source,
                event_time::format(at),
                window_note(at)
            ),
            None => format!("New address {} accepted.", v.source),
        },
    }
}

fn origin(v: &Verdict, ranges: Option<&crate::ip_ranges::AwsRanges>) -> Option<OriginOut> {
    use crate::findings::{Origin, severity};
    if v.kind != VerdictKind::Compromise {
        return None;
    }
    let ip: std::net::IpAddr = v.source.parse().ok()?;
    let o = Origin::classify(ip, ranges);
    let (_, sev) = severity(&o, false);
    Some(match o {
        Origin::OutsideAws => OriginOut {
            class: "OutsideAWS",
            region: None,
            service: None,
            severity: sev,
        },
        Origin::InsideAws { region, service, .. } => OriginOut {
            class: "InsideAWS",
            region: Some(region),
            service: Some(service),
            severity: sev,
        },
        Origin::PrivateNetwork => OriginOut {
            class: "private",
            region: None,
            service: None,
            severity: sev,
        },
        Origin::Unclassified => OriginOut {
            class: "unclassified",
            region: None,
            service: None,
            severity: sev,
        },
    })
}

/// Writes the annotation object (without the key) as JSON.
pub fn write(v: &Verdict, ctx: &Annotator, out: &mut Vec<u8>) {
    let window = ctx.window;
    let a = Annotation {
        verdict: v.kind.as_str(),
        reason: reason(v, |at| {
            format!(" (window open until {})", event_time::format(at + window))
        }),
        session: v.session.to_string(),
        instance_id: &v.session.instance,
        source_ip: &v.source,
        slot: slot_name(v.slot),
        locked_ips: v
            .locks
            .iter()
            .map(|l| LockedIp {
                ip: l.ip.to_string(),
                slot: slot_name(l.slot),
                since: event_time::format(l.since),
                origin: match l.origin {
                    LockOrigin::FirstUse => "first_use",
                    LockOrigin::AddressChange => "address_change",
                },
            })
            .collect(),
        ttl_expires: event_time::format(v.expires),
        address_change_at: v.change.map(|(at, _)| event_time::format(at)),
        origin: origin(v, ctx.ranges.as_deref()),
        inferred: v.inferred,
        vpc_endpoint_account: v.foreign_endpoint.as_deref(),
    };
    // Serialising plain strings and vectors into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &a);
}

/// Writes `record` with `"credtrail":annotation` added as its last top-level key, then a newline.
/// `record` is a JSON object (it parsed as one), so its last non-blank byte is `}`.
pub fn splice(record: &[u8], annotation: &[u8], out: &mut Vec<u8>) {
    let close = record.iter().rposition(|&c| c == b'}').unwrap_or(record.len());
    let body = &record[..close];
    let empty = body
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .is_none_or(|&c| c == b'{');
    out.extend_from_slice(body);
    out.extend_from_slice(if empty {
        b"\"credtrail\":"
    } else {
        b",\"credtrail\":"
    });
    out.extend_from_slice(annotation);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_adds_one_key() {
        let mut out = Vec::new();
        splice(br#"{"a":1} "#, br#"{"v":2}"#, &mut out);
        assert_eq!(out, b"{\"a\":1,\"credtrail\":{\"v\":2}}\n");
        out.clear();
        splice(b"{ }\r", br#"{}"#, &mut out);
        assert_eq!(out, b"{ \"credtrail\":{}}\n");
    }
}
