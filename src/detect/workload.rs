//! The kinds of workload whose credentials the method judges, and what a session of each kind
//! carries beside its key: the README's "How it decides", items 18 to 22.
//!
//! Every kind gets its session from a record that can be told apart from a person's AssumeRole: an
//! AWS service acting for an instance, a task, a pod or a function, the workload's own
//! AssumeRoleWithWebIdentity, or a call by a session that is judged already (chaining). What the
//! kind changes is small: which records issue and end it, what the annotation names, and, for
//! Lambda, that no first-use lock is taken.

use super::rows::Identity;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Whose credentials a session holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// An EC2 instance profile: issued by `ec2.amazonaws.com`, named after the instance.
    #[default]
    Instance,
    /// An ECS task role: issued by `ecs-tasks.amazonaws.com`, named after the task id.
    Task,
    /// EKS Pod Identity: issued by `pods.eks.amazonaws.com`, its session tags name the pod.
    Pod,
    /// IRSA and other web-identity workloads: the workload's own AssumeRoleWithWebIdentity.
    WebIdentity,
    /// A Lambda execution role: issued by `lambda.amazonaws.com`, named after the function.
    Function,
    /// Issued to a judged session by its own sts:AssumeRole (role chaining).
    Chained,
}

/// Every kind, in the order the summary lists them.
pub const KINDS: [Kind; 6] = [
    Kind::Instance,
    Kind::Task,
    Kind::Pod,
    Kind::WebIdentity,
    Kind::Function,
    Kind::Chained,
];

/// How many sessions deep a chain is followed: a judged session's child is depth 1, its child 2.
/// Deeper sessions are not tracked (a loop of roles assuming each other must not grow the table).
pub const MAX_CHAIN_DEPTH: u8 = 4;

/// How long a chained session lives when its AssumeRole gives no expiration: STS's default
/// `DurationSeconds`.
pub const CHAIN_DEFAULT_LIFE: crate::parse::event_time::Millis = crate::parse::event_time::HOUR;

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Task => "task",
            Kind::Pod => "pod",
            Kind::WebIdentity => "web_identity",
            Kind::Function => "function",
            Kind::Chained => "chained",
        }
    }

    /// The name `--no-workload` takes.
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// What the identity of a session of this kind is called in a sentence ("task 4d2b…").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Task => "ECS task",
            Kind::Pod => "EKS pod",
            Kind::WebIdentity => "web-identity session",
            Kind::Function => "Lambda function",
            Kind::Chained => "chained session",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which kinds are judged. Instances always; the others by default unless switched off, Lambda
/// functions only when `--aws-ip-ranges` is given too (their rule needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds(u8);

impl Default for Kinds {
    fn default() -> Self {
        Kinds(KINDS.into_iter().fold(0, |bits, k| bits | k.bit()))
    }
}

impl Kinds {
    pub fn on(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }

    pub fn with(self, k: Kind, on: bool) -> Kinds {
        if on {
            Kinds(self.0 | k.bit())
        } else {
            Kinds(self.0 & !k.bit())
        }
    }
}

/// What a session is beside its key: its kind, what names the workload beside the session name (a
/// pod's `cluster/namespace`, a function's region), and for a chained session the session it was
/// issued to. Shared by every session alike, so a pod's name is not here but read from its session
/// name ([`Workload::pod`]): one identity per pod would triple a pod session's memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Workload {
    pub kind: Kind,
    pub detail: Option<CompactString>,
    pub parent: Option<Arc<Parent>>,
}

/// The session a chained session was issued to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Parent {
    /// Its ARN (`arn:…:assumed-role/ROLE/SESSION`).
    pub arn: CompactString,
    pub workload: Workload,
}

