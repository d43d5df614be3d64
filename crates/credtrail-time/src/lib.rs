//! Event time: CloudTrail's `eventTime` as milliseconds since the Unix epoch, and the spellings
//! CloudTrail gives times in.
//!
//! Every TTL and window in the detector runs on this clock, never on the wall clock, so that a replay
//! of old logs gives the answers the live stream gave. The generator writes its times with the same
//! calendar arithmetic, so the two cannot disagree about a date.

#![forbid(unsafe_code)]

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;

/// Parses an RFC 3339 timestamp (`2024-03-01T00:00:00Z`, with optional fraction and offset).
///
/// The canonical CloudTrail form is decoded by hand because it is on the hot path; anything else goes
/// through `time`'s full RFC 3339 parser, which also rejects impossible dates such as February 30.
pub fn parse(s: &str) -> Option<Millis> {
    fast_path(s.as_bytes()).or_else(|| {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly.
fn fast_path(b: &[u8]) -> Option<Millis> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    Some((days * 86_400 + i64::from(hour * 3600 + minute * 60 + second)) * SECOND)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats as `2024-03-01T00:00:00Z` (milliseconds only when there are some).
pub fn format(t: Millis) -> String {
    let mut out = Vec::with_capacity(24);
    write(t, &mut out);
    String::from_utf8(out).expect("a formatted time is ASCII")
}

/// The times [`write`] gives a date to: those `time` represents (years -9999 to 9999 unless its
/// `large-dates` feature is on). `format` once formatted through `time` and wrote the bare number
/// past them; the tests still hold it to that.
const FIRST: Millis = time::UtcDateTime::MIN.unix_timestamp() * SECOND;
const LAST: Millis = (time::UtcDateTime::MAX.unix_timestamp() + 1) * SECOND - 1;

const DAY: Millis = 24 * HOUR;

/// Appends what [`format()`] returns, without allocating: annotations write several times per record.
/// A time outside the representable years is written as the bare number.
pub fn write(t: Millis, out: &mut Vec<u8>) {
    if !(FIRST..=LAST).contains(&t) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{t}");
        return;
    }
    let (year, month, day) = civil_from_days(t.div_euclid(DAY));
    let ms = t.rem_euclid(DAY);
    let mut text = *b"YYYY-MM-DDTHH:MM:SS.mmmZ";
    let two = |text: &mut [u8; 24], at: usize, v: i64| {
        text[at] = b'0' + (v / 10) as u8;
        text[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut text, 5, i64::from(month));
    two(&mut text, 8, i64::from(day));
    two(&mut text, 11, ms / HOUR);
    two(&mut text, 14, ms / MINUTE % 60);
    two(&mut text, 17, ms / SECOND % 60);
    let frac = ms % SECOND;
    let len = if frac == 0 {
        text[19] = b'Z';
        20
    } else {
        text[20] = b'0' + (frac / 100) as u8;
        two(&mut text, 21, frac % 100);
        24
    };
    if (0..=9999).contains(&year) {
        two(&mut text, 0, year / 100);
        two(&mut text, 2, year % 100);
        out.extend_from_slice(&text[..len]);
    } else {
        // As `{year:04}` wrote it: the sign counts in the width, so year -5 is `-005`.
        if year < 0 {
            out.push(b'-');
        }
        padded(out, year.unsigned_abs(), if year < 0 { 3 } else { 4 });
        out.extend_from_slice(&text[4..len]);
    }
}

/// `v` in decimal, zero-padded to `width` digits.
fn padded(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at.min(buf.len() - width)..]);
}

/// The proleptic Gregorian date `days` after 1970-01-01: the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `secs` (Unix seconds) as CloudTrail writes `eventTime`: `2024-03-01T00:00:00Z`, always 20 bytes.
/// The form has four digits of year: years outside 0 to 9999 are clamped to it.
pub fn event_time_text(secs: i64) -> [u8; 20] {
    let (year, month, day) = civil_from_days(secs.div_euclid(DAY / SECOND));
    let s = secs.rem_euclid(DAY / SECOND);
    let mut o = *b"0000-00-00T00:00:00Z";
    fixed_digits(&mut o[0..4], year.clamp(0, 9999) as u64);
    fixed_digits(&mut o[5..7], u64::from(month));
    fixed_digits(&mut o[8..10], u64::from(day));
    fixed_digits(&mut o[11..13], (s / 3600) as u64);
    fixed_digits(&mut o[14..16], (s / 60 % 60) as u64);
    fixed_digits(&mut o[17..19], (s % 60) as u64);
    o
}

/// `v` in decimal filling `o`, zero-padded (its high digits cut if it is too long).
fn fixed_digits(o: &mut [u8], mut v: u64) {
    for c in o.iter_mut().rev() {
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `secs` (Unix seconds) as CloudTrail spells a credential's `expiration`: `Jul 10, 2023, 6:30:22 PM`.
pub fn expiration_text(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(DAY / SECOND));
    let s = secs.rem_euclid(DAY / SECOND);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let ampm = if h < 12 { "AM" } else { "PM" };
    let month = MONTHS[usize::from(month - 1)];
    format!("{month} {day}, {year}, {h12}:{mi:02}:{se:02} {ampm}")
}

/// `format` as it was written with `time`: the reference the hand-written one is tested against
/// (here and in the filter's tests, through the `reference` feature).
#[cfg(any(test, feature = "reference"))]
pub fn format_with_time(t: Millis) -> String {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1_000_000) else {
        return t.to_string();
    };
    let dt = dt.to_offset(time::UtcOffset::UTC);
    let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    let ms = t.rem_euclid(SECOND);
    if ms == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

/// Parses a duration such as `6h`, `15m`, `90s`, `1h30m`, `500ms`, or a bare `0`.
pub fn parse_duration(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    // Zero is zero in every unit: `--lateness 0` (input order) needs none. Any other number
    // without a unit is refused, since `6` could mean seconds as well as hours.
    if s.bytes().all(|b| b == b'0') {
        return Ok(0);
    }
    let mut total: Millis = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("'{s}': expected a number, e.g. 6h, 15m, 90s"));
        }
        let n: Millis = rest[..digits]
            .parse()
            .map_err(|_| format!("'{s}': number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => 24 * HOUR,
            "" => return Err(format!("'{s}': missing unit (ms, s, m, h, d)")),
            u => return Err(format!("'{s}': unknown unit '{u}' (ms, s, m, h, d)")),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{s}': duration too large"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2024-03-01T00:00:00Z",
            "1999-12-31T12:34:56Z",
            "2100-03-01T00:00:00Z",
        ] {
            let full = OffsetDateTime::parse(s, &Rfc3339).unwrap();
            let want = (full.unix_timestamp_nanos() / 1_000_000) as i64;
            assert_eq!(fast_path(s.as_bytes()), Some(want), "{s}");
        }
    }

    #[test]
    fn offsets_fractions_and_impossible_dates() {
        let base = parse("2024-03-01T00:06:00Z").unwrap();
        assert_eq!(parse("2024-03-01T01:06:00+01:00"), Some(base));
        assert_eq!(parse("2024-03-01T00:06:00.5Z"), Some(base + 500));
        assert_eq!(parse("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse("2024-03-01T24:00:00Z"), None);
        assert_eq!(parse("2024-03-01 00:00:00"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn format_round_trips() {
        for s in ["2024-03-01T00:06:00Z", "2024-03-01T00:06:00.500Z"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }

    #[test]
    fn format_agrees_with_time_at_the_edges() {
        let year_zero = days_from_civil(0, 1, 1) * DAY;
        let mut edges = vec![0, -1, 1, -999, -1000, -1001, 999, 1000, 1001, i64::MIN, i64::MAX];
        edges.extend([FIRST - 1, FIRST, FIRST + 1, LAST - 1, LAST, LAST + 1]);
        edges.extend([year_zero - 1, year_zero, year_zero + 1, year_zero - DAY * 366]);
        edges.extend([-DAY, -DAY - 1, -DAY + 1, DAY - 1]);
        for t in edges {
            assert_eq!(format(t), format_with_time(t), "{t}");
        }
    }

    #[test]
    fn format_agrees_with_time_every_day_of_a_millennium() {
        let first = days_from_civil(1600, 1, 1);
        for day in first..days_from_civil(2600, 1, 1) {
            // A different time of day each day, whole seconds every other day.
            let ms = ((day - first) * 7_919_993).rem_euclid(DAY);
            let ms = if day % 2 == 0 { ms - ms % SECOND } else { ms };
            let t = day * DAY + ms;
            assert_eq!(format(t), format_with_time(t), "{t}");
        }
    }

    proptest! {
        #[test]
        fn format_agrees_with_time(t in prop_oneof![
            any::<i64>(),
            FIRST - DAY..=LAST + DAY,
            (FIRST / SECOND - 1..=LAST / SECOND + 1).prop_map(|s| s * SECOND),
            -DAY * 400 * 366..=DAY * 400 * 366,
        ]) {
            prop_assert_eq!(format(t), format_with_time(t));
        }
    }

    #[test]
    fn cloudtrail_spellings_agree_with_time() {
        let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        // Whole seconds from 1970 to 2100, a different time of day each step.
        let mut t = 0;
        while t < 4_102_444_800 {
            let theirs = OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&f)
                .unwrap();
            assert_eq!(std::str::from_utf8(&event_time_text(t)).unwrap(), theirs, "{t}");
            assert_eq!(format(t * SECOND).as_bytes(), event_time_text(t), "{t}");
            t += 2_053_187;
        }
        assert_eq!(&event_time_text(1_709_251_200), b"2024-03-01T00:00:00Z");
        assert_eq!(&event_time_text(-1), b"1969-12-31T23:59:59Z");
        assert_eq!(expiration_text(1_688_990_422), "Jul 10, 2023, 12:00:22 PM");
        assert_eq!(
            expiration_text(1_688_990_422 + 6 * 3600),
            "Jul 10, 2023, 6:00:22 PM"
        );
        assert_eq!(expiration_text(1_709_251_200), "Mar 1, 2024, 12:00:00 AM");
        assert_eq!(
            expiration_text(1_709_251_200 + 12 * 3600 + 61),
            "Mar 1, 2024, 12:01:01 PM"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Ok(6 * HOUR));
        assert_eq!(parse_duration("15m"), Ok(15 * MINUTE));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MINUTE));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("6").is_err());
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("00"), Ok(0));
        assert!(
            parse_duration("1h0").is_err(),
            "only a bare zero goes without a unit"
        );
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("6x").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
