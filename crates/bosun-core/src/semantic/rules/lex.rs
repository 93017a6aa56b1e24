//! Which part of a line is code and which is comment, per language family, so that rules can
//! tell `unsafe {` from `// unsafe {` and a TODO comment from a `"TODO"` string.
//!
//! A small state machine, not a parser: it knows line and block comments (nested in Rust),
//! string and character literals with escapes, Rust raw strings, Python triple quotes, and
//! JavaScript/Go backtick strings. It does not know JavaScript regular-expression literals, a
//! Rust `'` that is neither a char nor a lifetime, heredocs, or string interpolation (`${…}` in
//! a template literal is treated as string). Fed a whole file it follows block comments and
//! multi-line strings across lines; fed only a hunk's lines it starts in code, so a hunk that
//! begins inside a block comment is misread until the comment ends.

/// How comments and strings look in a file, chosen from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// `//`, nested `/* */`, `"…"` with escapes, `r#"…"#`, `'c'` (and lifetimes).
    Rust,
    /// `#`, `'…'`, `"…"`, `'''…'''`, `"""…"""`.
    Python,
    /// JavaScript and TypeScript: `//`, `/* */`, `'…'`, `"…"`, `` `…` ``.
    JavaScript,
    /// `//`, `/* */`, `"…"`, `'r'`, `` `raw` ``.
    Go,
    /// Other languages with C comments (C, C++, Java, Kotlin, Swift, C#, …).
    CLike,
    /// Shell, YAML, TOML, Ruby, Makefiles, ini, `.env`, …: `#` comments, one-line strings.
    Hash,
    /// Anything else (Markdown, JSON, text): no comments or strings; the whole line is both.
    Plain,
}

impl Lang {
    /// The family of the file at `path`, from its extension or well-known name.
    pub(crate) fn of(path: &str) -> Self {
        let name = path.rsplit('/').next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "rs" => Self::Rust,
            "py" | "pyi" | "pyw" => Self::Python,
            "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" => Self::JavaScript,
            "go" => Self::Go,
            "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh" | "java" | "kt" | "kts" | "swift"
            | "cs" | "scala" | "dart" | "php" | "groovy" | "gradle" | "proto" | "zig" => {
                Self::CLike
            }
            "sh" | "bash" | "zsh" | "fish" | "rb" | "pl" | "r" | "yaml" | "yml" | "toml"
            | "cfg" | "conf" | "ini" | "env" | "properties" | "mk" | "nix" | "tf"
            | "dockerfile" => Self::Hash,
            _ if lower == "jenkinsfile" => Self::CLike,
            _ if lower.starts_with(".env")
                || lower.starts_with("dockerfile")
                || lower == "makefile"
                || lower == "justfile"
                || lower.starts_with(".gitignore")
                || (lower.starts_with("requirements") && ext == "txt") =>
            {
                Self::Hash
            }
            _ => Self::Plain,
        }
    }

    fn line_comment(self) -> Option<&'static str> {
        match self {
            Self::Rust | Self::JavaScript | Self::Go | Self::CLike => Some("//"),
            Self::Python | Self::Hash => Some("#"),
            Self::Plain => None,
        }
    }

    /// Whether byte `b` in code can neither open a comment or a string nor be a string's
    /// prefix (Rust's `r`, `b`, `c`): ASCII outside the bytes [`Lexer::string_start`] and
    /// the comment markers look at.
    fn plain(self, b: u8) -> bool {
        b.is_ascii()
            && !matches!(b, b'/' | b'#' | b'"' | b'\'' | b'`')
            && !(self == Self::Rust && matches!(b, b'r' | b'b' | b'c'))
    }

    fn block_comments(self) -> bool {
        match self {
            Self::Rust | Self::JavaScript | Self::Go | Self::CLike => true,
            Self::Python | Self::Hash | Self::Plain => false,
        }
    }
}

/// One line split into its code and its comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// The line with comments and the insides of string literals replaced by spaces (quotes
    /// kept), so byte offsets match the original line.
    pub code: String,
    /// The text of the line's comments (with their markers), concatenated.
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Code,
    Block(u32),
    Str {
        close: String,
        escapes: bool,
        multiline: bool,
    },
}

/// A lexer that keeps its state from one line to the next.
#[derive(Debug, Clone)]
pub(crate) struct Lexer {
    lang: Lang,
    state: State,
}

impl Lexer {
    /// A lexer for `lang`, starting in code.
    pub(crate) fn new(lang: Lang) -> Self {
        Self {
            lang,
            state: State::Code,
        }
    }

