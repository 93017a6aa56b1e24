//! Priority and type rules: which heading words, emoji, tags and keywords mean what.

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::{Priority, TaskType};

/// Emoji that mark a priority, in headings and in item text.
const PRIORITY_EMOJI: [(&str, Priority); 6] = [
    ("🔥", Priority::Critical),
    ("🔴", Priority::Critical),
    ("🟡", Priority::High),
    ("🟠", Priority::High),
    ("🟢", Priority::Medium),
    ("🔵", Priority::Low),
];

/// Whole words (lowercase) that name a priority in a heading or a leading `Word:` prefix.
const PRIORITY_WORDS: [(&str, Priority); 31] = [
    ("critical", Priority::Critical),
    ("urgent", Priority::Critical),
    ("blocker", Priority::Critical),
    ("критический", Priority::Critical),
    ("критическая", Priority::Critical),
    ("критическое", Priority::Critical),
    ("критические", Priority::Critical),
    ("критичный", Priority::Critical),
    ("критично", Priority::Critical),
    ("срочно", Priority::Critical),
    ("срочный", Priority::Critical),
    ("срочные", Priority::Critical),
    ("блокер", Priority::Critical),
    ("high", Priority::High),
    ("высокий", Priority::High),
    ("высокая", Priority::High),
    ("высокое", Priority::High),
    ("высокие", Priority::High),
    ("medium", Priority::Medium),
    ("normal", Priority::Medium),
    ("средний", Priority::Medium),
    ("средняя", Priority::Medium),
    ("среднее", Priority::Medium),
    ("средние", Priority::Medium),
    ("обычный", Priority::Medium),
    ("low", Priority::Low),
    ("низкий", Priority::Low),
    ("низкая", Priority::Low),
    ("низкое", Priority::Low),
    ("низкие", Priority::Low),
    ("trivial", Priority::Low),
];

/// Phrases (lowercase) that name a priority and span several words.
const PRIORITY_PHRASES: [(&str, Priority); 2] = [
    ("nice to have", Priority::Low),
    ("nice-to-have", Priority::Low),
];

/// `P0`..`P3` as a priority.
fn p_level(word: &str) -> Option<Priority> {
    match word {
        "p0" | "P0" => Some(Priority::Critical),
        "p1" | "P1" => Some(Priority::High),
        "p2" | "P2" => Some(Priority::Medium),
        "p3" | "P3" => Some(Priority::Low),
        _ => None,
    }
}

/// Parses a priority name as written in a `[priority:NAME]` tag (also `P0`..`P3`).
pub fn parse_priority(name: &str) -> Option<Priority> {
    let name = name.trim().to_lowercase();
    if let Some(p) = p_level(&name) {
        return Some(p);
    }
    Priority::ALL
        .into_iter()
        .find(|p| p.as_str() == name)
        .or_else(|| word_priority(&name))
        .or_else(|| {
            PRIORITY_PHRASES
                .iter()
                .find(|(w, _)| *w == name)
                .map(|(_, p)| *p)
        })
}

fn word_priority(word: &str) -> Option<Priority> {
    PRIORITY_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, p)| *p)
}

/// The priority a heading names, if any: its words first (phrases, `P0`..`P3`, priority
/// words), then its emoji — a heading that says "🟢 Nice to have" means what it says.
pub fn heading_priority(heading: &str) -> Option<Priority> {
    let lower = heading.to_lowercase();
    if let Some((_, p)) = PRIORITY_PHRASES.iter().find(|(w, _)| lower.contains(w)) {
        return Some(*p);
    }
    words(&lower)
        .find_map(|w| p_level(w).or_else(|| word_priority(w)))
        .or_else(|| emoji_priority(heading))
}

fn emoji_priority(text: &str) -> Option<Priority> {
    if text.is_ascii() {
        return None;
    }
    PRIORITY_EMOJI
        .iter()
        .find(|(e, _)| text.contains(e))
        .map(|(_, p)| *p)
}

