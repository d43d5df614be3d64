//! Text from the input made safe for a terminal. A role name, a file name or a parse message can
//! carry escape sequences (set the window title, clear the screen, rewrite the line above) or
//! bidirectional controls that make the text read otherwise than it is; stderr is often a
//! terminal, and the alert table is only printed to one.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that a terminal acts on instead of showing: C0 and C1 controls, DEL (newlines and
/// tabs too, so one message stays one line), and the Unicode controls of text direction.
fn acted_on(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with each character a terminal would act on written as `\u{…}`; `s` itself when there is
/// none (the usual case costs no copy).
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acted_on) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if acted_on(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OSC window title, a screen clear, a C1 CSI, a newline and a right-to-left override are
    /// all shown as text, and plain text (accents included) is left as it is. (Mutation: testing
    /// only `is_ascii_control` lets the C1 CSI `\u{9b}` through.)
    #[test]
    fn what_a_terminal_would_act_on_is_shown_as_text() {
        assert_eq!(
            printable("r\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\nx\u{202e}y"),
            "r\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{a}x\\u{202e}y"
        );
        assert!(matches!(printable("app-rôle i-0abc 3.3.3.3"), Cow::Borrowed(_)));
    }
}
