//! Reading a child's pipe line by line with bounded memory: a line longer than
//! [`MAX_LINE_BYTES`] keeps its start and a `…`, the rest is read and dropped.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Longest line kept, in bytes (before the `…` that marks a cut).
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024;

/// Splits a byte stream into lossy-UTF-8 lines without ever holding more than one line.
pub(super) struct LineReader<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
    /// The current line went past [`MAX_LINE_BYTES`]; its tail is being dropped.
    cut: bool,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(MAX_LINE_BYTES, inner),
            line: Vec::new(),
            cut: false,
            eof: false,
        }
    }

    /// The next line without its `\n` (or `\r\n`), `None` at the end of the stream. A last
    /// line without a newline is still a line.
    ///
    /// Cancel-safe: a partial line is kept in `self` between calls, and bytes are consumed
    /// from the buffer only after they were copied (or deliberately dropped).
    pub(super) async fn next_line(&mut self) -> io::Result<Option<String>> {
        if self.eof {
            return Ok(None);
        }
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                self.eof = true;
                if self.line.is_empty() && !self.cut {
                    return Ok(None);
                }
                return Ok(Some(self.take()));
            }
            let newline = find_newline(buf);
            let chunk = &buf[..newline.unwrap_or(buf.len())];
            let room = MAX_LINE_BYTES - self.line.len();
            if chunk.len() > room {
                self.line.extend_from_slice(&chunk[..room]);
                self.cut = true;
            } else {
                self.line.extend_from_slice(chunk);
            }
            let used = newline.map_or(buf.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                return Ok(Some(self.take()));
            }
        }
    }

    fn take(&mut self) -> String {
        let mut bytes = std::mem::take(&mut self.line);
        let cut = std::mem::replace(&mut self.cut, false);
        if cut {
            drop_partial_char(&mut bytes);
        } else if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let mut text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        if cut {
            text.push('…');
        }
        text
    }
}

/// The index of the first `\n` in `buf`. libc's `memchr` keeps a 1 GB flood cheap even in
/// unoptimized builds, where a byte loop would dominate.
fn find_newline(buf: &[u8]) -> Option<usize> {
    // SAFETY: the pointer and length describe `buf`, a live, initialized slice; memchr reads
    // at most `buf.len()` bytes from it and returns null or a pointer into it.
    let found = unsafe { libc::memchr(buf.as_ptr().cast(), i32::from(b'\n'), buf.len()) };
    if found.is_null() {
        None
    } else {
        Some(found as usize - buf.as_ptr() as usize)
    }
}

/// Drops an incomplete UTF-8 sequence left at the end by a cut, so the cut shows no U+FFFD.
fn drop_partial_char(bytes: &mut Vec<u8>) {
    let tail = bytes.len().saturating_sub(4);
    let Some(start) = bytes[tail..]
        .iter()
        .rposition(|b| b & 0xC0 != 0x80)
        .map(|i| i + tail)
    else {
        return;
    };
    let needed = match bytes[start] {
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        b if b >= 0xC0 => 2,
        _ => 1,
    };
    if bytes.len() - start < needed {
        bytes.truncate(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8]) -> Vec<String> {
        let mut reader = LineReader::new(input);
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            lines.push(line);
        }
        lines
    }

    #[tokio::test]
    async fn splits_lines_strips_cr_and_keeps_a_last_unterminated_line() {
        assert_eq!(
            read_all(b"one\r\ntwo\n\nthree").await,
            ["one", "two", "", "three"]
        );
        assert!(read_all(b"").await.is_empty());
        assert_eq!(read_all(b"\n").await, [""]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(
            read_all(b"ok \xff\xfe end\n").await,
            ["ok \u{fffd}\u{fffd} end"]
        );
    }

    #[tokio::test]
    async fn long_lines_are_cut_at_a_char_boundary() {
        // 'é' is 2 bytes: an odd cap would split one.
        let mut input = "é".repeat(MAX_LINE_BYTES).into_bytes();
        input.extend_from_slice(b"\nnext\n");
        let lines = read_all(&input).await;
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with("é…"),
            "{}",
            &lines[0][lines[0].len() - 8..]
        );
        assert!(lines[0].len() <= MAX_LINE_BYTES + '…'.len_utf8());
        assert!(!lines[0].contains('\u{fffd}'));
        assert_eq!(lines[1], "next");

        let mut odd = vec![b'x'];
        odd.extend("é".repeat(MAX_LINE_BYTES).into_bytes());
        let lines = read_all(&odd).await;
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\u{fffd}'));
        assert!(lines[0].ends_with('…'));
    }

    #[test]
    fn newlines_are_found_anywhere() {
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"abc"), None);
        assert_eq!(find_newline(b"\nabc"), Some(0));
        assert_eq!(find_newline(b"ab\nc\n"), Some(2));
    }
}