/// A leading priority word used as a label (`Urgent: fix login`, `Nice to have: colour …`):
/// the priority and the length in bytes of the label with its `: ` separator.
pub fn priority_label(text: &str) -> Option<(Priority, usize)> {
    let colon = text.find(": ")?;
    let label = text[..colon].trim().to_lowercase();
    let p = word_priority(&label).or_else(|| {
        PRIORITY_PHRASES
            .iter()
            .find(|(w, _)| *w == label)
            .map(|(_, p)| *p)
    })?;
    Some((p, colon + 2))
}

/// Splits text into words: maximal runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// What inline markers in an item's text said, and the text with them removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InlineTags {
    /// The text without tags, with whitespace collapsed.
    pub text: String,
    /// Priority from a tag, with the tag as written.
    pub priority: Option<(Priority, String)>,
    /// Type from a `[type:NAME]` tag, with the tag as written.
    pub task_type: Option<(TaskType, String)>,
    /// Tags whose value is not understood, as written.
    pub unknown: Vec<String>,
}

/// Removes priority and type markers from an item's text and reports what they said:
/// `[type:docs]`, `[priority:high]`, `[P1]`, `P1` as the first or last word, priority emoji.
pub fn extract_tags(text: &str) -> InlineTags {
    let mut tags = InlineTags::default();
    let mut rest: Cow<'_, str> = Cow::Borrowed(text);
    // Bracketed tags.
    if text.contains('[') {
        let mut kept = String::with_capacity(text.len());
        let mut remaining = text;
        while let Some(open) = remaining.find('[') {
            kept.push_str(&remaining[..open]);
            let after = &remaining[open..];
            let Some(close) = after.find(']') else {
                break;
            };
            let tag = &after[..=close];
            if !take_bracket_tag(&tag[1..tag.len() - 1], tag, &mut tags) {
                kept.push_str(tag);
            }
            remaining = &after[close + 1..];
        }
        kept.push_str(remaining);
        rest = Cow::Owned(kept);
    }
    // Emoji.
    if !rest.is_ascii() {
        for (emoji, p) in PRIORITY_EMOJI {
            if rest.contains(emoji) {
                if tags.priority.is_none() {
                    tags.priority = Some((p, emoji.to_string()));
                }
                rest = Cow::Owned(rest.replace(emoji, " "));
            }
        }
    }
    // `P1` as the first or last word (also `(P1)`).
    let mut text: &str = rest.trim();
    for at_end in [false, true] {
        let word = if at_end {
            text.split_whitespace().next_back()
        } else {
            text.split_whitespace().next()
        };
        let Some(word) = word else { break };
        let bare = word.trim_matches(|c| c == '(' || c == ')' || c == ':' || c == ',');
        if let Some(p) = p_level(bare) {
            if tags.priority.is_none() {
                tags.priority = Some((p, bare.to_string()));
            }
            text = if at_end {
                text[..text.len() - word.len()].trim_end()
            } else {
                text[word.len()..].trim_start()
            };
        }
    }
    tags.text = collapse_whitespace(text);
    tags
}

/// Collapses runs of whitespace (line breaks included) into single spaces and trims the ends.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Handles `type:NAME` and `priority:NAME` (and `P1`) inside brackets; false if it is no tag.
fn take_bracket_tag(inner: &str, tag: &str, tags: &mut InlineTags) -> bool {
    if let Some(p) = p_level(inner.trim()) {
        tags.priority.get_or_insert((p, tag.to_string()));
        return true;
    }
    let Some((key, value)) = inner.split_once(':') else {
        return false;
    };
    match key.trim().to_lowercase().as_str() {
        "type" => match value.parse::<TaskType>() {
            Ok(t) => {
                tags.task_type.get_or_insert((t, tag.to_string()));
                true
            }
            Err(_) => {
                tags.unknown.push(tag.to_string());
                false
            }
        },
        "priority" | "prio" => match parse_priority(value) {
            Some(p) => {
                tags.priority.get_or_insert((p, tag.to_string()));
                true
            }
            None => {
                tags.unknown.push(tag.to_string());
                false
            }
        },
        _ => false,
    }
}

