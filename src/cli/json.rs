//! JSON on standard output: streamed, and safe on a terminal without changing the data.
//!
//! serde escapes C0 control characters in strings by itself; [`Safe`] also escapes DEL, the C1
//! controls and the bidirectional controls (everything else `visible` shows as text) as
//! `\uXXXX`, so a terminal shows them as text while a JSON reader gets the very characters the
//! agent wrote. Output goes through one buffer straight to stdout, never through a string of the
//! whole document (a 10 MB task list is 74 MB of JSON).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use super::visible::needs_showing;

/// Prints `value` as indented JSON and a newline.
pub fn print<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    to_stdout(|out| to_writer(out, value, Safe(PrettyFormatter::new())))
}

/// Prints `items` as an indented JSON array and a newline, as [`print`] does; a long list is
/// encoded in chunks on as many threads as there are cores and written in order.
pub fn print_list<T: Serialize + Sync>(items: &[T]) -> anyhow::Result<()> {
    to_stdout(|out| write_list(out, items))
}

/// Elements a thread encodes at a time.
const CHUNK: usize = 1024;

/// Writes `items` as [`to_writer`] with the indented layout would, encoding chunks of them
/// on other threads. Each chunk is encoded as an array of its own — its elements are then laid
/// out as in the whole array — and its brackets are dropped when it is written.
fn write_list<W: Write, T: Serialize + Sync>(out: &mut W, items: &[T]) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < 4 * CHUNK || threads < 2 {
        return to_writer(out, items, Safe(PrettyFormatter::new()));
    }
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, io::Result<Vec<u8>>)>(2 * threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (chunks, next) = (&chunks, &next);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    let mut buf = Vec::with_capacity(1 << 16);
                    let encoded = to_writer(&mut buf, chunk, Safe(PrettyFormatter::new()));
                    if tx.send((i, encoded.map(|()| buf))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Chunks arrive in any order: each is written when those before it are.
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        out.write_all(b"[")?;
        for (i, encoded) in rx {
            waiting.insert(i, encoded);
            while let Some(encoded) = waiting.remove(&due) {
                let buf = encoded?;
                // `[` + the elements + `\n]`: the elements begin with their line break.
                let elements = &buf[1..buf.len() - 2];
                if due > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(elements)?;
                due += 1;
            }
        }
        out.write_all(b"\n]")
    })
}

/// Prints `value` as JSON on one line (one event of a stream).
pub fn line<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    to_stdout(|out| to_writer(out, value, Safe(CompactFormatter)))
}

/// Runs `encode` on stdout through one buffer, then ends the line.
fn to_stdout(
    encode: impl FnOnce(&mut io::BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let written = encode(&mut out)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        // A reader that went away (`| head`) ends the output, as for any filter.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes `value` as JSON to `out` with `formatter`, strings escaped as [`Safe`] does.
fn to_writer<W: Write, T: Serialize + ?Sized, F: Formatter>(
    out: &mut W,
    value: &T,
    formatter: F,
) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, formatter);
    value.serialize(&mut serializer).map_err(io::Error::from)
}

/// A formatter that lays out as `F` does and escapes the terminal controls serde leaves raw.
struct Safe<F>(F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // DEL is 0x7F; C1 controls are 0xC2 0x80..0x9F; the bidi controls 0xE2 0x80/0x81 ….
        let bytes = fragment.as_bytes();
        let mut from = 0;
        let mut at = from;
        while let Some(found) = bytes[at..]
            .iter()
            .position(|&b| b == 0x7f || b == 0xc2 || b == 0xe2)
        {
            at += found;
            let c = fragment[at..].chars().next().unwrap_or_default();
            if needs_showing(c) {
                writer.write_all(&bytes[from..at])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                from = at + c.len_utf8();
            }
            at += c.len_utf8();
        }
        writer.write_all(&bytes[from..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, value, Safe(PrettyFormatter::new())).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn terminal_controls_are_escaped_and_the_data_is_unchanged() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let value = serde_json::json!({ "text": every, "list": ["a\u{202e}b", "\u{9b}31m"] });
        let shown = pretty(&value);
        assert!(
            !shown.chars().any(needs_showing),
            "a control character got through"
        );
        assert!(shown.contains(r#""a\u202eb""#) && shown.contains(r#""\u009b31m""#));
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_long_list_encoded_in_chunks_on_threads_is_the_whole_array() {
        for n in [0, 1, 4 * CHUNK - 1, 4 * CHUNK, 9 * CHUNK + 17] {
            let items: Vec<serde_json::Value> = (0..n)
                .map(|i| serde_json::json!({ "n": i, "text": format!("item \u{202e}{i}"), "l": [i, [], {}] }))
                .collect();
            let mut whole = Vec::new();
            to_writer(&mut whole, &items, Safe(PrettyFormatter::new())).unwrap();
            let mut chunked = Vec::new();
            write_list(&mut chunked, &items).unwrap();
            assert!(chunked == whole, "{n} items differ");
        }
    }

    #[test]
    fn layout_is_serdes() {
        let value = serde_json::json!({ "a": [1, {"b": "é ✓"}], "c": null, "d": [] });
        assert_eq!(
            pretty(&value),
            serde_json::to_string_pretty(&value).unwrap()
        );
        let mut out = Vec::new();
        to_writer(&mut out, &value, Safe(CompactFormatter)).unwrap();
        assert_eq!(out, serde_json::to_vec(&value).unwrap());
    }
}
