//! The generator's state and its main loop: one record slot at a time, due actions first,
//! background traffic otherwise.

use crate::attack::IncidentState;
use crate::delivery::Pending;
use crate::record::Core;
use crate::schedule::{Due, slot_time};
use crate::world::{Account, Inst, Role};
use crate::{GenConfig, Truth};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BinaryHeap, HashSet};

pub(crate) struct Gen<'c> {
    pub(crate) cfg: &'c GenConfig,
    pub(crate) c: Core,
    pub(crate) accts: Vec<Account>,
    pub(crate) roles: Vec<Role>,
    pub(crate) insts: Vec<Inst>,
    pub(crate) cum_weight: Vec<u64>,
    pub(crate) incidents: Vec<IncidentState>,
    pub(crate) sched: BinaryHeap<Due>,
    pub(crate) sched_seq: u64,
    pub(crate) used_ips: HashSet<String>,
    pub(crate) end: i64,
    pub(crate) out: BinaryHeap<Pending>,
    pub(crate) pool: Vec<Vec<u8>>,
    pub(crate) seq: u64,
    pub(crate) jitter_ms: u64,
    pub(crate) truth: Truth,
    pub(crate) workloads: Vec<crate::workloads::WState>,
}

impl<'c> Gen<'c> {
    pub(crate) fn new(cfg: &'c GenConfig) -> Gen<'c> {
        let end = slot_time(cfg, cfg.records.saturating_sub(1));
        let mut g = Gen {
            cfg,
            c: Core {
                rng: ChaCha8Rng::seed_from_u64(cfg.seed),
                now: cfg.start,
                tcache: (i64::MIN, [0; 20]),
                last_event_id: [b'0'; 36],
            },
            accts: Vec::new(),
            roles: Vec::new(),
            insts: Vec::new(),
            cum_weight: Vec::new(),
            incidents: Vec::new(),
            sched: BinaryHeap::new(),
            sched_seq: 0,
            used_ips: HashSet::new(),
            end,
            out: BinaryHeap::new(),
            pool: Vec::new(),
            seq: 0,
            jitter_ms: u64::from(cfg.jitter_secs) * 1000,
            truth: Truth::default(),
            workloads: Vec::new(),
        };
        g.build_world();
        g.plan();
        g.plan_workloads();
        g
    }
}
