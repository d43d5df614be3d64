//! The schedule: when each record falls in event time, and the actions (credential issues,
//! launches, address changes, stops and starts, thefts) planned for later and carried out when due.

use crate::GenConfig;
use crate::delivery::Deliver;
use crate::generator::Gen;
use crate::text::{Draw, hex_id};
use crate::world::{Mode, St};
use std::cmp::Ordering;

/// Spreads `records` over event time.
pub(crate) fn slot_time(cfg: &GenConfig, i: usize) -> i64 {
    let rate = if cfg.events_per_sec.is_finite() && cfg.events_per_sec > 0.0 {
        cfg.events_per_sec
    } else {
        1.0
    };
    cfg.start + (i as f64 / rate).floor() as i64
}

pub(crate) const ANY_GEN: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Purpose {
    Normal,
    /// A refresh forced for an instance-first incident: the thief steals these credentials.
    StealAfterUse(usize),
    /// The first issue of an instance launched for an attacker-first incident.
    StealBeforeUse(usize),
}

#[derive(Clone, Debug)]
pub(crate) enum Act {
    Issue {
        inst: usize,
        epoch: u32,
        rgen: u32,
        purpose: Purpose,
    },
    /// The instance's first call with freshly issued credentials.
    Adopt {
        inst: usize,
        epoch: u32,
        thief_after: Option<usize>,
    },
    Launch {
        inst: usize,
        attack: Option<usize>,
    },
    AttackRefresh {
        incident: usize,
    },
    Allocate {
        inst: usize,
        assoc_at: i64,
        by_name: bool,
    },
    Associate {
        inst: usize,
        by_name: bool,
        via_eni: bool,
    },
    Attach {
        inst: usize,
        new_address: bool,
    },
    /// After an unnamed change: the instance's first call from its one new address.
    Switch {
        inst: usize,
    },
    Stop {
        inst: usize,
        start_at: i64,
    },
    Start {
        inst: usize,
    },
    /// First call after a start that kept the old credentials.
    Resume {
        inst: usize,
        epoch: u32,
    },
    Thief {
        incident: usize,
        idx: u32,
    },
    /// A step of a workload of [`crate::Workloads`] (see `workloads.rs`).
    Workload {
        w: usize,
        step: u32,
    },
}

pub(crate) struct Due {
    pub(crate) at: i64,
    pub(crate) seq: u64,
    pub(crate) act: Act,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    // Reversed: BinaryHeap is a max-heap and the earliest must come out first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

impl Gen<'_> {
    pub(crate) fn schedule(&mut self, at: i64, act: Act) {
        self.sched_seq += 1;
        self.sched.push(Due {
            at,
            seq: self.sched_seq,
            act,
        });
    }

    /// Plans every instance's first action, each incident, and the address changes.
    pub(crate) fn plan(&mut self) {
        let start = self.cfg.start;
        let d = (self.end - start).max(1);
        for k in 0..self.insts.len() {
            let i = &self.insts[k];
            if !i.launched_later {
                let at = start + self.c.rng.between(0, (d / 10).min(30));
                self.schedule(
                    at,
                    Act::Issue {
                        inst: k,
                        epoch: 0,
                        rgen: ANY_GEN,
                        purpose: Purpose::Normal,
                    },
                );
            } else if !i.target {
                let at = start + d / 20 + self.c.rng.between(0, d * 3 / 4);
                self.schedule(
                    at,
                    Act::Launch {
                        inst: k,
                        attack: None,
                    },
                );
            }
        }
        let n = self.incidents.len() as i64;
        for k in 0..self.incidents.len() {
            let lo = start + d * 15 / 100 + d * 60 / 100 * k as i64 / n;
            let mut at = lo + self.c.rng.between(0, d * 60 / 100 / n / 2);
            let act = if self.incidents[k].truth.attacker_first {
                // Launch, issue, the thief's first call and the instance's take up to ~d/4.
                at = (at - d / 8).max(start);
                Act::Launch {
                    inst: self.incidents[k].inst,
                    attack: Some(k),
                }
            } else {
                Act::AttackRefresh { incident: k }
            };
            self.schedule(at, act);
        }
        self.plan_address_changes();
    }

