//! Reading task files as text: BOM handling, a clear error for bytes that are not UTF-8,
//! and detection and repair of double-encoded UTF-8 (mojibake).

use std::fmt;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The single-byte encoding a double-encoded file's UTF-8 bytes were once read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misreading {
    /// Mac OS Roman.
    MacRoman,
    /// Windows-1252.
    Windows1252,
    /// ISO-8859-1.
    Latin1,
}

impl fmt::Display for Misreading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MacRoman => "Mac Roman",
            Self::Windows1252 => "Windows-1252",
            Self::Latin1 => "Latin-1",
        })
    }
}

/// Splits off a BOM and checks the rest is UTF-8; on failure, the offset of the first bad byte
/// (counted in the whole file, BOM included).
pub fn decode(bytes: &[u8]) -> Result<(bool, &str), usize> {
    let (bom, rest) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let skip = if bom { BOM.len() } else { 0 };
    std::str::from_utf8(rest)
        .map(|text| (bom, text))
        .map_err(|e| skip + e.valid_up_to())
}

/// Whether `text` is UTF-8 that was misread as a single-byte encoding and saved again as UTF-8.
/// Returns the misreading and the repaired text. Text that is pure ASCII, or that does not
/// turn back into valid multi-byte UTF-8 under any candidate, is left alone.
pub fn detect_double_encoding(text: &str) -> Option<(Misreading, String)> {
    if text.is_ascii() {
        return None;
    }
    [
        Misreading::MacRoman,
        Misreading::Windows1252,
        Misreading::Latin1,
    ]
    .into_iter()
    .find_map(|m| {
        let bytes = encode(text, m)?;
        String::from_utf8(bytes).ok().map(|repaired| (m, repaired))
    })
}

/// The bytes `text` came from if it was decoded from encoding `m`; `None` when some character
/// cannot come from `m`.
fn encode(text: &str, m: Misreading) -> Option<Vec<u8>> {
    let encoding = match m {
        Misreading::MacRoman => encoding_rs::MACINTOSH,
        Misreading::Windows1252 => encoding_rs::WINDOWS_1252,
        Misreading::Latin1 => {
            return text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect();
        }
    };
    let (bytes, _, unmappable) = encoding.encode(text);
    (!unmappable).then(|| bytes.into_owned())
}

/// The first `lines` lines of `text`, for showing what a repair would give.
pub fn preview(text: &str, lines: usize) -> String {
    text.lines().take(lines).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_utf8_names_the_offset() {
        assert_eq!(decode(b"ok\n\xff"), Err(3));
        assert_eq!(decode(b"\xEF\xBB\xBFab\xC3"), Err(5));
        assert_eq!(decode(b"\xEF\xBB\xBFab"), Ok((true, "ab")));
    }

    #[test]
    fn double_encoding_is_detected_for_each_misreading() {
        let original = "Задачи: café — naïve 🔥";
        for (m, enc) in [
            (Misreading::MacRoman, encoding_rs::MACINTOSH),
            (Misreading::Windows1252, encoding_rs::WINDOWS_1252),
        ] {
            let (mangled, _, _) = enc.decode(original.as_bytes());
            let (found, repaired) = detect_double_encoding(&mangled).unwrap();
            assert_eq!(repaired, original);
            // Either reading may be named when both repair to the same text.
            assert!(found == m || found == Misreading::MacRoman, "{found}");
        }
        let latin1: String = original.bytes().map(char::from).collect();
        assert_eq!(detect_double_encoding(&latin1).unwrap().1, original);
    }

    #[test]
    fn ordinary_text_is_not_flagged() {
        for text in [
            "plain ascii",
            "café crème",
            "Задачи проекта",
            "naïve 🔥 emoji",
            "Ãx",
        ] {
            assert_eq!(detect_double_encoding(text), None, "{text}");
        }
    }
}
