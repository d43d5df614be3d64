//! The detector's contract as small trails: `tests/cases/NAME.ndjson` holds one rule and its
//! look-alike in a few records, and [`CASES`] says which `eventID`s of it, and only those, come out
//! as `compromise` (in output order) and why. Each case is checked at every thread count, in
//! `--emit alerts` and `--emit all`, and through the binary as a file and on stdin.
//!
//! The records are minimal (only the fields the rules read; `tests/data/cloudtrail/` has real
//! ones). Unless a case says otherwise, the EC2 service issues `app-role` credentials to instance
//! `i-0123456789abcdef0` of account 123456789012 at 00:00 (`ar-0`), and `a`, the session's first
//! call, locks 3.3.3.3. A case is pinned by its alerts; `--emit all` shows every verdict
//! (`cargo run -- --emit all tests/cases/NAME.ndjson`).

use crate::common::*;
use credtrail::{Config, Emit, Input};
use std::fs;
use std::path::PathBuf;

struct Case {
    /// `tests/cases/{name}.ndjson`.
    name: &'static str,
    /// The `eventID`s that alert, in output order.
    alerts: &'static [&'static str],
    /// The rule the case pins, and why those records (and not the others) alert.
    why: &'static str,
}

const CASES: &[Case] = &[
    // Sessions: which AssumeRole makes a row, and its key.
    Case {
        name: "00-lock-then-thief",
        alerts: &["b", "d"],
        why: "the first address locks the session; each call from another one alerts, and an alert \
              does not move the lock (c, back at 3.3.3.3, matches)",
    },
    Case {
        name: "01-calls-before-the-assumerole-are-not-judged",
        alerts: &["c"],
        why: "a (9.9.9.9) comes before the AssumeRole: no row, not judged and locks nothing; b \
              locks 3.3.3.3 and c alerts",
    },
    Case {
        name: "02-a-person-s-assumerole-makes-no-row",
        alerts: &[],
        why: "an AssumeRole from a person's address (5.5.5.5) with an instance-like session name \
              is not the EC2 service: no row, so nothing is judged",
    },
    Case {
        name: "03-ec2-named-by-sourceipaddress-only",
        alerts: &["b"],
        why: "sourceIPAddress ec2.amazonaws.com alone (no invokedBy) marks the EC2 service",
    },
    Case {
        name: "04-ec2-named-by-invokedby-only",
        alerts: &["b"],
        why: "userIdentity.invokedBy ec2.amazonaws.com alone (sourceIPAddress `AWS Internal`) \
              marks the EC2 service",
    },
    Case {
        name: "05-a-failed-assumerole-makes-no-row",
        alerts: &[],
        why: "an AssumeRole with an errorCode issued nothing: no row",
    },
    Case {
        name: "06-the-role-path-is-dropped",
        alerts: &["b"],
        why: "roleArn role/svc/team/app-role keys the session assumed-role/app-role/i-…, the ARN \
              the calls carry",
    },
    Case {
        name: "07-arn-aws-iam-assumed-role-is-the-same-key",
        alerts: &["b"],
        why: "b's ARN is written arn:aws:iam::…:assumed-role/… and is the same session as \
              arn:aws:sts::…",
    },
    Case {
        name: "08-aws-cn-is-its-own-key",
        alerts: &["b"],
        why: "an aws-cn session locks and alerts like any other; c, the same name in partition \
              aws, has no row",
    },
    Case {
        name: "09-aws-iso-is-not-a-known-partition",
        alerts: &[],
        why: "only aws, aws-cn and aws-us-gov make rows: an aws-iso session is not judged",
    },
    Case {
        name: "10-another-role-same-session-name-no-row",
        alerts: &[],
        why: "b is role `other` with the instance's session name: another key, no row",
    },
    // Judging and addresses.
    Case {
        name: "11-failed-calls-are-judged",
        alerts: &["b"],
        why: "a call refused with AccessDenied still used the credentials: judged, alerts",
    },
    Case {
        name: "12-service-names-never-lock-nor-alert",
        alerts: &["b"],
        why: "`AWS Internal`, s3.amazonaws.com and `weird` neither lock nor alert: a, the first \
              real address, locks, and b alerts",
    },
    Case {
        name: "13-private-slot-endpoint-private-address",
        alerts: &["c", "d"],
        why: "b (10.0.0.5 through a VPC endpoint) fills the private slot beside the public 3.3.3.3; \
              c (10.0.0.6 through it) alerts, and so does d (10.0.0.6 without an endpoint: public \
              slot)",
    },
    Case {
        name: "14-endpoint-public-address-public-slot",
        alerts: &["b"],
        why: "a public address through an endpoint goes to the public slot, locked by 3.3.3.3",
    },
    Case {
        name: "15-no-vpcendpointid-public-slot",
        alerts: &["b"],
        why: "a private address (10.0.0.5) without vpcEndpointId goes to the public slot",
    },
    Case {
        name: "16-100-64-10-private-100-128-9-not",
        alerts: &["c"],
        why: "a, 100.64.1.1 (inside 100.64/10) through an endpoint, locks the private slot and b \
              the public one; c, 100.128.0.1 through an endpoint, is public and alerts",
    },
    Case {
        name: "17-172-16-12-and-192-168-16-private",
        alerts: &["c", "d"],
        why: "a, 172.31.0.1 through an endpoint, locks the private slot and b the public one; \
              192.168.0.1 (private) alerts in the one, 172.32.0.1 (outside 172.16/12) in the other",
    },
    Case {
        name: "18-fc00-7-private-fe00-not",
        alerts: &["c"],
        why: "through an endpoint, fd00::1 (fc00::/7) locks the private slot and fe00::1 the \
              public one; c (3.3.3.3) then alerts",
    },
    Case {
        name: "19-ipv6-compared-parsed",
        alerts: &["c"],
        why: "2600:1F18:0:0:0:0:0:0001 is 2600:1f18::1, the lock; 2600:1f18::2 alerts",
    },
    Case {
        name: "20-ipv4-mapped-ipv6-is-not-the-ipv4",
        alerts: &["b"],
        why: "::ffff:3.3.3.3 is another address than 3.3.3.3",
    },
    Case {
        name: "21-zone-ids-and-leading-zeros-are-not-ip-literals",
        alerts: &[],
        why: "fe80::1%eth0 and 01.2.3.4 are not addresses: they neither lock nor alert",
    },
    // Address changes.
    Case {
        name: "22-named-public-ip-accepted-hours-later",
        alerts: &["c"],
        why: "AssociateAddress naming 4.4.4.4 accepts it whenever it appears while the session \
              lives (b, 2 h later); it accepts nothing else (c)",
    },
    Case {
        name: "23-named-address-taken-once-then-in-the-slot",
        alerts: &[],
        why: "the named 4.4.4.4 is accepted once (b) and is then part of the lock (c)",
    },
    Case {
        name: "24-a-named-address-accepts-only-itself",
        alerts: &["b"],
        why: "a change naming 4.4.4.4 does not open a window for 5.5.5.5",
    },
    Case {
        name: "25-allocateaddress-names-the-allocationid",
        alerts: &[],
        why: "AllocateAddress maps eipalloc-1 to 4.4.4.4, so AssociateAddress with that \
              allocationId names 4.4.4.4: accepted 1 h 38 min later",
    },
    Case {
        name: "26-unknown-allocation-id-a-window",
        alerts: &["c"],
        why: "an allocationId never allocated names no address: the change opens a 15 min window; \
              b (at 15 min) takes it and c alerts",
    },
    Case {
        name: "27-window-closed-15-min-1-s-later",
        alerts: &["b"],
        why: "AttachNetworkInterface at 00:02 opens a window that closes at 00:17:00; b at \
              00:17:01 alerts",
    },
    Case {
        name: "28-window-open-at-15-min-exactly",
        alerts: &[],
        why: "the window is inclusive: b at 00:17:00 exactly is accepted",
    },
    Case {
        name: "29-a-window-accepts-one-address",
        alerts: &["c"],
        why: "one change, one new address: b takes the window, c alerts",
    },
    Case {
        name: "30-two-windows-two-addresses",
        alerts: &[],
        why: "two changes accept two new addresses (b and c)",
    },
    Case {
        name: "31-the-earliest-open-window-is-used-first",
        alerts: &[],
        why: "b (00:11) takes the window closing first (opened 00:02), so the one opened 00:10 is \
              still there for c at 00:24; the other way round c would alert",
    },
    Case {
        name: "32-interface-map-from-attachnetworkinterface",
        alerts: &["d"],
        why: "AttachNetworkInterface maps eni-1 to the instance (b accepted) and eni-9 to \
              i-other; AssignIpv6Addresses on eni-1 accepts c, AssignPrivateIpAddresses on eni-9 \
              is the other instance's, so d alerts",
    },
    Case {
        name: "33-interface-map-from-runinstances",
        alerts: &[],
        why: "RunInstances maps eni-7 to the instance: AssignPrivateIpAddresses on eni-7 accepts \
              c, the second private address after b locked the private slot",
    },
    Case {
        name: "34-assign-with-instance-id",
        alerts: &[],
        why: "AssignPrivateIpAddresses naming the instanceId applies though its interface is \
              unknown: b is accepted",
    },
    Case {
        name: "35-assign-on-an-unknown-interface-nothing",
        alerts: &["b"],
        why: "AssignPrivateIpAddresses on an interface no record mapped belongs to no instance",
    },
    Case {
        name: "36-a-failed-move-does-nothing",
        alerts: &["b"],
        why: "an AttachNetworkInterface with an errorCode changed nothing: no window",
    },
    Case {
        name: "37-a-move-from-another-account-does-nothing",
        alerts: &["b"],
        why: "an AssociateAddress recorded in account 210987654321 cannot move this account's \
              instance",
    },
    Case {
        name: "38-a-move-without-recipientaccountid-applies",
        alerts: &[],
        why: "without recipientAccountId the account is not checked: the named 4.4.4.4 is accepted",
    },
    Case {
        name: "39-a-move-before-the-row-does-nothing",
        alerts: &["b"],
        why: "an AttachNetworkInterface before the session's AssumeRole opens nothing: a locks \
              3.3.3.3 and b alerts",
    },
    Case {
        name: "40-stop-start-clears-both-slots",
        alerts: &["c"],
        why: "StopInstances naming the instance (second in its list) empties both slots: b and y \
              lock afresh, and c (the old 3.3.3.3) alerts",
    },
    // Time.
    Case {
        name: "41-ttl-6-h-inclusive",
        alerts: &["b"],
        why: "the row lives until AssumeRole + 6 h inclusive: b at 06:00:00 alerts, c at 06:00:01 \
              is not judged",
    },
    Case {
        name: "42-a-refresh-keeps-the-locks",
        alerts: &["b"],
        why: "a refresh at 05:00 extends the row to 11:00 and keeps 3.3.3.3: b at 10:00 alerts",
    },
    Case {
        name: "43-a-refresh-never-shortens-the-row",
        alerts: &["b"],
        why: "an AssumeRole stamped 00:50 read after one stamped 01:40 does not pull the expiry \
              back from 07:40: b at 07:40 alerts",
    },
    Case {
        name: "44-an-assumerole-after-expiry-starts-an-empty-row",
        alerts: &["c"],
        why: "the row expired at 06:00; the AssumeRole at 06:40 starts an empty row that b locks \
              with 9.9.9.9, so c (the old 3.3.3.3) alerts",
    },
    Case {
        name: "45-input-order-not-event-time-order",
        alerts: &["b"],
        why: "b (00:05) is read 96 minutes behind the newest record, past --lateness: it is late \
              and judged as it comes, after everything read before it (the window is released \
              first), so the row of the AssumeRole (01:40) that a (01:41) locked to 3.3.3.3 judges \
              it, as input order does: b alerts",
    },
    // Input.
    Case {
        name: "46-input-shapes-and-malformed-lines",
        alerts: &["b", "c", "y2", "d", "e"],
        why: "a {\"Records\":[…]} body (a locks, the number 42 in it is malformed, b alerts) and an \
              EventBridge API-call envelope (c) are read like records; a console sign-in envelope \
              (x1) is not judged; NaN, invalid UTF-8, an array, garbage, an empty or cut line and \
              records with mistyped fields (x5 to x9, y1) are malformed and do not stop the run; \
              recipientAccountId null (y2), a +01:00 offset (d) and fractions of a second (e) are \
              judged",
    },
];