    /// Address changes, on instances not involved in incidents, never two within an hour.
    fn plan_address_changes(&mut self) {
        let start = self.cfg.start;
        let d = (self.end - start).max(1);
        let j = i64::from(self.cfg.jitter_secs);
        let eligible: Vec<usize> = (0..self.insts.len())
            .filter(|&k| !self.insts[k].target && matches!(self.insts[k].mode, Mode::V4 | Mode::Mixed))
            .collect();
        if eligible.is_empty() {
            return;
        }
        let hours = d / 3600;
        let n_changes = (self.insts.len() as i64 * (4 + 3 * hours) / 20).max(1);
        let earliest = start + 150 + j;
        let latest = self.end - 30;
        let mut planned: Vec<(usize, i64)> = Vec::new();
        for _ in 0..n_changes * 3 {
            if planned.len() as i64 >= n_changes || latest <= earliest {
                break;
            }
            let k = *self.c.rng.pick(&eligible);
            let at = self.c.rng.between(earliest, latest);
            if planned.iter().any(|&(p, t)| p == k && (t - at).abs() < 3600) {
                continue;
            }
            planned.push((k, at));
            match self.c.rng.below(100) {
                0..=29 => {
                    let lead = self.c.rng.between(5, 600);
                    self.schedule(
                        at - lead,
                        Act::Allocate {
                            inst: k,
                            assoc_at: at,
                            by_name: false,
                        },
                    );
                }
                30..=49 => {
                    if self.c.rng.per_mille(500) {
                        let lead = self.c.rng.between(5, 600);
                        self.schedule(
                            at - lead,
                            Act::Allocate {
                                inst: k,
                                assoc_at: at,
                                by_name: true,
                            },
                        );
                    } else {
                        self.schedule(
                            at,
                            Act::Associate {
                                inst: k,
                                by_name: true,
                                via_eni: false,
                            },
                        );
                    }
                }
                50..=74 => {
                    let new_address = self.c.rng.per_mille(700);
                    self.schedule(at, Act::Attach { inst: k, new_address });
                }
                _ => {
                    let start_at = at + j + self.c.rng.between(5, 900);
                    self.schedule(at, Act::Stop { inst: k, start_at });
                }
            }
            let b = &mut self.insts[k].barriers;
            let pos = b.partition_point(|&t| t <= at);
            b.insert(pos, at);
        }
    }

    /// Handles one scheduled action; true if it emitted a record.
    pub(crate) fn act(&mut self, act: Act) -> bool {
        match act {
            Act::Issue {
                inst,
                epoch,
                rgen,
                purpose,
            } => self.issue(inst, epoch, rgen, purpose),
            Act::Adopt {
                inst,
                epoch,
                thief_after,
            } => self.adopt(inst, epoch, thief_after),
            Act::AttackRefresh { incident } => self.refresh_for_theft(incident),
            Act::Launch { inst, attack } => self.launch(inst, attack),
            Act::Allocate {
                inst,
                assoc_at,
                by_name,
            } => self.allocate(inst, assoc_at, by_name),
            Act::Associate {
                inst,
                by_name,
                via_eni,
            } => self.associate(inst, by_name, via_eni),
            Act::Attach { inst, new_address } => self.attach(inst, new_address),
            Act::Switch { inst } => self.switch_address(inst),
            Act::Stop { inst, start_at } => self.stop(inst, start_at),
            Act::Start { inst } => self.start(inst),
            Act::Resume { inst, epoch } => self.resume(inst, epoch),
            Act::Thief { incident, idx } => self.thief_call(incident, idx),
            Act::Workload { w, step } => self.workload_step(w, step),
        }
    }

