//! The OCSF 1.3.0 Detection Finding (class 2004) and the objects a credtrail finding uses, as
//! typed structs named as the schema names them; [`super::findings`] fills them from an incident.
//!
//! Field order: every struct declares its fields in byte order of their names, because the
//! findings were first written through `serde_json::Value` (a sorted map) and consumers may
//! compare lines byte for byte. Optional attributes are left out when `None`, as OCSF wants.
//!
//! What OCSF has no attribute for goes in the vendor places the schema gives: `unmapped` at the
//! top, and the `data` (`json_t`) of a resource or an evidence. Those are credtrail's own structs
//! at the end of this file; a new vendor field is added there, a new OCSF attribute here (and to
//! the vendored schema under `tests/data/ocsf/`, which the tests validate against). Addresses
//! are `IpAddr`s: serde writes them as their display string, which OCSF's `ip_t` is.

use crate::parse::event_time::Millis;
use serde::Serialize;
use std::net::IpAddr;

/// Class `detection_finding` (extends `finding`, which extends `base_event`), profile `cloud`.
#[derive(Debug, Serialize)]
pub struct DetectionFinding<'a> {
    pub activity_id: u32,
    pub activity_name: &'static str,
    pub category_name: &'static str,
    pub category_uid: u32,
    pub class_name: &'static str,
    pub class_uid: u32,
    pub cloud: Cloud<'a>,
    pub confidence: &'static str,
    pub confidence_id: u8,
    pub count: u64,
    pub duration: Millis,
    pub end_time: Millis,
    pub evidences: Vec<Evidences<'a>>,
    pub finding_info: FindingInfo<'a>,
    pub message: String,
    pub metadata: Metadata<'a>,
    pub resources: [ResourceDetails<'a>; 2],
    pub severity: &'static str,
    pub severity_id: u8,
    pub start_time: Millis,
    pub status: &'static str,
    pub status_id: u8,
    pub time: Millis,
    pub timezone_offset: i32,
    pub type_name: String,
    pub type_uid: u32,
    pub unmapped: Unmapped<'a>,
}

/// Object `cloud`.
#[derive(Debug, Serialize)]
pub struct Cloud<'a> {
    pub account: Account<'a>,
    pub provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
}

/// Object `account`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Account<'a> {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub type_id: u32,
    pub uid: &'a str,
}

/// Object `metadata`.
#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    pub correlation_uid: &'a str,
    pub product: Product,
    pub profiles: [&'static str; 1],
    pub sequence: u32,
    pub uid: String,
    pub version: &'static str,
}

/// Object `product`.
#[derive(Debug, Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'static str,
}

/// Object `finding_info`.
#[derive(Debug, Serialize)]
pub struct FindingInfo<'a> {
    pub analytic: Analytic,
    pub created_time: Millis,
    pub data_sources: [&'static str; 1],
    pub desc: String,
    pub first_seen_time: Millis,
    pub last_seen_time: Millis,
    pub modified_time: Millis,
    pub title: String,
    pub types: [&'static str; 1],
    pub uid: &'a str,
}

/// Object `analytic`.
#[derive(Debug, Serialize)]
pub struct Analytic {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub type_id: u32,
    pub uid: &'static str,
    pub version: &'static str,
}

/// Object `resource_details`.
#[derive(Debug, Serialize)]
pub struct ResourceDetails<'a> {
    pub cloud_partition: &'a str,
    pub data: ResourceData<'a>,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub uid: &'a str,
}

/// Object `evidences`: who called from where (the first), or one kind of call (the others).
#[derive(Debug, Serialize)]
pub struct Evidences<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Api<'a>>,
    pub data: EvidenceData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<NetworkEndpoint<'a>>,
}

/// Object `actor`.
#[derive(Debug, Serialize)]
pub struct Actor<'a> {
    pub session: Session<'a>,
    pub user: User<'a>,
}

/// Object `user`.
#[derive(Debug, Serialize)]
pub struct User<'a> {
    pub account: Account<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_uid: Option<&'a str>,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub type_id: u32,
    pub uid: &'a str,
}

/// Object `session`.
#[derive(Debug, Serialize)]
pub struct Session<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_uid: Option<&'a str>,
    pub issuer: &'a str,
    pub uid: &'a str,
}

/// Object `network_endpoint`.
#[derive(Debug, Serialize)]
pub struct NetworkEndpoint<'a> {
    pub ip: &'a str,
}

/// Object `api`.
#[derive(Debug, Serialize)]
pub struct Api<'a> {
    pub operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response<'a>>,
}

/// Object `response`.
#[derive(Debug, Serialize)]
pub struct Response<'a> {
    pub error: &'a str,
}

// ---- credtrail's own data: the `json_t` and `unmapped` attributes' contents ----

/// `resources[].data`: the account, and for the role session the role ARN.
#[derive(Debug, Serialize)]
pub struct ResourceData<'a> {
    pub account_uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<&'a str>,
}

/// `evidences[].data`: where the caller is (the first evidence), or a call's counts.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum EvidenceData<'a> {
    Origin(&'a OriginData<'a>),
    Call(CallData),
}

/// Where the foreign address is; also part of `unmapped`.
#[derive(Debug, Serialize)]
pub struct OriginData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_ip_range: Option<AwsIpRange<'a>>,
    pub origin: &'static str,
}

/// The AWS range (ip-ranges.json) holding the foreign address.
#[derive(Debug, Serialize)]
pub struct AwsIpRange<'a> {
    pub network_border_group: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// One (operation, error code)'s calls.
#[derive(Debug, Serialize)]
pub struct CallData {
    pub count: u64,
    pub first_seen_time: Millis,
    pub last_seen_time: Millis,
}

/// `unmapped`: what OCSF has no attribute for.
#[derive(Debug, Serialize)]
pub struct Unmapped<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_ip_range: Option<&'a AwsIpRange<'a>>,
    pub calls_not_listed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<&'static str>,
    /// `lock_moved` (the trail's tie) or `own_region` when the lock moved to the address this
    /// finding names (see `moved_from`); `after_task_stopped` when a task's key was used after
    /// its StopTask, from whatever address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_calls_while_contested: Option<u64>,
    pub locked_ips: Vec<LockedIp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The same as the first evidence's `data.origin`.
    pub origin: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_note: Option<&'a str>,
    pub session_row_expires: Millis,
    pub slot: &'static str,
    pub workload: WorkloadData<'a>,
}

/// `unmapped.workload`: whose credentials these are, as the annotation's `workload` says.
#[derive(Debug, Serialize)]
pub struct WorkloadData<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_kind: Option<&'static str>,
}

/// One of the session's locks.
#[derive(Debug, Serialize)]
pub struct LockedIp {
    pub ip: IpAddr,
    pub origin: &'static str,
    pub since: Millis,
    pub slot: &'static str,
}