    /// Forget any open comment or string (the next line is not the one after the last).
    pub(crate) fn reset(&mut self) {
        self.state = State::Code;
    }

    /// Split the next line.
    pub(crate) fn line(&mut self, line: &str) -> Lexed {
        if self.lang == Lang::Plain {
            return Lexed {
                code: line.to_string(),
                comment: line.to_string(),
            };
        }
        let mut out = Lexed {
            code: String::with_capacity(line.len()),
            comment: String::new(),
        };
        let mut i = 0;
        while i < line.len() {
            let rest = &line[i..];
            let Some(c) = rest.chars().next() else { break };
            match &mut self.state {
                State::Code => {
                    // A run of bytes that open nothing is code as it stands.
                    let run = rest.bytes().take_while(|&b| self.lang.plain(b)).count();
                    if run > 0 {
                        out.code.push_str(&rest[..run]);
                        i += run;
                        continue;
                    }
                    if let Some(marker) = self.lang.line_comment()
                        && rest.starts_with(marker)
                    {
                        out.comment.push_str(rest);
                        blank(&mut out.code, rest);
                        break;
                    }
                    if self.lang.block_comments() && rest.starts_with("/*") {
                        self.state = State::Block(1);
                        out.comment.push_str("/*");
                        out.code.push_str("  ");
                        i += 2;
                        continue;
                    }
                    let prev = line[..i].chars().next_back();
                    if let Some((open, state)) = self.string_start(rest, prev) {
                        out.code.push_str(&rest[..open]);
                        i += open;
                        self.state = state;
                        continue;
                    }
                    out.code.push(c);
                    i += c.len_utf8();
                }
                State::Block(depth) => {
                    if rest.starts_with("*/") {
                        *depth -= 1;
                        if *depth == 0 {
                            self.state = State::Code;
                        }
                        out.comment.push_str("*/");
                        out.code.push_str("  ");
                        i += 2;
                    } else if self.lang == Lang::Rust && rest.starts_with("/*") {
                        *depth += 1;
                        out.comment.push_str("/*");
                        out.code.push_str("  ");
                        i += 2;
                    } else {
                        out.comment.push(c);
                        blank(&mut out.code, &rest[..c.len_utf8()]);
                        i += c.len_utf8();
                    }
                }
                State::Str { close, escapes, .. } => {
                    if *escapes && c == '\\' {
                        let n = rest.chars().take(2).map(char::len_utf8).sum::<usize>();
                        blank(&mut out.code, &rest[..n]);
                        i += n;
                    } else if rest.starts_with(close.as_str()) {
                        let n = close.len();
                        out.code.push_str(&rest[..n]);
                        i += n;
                        self.state = State::Code;
                    } else {
                        blank(&mut out.code, &rest[..c.len_utf8()]);
                        i += c.len_utf8();
                    }
                }
            }
        }
        let one_line = match &self.state {
            State::Str { multiline, .. } => !multiline || self.lang == Lang::Hash,
            State::Code | State::Block(_) => false,
        };
        if one_line {
            self.state = State::Code;
        }
        out
    }

    /// If a string or char literal opens at the start of `rest`: how many bytes of `rest` are
    /// its opening (kept as code: prefix and quotes) and the state inside it.
    fn string_start(&self, rest: &str, prev: Option<char>) -> Option<(usize, State)> {
        let c = rest.chars().next()?;
        let ident = |p: Option<char>| p.is_some_and(|p| p.is_alphanumeric() || p == '_');
        let state = |close: &str, escapes: bool, multiline: bool| State::Str {
            close: close.to_string(),
            escapes,
            multiline,
        };
        match self.lang {
            Lang::Rust => {
                if !ident(prev) && (c == 'r' || c == 'b' || c == 'c') {
                    let after_prefix = rest.strip_prefix(['b', 'c']).unwrap_or(rest);
                    if let Some(raw) = after_prefix.strip_prefix('r') {
                        let hashes = raw.len() - raw.trim_start_matches('#').len();
                        if raw[hashes..].starts_with('"') {
                            let open = rest.len() - raw.len() + hashes + 1;
                            let close = format!("\"{}", "#".repeat(hashes));
                            return Some((open, state(&close, false, true)));
                        }
                    }
                    return None;
                }
                match c {
                    '"' => Some((1, state("\"", true, true))),
                    '\'' => {
                        // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
                        let mut chars = rest.char_indices().skip(1);
                        let (_, first) = chars.next()?;
                        if first == '\\' {
                            let end = rest
                                .char_indices()
                                .skip(2)
                                .take(12)
                                .find(|&(_, ch)| ch == '\'');
                            return end.map(|_| (1, state("'", true, false)));
                        }
                        let (_, second) = chars.next()?;
                        (second == '\'').then(|| (1, state("'", true, false)))
                    }
                    _ => None,
                }
            }
            Lang::Python => {
                if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
                    return Some((3, state(&rest[..3], true, true)));
                }
                match c {
                    '"' | '\'' => Some((1, state(&rest[..1], true, false))),
                    _ => None,
                }
            }
            Lang::JavaScript => match c {
                '"' | '\'' => Some((1, state(&rest[..1], true, false))),
                '`' => Some((1, state("`", true, true))),
                _ => None,
            },
            Lang::Go => match c {
                '"' | '\'' => Some((1, state(&rest[..1], true, false))),
                '`' => Some((1, state("`", false, true))),
                _ => None,
            },
            Lang::CLike | Lang::Hash => match c {
                '"' | '\'' => Some((1, state(&rest[..1], true, false))),
                _ => None,
            },
            Lang::Plain => None,
        }
    }
}

