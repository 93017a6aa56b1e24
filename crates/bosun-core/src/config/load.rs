//! Loading and layering: built-in defaults < `bosun.toml` < `BOSUN_*` environment variables.
//! (Command-line flags are applied by the CLI on the result.)

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, FILE_NAME};

/// Prefix of environment variables that override settings: `BOSUN_<SECTION>__<KEY>`,
/// e.g. `BOSUN_PROJECT__TASK_FILES='["TODO.md", "BUGS.md"]'`. Variables without `__`
/// (such as `BOSUN_RUN_ID`, set for agents) are not configuration.
pub const ENV_PREFIX: &str = "BOSUN_";

/// A configuration problem, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("{path}:{line}:{column}: {message}{}", key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The dotted key involved, when it can be told.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An environment override names an unknown key or has a value of the wrong type.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value has the right type but is not allowed.
    #[error("{origin}: key `{key}`: {message}")]
    Invalid {
        /// The file (or "defaults").
        origin: String,
        /// The dotted key.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A loaded configuration and the file it came from, if any.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The layered settings.
    pub config: Config,
    /// The config file read, or `None` when only defaults (and environment) apply.
    pub path: Option<PathBuf>,
}

/// Loads the configuration for the repository at `root`: the file `explicit` (which must
/// exist) or `<root>/bosun.toml` (when it exists), then environment overrides from `env`.
pub fn load(
    explicit: Option<&Path>,
    root: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => Some(root.join(FILE_NAME)).filter(|p| p.is_file()),
    };
    let text = match &path {
        Some(p) => std::fs::read_to_string(p).map_err(|error| ConfigError::Read {
            path: p.clone(),
            error,
        })?,
        None => String::new(),
    };
    let origin = path.clone().unwrap_or_else(|| PathBuf::from(FILE_NAME));
    let mut config = parse_str(&text, &origin)?;

    let overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
        .collect();
    if !overrides.is_empty() {
        // The file parsed above, so it is a valid table.
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| parse_error(&text, &origin, &e))?;
        for (var, raw) in overrides {
            let segments: Vec<String> = var[ENV_PREFIX.len()..]
                .split("__")
                .map(|s| s.to_lowercase())
                .collect();
            set_path(&mut table, &segments, env_value(&raw)).map_err(|message| {
                ConfigError::Env {
                    var: var.clone(),
                    message,
                }
            })?;
            config = Config::deserialize(table.clone()).map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
        }
    }
    let described = path
        .as_ref()
        .map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
    validate(&config, &described)?;
    Ok(Loaded { config, path })
}

/// Parses config text (as found in `path`, used in messages) over the defaults.
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| parse_error(text, path, &e))
}

