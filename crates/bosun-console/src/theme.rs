//! Themes: semantic roles (added, removed, risk, muted, accent, …) mapped to colors, read from
//! `themes/*.toml`. The three shipped themes are built in, so the console works from any
//! directory; a `themes/NAME.toml` in the repository overrides or adds one. With `NO_COLOR`
//! set, every role is the terminal's own color and emphasis comes from bold/reverse only.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The shipped themes, in the order `t` cycles through them.
pub const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
];

/// Colors for the console's semantic roles.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// The theme's name.
    pub name: String,
    /// The syntect theme for code.
    pub syntax: String,
    /// Plain text.
    pub text: Color,
    /// Secondary text: line numbers, hints, timestamps.
    pub muted: Color,
    /// Titles, the selected tab, keys in the footer.
    pub accent: Color,
    /// Block borders.
    pub border: Color,
    /// Background of the selected row.
    pub selection_bg: Color,
    /// Background of the header and footer bars.
    pub header_bg: Color,
    /// Added lines.
    pub added: Color,
    /// Background of added lines.
    pub added_bg: Color,
    /// Removed lines.
    pub removed: Color,
    /// Background of removed lines.
    pub removed_bg: Color,
    /// Risk annotations.
    pub risk: Color,
    /// Notice annotations.
    pub notice: Color,
    /// Info annotations.
    pub info: Color,
    /// Passing gates.
    pub pass: Color,
    /// Failing gates and runs.
    pub fail: Color,
    /// Warnings.
    pub warn: Color,
    /// Skipped gates.
    pub skip: Color,
    /// Running runs.
    pub running: Color,
    /// No colors at all (`NO_COLOR`).
    pub monochrome: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    syntax: String,
    colors: BTreeMap<String, String>,
}

/// Parses a color: `#rrggbb`, a terminal color name, or `reset`.
pub fn parse_color(text: &str) -> Result<Color, String> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix('#') {
        let ok = hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
        return if ok {
            Ok(Color::Rgb(byte(0), byte(2), byte(4)))
        } else {
            Err(format!("`{text}` is not a #rrggbb color"))
        };
    }
    t.parse::<Color>()
        .map_err(|_| format!("`{text}` is not a color (write #rrggbb or a name like \"red\")"))
}

