//! Lines over `--max-line-bytes` in `--emit all`: in either `--malformed` mode they are wrapped
//! like a malformed line (their prefix and length), so a JSON consumer never receives a line that
//! is not JSON nor a forged `credtrail` key it carried; and a long line whose input fails before
//! its end still ends.

use crate::common::trail::{call, issue, lines};
use crate::common::*;
use credtrail::output::wrap::MalformedOutput;
use credtrail::{Config, Emit, Input};
use std::io::Write;

const LIMIT: usize = 1024;

fn cfg(input: &[u8], threads: usize, read_size: usize, malformed: MalformedOutput) -> Config {
    Config {
        inputs: vec![Input::Memory("input".into(), input.to_vec())],
        emit: Emit::All,
        threads,
        read_size,
        max_line_bytes: LIMIT,
        malformed,
        ..Config::default()
    }
}

/// Letters that gzip cannot squeeze much, so that a cut in the compressed stream falls inside them.
fn letters(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b'a' + (x >> 16) as u8 % 26
        })
        .collect()
}

/// Three lines over a 1 KiB limit (text with a two-byte character across the limit, bytes that
/// are not UTF-8, a stolen session's call padded past the limit with a CRLF end) among records:
/// every output line is JSON; each long one is wrapped with its first 1 024 bytes (the cut
/// character left out of the text) and its length without the line end, whatever the read size
/// (which decides whether the line comes in pieces or whole), at 1 and 2 threads and in the
/// reference run; the same with `--malformed pass`. (Mutation: rendering oversized pieces as
/// before, their bytes as they came, fails the JSON check; writing the prefix from the piece
/// instead of the first `max_line` bytes fails the equality across read sizes.)
#[test]
fn lines_over_the_limit_are_wrapped_so_every_output_line_is_json() {
    let text = [vec![b'x'; LIMIT - 1], "é".as_bytes().to_vec(), vec![b'y'; 1000]].concat();
    let binary = [b"\xff".to_vec(), vec![b'z'; 3000]].concat();
    let mut padded = call("padded", 1.5, "203.0.113.77").to_string();
    padded.insert_str(1, &format!("\"pad\":\"{}\",", "p".repeat(2 * LIMIT)));
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    for long in [&text, &binary] {
        input.extend_from_slice(long);
        input.push(b'\n');
    }
    input.extend_from_slice(padded.as_bytes());
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));

    let wrap = MalformedOutput::Wrap;
    let first = run_cfg(cfg(&input, 1, 1 << 20, wrap));
    assert_eq!(
        (first.stats.records, first.stats.malformed),
        (3, 3),
        "{}",
        first.stderr
    );
    let out = records(&first.stdout);
    assert_eq!(out.len(), 6);
    let long = |i: usize| &out[i]["credtrail"];
    assert_eq!(
        long(2)["malformed"],
        "line longer than --max-line-bytes; not read"
    );
    assert_eq!(long(2)["line_prefix"], "x".repeat(LIMIT - 1));
    assert_eq!(long(2)["bytes"], text.len());
    assert_eq!(
        long(3)["line_prefix_base64"].as_str().unwrap().len(),
        LIMIT.div_ceil(3) * 4
    );
    assert!(
        long(3)["line_prefix_base64"]
            .as_str()
            .unwrap()
            .starts_with("/3p6")
    );
    assert_eq!(long(3)["bytes"], binary.len());
    assert_eq!(long(4)["line_prefix"], padded[..LIMIT]);
    assert_eq!(long(4)["bytes"], padded.len(), "the CRLF is the line end");
    assert_eq!(alerts(&first.stdout), ["theft"], "a long record is not judged");
    assert_eq!(
        first
            .stderr
            .matches("longer than --max-line-bytes; not read")
            .count(),
        3
    );

    for (threads, read_size) in [(1, 7), (2, 100), (2, 1000), (1, 1500), (2, 4096), (2, 1 << 20)] {
        let r = run_cfg(cfg(&input, threads, read_size, wrap));
        assert!(
            r.stdout == first.stdout,
            "--threads {threads}, read size {read_size}:\n{}",
            String::from_utf8_lossy(&r.stdout)
        );
        let mut seq = Vec::new();
        credtrail::run_sequential(&cfg(&input, threads, read_size, wrap), &mut seq, &mut Vec::new()).unwrap();
        assert!(seq == first.stdout, "run_sequential, read size {read_size}");
    }

    // Not read, a long line could carry a forged `credtrail` key: wrapped in `pass` mode too.
    let passed = run_cfg(cfg(&input, 2, 100, MalformedOutput::Pass));
    assert!(
        passed.stdout == first.stdout,
        "--malformed pass:\n{}",
        String::from_utf8_lossy(&passed.stdout)
    );
}

/// A gzip input cut short inside a long line, then another input: the long line's output ends
/// where the input failed, so the next input's first record is a line of its own and judged
/// downstream (before, in `--emit all` it ran on from the long line's last byte, and the theft was
/// lost to a consumer); with `--malformed wrap` both are JSON. (Mutation: not ending the long line
/// in `LongLine::interrupted` fails both modes.)
#[test]
fn a_long_line_cut_by_a_read_error_still_ends() {
    let mut plain = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    plain.extend_from_slice(&letters(200_000));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let mut gz = gz.finish().unwrap();
    gz.truncate(gz.len() / 2);
    let theft = lines(&[call("theft", 2.0, "203.0.113.9")]);
    for malformed in [MalformedOutput::Pass, MalformedOutput::Wrap] {
        for threads in [1, 2] {
            let r = run_cfg(Config {
                inputs: vec![
                    Input::Memory("cut.json.gz".into(), gz.clone()),
                    Input::Memory("next".into(), theft.clone()),
                ],
                threads,
                read_size: 4096,
                ..cfg(b"", threads, 4096, malformed)
            });
            assert_eq!(r.stats.input_errors, 1, "{}", r.stderr);
            assert!(r.stderr.contains("cut.json.gz: read error"), "{}", r.stderr);
            assert_eq!(r.stats.malformed, 1, "{}", r.stderr);
            let out: Vec<&[u8]> = r
                .stdout
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(out.len(), 4, "{malformed:?}");
            assert_eq!(alerts(&r.stdout), ["theft"], "{malformed:?} --threads {threads}");
            if malformed == MalformedOutput::Wrap {
                assert_eq!(records(&r.stdout).len(), 4);
            }
        }
    }
}