/// Words of running text, leaving out code spans and file paths (`docs/planning/x.md` says
/// where to look, not what kind of work a task is).
fn prose_words(text: &str) -> impl Iterator<Item = &str> {
    text.split('`')
        .step_by(2)
        .flat_map(str::split_whitespace)
        .filter(|token| !is_path(token))
        .flat_map(words)
}

/// A token that names a file: `a/b/c`, `dir/file.ext`, `file.ext` (but not `CI/CD`).
fn is_path(token: &str) -> bool {
    let token = token.trim_matches(|c: char| !c.is_alphanumeric());
    let has_extension = token.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=8).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && ext.chars().any(|c| c.is_ascii_alphabetic())
    });
    token.matches('/').count() >= 2 || has_extension
}

/// A keyword of a type rule: a whole word, or a word prefix when written with a trailing `*`;
/// written with a leading `^`, it counts only as the text's first word (a verb such as
/// `^rename` types "Rename X to Y" but not "Add a rename command").
#[derive(Debug, Clone, PartialEq, Eq)]
struct Keyword {
    word: String,
    prefix: bool,
    first: bool,
    /// The rule as reported when it matches in a title, and in a description.
    in_title: Arc<str>,
    in_description: Arc<str>,
}

impl Keyword {
    fn parse(written: &str) -> Option<Self> {
        let written = written.trim();
        let lower = written.to_lowercase();
        let (lower, first) = match lower.strip_prefix('^') {
            Some(rest) => (rest.to_string(), true),
            None => (lower, false),
        };
        let (word, prefix) = match lower.strip_suffix('*') {
            Some(w) => (w.to_string(), true),
            None => (lower, false),
        };
        (!word.is_empty()).then(|| Self {
            word,
            prefix,
            first,
            in_title: format!("keyword \"{written}\" in title").into(),
            in_description: format!("keyword \"{written}\" in description").into(),
        })
    }

    /// How the rule is reported when it matched in the title or in the description.
    fn rule(&self, in_title: bool) -> Arc<str> {
        if in_title {
            self.in_title.clone()
        } else {
            self.in_description.clone()
        }
    }

    /// Whether `word` (already lowercase) is this keyword, or starts with it for a prefix one.
    fn matches(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.word)
        } else {
            word == self.word
        }
    }
}

/// Keyword rules that choose a task's type when no `[type:…]` tag does.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeRules {
    rules: Vec<(TaskType, Keyword)>,
    /// Indexes into `rules` by the keyword's first byte, so a word is compared only with the
    /// few keywords that can match it.
    by_first_byte: Vec<Vec<u16>>,
    default_rule: Arc<str>,
}

impl TypeRules {
    /// Builds the rules from keyword lists per type (words; `word*` matches a prefix).
    pub fn new<'a>(lists: impl IntoIterator<Item = (TaskType, &'a [String])>) -> Self {
        let rules: Vec<(TaskType, Keyword)> = lists
            .into_iter()
            .flat_map(|(t, words)| {
                words
                    .iter()
                    .filter_map(move |w| Keyword::parse(w).map(|k| (t, k)))
            })
            .take(usize::from(u16::MAX))
            .collect();
        let mut by_first_byte = vec![Vec::new(); 256];
        for (i, (_, k)) in rules.iter().enumerate() {
            let index = u16::try_from(i).expect("rules are capped at u16::MAX");
            by_first_byte[usize::from(k.word.as_bytes()[0])].push(index);
        }
        Self {
            rules,
            by_first_byte,
            default_rule: Arc::from("default"),
        }
    }

    /// The type for a task: the rule matching the earliest word of the title, else — only
    /// when the title says nothing — of the description's first line, else `code`. A
    /// first-word rule (`^move`) counts only when no other rule matches the same text: a verb
    /// says what is done, a noun where ("Move CI to the new runners" is devops). Returns the
    /// type and the rule that chose it.
    pub fn classify(&self, title: &str, description: &str) -> (TaskType, Arc<str>) {
        let first_line = description
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        for (in_title, text) in [(true, title), (false, first_line)] {
            let lower = text.to_lowercase();
            let mut verb = None;
            for (n, word) in prose_words(&lower).enumerate() {
                let candidates = &self.by_first_byte[usize::from(word.as_bytes()[0])];
                for (t, k) in candidates.iter().map(|&i| &self.rules[usize::from(i)]) {
                    if !k.matches(word) {
                        continue;
                    }
                    if !k.first {
                        return (*t, k.rule(in_title));
                    }
                    if n == 0 && verb.is_none() {
                        verb = Some((*t, k.rule(in_title)));
                    }
                }
            }
            if let Some(found) = verb {
                return found;
            }
        }
        (TaskType::Code, self.default_rule.clone())
    }
}