/// What a row's identity holds of its workload: a [`Workload`] without the session names that
/// would make every chained session's identity its own. A chained session keeps its parent's
/// interned identity and, below the first link, its parent's session name; the name of the session
/// at the root of the chain is the key its rows are routed by, which the resolver sends with each
/// of its records. So the children of one role's workloads that assume the same role share one
/// identity, as the instances of one role do, and a chained session costs about an instance's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Tracked {
    pub kind: Kind,
    pub detail: Option<CompactString>,
    pub up: Option<Arc<Up>>,
}

/// The session a chained session was issued to, as its row holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Up {
    /// Its session name; `None` when it is the chain's root, whose name is the route's key.
    pub name: Option<CompactString>,
    pub ident: Arc<Identity>,
}

impl Tracked {
    /// 0 for a workload's own session, 1 for its child, and so on.
    pub fn depth(&self) -> u8 {
        let mut d = 0;
        let mut p = self.up.as_deref();
        while let Some(up) = p {
            d += 1;
            p = up.ident.workload.up.as_deref();
        }
        d
    }

    /// The workload as verdicts name it, the chain's session ARNs written out; `root` is the name
    /// of the session at the root of the chain (a chained session's route).
    pub fn named(&self, root: Option<&str>) -> Workload {
        Workload {
            kind: self.kind,
            detail: self.detail.clone(),
            parent: self.up.as_ref().map(|u| {
                let i = &u.ident;
                let name = u.name.as_deref().or(root).unwrap_or("?");
                Arc::new(Parent {
                    arn: compact_str::format_compact!(
                        "arn:{}:sts::{}:assumed-role/{}/{}",
                        i.partition.as_str(),
                        i.account,
                        i.role,
                        name
                    ),
                    workload: i.workload.named(root),
                })
            }),
        }
    }
}

impl From<Workload> for Tracked {
    /// A workload's own session (no parent).
    fn from(w: Workload) -> Tracked {
        Tracked {
            kind: w.kind,
            detail: w.detail,
            up: None,
        }
    }
}

impl Workload {
    pub fn of(kind: Kind) -> Workload {
        Workload {
            kind,
            ..Workload::default()
        }
    }

    /// A pod's `namespace/pod`. EKS names a Pod Identity session
    /// `eks-CLUSTER-POD-UUID`, the cluster cut to 10 characters (and the pod cut to what the 64
    /// characters of a session name leave); the pod is what lies between. A name of another shape
    /// is given whole.
    pub fn pod(&self, session: &str) -> Option<String> {
        if self.kind != Kind::Pod {
            return None;
        }
        let (cluster, ns) = self.detail.as_deref()?.split_once('/')?;
        let cut = cluster
            .char_indices()
            .nth(10)
            .map_or(cluster, |(i, _)| &cluster[..i]);
        let pod = session
            .strip_prefix("eks-")
            .and_then(|s| s.strip_prefix(cut))
            .and_then(|s| s.strip_prefix('-'))
            .and_then(|s| {
                let uuid = s.len().checked_sub(37)?;
                (s.is_char_boundary(uuid) && s[uuid..].starts_with('-') && uuid > 0).then(|| &s[..uuid])
            })
            .unwrap_or(session);
        Some(format!("{ns}/{pod}"))
    }

    /// 0 for a workload's own session, 1 for its child, and so on.
    pub fn depth(&self) -> u8 {
        let mut d = 0;
        let mut p = self.parent.as_deref();
        while let Some(up) = p {
            d += 1;
            p = up.workload.parent.as_deref();
        }
        d
    }

    /// The session ARNs from the workload's own down to this session's parent.
    pub fn chain(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut p = self.parent.as_deref();
        while let Some(up) = p {
            out.push(up.arn.as_str());
            p = up.workload.parent.as_deref();
        }
        out.reverse();
        out
    }

