//! simd-json's errors in a reader's words. Its own say `InternalError at character 6`, the name
//! of a parser state, for a stray `}`; a person reading stderr needs what is wrong and where.

use simd_json::ErrorType as E;

/// `invalid JSON at byte N: what`, N counted from 1 in the line.
pub fn describe(e: &simd_json::Error) -> String {
    let what = match e.error() {
        E::InvalidUtf8 => "not UTF-8",
        E::InvalidEscape => "a bad escape in a string",
        E::InvalidUnicodeEscape | E::InvalidUnicodeCodepoint => "a bad \\u escape in a string",
        E::InvalidNumber | E::InvalidExponent | E::Overflow => "a bad number",
        E::ExpectedTrue | E::ExpectedFalse | E::ExpectedNull => "a bad word (true, false or null?)",
        E::ExpectedObjectColon => "a ':' missing after a key",
        E::ExpectedMapComma | E::ExpectedArrayComma => "a ',' missing",
        E::KeyMustBeAString | E::ExpectedObjectKey | E::BadKeyType => "a key that is not a string",
        E::UnterminatedString => "a string that does not end",
        E::TrailingData => "more after the value",
        E::Eof | E::ExpectedMapEnd => "the value ends early",
        E::DepthLimitExceeded => "nested too deep",
        E::InputTooLarge => "too large",
        // The rest (`Syntax`, `InternalError`, ...) name a parser state; the place says more.
        _ => "unexpected",
    };
    // UTF-8 is checked over the whole value at once: there is no place to say.
    if matches!(e.error(), E::InvalidUtf8) {
        return format!("invalid JSON: {what}");
    }
    let at = e.index() + 1;
    match e.character() {
        Some(c) if !c.is_control() => format!("invalid JSON at byte {at} ({c:?}): {what}"),
        _ => format!("invalid JSON at byte {at}: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(line: &str) -> String {
        let mut bytes = line.as_bytes().to_vec();
        describe(&simd_json::to_tape(&mut bytes).unwrap_err())
    }

    /// No parser state names reach a message; each says where. (Mutation: returning
    /// `e.to_string()` fails on `InternalError`.)
    #[test]
    fn messages_say_what_and_where_without_parser_internals() {
        for line in [
            "{\"a\":1}}",
            "[1,]",
            "{",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\" 1}",
        ] {
            let m = message(line);
            assert!(m.starts_with("invalid JSON at byte "), "{line}: {m}");
            for internal in ["InternalError", "Syntax", "Expected", "Invalid"] {
                assert!(!m.contains(internal), "{line}: {m}");
            }
        }
        assert_eq!(
            message("{\"a\" 1}"),
            "invalid JSON at byte 6 ('1'): a ':' missing after a key"
        );
    }
}