/// Reads an environment value as a TOML value (`4`, `true`, `["a", "b"]`), else as a string.
fn env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(
    table: &mut toml::Table,
    segments: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let (last, parents) = segments.split_last().ok_or("empty key")?;
    let mut current = table;
    for seg in parents {
        let entry = current
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{seg}` is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

fn parse_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        key: e.span().and_then(|_| key_at(text, line_start)),
        message: e.message().trim().to_string(),
    }
}

/// The dotted key of the line starting at `line_start`: its table header plus its own key.
fn key_at(text: &str, line_start: usize) -> Option<String> {
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
    };
    if let Some(h) = header(line) {
        return Some(h);
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    let section = text[..line_start].lines().rev().find_map(header);
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key.to_string(),
    })
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

fn validate(config: &Config, origin: &str) -> Result<(), ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        key,
        message,
    };
    if !LEVELS.contains(&config.telemetry.file_level.as_str()) {
        return Err(invalid(
            "telemetry.file_level".into(),
            format!(
                "`{}` is not a log level (use one of {})",
                config.telemetry.file_level,
                LEVELS.join(", ")
            ),
        ));
    }
    let template = &config.project.commit_message;
    let mut rest = template.clone();
    for placeholder in crate::model::COMMIT_PLACEHOLDERS {
        rest = rest.replace(placeholder, "");
    }
    if let Some(at) = rest.find('{') {
        let unknown: String = rest[at..].chars().take_while(|c| *c != '}').collect();
        return Err(invalid(
            "project.commit_message".into(),
            format!(
                "`{unknown}}}` is not a placeholder (use {})",
                crate::model::COMMIT_PLACEHOLDERS.join(", ")
            ),
        ));
    }
    if config.project.task_files.is_empty() {
        return Err(invalid(
            "project.task_files".into(),
            "name at least one task file".into(),
        ));
    }
    validate_llm(config, &invalid)?;
    let metrics = config.server.metrics_addr.trim();
    if !metrics.is_empty() && metrics.parse::<std::net::SocketAddr>().is_err() {
        return Err(invalid(
            "server.metrics_addr".into(),
            format!("`{metrics}` is not HOST:PORT (e.g. \"127.0.0.1:9464\"); empty turns it off"),
        ));
    }
    for (key, value) in [
        ("sandbox.max_memory", &config.sandbox.max_memory),
        ("sandbox.max_file_size", &config.sandbox.max_file_size),
    ] {
        super::values::parse_size(value).map_err(|e| invalid(key.into(), e))?;
    }
    for (name, executor) in &config.executors.agents {
        if executor.kind == super::ExecutorKind::Llm {
            if executor.route.is_empty() {
                return Err(invalid(
                    format!("executors.{name}.route"),
                    "the built-in agent needs a route: name an [llm.routes.NAME]".into(),
                ));
            }
            if !config.llm.routes.contains_key(&executor.route) {
                return Err(invalid(
                    format!("executors.{name}.route"),
                    format!(
                        "`{}` is not a route; add [llm.routes.{}] or name one of: {}",
                        executor.route,
                        executor.route,
                        names(config.llm.routes.keys())
                    ),
                ));
            }
            if executor.max_turns == 0 {
                return Err(invalid(
                    format!("executors.{name}.max_turns"),
                    "must be at least 1".into(),
                ));
            }
            super::duration(&executor.command_timeout)
                .map_err(|m| invalid(format!("executors.{name}.command_timeout"), m))?;
        } else if executor.argv().first().is_none_or(|c| c.trim().is_empty()) {
            return Err(invalid(
                format!("executors.{name}.command"),
                "give the agent's program and arguments, e.g. [\"claude\", \"-p\", \"{prompt}\"], or a preset".into(),
            ));
        }
        if let Some(t) = &executor.timeout {
            super::duration(t).map_err(|m| invalid(format!("executors.{name}.timeout"), m))?;
        }
    }
    for (name, gate) in &config.gates.commands {
        if super::values::ALWAYS_ON.contains(&name.as_str())
            || super::values::BUILT_IN_CHECKS.contains(&name.as_str())
        {
            return Err(invalid(
                format!("gates.{name}"),
                format!(
                    "`{name}` is the name of a built-in check; give the command gate another name"
                ),
            ));
        }
        if gate.command.trim().is_empty() {
            return Err(invalid(
                format!("gates.{name}.command"),
                "give the command to run, e.g. \"cargo test\"".into(),
            ));
        }
        super::duration(&gate.timeout).map_err(|m| invalid(format!("gates.{name}.timeout"), m))?;
        if !(gate.weight >= 0.0 && gate.weight.is_finite()) {
            return Err(invalid(
                format!("gates.{name}.weight"),
                "must be a number ≥ 0".into(),
            ));
        }
    }
    for (key, globs) in [
        ("gates.diff.allowed_paths", &config.gates.diff.allowed_paths),
        ("gates.diff.denied_paths", &config.gates.diff.denied_paths),
        ("dod.docs_paths", &config.dod.docs_paths),
    ] {
        for g in globs {
            globset::Glob::new(g)
                .map_err(|e| invalid(key.to_string(), format!("`{g}` is not a glob: {e}")))?;
        }
    }
    for task_type in crate::model::TaskType::ALL {
        for gate in config.dod.for_type(task_type) {
            let known = super::values::ALWAYS_ON.contains(&gate.as_str())
                || super::values::BUILT_IN_CHECKS.contains(&gate.as_str())
                || super::values::CONVENTIONAL.contains(&gate.as_str())
                || config.gates.commands.contains_key(gate);
            if !known {
                return Err(invalid(
                    format!("dod.{task_type}.gates"),
                    format!(
                        "`{gate}` is neither a [gates.{gate}] command gate nor a built-in check ({})",
                        super::values::BUILT_IN_CHECKS.join(", ")
                    ),
                ));
            }
        }
    }
    let mut seen: Vec<(char, &str)> = Vec::new();
    for (action, key) in config.keys.entries() {
        if key.is_empty() {
            continue;
        }
        let mut chars = key.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(invalid(
                format!("keys.{action}"),
                format!("`{key}` is not one character; write e.g. \"x\""),
            ));
        };
        if let Some((_, other)) = seen.iter().find(|(k, _)| *k == c) {
            return Err(invalid(
                format!("keys.{action}"),
                format!("`{c}` is already the key for `{other}`"),
            ));
        }
        seen.push((c, action));
    }
    let o = &config.orchestrator;
    super::duration(&o.run_timeout).map_err(|m| invalid("orchestrator.run_timeout".into(), m))?;
    super::duration(&o.shutdown_grace)
        .map_err(|m| invalid("orchestrator.shutdown_grace".into(), m))?;
    super::duration(&config.executors.unavailable_cooldown)
        .map_err(|m| invalid("executors.unavailable_cooldown".into(), m))?;
    super::duration(&config.executors.quiet_notice)
        .map_err(|m| invalid("executors.quiet_notice".into(), m))?;
    if o.max_parallel == 0 {
        return Err(invalid(
            "orchestrator.max_parallel".into(),
            "must be at least 1".into(),
        ));
    }
    if o.max_attempts == 0 {
        return Err(invalid(
            "orchestrator.max_attempts".into(),
            "must be at least 1".into(),
        ));
    }
    for (key, n) in std::iter::once(("orchestrator.best_of".to_string(), o.best_of)).chain(
        o.best_of_per_type
            .iter()
            .map(|(t, n)| (format!("orchestrator.best_of_per_type.{t}"), *n)),
    ) {
        if !(1..=MAX_BEST_OF).contains(&n) {
            return Err(invalid(key, format!("must be between 1 and {MAX_BEST_OF}")));
        }
    }
    if !(config.memory.cost_weight >= 0.0 && config.memory.cost_weight.is_finite()) {
        return Err(invalid(
            "memory.cost_weight".into(),
            "must be a number ≥ 0".into(),
        ));
    }
    let r = &config.routing;
    for (list, names) in [
        ("default", &r.default),
        ("code", &r.code),
        ("docs", &r.docs),
        ("refactor", &r.refactor),
        ("test", &r.test),
        ("release", &r.release),
        ("devops", &r.devops),
    ] {
        if let Some(unknown) = names
            .iter()
            .find(|n| !config.executors.agents.contains_key(*n))
        {
            return Err(invalid(
                format!("routing.{list}"),
                format!("`{unknown}` is not a configured executor (add [executors.{unknown}])"),
            ));
        }
    }
    Ok(())
}

/// Most candidates `best_of` may ask for: best-of-two (a run has one rival).
const MAX_BEST_OF: usize = 2;

/// Names for an error message: `a, b, c`, or `(none)`.
fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = keys.map(String::as_str).collect();
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}

/// Whether `name` can be an environment variable's name (so a pasted key is refused).
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[llm]`, its providers and routes, `[budget]` and `[gates.judge]`.
fn validate_llm(
    config: &Config,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let llm = &config.llm;
    for (key, value) in [
        ("llm.cache_ttl", &llm.cache_ttl),
        ("llm.backoff", &llm.backoff),
        ("llm.cooldown", &llm.cooldown),
    ] {
        super::duration(value).map_err(|m| invalid(key.into(), m))?;
    }
    for (name, p) in &llm.providers {
        let key = |leaf: &str| format!("llm.providers.{name}.{leaf}");
        if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
            return Err(invalid(
                key("base_url"),
                "give the API root, e.g. \"https://api.openai.com/v1\" or \"http://127.0.0.1:11434/v1\"".into(),
            ));
        }
        if p.model.trim().is_empty() {
            return Err(invalid(key("model"), "name the model to ask".into()));
        }
        // The value is never echoed: it may be a key pasted in the wrong place.
        if !p.api_key_env.is_empty() && !is_env_name(&p.api_key_env) {
            return Err(invalid(
                key("api_key_env"),
                "must be the name of the environment variable that holds the key (e.g. OPENAI_API_KEY), not the key itself".into(),
            ));
        }
        super::duration(&p.timeout).map_err(|m| invalid(key("timeout"), m))?;
        if p.max_concurrency == 0 {
            return Err(invalid(key("max_concurrency"), "must be at least 1".into()));
        }
        for (leaf, price) in [
            ("input_usd_per_mtok", p.input_usd_per_mtok),
            ("output_usd_per_mtok", p.output_usd_per_mtok),
        ] {
            if !(price >= 0.0 && price.is_finite()) {
                return Err(invalid(key(leaf), "must be a number ≥ 0".into()));
            }
        }
    }
    for (name, route) in &llm.routes {
        if route.chain.is_empty() {
            return Err(invalid(
                format!("llm.routes.{name}.chain"),
                "name at least one provider".into(),
            ));
        }
        if let Some(unknown) = route.chain.iter().find(|p| !llm.providers.contains_key(*p)) {
            return Err(invalid(
                format!("llm.routes.{name}.chain"),
                format!(
                    "`{unknown}` is not a provider; add [llm.providers.{unknown}] or name one of: {}",
                    names(llm.providers.keys())
                ),
            ));
        }
    }
    if !llm.analyze_route.is_empty() && !llm.routes.contains_key(&llm.analyze_route) {
        return Err(invalid(
            "llm.analyze_route".into(),
            format!(
                "`{}` is not a route; name one of: {}",
                llm.analyze_route,
                names(llm.routes.keys())
            ),
        ));
    }
    let b = &config.budget;
    for (key, limit) in [
        ("budget.per_run_usd", b.per_run_usd),
        ("budget.per_task_usd", b.per_task_usd),
        ("budget.per_day_usd", b.per_day_usd),
    ] {
        if !(limit >= 0.0 && limit.is_finite()) {
            return Err(invalid(
                key.into(),
                "must be a number ≥ 0 (0: no limit)".into(),
            ));
        }
    }
    let j = &config.gates.judge;
    if !j.route.is_empty() && !llm.routes.contains_key(&j.route) {
        return Err(invalid(
            "gates.judge.route".into(),
            format!(
                "`{}` is not a route; add [llm.routes.{}] or name one of: {}",
                j.route,
                j.route,
                names(llm.routes.keys())
            ),
        ));
    }
    if j.samples == 0 || j.min_samples == 0 || j.min_samples > j.samples {
        return Err(invalid(
            "gates.judge.min_samples".into(),
            format!(
                "need 1 ≤ min_samples ≤ samples (now {} and {})",
                j.min_samples, j.samples
            ),
        ));
    }
    for (key, value) in [
        ("gates.judge.target_width", j.target_width),
        ("gates.judge.warn_width", j.warn_width),
        ("gates.judge.pass_score", j.pass_score),
    ] {
        if !(0.0..=1.0).contains(&value) {
            return Err(invalid(key.into(), "must be between 0 and 1".into()));
        }
    }
    if !(j.weight >= 0.0 && j.weight.is_finite()) {
        return Err(invalid(
            "gates.judge.weight".into(),
            "must be a number ≥ 0".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_str(text, Path::new("bosun.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let e = err("[project]\ntask_files = [\"A.md\"]\ntask_filez = 1\n");
        assert!(
            e.starts_with("bosun.toml:3:1: unknown field `task_filez`"),
            "{e}"
        );
        assert!(e.ends_with("(key `project.task_filez`)"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = err("[telemetry]\nmax_files = \"many\"\n");
        assert!(e.starts_with("bosun.toml:2:13: invalid type"), "{e}");
        assert!(e.contains("(key `telemetry.max_files`)"), "{e}");
    }

    #[test]
    fn a_commit_message_template_with_an_unknown_placeholder_is_refused() {
        let checked = |text: &str| {
            let config = parse_str(text, Path::new("bosun.toml")).unwrap();
            validate(&config, "bosun.toml").map_err(|e| e.to_string())
        };
        let e = checked("[project]\ncommit_message = \"{title} for {ticket}\"\n").unwrap_err();
        assert!(e.contains("project.commit_message"), "{e}");
        assert!(e.contains("`{ticket}` is not a placeholder"), "{e}");
        assert_eq!(
            checked("[project]\ncommit_message = \"{type}: {title}\"\n"),
            Ok(())
        );
    }

    #[test]
    fn unknown_section_is_an_error() {
        let e = err("[projetc]\ntask_files = []\n");
        assert!(e.contains("unknown field `projetc`"), "{e}");
        assert!(e.starts_with("bosun.toml:1:"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file_and_reports_bad_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[project]\ntask_files = [\"A.md\"]\n",
        )
        .unwrap();
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let loaded = load(None, dir.path(), env(&[])).unwrap();
        assert_eq!(
            loaded.config.project.task_files,
            vec![PathBuf::from("A.md")]
        );
        assert_eq!(loaded.path, Some(dir.path().join("bosun.toml")));

        let loaded = load(
            None,
            dir.path(),
            env(&[
                ("BOSUN_PROJECT__TASK_FILES", "[\"B.md\", \"C.md\"]"),
                ("BOSUN_TELEMETRY__FILE_LEVEL", "debug"),
                ("BOSUN_RUN_ID", "not config"),
            ]),
        )
        .unwrap();
        assert_eq!(
            loaded.config.project.task_files,
            vec![PathBuf::from("B.md"), PathBuf::from("C.md")]
        );
        assert_eq!(loaded.config.telemetry.file_level, "debug");

        let e = load(
            None,
            dir.path(),
            env(&[("BOSUN_TELEMETRY__MAX_FILEZ", "3")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "environment variable BOSUN_TELEMETRY__MAX_FILEZ: unknown field `max_filez`"
            ),
            "{e}"
        );
        let e = load(
            None,
            dir.path(),
            env(&[("BOSUN_TELEMETRY__MAX_FILES", "lots")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("BOSUN_TELEMETRY__MAX_FILES: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn missing_explicit_file_and_invalid_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(Some(&dir.path().join("nope.toml")), dir.path(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read config file"), "{e}");
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[telemetry]\nfile_level = \"loud\"\n",
        )
        .unwrap();
        let e = load(None, dir.path(), Vec::new()).unwrap_err().to_string();
        assert!(
            e.contains("key `telemetry.file_level`: `loud` is not a log level"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[executors.x]\ncommand = []\n",
        )
        .unwrap();
        let e = load(None, dir.path(), Vec::new()).unwrap_err().to_string();
        assert!(e.contains("key `executors.x.command`"), "{e}");
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[dod.docs]\ngates = [\"diff\", \"spellcheck\"]\n",
        )
        .unwrap();
        let e = load(None, dir.path(), Vec::new()).unwrap_err().to_string();
        assert!(
            e.contains("key `dod.docs.gates`: `spellcheck` is neither a [gates.spellcheck] command gate nor a built-in check (docs_only, links,"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[gates.spellcheck]\ncommand = \"true\"\n[dod.docs]\ngates = [\"diff\", \"spellcheck\"]\n[dod.release]\ngates = [\"changelog\"]\n",
        )
        .unwrap();
        for (keys, message) in [
            (
                "quit = \"xy\"",
                "key `keys.quit`: `xy` is not one character",
            ),
            (
                "quit = \"x\"\nhelp = \"x\"",
                "key `keys.help`: `x` is already the key for `quit`",
            ),
        ] {
            std::fs::write(dir.path().join("bosun.toml"), format!("[keys]\n{keys}\n")).unwrap();
            let e = load(None, dir.path(), Vec::new()).unwrap_err().to_string();
            assert!(e.contains(message), "{e}");
        }
        std::fs::write(
            dir.path().join("bosun.toml"),
            "[gates.spellcheck]\ncommand = \"true\"\n[dod.docs]\ngates = [\"diff\", \"spellcheck\"]\n[dod.release]\ngates = [\"changelog\"]\n",
        )
        .unwrap();
        let config = load(None, dir.path(), Vec::new()).unwrap().config;
        assert_eq!(config.dod.docs.gates, ["diff", "spellcheck"]);
        let e = parse_str("[dod.docs]\ngate = []\n", Path::new("bosun.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bosun.toml:2:1: unknown field `gate`"), "{e}");
        assert_eq!(config.dod.release.gates, ["changelog"]);
        assert_eq!(
            config.dod.code,
            Config::default().dod.code,
            "types not written keep their defaults"
        );
    }

    #[test]
    fn the_judge_is_a_name_a_dod_may_list_and_needs_a_known_route() {
        let route = "[llm.providers.p]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n[llm.routes.review]\nchain = [\"p\"]\n";
        let ok = &format!(
            "{route}[gates.judge]\nroute = \"review\"\n[dod.code]\ngates = [\"diff\", \"judge\"]\n"
        );
        let config = parse_str(ok, Path::new("bosun.toml")).unwrap();
        validate(&config, "bosun.toml").unwrap();
        assert_eq!(config.gates.judge.route, "review");
        assert!(
            config.gates.commands.is_empty(),
            "[gates.judge] is not a command gate"
        );
        assert_eq!(config.dod.code.gates, ["diff", "judge"]);

        let unknown = parse_str(
            "[gates.judge]\nroute = \"review\"\n",
            Path::new("bosun.toml"),
        )
        .unwrap();
        let e = validate(&unknown, "bosun.toml").unwrap_err().to_string();
        assert!(
            e.contains("key `gates.judge.route`: `review` is not a route"),
            "{e}"
        );
        let wide = parse_str(
            &format!("{route}[gates.judge]\nroute = \"review\"\nwarn_width = 3\n"),
            Path::new("bosun.toml"),
        )
        .unwrap();
        let e = validate(&wide, "bosun.toml").unwrap_err().to_string();
        assert!(e.contains("key `gates.judge.warn_width`"), "{e}");
    }

    #[test]
    fn no_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(None, dir.path(), Vec::new()).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.path, None);
    }

    #[test]
    fn llm_settings_are_checked_and_a_pasted_key_is_not_echoed() {
        let provider =
            "[llm.providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n";
        let good = format!(
            "{provider}[llm.routes.coder]\nchain = [\"local\"]\n[executors.me]\ntype = \"llm\"\nroute = \"coder\"\nallowed_commands = [\"cargo test\"]\n[gates.judge]\nroute = \"coder\"\n[orchestrator]\nbest_of = 2\n"
        );
        let checked = |text: &str| {
            let config = parse_str(text, Path::new("bosun.toml")).unwrap();
            validate(&config, "bosun.toml").map(|()| config)
        };
        let config = checked(&good).unwrap();
        assert_eq!(
            config.executors.agents["me"].kind,
            crate::config::ExecutorKind::Llm
        );
        assert_eq!(config.orchestrator.best_of(crate::model::TaskType::Code), 2);
        for (text, key, message) in [
            (
                format!("{provider}[executors.me]\ntype = \"llm\"\nroute = \"nope\"\n"),
                "executors.me.route",
                "`nope` is not a route",
            ),
            (
                format!("{provider}[llm.routes.r]\nchain = [\"local\", \"gone\"]\n"),
                "llm.routes.r.chain",
                "`gone` is not a provider",
            ),
            (
                format!("{provider}[gates.judge]\nroute = \"r\"\n"),
                "gates.judge.route",
                "`r` is not a route",
            ),
            (
                "[llm.providers.p]\nbase_url = \"api.example.com\"\nmodel = \"m\"\n".to_string(),
                "llm.providers.p.base_url",
                "API root",
            ),
            (
                "[budget]\nper_run_usd = -1.0\n".to_string(),
                "budget.per_run_usd",
                "≥ 0",
            ),
            (
                "[orchestrator]\nbest_of = 3\n".to_string(),
                "orchestrator.best_of",
                "between 1 and 2",
            ),
        ] {
            let e = checked(&text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(message), "{e}");
        }
        let pasted = "sk-proj-abcdef0123456789";
        let e = checked(&format!("{provider}api_key_env = \"{pasted}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not the key itself"), "{e}");
        assert!(!e.contains(pasted), "the key is echoed: {e}");
    }
}