    /// The workload at the root of a chain (this one when it is not chained), and its session ARN
    /// (`None` for this one).
    pub fn root(&self) -> (&Workload, Option<&str>) {
        let mut w = self;
        let mut arn = None;
        while let Some(up) = w.parent.as_deref() {
            w = &up.workload;
            arn = Some(up.arn.as_str());
        }
        (w, arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_default_to_all_and_switch_one_by_one() {
        let k = Kinds::default();
        for kind in KINDS {
            assert!(k.on(kind), "{kind:?}");
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let off = k.with(Kind::Task, false);
        assert!(!off.on(Kind::Task) && off.on(Kind::Pod));
        assert!(off.with(Kind::Task, true).on(Kind::Task));
    }

    #[test]
    fn a_pod_is_named_from_its_session_name() {
        let w = Workload {
            kind: Kind::Pod,
            detail: Some("eksworkshop-eksctl/ns-a".into()),
            parent: None,
        };
        let name = "eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0";
        assert_eq!(w.pod(name).as_deref(), Some("ns-a/app1"));
        assert_eq!(w.pod("other").as_deref(), Some("ns-a/other"));
        let short = Workload {
            detail: Some("prod/web".into()),
            ..w.clone()
        };
        assert_eq!(
            short
                .pod("eks-prod-api-7d9f-498124c2-a555-40bf-9059-ca9a26821eb0")
                .as_deref(),
            Some("web/api-7d9f")
        );
        assert_eq!(Workload::of(Kind::Task).pod(name), None);
    }

    #[test]
    fn a_chain_names_its_sessions_from_the_workload_down() {
        let task = Workload::of(Kind::Task);
        let one = Workload {
            kind: Kind::Chained,
            detail: None,
            parent: Some(Arc::new(Parent {
                arn: "arn:aws:sts::1:assumed-role/app/t1".into(),
                workload: task.clone(),
            })),
        };
        let two = Workload {
            kind: Kind::Chained,
            detail: None,
            parent: Some(Arc::new(Parent {
                arn: "arn:aws:sts::2:assumed-role/b/s1".into(),
                workload: one.clone(),
            })),
        };
        assert_eq!(task.depth(), 0);
        assert_eq!(two.depth(), 2);
        assert_eq!(
            two.chain(),
            [
                "arn:aws:sts::1:assumed-role/app/t1",
                "arn:aws:sts::2:assumed-role/b/s1"
            ]
        );
        let (root, arn) = two.root();
        assert_eq!(root.kind, Kind::Task);
        assert_eq!(arn, Some("arn:aws:sts::1:assumed-role/app/t1"));
    }

    /// A chained session's row names neither its own session nor its root's: the children of
    /// every workload of a role that assume one role share an identity, and the chain is written
    /// out from the route (the root's name) when a verdict names it. (Mutation: keeping the
    /// parent's name at the first link makes the two children differ here.)
    #[test]
    fn chained_sessions_share_an_identity_and_name_their_chain_from_the_route() {
        use crate::parse::session_key::Partition;
        let root = Arc::new(Identity {
            partition: Partition::Aws,
            account: "1".into(),
            role: "app".into(),
            region: None,
            workload: Tracked {
                kind: Kind::Task,
                ..Tracked::default()
            },
        });
        let child = |name: Option<&str>, up: &Arc<Identity>| Tracked {
            kind: Kind::Chained,
            detail: None,
            up: Some(Arc::new(Up {
                name: name.map(Into::into),
                ident: up.clone(),
            })),
        };
        let one = child(None, &root);
        assert_eq!(
            one,
            child(None, &root),
            "one identity for the children of any task"
        );
        let below = Arc::new(Identity {
            account: "2".into(),
            role: "b".into(),
            workload: one.clone(),
            ..(*root).clone()
        });
        let two = child(Some("s1"), &below);
        assert_eq!((one.depth(), two.depth()), (1, 2));
        let named = two.named(Some("t1"));
        assert_eq!(
            named.chain(),
            [
                "arn:aws:sts::1:assumed-role/app/t1",
                "arn:aws:sts::2:assumed-role/b/s1"
            ]
        );
        assert_eq!(named.root().0.kind, Kind::Task);
    }
}