fn blank(code: &mut String, text: &str) {
    code.extend(std::iter::repeat_n(' ', text.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_text(lang: Lang, text: &str) -> Vec<Lexed> {
        let mut lexer = Lexer::new(lang);
        text.split('\n').map(|l| lexer.line(l)).collect()
    }

    fn code(lang: Lang, text: &str) -> Vec<String> {
        lex_text(lang, text)
            .into_iter()
            .map(|l| l.code.trim_end().to_string())
            .collect()
    }

    #[test]
    fn rust_comments_and_strings_are_blanked_with_offsets_kept() {
        let text = "let s = \"unsafe {\"; // unsafe\n/* a /* nested */ unsafe */ unsafe {}\nlet r = r#\"a \" unsafe\"#; 'x'; fn f<'a>(x: &'a str) {}";
        let lines = lex_text(Lang::Rust, text);
        assert_eq!(
            lines[0].code,
            format!("let s = \"        \";{}", " ".repeat(10))
        );
        assert_eq!(lines[0].comment, "// unsafe");
        assert_eq!(lines[1].code.trim(), "unsafe {}");
        assert_eq!(lines[1].code.len(), text.split('\n').nth(1).unwrap().len());
        assert_eq!(
            lines[2].code,
            "let r = r#\"          \"#; ' '; fn f<'a>(x: &'a str) {}"
        );
    }

    #[test]
    fn block_comments_and_multiline_strings_span_lines() {
        assert_eq!(code(Lang::Rust, "/*\nunsafe {}\n*/ x"), ["", "", "   x"]);
        assert_eq!(
            code(
                Lang::Python,
                "s = \"\"\"\neval(x)\n\"\"\" # eval(y)\neval(z)"
            ),
            ["s = \"\"\"", "", "\"\"\"", "eval(z)"]
        );
        assert_eq!(
            code(Lang::JavaScript, "x = `\neval(1)\n`; eval(2)"),
            ["x = `", "", "`; eval(2)"]
        );
    }

    #[test]
    fn one_line_strings_do_not_leak_into_the_next_line() {
        assert_eq!(
            code(Lang::Go, "s := \"open\nunsafe.Pointer(p)"),
            ["s := \"", "unsafe.Pointer(p)"]
        );
        // `'it'` closes at the apostrophe; the stray quote after it opens a string the line ends.
        assert_eq!(
            code(Lang::Hash, "a: 'it's 'x\nb: 1 # c"),
            ["a: '  's '", "b: 1"]
        );
    }

    #[test]
    fn multibyte_text_keeps_byte_offsets() {
        let line = "let é = \"ünïcode\"; // ß";
        let lexed = lex_text(Lang::Rust, line);
        assert_eq!(lexed[0].code.len(), line.len());
        assert_eq!(lexed[0].comment, "// ß");
    }

    #[test]
    fn languages_come_from_names() {
        for (path, lang) in [
            ("src/a.rs", Lang::Rust),
            ("t/test_x.py", Lang::Python),
            ("web/a.test.tsx", Lang::JavaScript),
            ("x_test.go", Lang::Go),
            ("ci.yml", Lang::Hash),
            (".env.local", Lang::Hash),
            ("Dockerfile", Lang::Hash),
            ("requirements-dev.txt", Lang::Hash),
            ("README.md", Lang::Plain),
            ("package.json", Lang::Plain),
        ] {
            assert_eq!(Lang::of(path), lang, "{path}");
        }
    }
}