impl crate::config::IntakeConfig {
    /// The type rules these settings describe.
    pub fn type_rules(&self) -> TypeRules {
        let t = &self.types;
        TypeRules::new([
            (TaskType::Code, t.code.as_slice()),
            (TaskType::Docs, t.docs.as_slice()),
            (TaskType::Refactor, t.refactor.as_slice()),
            (TaskType::Test, t.test.as_slice()),
            (TaskType::Release, t.release.as_slice()),
            (TaskType::Devops, t.devops.as_slice()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntakeConfig;

    fn rules() -> TypeRules {
        IntakeConfig::default().type_rules()
    }

    /// Bug: a heading's emoji beat its words ("🟢 Nice to have" read as medium).
    #[test]
    fn a_headings_words_beat_its_emoji() {
        assert_eq!(heading_priority("🟢 Nice to have"), Some(Priority::Low));
        assert_eq!(heading_priority("🔴 Low priority"), Some(Priority::Low));
        assert_eq!(heading_priority("🔥 Critical"), Some(Priority::Critical));
        assert_eq!(heading_priority("🟡 Later"), Some(Priority::High));
    }

    /// Bug: a word of the description typed a task whose title said nothing, however far
    /// down it was.
    #[test]
    fn the_description_counts_only_when_the_title_says_nothing_and_only_its_first_line() {
        let r = rules();
        let (t, rule) = r.classify("Fix the parser", "for empty input\nas the doc page says");
        assert_eq!((t, &*rule), (TaskType::Code, "default"));
        let (t, rule) = r.classify("Fix the parser", "as the doc page says");
        assert_eq!(t, TaskType::Docs);
        assert_eq!(&*rule, "keyword \"doc\" in description");
        assert_eq!(
            r.classify("Add tests", "update the readme").0,
            TaskType::Test
        );
    }

    /// Bug: "Rename X to Y across the codebase" was typed `code`.
    #[test]
    fn refactor_verbs_type_a_refactor_as_the_first_word_only() {
        let r = rules();
        for title in [
            "Rename Config to Settings across the codebase",
            "Move the parser into its own module",
            "Split config.rs into load and values",
            "Extract the HTTP client",
            "Inline the one-line helpers",
            "Merge the two store modules",
            "Split the parser",
            "Переименовать модуль хранилища",
        ] {
            assert_eq!(r.classify(title, "").0, TaskType::Refactor, "{title}");
        }
        let (t, rule) = r.classify("Rename the tool", "");
        assert_eq!(&*rule, "keyword \"^rename*\" in title");
        assert_eq!(t, TaskType::Refactor);
        for title in [
            "Add a rename command",
            "Let users move cards",
            "Fix the split view",
        ] {
            assert_eq!(r.classify(title, "").0, TaskType::Code, "{title}");
        }
        // A keyword that names the area beats the verb.
        assert_eq!(
            r.classify("Move CI to the new runners", "").0,
            TaskType::Devops
        );
        assert_eq!(r.classify("Split the test helpers", "").0, TaskType::Test);
    }

    #[test]
    fn heading_priorities_in_english_russian_emoji_and_p_levels() {
        let cases = [
            ("🔥 Критический приоритет", Some(Priority::Critical)),
            ("🟡 Высокий приоритет", Some(Priority::High)),
            ("🟢 Средний приоритет", Some(Priority::Medium)),
            ("🔵 Низкий приоритет", Some(Priority::Low)),
            ("Critical", Some(Priority::Critical)),
            ("High priority", Some(Priority::High)),
            ("Medium", Some(Priority::Medium)),
            ("Low", Some(Priority::Low)),
            ("Nice to have", Some(Priority::Low)),
            ("P0 blockers", Some(Priority::Critical)),
            ("Backlog (P3)", Some(Priority::Low)),
            ("Urgent fixes", Some(Priority::Critical)),
            ("Система качества и assurance", None),
            ("Highlights of the lowdown", None),
            ("P2P networking", None),
        ];
        for (heading, want) in cases {
            assert_eq!(heading_priority(heading), want, "{heading}");
        }
    }

    #[test]
    fn inline_tags_are_read_and_removed() {
        let t = extract_tags("Document the new flag [type:docs] [priority:high]");
        assert_eq!(t.text, "Document the new flag");
        assert_eq!(t.task_type.map(|(t, _)| t), Some(TaskType::Docs));
        assert_eq!(t.priority.map(|(p, _)| p), Some(Priority::High));

        let t = extract_tags("colour the diff summary [priority:low]");
        assert_eq!(t.text, "colour the diff summary");
        assert_eq!(t.priority.map(|(p, _)| p), Some(Priority::Low));
        assert_eq!(
            priority_label("Nice to have: colour it"),
            Some((Priority::Low, 14))
        );
        assert_eq!(priority_label("Urgent: fix"), Some((Priority::Critical, 8)));
        assert_eq!(priority_label("Parser: fix"), None);

        let t = extract_tags("P1 fix login 🔥");
        assert_eq!(t.text, "fix login");
        assert_eq!(t.priority.map(|(p, _)| p), Some(Priority::Critical));

        let t = extract_tags("Support P2P sync [see notes]");
        assert_eq!(t.text, "Support P2P sync [see notes]");
        assert_eq!(t.priority, None);

        let t = extract_tags("Odd [type:poetry] tag");
        assert_eq!(t.text, "Odd [type:poetry] tag");
        assert_eq!(t.unknown, vec!["[type:poetry]".to_string()]);
    }

    #[test]
    fn type_keywords_pick_the_earliest_matching_word() {
        let r = rules();
        let cases = [
            (
                "Декомпозиция монолитного server.py (4500+ строк)",
                TaskType::Refactor,
            ),
            ("Тестовая инфраструктура нового поколения", TaskType::Test),
            ("CI/CD и DevOps automation", TaskType::Devops),
            ("Интеллектуальная система документации", TaskType::Docs),
            ("Add integration tests for `export --json`", TaskType::Test),
            (
                "Refactor the exporter into one module per format",
                TaskType::Refactor,
            ),
            ("Cut the 3.2.0 release", TaskType::Release),
            (
                "Move CI from the old runner images to the new ones",
                TaskType::Devops,
            ),
            ("Fix panic when the config file is empty", TaskType::Code),
        ];
        for (title, want) in cases {
            assert_eq!(r.classify(title, "").0, want, "{title}");
        }
        let (t, rule) = r.classify("Тестовая инфраструктура", "");
        assert_eq!(t, TaskType::Test);
        assert_eq!(&*rule, "keyword \"тест*\" in title");
        assert_eq!(&*r.classify("Do things", "").1, "default");
        assert_eq!(r.classify("TESTS first", "").0, TaskType::Test);
        assert_eq!(r.classify("CIA", "").0, TaskType::Code);
        assert_eq!(
            r.classify("Do things", "update the README").0,
            TaskType::Docs
        );
    }
}