fn dir() -> PathBuf {
    repo("tests/cases")
}

fn input(case: &Case) -> Vec<u8> {
    let path = dir().join(format!("{}.ndjson", case.name));
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_case_file_has_an_entry_and_every_entry_a_file() {
    let mut files: Vec<String> = fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f != "README.md")
        .collect();
    files.sort();
    let want: Vec<String> = CASES.iter().map(|c| format!("{}.ndjson", c.name)).collect();
    assert_eq!(
        files, want,
        "tests/cases holds exactly the cases of CASES, in order"
    );
}

#[test]
fn every_case_at_every_thread_count() {
    let mut failures = Vec::new();
    for case in CASES {
        let input = input(case);
        for threads in [1, 2, 3, 4, 8] {
            for emit in [Emit::Alerts, Emit::All] {
                let got = alerts(&run_lib(&input, emit, threads).stdout);
                if got != case.alerts {
                    failures.push(format!(
                        "{} ({emit:?}, --threads {threads}): expected {:?}, got {got:?}: {}",
                        case.name, case.alerts, case.why
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_through_the_binary_as_file_and_stdin() {
    for case in CASES {
        let path = dir().join(format!("{}.ndjson", case.name));
        let out = bin().arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(alerts(&out.stdout), case.alerts, "{} as a file", case.name);
        let out = run_bin(&[], &input(case));
        assert_eq!(alerts(&out.stdout), case.alerts, "{} on stdin", case.name);
    }
}

#[test]
fn all_cases_concatenated_as_separate_inputs_keep_their_own_answers() {
    // State carries across inputs (they are one trail), and the cases reuse one instance id; so
    // concatenation is not expected to give the same alerts, but it must give the same alerts for
    // any thread count and lose no line.
    let inputs: Vec<Input> = CASES
        .iter()
        .map(|c| Input::Memory(c.name.into(), input(c)))
        .collect();
    let run = |threads| {
        run_cfg(Config {
            inputs: inputs.clone(),
            emit: Emit::All,
            threads,
            ..Config::default()
        })
    };
    let one = run(1);
    let lines = |out: &[u8]| out.iter().filter(|&&b| b == b'\n').count();
    let alone: usize = CASES
        .iter()
        .map(|c| lines(&run_lib(&input(c), Emit::All, 1).stdout))
        .sum();
    assert_eq!(lines(&one.stdout), alone, "every case's lines, none lost");
    for threads in [2, 4] {
        let many = run(threads);
        assert_eq!(one.stdout, many.stdout, "--threads {threads}");
        assert_eq!(one.stats, many.stats);
    }
}