    pub(crate) fn issue(&mut self, inst: usize, epoch: u32, rgen: u32, purpose: Purpose) -> bool {
        let t = self.c.now;
        let i = &self.insts[inst];
        if i.epoch != epoch || i.st != St::Running || (rgen != ANY_GEN && rgen != i.refresh_gen) {
            return false;
        }
        let sess = self.new_session(inst);
        self.emit_ec2_assume_role(inst, &sess);
        let i = &mut self.insts[inst];
        i.last_issue = t;
        i.issued = Some(sess.clone());
        i.refresh_gen = i.refresh_gen.wrapping_add(1) % ANY_GEN;
        let rgen = i.refresh_gen;
        // Refresh well inside the 6 h the credentials (and a detector's row) live.
        let next = t + self.c.rng.between(3600, 19_800);
        self.schedule(
            next,
            Act::Issue {
                inst,
                epoch,
                rgen,
                purpose: Purpose::Normal,
            },
        );
        match purpose {
            Purpose::Normal => {
                let at = t + self.c.rng.between(1, 30);
                self.schedule(
                    at,
                    Act::Adopt {
                        inst,
                        epoch,
                        thief_after: None,
                    },
                );
            }
            Purpose::StealAfterUse(k) => {
                self.incidents[k].stolen = Some(sess);
                let at = t + self.c.rng.between(1, 20);
                self.schedule(
                    at,
                    Act::Adopt {
                        inst,
                        epoch,
                        thief_after: Some(k),
                    },
                );
            }
            Purpose::StealBeforeUse(k) => {
                self.incidents[k].stolen = Some(sess);
                let d = self.end - self.cfg.start;
                let at = t + self.c.rng.between((d / 40).clamp(1, 60), (d / 20).clamp(2, 300));
                self.schedule(at, Act::Thief { incident: k, idx: 0 });
            }
        }
        true
    }

    pub(crate) fn adopt(&mut self, inst: usize, epoch: u32, thief_after: Option<usize>) -> bool {
        let t = self.c.now;
        let i = &mut self.insts[inst];
        if i.epoch != epoch || i.st != St::Running {
            return false;
        }
        if let Some(s) = i.issued.take() {
            i.sess = Some(s);
        }
        if i.sess.is_none() {
            return false;
        }
        i.enabled = true;
        self.emit_instance_call(inst, true, Deliver::Anchor);
        if let Some(k) = thief_after {
            let d = self.end - self.cfg.start;
            let lo = (d / 20).clamp(1, 120);
            let hi = (d / 8).clamp(lo + 1, 1800);
            let at = t + self.c.rng.between(lo, hi);
            self.schedule(at, Act::Thief { incident: k, idx: 0 });
        }
        true
    }

    pub(crate) fn refresh_for_theft(&mut self, incident: usize) -> bool {
        let inst = self.incidents[incident].inst;
        let epoch = self.insts[inst].epoch;
        self.act(Act::Issue {
            inst,
            epoch,
            rgen: ANY_GEN,
            purpose: Purpose::StealAfterUse(incident),
        })
    }

    pub(crate) fn launch(&mut self, inst: usize, attack: Option<usize>) -> bool {
        let t = self.c.now;
        if self.insts[inst].st != St::NotLaunched {
            return false;
        }
        self.emit_run_instances(inst);
        self.insts[inst].st = St::Running;
        let d = self.end - self.cfg.start;
        let at = t + self.c.rng.between((d / 30).clamp(1, 20), (d / 15).clamp(2, 90));
        let purpose = attack.map_or(Purpose::Normal, Purpose::StealBeforeUse);
        self.schedule(
            at,
            Act::Issue {
                inst,
                epoch: 0,
                rgen: ANY_GEN,
                purpose,
            },
        );
        true
    }

    pub(crate) fn allocate(&mut self, inst: usize, assoc_at: i64, by_name: bool) -> bool {
        let t = self.c.now;
        let ip = self.fresh_public();
        let alloc = hex_id(&mut self.c.rng, "eipalloc-0", 16);
        self.emit_allocate(inst, &alloc, &ip);
        self.insts[inst].pending_eip = Some((alloc, ip));
        // Launched instances' interfaces are known from RunInstances.
        let via_eni = !by_name && self.insts[inst].launched_later && self.c.rng.per_mille(500);
        self.schedule(
            assoc_at.max(t),
            Act::Associate {
                inst,
                by_name,
                via_eni,
            },
        );
        true
    }

