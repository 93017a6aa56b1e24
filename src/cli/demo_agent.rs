//! `bosun demo-agent` (hidden): the scripted coding agent behind `bosun demo`. It reads the
//! prompt bosun wrote, recognises the demo tasks and edits the sandbox the way a real agent
//! would — including one task it fails and one that touches CI configuration — so every path
//! of the review loop shows without an API key.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Prints a progress line and pauses briefly, so the demo looks like work happening.
fn say(text: &str) {
    println!("{text}");
    std::thread::sleep(Duration::from_millis(150));
}

fn edit(path: &str, from: &str, to: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    if !text.contains(from) {
        anyhow::bail!("{path} does not contain the code this demo edit expects");
    }
    std::fs::write(path, text.replacen(from, to, 1))?;
    say(&format!("edited {path}"));
    Ok(())
}

fn append(path: &str, text: &str) -> anyhow::Result<()> {
    let mut old = std::fs::read_to_string(path).unwrap_or_default();
    old.push_str(text);
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, old)?;
    say(&format!("wrote {path}"));
    Ok(())
}

/// Runs the demo agent in the current directory (the run's worktree).
pub fn run() -> anyhow::Result<ExitCode> {
    let prompt_file = std::env::var("BOSUN_PROMPT_FILE").map_err(|_| {
        anyhow::anyhow!("demo-agent is run by `bosun demo`; BOSUN_PROMPT_FILE is not set")
    })?;
    let prompt = std::fs::read_to_string(&prompt_file)?;
    let task = prompt
        .lines()
        .find_map(|l| {
            l.strip_prefix("Task ")
                .and_then(|rest| rest.split_once(": "))
                .map(|(_, t)| t.to_string())
        })
        .unwrap_or_default();
    say(&format!("reading the task: {task}"));
    say("looking at textstats.py");
    let t = task.to_lowercase();
    if t.contains("crash on empty input") {
        edit(
            "textstats.py",
            "    words = text.split()\n    if not words[0]:\n        return 0\n    return len(words)\n",
            "    return len(text.split())\n",
        )?;
        append(
            "test_textstats.py",
            "\n\nclass EmptyInputTest(unittest.TestCase):\n    def test_empty(self):\n        self.assertEqual(word_count(\"\"), 0)\n",
        )?;
    } else if t.contains("--json") {
        edit("textstats.py", "import sys\n", "import json\nimport sys\n")?;
        edit(
            "textstats.py",
            "    print(f\"lines: {line_count(text)}\")\n    print(f\"words: {word_count(text)}\")\n",
            "    if \"--json\" in argv:\n        print(json.dumps({\"lines\": line_count(text), \"words\": word_count(text)}))\n        return\n    print(f\"lines: {line_count(text)}\")\n    print(f\"words: {word_count(text)}\")\n",
        )?;
        edit(
            "textstats.py",
            "    with open(argv[1], encoding=\"utf-8\") as f:",
            "    path = [a for a in argv[1:] if not a.startswith(\"--\")][0]\n    with open(path, encoding=\"utf-8\") as f:",
        )?;
    } else if t.contains("non-ascii") {
        append(
            "test_textstats.py",
            "\n\nclass UnicodeTest(unittest.TestCase):\n    def test_cyrillic_and_accents(self):\n        self.assertEqual(word_count(\"привет café naïve\"), 3)\n",
        )?;
    } else if t.contains("document") {
        append(
            "README.md",
            "\n## Command line\n\n    python3 textstats.py FILE          # lines and words\n    python3 textstats.py FILE --json   # the same as a JSON object\n\nSee docs/usage.md for details.\n",
        )?;
    } else if t.contains("refactor") {
        say("trying a single pass over the text");
        eprintln!(
            "error: cannot keep line_count()'s behaviour for text without a final newline in one pass; giving up"
        );
        return Ok(ExitCode::from(1));
    } else if t.contains("ci workflow") {
        append(
            ".github/workflows/test.yml",
            "name: test\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: python3 -m unittest\n",
        )?;
    } else if t.contains("release") {
        edit(
            "pyproject.toml",
            "version = \"0.1.0\"",
            "version = \"0.2.0\"",
        )?;
        edit(
            "textstats.py",
            "__version__ = \"0.1.0\"",
            "__version__ = \"0.2.0\"",
        )?;
        append(
            "CHANGELOG.md",
            "# Changelog\n\n## 0.2.0\n\n- `--json` output.\n- Empty input counts as zero words.\n",
        )?;
    } else {
        say("this demo agent does not know how to do that task");
        return Ok(ExitCode::from(2));
    }
    say("done");
    Ok(ExitCode::SUCCESS)
}
