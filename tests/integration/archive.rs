//! Hunting over an archive: a directory tree laid out as CloudTrail writes it to S3
//! (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_X.json.gz`)
//! is read in the time order of the file names, merging regions and accounts, with files
//! decompressed ahead of the reader; the alerts are those of the same records read as one stream in
//! that order.

use crate::common::*;
use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, generate_to_vec};
use std::io::Write;

#[test]
fn an_archive_tree_reads_like_its_records_in_time_order() {
    let cfg = GenConfig {
        seed: 11,
        records: 6000,
        instances: 20,
        accounts: 3,
        attacks: 3,
        events_per_sec: 1.0,
        ..GenConfig::default()
    };
    let (stream, truth) = generate_to_vec(&cfg);
    let root = std::env::temp_dir().join(format!("credtrail-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // Cut the stream into 5-minute files in rotating accounts and regions; the stream order is kept
    // by the file names' times, as CloudTrail's delivery does.
    let lines: Vec<&[u8]> = stream.split_inclusive(|&c| c == b'\n').collect();
    let regions = ["us-east-1", "eu-west-1"];
    let mut expected = Vec::new();
    for (n, chunk) in lines.chunks(300).enumerate() {
        let (h, m) = (n * 5 / 60, n * 5 % 60);
        let account = format!("{:012}", 111111111111u64 * (n as u64 % 3 + 1));
        let region = regions[n % 2];
        let dir = root.join(format!("AWSLogs/{account}/CloudTrail/{region}/2024/03/01"));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("{account}_CloudTrail_{region}_20240301T{h:02}{m:02}Z_f{n}.json.gz");
        let body = chunk.concat();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).unwrap();
        std::fs::write(dir.join(name), gz.finish().unwrap()).unwrap();
        expected.extend_from_slice(&body);
    }
    let want = run_lib(&expected, Emit::Alerts, 2);
    assert!(want.stats.alerts > 0 && !truth.incidents.is_empty());
    for threads in [1, 2] {
        let got = run_cfg(Config {
            inputs: credtrail::input::inputs(vec![root.clone()]),
            emit: Emit::Alerts,
            threads,
            ..Config::default()
        });
        assert_eq!(got.stdout, want.stdout, "--threads {threads}");
        assert_eq!(got.stats.records, want.stats.records);
    }
    let inputs = credtrail::input::inputs(vec![root.clone()]);
    assert_eq!(inputs.len(), lines.chunks(300).count());
    assert!(matches!(&inputs[0], Input::Path(p) if p.to_string_lossy().contains("T0000Z")));
    std::fs::remove_dir_all(&root).unwrap();
}
