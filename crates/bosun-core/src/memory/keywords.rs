//! Keywords of a task's text, and how much two keyword sets overlap: the measure of
//! "similar task" that decides which lessons and examples a prompt gets.

use std::collections::HashSet;

/// Most keywords kept for one text (first occurrences first): a long body should not drown
/// the title's words when sets are compared.
pub const MAX_KEYWORDS: usize = 48;

/// Words too common in task lists (English and Russian) to say what a task is about.
/// Words shorter than three letters are dropped anyway, so they are not listed.
const STOP_WORDS: &[&str] = &[
    // English
    "the",
    "and",
    "for",
    "with",
    "from",
    "that",
    "this",
    "these",
    "those",
    "into",
    "onto",
    "are",
    "was",
    "were",
    "been",
    "being",
    "not",
    "but",
    "all",
    "any",
    "can",
    "could",
    "will",
    "would",
    "should",
    "must",
    "may",
    "when",
    "then",
    "than",
    "also",
    "only",
    "each",
    "its",
    "our",
    "your",
    "their",
    "there",
    "here",
    "has",
    "have",
    "had",
    "does",
    "did",
    "done",
    "via",
    "per",
    "out",
    "about",
    "over",
    "under",
    "after",
    "before",
    "more",
    "most",
    "some",
    "such",
    "too",
    "very",
    "just",
    "other",
    "which",
    "what",
    "who",
    "how",
    "why",
    "where",
    "etc",
    "see",
    "new",
    "use",
    "using",
    "make",
    "sure",
    // Russian (ё is folded to е before the lookup)
    "для",
    "что",
    "как",
    "это",
    "эта",
    "этот",
    "эти",
    "этого",
    "при",
    "или",
    "его",
    "она",
    "они",
    "оно",
    "все",
    "без",
    "над",
    "под",
    "так",
    "там",
    "тут",
    "где",
    "чем",
    "чтобы",
    "если",
    "также",
    "тоже",
    "после",
    "перед",
    "через",
    "между",
    "уже",
    "еще",
    "нет",
    "быть",
    "был",
    "была",
    "были",
    "будет",
    "есть",
    "надо",
    "нужно",
    "можно",
    "который",
    "которая",
    "которые",
    "которое",
    "только",
    "того",
    "тем",
    "том",
    "чтоб",
];

/// The keywords of `text`: its words of three or more characters (letters and digits, at
/// least one letter), lowercased, with `ё` folded to `е`, minus the stop words, without
/// repeats, in order of first appearance, at most [`MAX_KEYWORDS`].
pub fn keywords(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.chars().count() < 3 || !word.chars().any(char::is_alphabetic) {
            continue;
        }
        let word: String = word
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ё' { 'е' } else { c })
            .collect();
        if STOP_WORDS.contains(&word.as_str()) || !seen.insert(word.clone()) {
            continue;
        }
        out.push(word);
        if out.len() == MAX_KEYWORDS {
            break;
        }
    }
    out
}

/// Jaccard similarity of two keyword sets: shared words over all words, 0 when both are empty.
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    let a: HashSet<&str> = a.iter().map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().map(String::as_str).collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_string()).collect()
    }

    #[test]
    fn english_keywords_drop_short_and_common_words_and_repeats() {
        assert_eq!(
            keywords("Fix the crash in the Parser when the input is empty; parser tests too"),
            words(&["fix", "crash", "parser", "input", "empty", "tests"])
        );
        assert_eq!(
            keywords("Add `--json` output to runs (v2, 100%)"),
            words(&["add", "json", "output", "runs"])
        );
        assert!(keywords("a an of to it 42 1234").is_empty());
    }

    #[test]
    fn russian_keywords_are_lowercased_with_yo_folded() {
        // A title from fixtures/todos/seed-ru.md.
        assert_eq!(
            keywords(
                "Декомпозиция монолитного server.py (4500+ строк) - см. docs/planning/task_1.md"
            ),
            words(&[
                "декомпозиция",
                "монолитного",
                "server",
                "строк",
                "docs",
                "planning",
                "task",
            ])
        );
        assert_eq!(
            keywords("Ещё тесты для ЁЛКИ, а не для всего остального"),
            words(&["тесты", "елки", "всего", "остального"])
        );
    }

    #[test]
    fn keywords_are_capped() {
        let text: String = (0..200).map(|i| format!("word{i} ")).collect();
        let got = keywords(&text);
        assert_eq!(got.len(), MAX_KEYWORDS);
        assert_eq!(got[0], "word0");
    }

    #[test]
    fn jaccard_is_shared_over_all() {
        let a = words(&["parser", "crash", "empty"]);
        let b = words(&["parser", "empty", "docs", "readme"]);
        assert!((jaccard(&a, &b) - 2.0 / 5.0).abs() < 1e-12);
        assert_eq!(jaccard(&a, &a), 1.0);
        assert_eq!(jaccard(&a, &[]), 0.0);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }
}
