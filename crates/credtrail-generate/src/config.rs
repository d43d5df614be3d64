//! What to generate, and which configurations describe a stream the generator can write.

/// What to generate. Every field takes part in the output; the same value gives the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    pub seed: u64,
    /// Records to emit, exactly.
    pub records: usize,
    /// EC2 instances with instance-profile roles, in all accounts together. About 5 % of them
    /// (and one per attacker-first incident) are launched during the stream by RunInstances.
    pub instances: usize,
    /// AWS accounts (12-digit ids); instances are spread over them.
    pub accounts: usize,
    /// Credential-theft incidents to inject (at most `instances`; even-numbered ones are
    /// instance-first, odd-numbered ones attacker-first).
    pub attacks: usize,
    /// Bound of the delivery-order jitter, in seconds of event time; 0 = sorted by event time.
    pub jitter_secs: u32,
    /// Unix seconds of the first record's event time.
    pub start: i64,
    /// Records per second of event time: record `i` has event time `start + floor(i / rate)`.
    pub events_per_sec: f64,
    /// Workloads besides instances (ECS tasks, EKS pods, web identities, Lambda functions,
    /// chained sessions); none by default.
    pub workloads: crate::Workloads,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            records: 10_000,
            instances: 50,
            accounts: 3,
            attacks: 3,
            jitter_secs: 120,
            start: 1_709_251_200, // 2024-03-01T00:00:00Z
            events_per_sec: 50.0,
            workloads: crate::Workloads::default(),
        }
    }
}

/// The most instances [`GenConfig::validate`] accepts. The world is built in memory before the
/// first record (about a kilobyte per instance), so a mistyped count would take the machine's
/// memory rather than fail.
pub const MAX_INSTANCES: usize = 1_000_000;

/// The most accounts [`GenConfig::validate`] accepts (each has its own principals and resources).
pub const MAX_ACCOUNTS: usize = 100_000;

/// The last Unix second CloudTrail's four-digit years can write: 9999-12-31T23:59:59Z.
const LAST_SECOND: i64 = 253_402_300_799;

/// Event time past a stream's last record slot that records may still name (credential
/// expirations, 12 h at most).
const TAIL_SECS: i64 = 86_400;

/// Why a [`GenConfig`] describes no stream the generator can write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    /// Record `i` is at `start + floor(i / rate)`: a rate of zero (or less, or not a number) puts
    /// every record at one absurd time.
    #[error("events_per_sec must be a number of records per second above zero, not {0}")]
    Rate(f64),
    #[error("instances must be between 1 and {MAX_INSTANCES}, not {0}")]
    Instances(usize),
    #[error("accounts must be between 1 and {MAX_ACCOUNTS}, not {0}")]
    Accounts(usize),
    /// Event times are written as `YYYY-MM-DDTHH:MM:SSZ`: the stream must lie within 1970 to 9999.
    #[error("{records} records at {rate} per second from {start} do not fit between 1970 and 9999")]
    Span { records: usize, rate: f64, start: i64 },
}

impl GenConfig {
    /// Checks that the configuration describes a stream: a rate above zero, at least one instance
    /// and account (and not absurdly many), and event times that CloudTrail's form can write.
    /// [`crate::generate`] makes something of any configuration (it never panics), but what it
    /// makes of one this refuses is not a stream anyone asked for.
    pub fn validate(&self) -> Result<(), GenError> {
        let rate = self.events_per_sec;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(GenError::Rate(rate));
        }
        if !(1..=MAX_INSTANCES).contains(&self.instances) {
            return Err(GenError::Instances(self.instances));
        }
        if !(1..=MAX_ACCOUNTS).contains(&self.accounts) {
            return Err(GenError::Accounts(self.accounts));
        }
        // In floating point, as the record slots are computed: past 2^53 seconds it is out anyway.
        let span = self.records.saturating_sub(1) as f64 / rate;
        let room = LAST_SECOND - TAIL_SECS - self.start;
        if self.start < 0 || room < 0 || span > room as f64 {
            return Err(GenError::Span {
                records: self.records,
                rate,
                start: self.start,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut GenConfig)) -> Result<(), GenError> {
        let mut c = GenConfig::default();
        f(&mut c);
        c.validate()
    }

    #[test]
    fn the_default_is_valid() {
        assert_eq!(GenConfig::default().validate(), Ok(()));
        assert_eq!(with(|c| c.records = 0), Ok(()));
        assert_eq!(with(|c| c.attacks = 10 * c.instances), Ok(()));
        assert_eq!(with(|c| c.instances = MAX_INSTANCES), Ok(()));
    }

    #[test]
    fn rates_that_place_no_record_are_refused() {
        for rate in [0.0, -1.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                matches!(with(|c| c.events_per_sec = rate), Err(GenError::Rate(_))),
                "{rate}"
            );
        }
        assert_eq!(with(|c| c.events_per_sec = 1e-3), Ok(()));
    }

    #[test]
    fn counts_out_of_bounds_are_refused() {
        assert_eq!(with(|c| c.instances = 0), Err(GenError::Instances(0)));
        assert_eq!(
            with(|c| c.instances = MAX_INSTANCES + 1),
            Err(GenError::Instances(MAX_INSTANCES + 1))
        );
        assert_eq!(with(|c| c.accounts = 0), Err(GenError::Accounts(0)));
        assert_eq!(
            with(|c| c.accounts = MAX_ACCOUNTS + 1),
            Err(GenError::Accounts(MAX_ACCOUNTS + 1))
        );
    }

    #[test]
    fn streams_past_the_year_9999_or_before_1970_are_refused() {
        let span = |c: &mut GenConfig| {
            c.records = usize::MAX;
            c.events_per_sec = 1e-300;
        };
        assert!(matches!(with(span), Err(GenError::Span { .. })));
        assert!(matches!(with(|c| c.start = -1), Err(GenError::Span { .. })));
        assert!(matches!(
            with(|c| c.start = LAST_SECOND),
            Err(GenError::Span { .. })
        ));
        // The last record slot may fall a day before the last second, not later.
        let edge = |records: usize| {
            with(|c| {
                c.start = 0;
                c.events_per_sec = 1.0;
                c.records = records;
            })
        };
        let fits = (LAST_SECOND - TAIL_SECS) as usize + 1;
        assert_eq!(edge(fits), Ok(()));
        assert!(matches!(edge(fits + 1), Err(GenError::Span { .. })));
    }

    #[test]
    fn messages_name_the_field() {
        let e = with(|c| c.events_per_sec = 0.0).unwrap_err().to_string();
        assert_eq!(
            e,
            "events_per_sec must be a number of records per second above zero, not 0"
        );
        let e = with(|c| c.instances = 0).unwrap_err().to_string();
        assert_eq!(e, "instances must be between 1 and 1000000, not 0");
    }
}