    pub(crate) fn associate(&mut self, inst: usize, by_name: bool, via_eni: bool) -> bool {
        let t = self.c.now;
        self.drop_barrier(inst, t);
        if self.insts[inst].st != St::Running {
            self.insts[inst].pending_eip = None;
            return false;
        }
        let (alloc, ip) = match self.insts[inst].pending_eip.take() {
            Some(p) => p,
            None => {
                let ip = self.fresh_public();
                (hex_id(&mut self.c.rng, "eipalloc-0", 16), ip)
            }
        };
        self.emit_associate(inst, &alloc, &ip, by_name, via_eni);
        self.insts[inst].ip = ip;
        true
    }

    pub(crate) fn attach(&mut self, inst: usize, new_address: bool) -> bool {
        let t = self.c.now;
        self.drop_barrier(inst, t);
        if self.insts[inst].st != St::Running {
            return false;
        }
        self.emit_attach(inst);
        if new_address {
            let ip = self.fresh_public();
            self.insts[inst].pending_ip = Some(ip);
            let at = t + self.c.rng.between(5, 600);
            self.schedule(at, Act::Switch { inst });
        }
        true
    }

    pub(crate) fn switch_address(&mut self, inst: usize) -> bool {
        let Some(ip) = self.insts[inst].pending_ip.take() else {
            return false;
        };
        self.insts[inst].ip = ip;
        let i = &self.insts[inst];
        if i.st != St::Running || i.sess.is_none() || !i.enabled {
            return false;
        }
        self.emit_instance_call(inst, true, Deliver::Anchor);
        true
    }

    pub(crate) fn stop(&mut self, inst: usize, start_at: i64) -> bool {
        let t = self.c.now;
        let j = i64::from(self.cfg.jitter_secs);
        self.drop_barrier(inst, t);
        if self.insts[inst].st != St::Running {
            return false;
        }
        self.emit_stop_start(inst, true);
        let i = &mut self.insts[inst];
        i.st = St::Stopped;
        i.enabled = false;
        i.epoch += 1;
        i.issued = None;
        // Stopped for longer than the jitter: nothing from before the stop is delivered
        // after the start.
        self.schedule(start_at.max(t + j + 1), Act::Start { inst });
        true
    }

    pub(crate) fn start(&mut self, inst: usize) -> bool {
        let t = self.c.now;
        if self.insts[inst].st != St::Stopped {
            return false;
        }
        self.emit_stop_start(inst, false);
        let ip = self.fresh_public();
        let fresh = self.c.rng.per_mille(700);
        let i = &mut self.insts[inst];
        i.st = St::Running;
        i.ip = ip;
        let epoch = i.epoch;
        if fresh || i.sess.is_none() || t - i.last_issue > 4 * 3600 {
            let at = t + self.c.rng.between(10, 40);
            self.schedule(
                at,
                Act::Issue {
                    inst,
                    epoch,
                    rgen: ANY_GEN,
                    purpose: Purpose::Normal,
                },
            );
        } else {
            i.refresh_gen = i.refresh_gen.wrapping_add(1) % ANY_GEN;
            let (rgen, next) = (i.refresh_gen, (i.last_issue + 19_800).max(t + 60));
            let at = t + self.c.rng.between(15, 60);
            self.schedule(at, Act::Resume { inst, epoch });
            self.schedule(
                next,
                Act::Issue {
                    inst,
                    epoch,
                    rgen,
                    purpose: Purpose::Normal,
                },
            );
        }
        true
    }

    pub(crate) fn resume(&mut self, inst: usize, epoch: u32) -> bool {
        let i = &mut self.insts[inst];
        if i.epoch != epoch || i.st != St::Running || i.sess.is_none() {
            return false;
        }
        i.enabled = true;
        self.emit_instance_call(inst, true, Deliver::Anchor);
        true
    }
}
