//! Delivery: built records wait for their delivery time (event time plus a bounded delay) and
//! leave in that order.

use crate::generator::Gen;
use crate::schedule::slot_time;
use rand::Rng;
use std::cmp::Ordering;
use std::io;
use std::io::Write;

/// A built record waiting for its delivery time.
pub(crate) struct Pending {
    pub(crate) key: u64,
    pub(crate) seq: u64,
    pub(crate) buf: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.key, self.seq) == (o.key, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.key, o.seq).cmp(&(self.key, self.seq))
    }
}

/// How a record is delivered relative to others.
#[derive(Clone, Copy)]
pub(crate) enum Deliver {
    /// Random delay in `[0, jitter]`.
    Jitter,
    /// No delay: delivered before every record built after it.
    Anchor,
    /// Random delay, but delivered before the instance's next planned address change.
    Before(usize),
}

impl Gen<'_> {
    pub(crate) fn run(&mut self, w: &mut impl Write) -> io::Result<()> {
        for i in 0..self.cfg.records {
            let t = slot_time(self.cfg, i);
            self.c.now = t;
            // Everything built later is keyed at or after `t`, in a later build position.
            let horizon = self.key(t, 0);
            while self.out.peek().is_some_and(|p| p.key <= horizon) {
                if let Some(p) = self.out.pop() {
                    w.write_all(&p.buf)?;
                    self.recycle(p.buf);
                }
            }
            let mut done = false;
            while !done && self.sched.peek().is_some_and(|d| d.at <= t) {
                if let Some(d) = self.sched.pop() {
                    done = self.act(d.act);
                }
            }
            if !done {
                self.background();
            }
        }
        while let Some(p) = self.out.pop() {
            w.write_all(&p.buf)?;
            self.recycle(p.buf);
        }
        self.truth.incidents = self
            .incidents
            .iter()
            .filter(|s| s.emitted)
            .map(|s| s.truth.clone())
            .collect();
        let wl: Vec<_> = self.workload_incidents().collect();
        self.truth.incidents.extend(wl);
        Ok(())
    }

    pub(crate) fn key(&self, t: i64, delay_ms: u64) -> u64 {
        ((t - self.cfg.start).max(0) as u64) * 1000 + delay_ms
    }

    pub(crate) fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 8192 && buf.capacity() <= 64 * 1024 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    pub(crate) fn buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048))
    }

    pub(crate) fn push(&mut self, buf: Vec<u8>, how: Deliver) {
        let t = self.c.now;
        let mut delay = match how {
            Deliver::Anchor => 0,
            _ if self.jitter_ms == 0 => 0,
            _ => self.c.rng.random_range(0..=self.jitter_ms),
        };
        if let Deliver::Before(k) = how
            && let Some(&b) = self.insts[k].barriers.first()
        {
            delay = delay.min(((b - t).max(0) as u64) * 1000);
        }
        self.seq += 1;
        let key = self.key(t, delay);
        self.out.push(Pending {
            key,
            seq: self.seq,
            buf,
        });
    }

    pub(crate) fn drop_barrier(&mut self, k: usize, at: i64) {
        let b = &mut self.insts[k].barriers;
        // The action runs at or after its planned time; its barrier is the earliest one not
        // later than now.
        if let Some(pos) = b.iter().rposition(|&t| t <= at) {
            b.remove(pos);
        }
    }
}
