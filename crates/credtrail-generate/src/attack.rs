//! Injected credential thefts: a thief's calls with stolen instance credentials, and what they
//! add to the [`Truth`].

use crate::Incident;
use crate::calls::{IC, api_call};
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::record::Who;
use crate::schedule::Act;
use crate::text::{Draw, into_string};
use crate::world::Sess;

pub(crate) struct IncidentState {
    pub(crate) inst: usize,
    pub(crate) ips: Vec<String>,
    pub(crate) ua: &'static str,
    pub(crate) stolen: Option<Sess>,
    pub(crate) calls: u32,
    pub(crate) spacing: i64,
    pub(crate) emitted: bool,
    pub(crate) truth: Incident,
}

impl Gen<'_> {
    pub(crate) fn thief_call(&mut self, k: usize, idx: u32) -> bool {
        let mut b = self.buf();
        let inc = &self.incidents[k];
        let Some(sess) = inc.stolen.as_ref() else {
            return false;
        };
        let i = &self.insts[inc.inst];
        let a = &self.accts[i.acct];
        let c = &mut self.c;
        let ip = if inc.ips.len() > 1 && idx >= inc.calls / 2 {
            &inc.ips[1]
        } else {
            &inc.ips[0]
        };
        let kind = if idx == 0 {
            IC::StsGci
        } else {
            *c.rng.pick(&[
                IC::ListBuckets,
                IC::S3Get,
                IC::S3Get,
                IC::S3List,
                IC::Ec2DescInst,
                IC::Denied,
                IC::Denied,
                IC::SecretGet,
                IC::StsGci,
            ])
        };
        let region = if c.rng.per_mille(600) {
            "us-east-1"
        } else {
            i.region
        };
        let who = Who {
            ident: &sess.ident,
            invoked_by: None,
            ip,
            ua: [inc.ua, kind.cli_command()],
            vpce: None,
            arn: &i.arn,
            thief: true,
        };
        api_call(c, a, &mut b, region, &i.id, kind, &who);
        let (created, key, ip) = (sess.created, sess.key.clone(), ip.clone());
        let (inst, calls, spacing) = (inc.inst, inc.calls, inc.spacing);
        self.push(
            b,
            if idx == 0 {
                Deliver::Anchor
            } else {
                Deliver::Jitter
            },
        );

        let eid = into_string(self.c.last_event_id.to_vec());
        let st = &mut self.incidents[k];
        if !st.emitted {
            st.emitted = true;
            st.truth.access_key_id = key;
            if !self.truth.attacked_sessions.contains(&st.truth.session_arn) {
                self.truth.attacked_sessions.push(st.truth.session_arn.clone());
            }
        }
        if !st.truth.thief_ips.contains(&ip) {
            st.truth.thief_ips.push(ip.clone());
        }
        if !self.truth.thief_ips.contains(&ip) {
            self.truth.thief_ips.push(ip);
        }
        st.truth.thief_event_ids.push(eid.clone());
        self.truth.thief_event_ids.push(eid);

        let t = self.c.now;
        if idx == 0 && st.truth.attacker_first {
            // The instance's first call with these credentials comes after the thief's.
            let epoch = self.insts[inst].epoch;
            let d = self.end - self.cfg.start;
            let at = t + self.c.rng.between(3, (d / 20).clamp(4, 40));
            self.schedule(
                at,
                Act::Adopt {
                    inst,
                    epoch,
                    thief_after: None,
                },
            );
        }
        // Every call within an hour of the AssumeRole that issued the credentials.
        let next = t + self.c.rng.between(1, spacing);
        if idx + 1 < calls && next < created + 3500 {
            self.schedule(
                next,
                Act::Thief {
                    incident: k,
                    idx: idx + 1,
                },
            );
        }
        true
    }
}