impl Theme {
    /// Parses a theme file's text; an error starts with the line it is about (`line 3: …`)
    /// when it is about one.
    pub fn parse(text: &str) -> Result<Theme, String> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let file: ThemeFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => format!("line {}: {}", line_of(span.start), e.message()),
            None => e.message().to_string(),
        })?;
        // The line that sets `key = …`, for messages about its value.
        let at = |key: &str| {
            text.lines()
                .position(|l| {
                    l.trim_start()
                        .strip_prefix(key)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                })
                .map_or_else(String::new, |i| format!("line {}: ", i + 1))
        };
        let color = |role: &str| -> Result<Color, String> {
            let value = file
                .colors
                .get(role)
                .ok_or_else(|| format!("[colors] has no `{role}`"))?;
            parse_color(value).map_err(|e| format!("{}[colors] {role}: {e}", at(role)))
        };
        let theme = Theme {
            name: file.name.clone(),
            syntax: file.syntax.clone(),
            text: color("text")?,
            muted: color("muted")?,
            accent: color("accent")?,
            border: color("border")?,
            selection_bg: color("selection_bg")?,
            header_bg: color("header_bg")?,
            added: color("added")?,
            added_bg: color("added_bg")?,
            removed: color("removed")?,
            removed_bg: color("removed_bg")?,
            risk: color("risk")?,
            notice: color("notice")?,
            info: color("info")?,
            pass: color("pass")?,
            fail: color("fail")?,
            warn: color("warn")?,
            skip: color("skip")?,
            running: color("running")?,
            monochrome: false,
        };
        let known = Self::ROLES;
        if let Some(extra) = file.colors.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "{}[colors] has an unknown role `{extra}` (roles: {})",
                at(extra),
                known.join(", ")
            ));
        }
        Ok(theme)
    }

    /// The color roles a theme file sets.
    pub const ROLES: [&'static str; 18] = [
        "text",
        "muted",
        "accent",
        "border",
        "selection_bg",
        "header_bg",
        "added",
        "added_bg",
        "removed",
        "removed_bg",
        "risk",
        "notice",
        "info",
        "pass",
        "fail",
        "warn",
        "skip",
        "running",
    ];

    /// The default (dark) theme.
    pub fn default_theme() -> Theme {
        Self::built_in("dark").unwrap_or_else(|| Self::monochrome("dark"))
    }

    /// A shipped theme by name.
    pub fn built_in(name: &str) -> Option<Theme> {
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, text)| Theme::parse(text).ok())
    }

    /// Every role the terminal's default color; for `NO_COLOR`.
    pub fn monochrome(name: &str) -> Theme {
        let r = Color::Reset;
        Theme {
            name: name.to_string(),
            syntax: String::new(),
            text: r,
            muted: r,
            accent: r,
            border: r,
            selection_bg: r,
            header_bg: r,
            added: r,
            added_bg: r,
            removed: r,
            removed_bg: r,
            risk: r,
            notice: r,
            info: r,
            pass: r,
            fail: r,
            warn: r,
            skip: r,
            running: r,
            monochrome: true,
        }
    }

    /// Loads theme `name`: `<repo>/themes/<name>.toml` when there is one, else the built-in
    /// theme of that name. Monochrome when `no_color`.
    pub fn load(name: &str, repo_root: &Path, no_color: bool) -> Result<Theme, String> {
        if no_color {
            return Ok(Self::monochrome(name));
        }
        let file = repo_root.join("themes").join(format!("{name}.toml"));
        match std::fs::read_to_string(&file) {
            Ok(text) => Theme::parse(&text).map_err(|e| {
                let shown = format!("themes/{name}.toml");
                match e.strip_prefix("line ") {
                    // `themes/x.toml:3: …`
                    Some(rest) => format!("{shown}:{rest}"),
                    None => format!("{shown}: {e}"),
                }
            }),
            Err(_) => Self::built_in(name).ok_or_else(|| {
                format!(
                    "there is no theme `{name}` (built in: {}; or add themes/{name}.toml)",
                    BUILT_IN.map(|(n, _)| n).join(", ")
                )
            }),
        }
    }

    /// The themes `t` cycles through, in order: the built-in ones (a repository file of the
    /// same name in their place), then the repository's others by name (`themes/*.toml`).
    pub fn names(repo_root: &Path) -> Vec<String> {
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        let mut own: Vec<String> = std::fs::read_dir(repo_root.join("themes"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_stem()?.to_str()?.to_string();
                (path.extension().is_some_and(|x| x == "toml") && !names.contains(&stem))
                    .then_some(stem)
            })
            .collect();
        own.sort();
        names.extend(own);
        names
    }

    /// Every theme `t` cycles through ([`Theme::names`]), each loaded or why not.
    pub fn catalogue(repo_root: &Path, no_color: bool) -> Vec<(String, Result<Theme, String>)> {
        Self::names(repo_root)
            .into_iter()
            .map(|name| {
                let theme = Theme::load(&name, repo_root, no_color);
                (name, theme)
            })
            .collect()
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::new().fg(self.text)
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            Style::new().fg(self.muted)
        }
    }

    /// Titles and keys.
    pub fn accent(&self) -> Style {
        Style::new().fg(self.accent).add_modifier(Modifier::BOLD)
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().bg(self.selection_bg)
        }
    }

    /// Header and footer bars.
    pub fn bar(&self) -> Style {
        Style::new().fg(self.text).bg(self.header_bg)
    }

    /// Borders.
    pub fn border(&self) -> Style {
        Style::new().fg(self.border)
    }

    /// An annotation severity's color.
    pub fn severity(&self, severity: crate::model::Severity) -> Style {
        use crate::model::Severity;
        let color = match severity {
            Severity::Risk => self.risk,
            Severity::Notice => self.notice,
            Severity::Info => self.info,
        };
        let style = Style::new().fg(color);
        if self.monochrome && severity == Severity::Risk {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// A gate verdict's color.
    pub fn verdict(&self, verdict: crate::model::Verdict) -> Style {
        use crate::model::Verdict;
        Style::new().fg(match verdict {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::Warn => self.warn,
            Verdict::Skip => self.skip,
        })
    }

    /// A run status's color.
    pub fn status(&self, status: crate::model::RunStatus) -> Style {
        use crate::model::RunStatus as S;
        Style::new().fg(match status {
            S::Queued => self.muted,
            S::Preparing | S::Running | S::Gating => self.running,
            S::AwaitingApproval => self.notice,
            S::Delivered => self.accent,
            S::Merged => self.pass,
            S::Failed | S::Interrupted => self.fail,
            S::Rejected | S::Cancelled => self.skip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_parses_and_sets_every_role() {
        for (name, text) in BUILT_IN {
            let theme = Theme::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(theme.name, name);
            let set = syntect::highlighting::ThemeSet::load_defaults();
            assert!(
                set.themes.contains_key(&theme.syntax),
                "{name}: syntect has no theme {}",
                theme.syntax
            );
        }
    }

    #[test]
    fn colors_parse_from_hex_and_names_and_bad_ones_say_why() {
        assert_eq!(parse_color("#ff8000"), Ok(Color::Rgb(255, 128, 0)));
        assert_eq!(parse_color("lightblue"), Ok(Color::LightBlue));
        assert_eq!(parse_color("reset"), Ok(Color::Reset));
        assert!(parse_color("#ff80").unwrap_err().contains("#rrggbb"));
        assert!(parse_color("octarine").unwrap_err().contains("not a color"));
        let broken = BUILT_IN[0].1.replace("risk = ", "danger = ");
        let e = Theme::parse(&broken).unwrap_err();
        assert_eq!(e, "[colors] has no `risk`");
    }

    #[test]
    fn a_repository_theme_overrides_and_adds_and_a_broken_one_says_where() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        let mine = BUILT_IN[0].1.replace("#a3be8c", "#00ff00");
        std::fs::write(dir.path().join("themes/dark.toml"), mine).unwrap();
        let loaded = Theme::load("dark", dir.path(), false).unwrap();
        assert_eq!(loaded.added, Color::Rgb(0, 255, 0));
        assert!(Theme::load("dark", dir.path(), true).unwrap().monochrome);
        let e = Theme::load("neon", dir.path(), false).unwrap_err();
        assert!(e.starts_with("there is no theme `neon`"), "{e}");
        // Another theme of the repository's, and a broken one.
        let solar = BUILT_IN[1]
            .1
            .replace("name = \"light\"", "name = \"solar\"");
        std::fs::write(dir.path().join("themes/solar.toml"), solar).unwrap();
        let text = BUILT_IN[1]
            .1
            .replace("name = \"light\"", "name = \"broken\"");
        let (line, _) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.trim_start().starts_with("accent"))
            .unwrap();
        let broken = text.replacen(
            &text.lines().nth(line).unwrap().to_string(),
            "accent = \"octarine\"",
            1,
        );
        std::fs::write(dir.path().join("themes/broken.toml"), broken).unwrap();
        std::fs::write(
            dir.path().join("themes/bad-toml.toml"),
            "name = \"x\"\n[colors\n",
        )
        .unwrap();
        assert_eq!(
            Theme::names(dir.path()),
            [
                "dark",
                "light",
                "high-contrast",
                "bad-toml",
                "broken",
                "solar"
            ]
        );
        let all = Theme::catalogue(dir.path(), false);
        assert_eq!(all[0].1.as_ref().unwrap().added, Color::Rgb(0, 255, 0));
        let e = all[4].1.as_ref().unwrap_err();
        assert_eq!(
            e,
            &format!(
                "themes/broken.toml:{}: [colors] accent: `octarine` is not a color (write #rrggbb or a name like \"red\")",
                line + 1
            )
        );
        let e = all[3].1.as_ref().unwrap_err();
        assert!(e.starts_with("themes/bad-toml.toml:2: "), "{e}");
        assert_eq!(all[5].1.as_ref().unwrap().name, "solar");
    }
}
