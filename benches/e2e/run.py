#!/usr/bin/env python3
"""End-to-end bench (the "fast where the user feels it" issue): the release binary driven the
way a user drives it, side by side with git, less and tig on the same data, in one script.

    python3 benches/e2e/run.py            (from anywhere; builds the release binary)
    BOSUN=target/release/bosun E2E_RUNS=3 python3 benches/e2e/run.py

It makes, on a fresh tmpfs directory when /dev/shm is there (a long-used /tmp slows every
tool, git included), a repository of 500 Rust files, runs one task whose agent (a Python
script) changes 100 lines in each — a 100,000-line change awaiting approval — and measures:

- in tmux (polling the screen every few ms; the floor is a few ms): start → board drawn;
  start → the run's review showing its diff (board, then `]` `Enter`); PgDn → screen changed;
  `G` → screen changed; against `git diff base head | less` and `| tig` (when installed) from
  start to their first screen, PgDn and end;
- commands: `bosun show RUN` (text and `--json`) against `git diff base head`, `bosun runs
  --json`, `bosun tasks --json` on a 10 MB task list — wall time and peak RSS.

Bosun and its peer alternate, E2E_RUNS times each (default 7); medians are printed with the
range, and the load average before and after. Nothing here is a pass/fail test: the figures go
into BENCHMARKS.md.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("E2E_RUNS", "7"))
# Runs in the store of the history repository (0: that part is skipped).
HISTORY = int(os.environ.get("E2E_HISTORY", "2000"))
# Tasks of the per-run overhead part, in a repository of MERGE_FILES files.
MERGE_TASKS = 20
MERGE_FILES = 1000
FILES = 500
FUNCTIONS = 100
TITLE = "Adjust every getter by one"
SESSION = "bosun-e2e"


def source(i, functions, variant):
    """The same Rust file as benches/common/mod.rs `source`."""
    s = f"//! Module {i}.\n\npub struct S{i} {{\n    value: u32,\n}}\n\nimpl S{i} {{\n"
    for f in range(functions // 2):
        s += (
            f"    pub fn get_{f}(&self, x: u32) -> u32 {{\n"
            f"        self.value + x * {f} {variant}\n    }}\n\n"
        )
    s += "}\n\n"
    for f in range(functions // 2):
        s += (
            f"fn helper_{f}(a: u32) -> u32 {{\n    let b = a + {f};\n"
            f"    b * 2 {variant}\n}}\n\n"
        )
    return s


AGENT = f"""#!/usr/bin/env python3
# The bench's agent: every function's last expression gains `+ 1`.
import os
for i in range({FILES}):
    path = os.path.join("src", "m%d" % (i % 25), "f%d.rs" % i)
    with open(path) as f:
        text = f.read()
    text = text.replace(" * 2 \\n", " * 2 + 1\\n")
    lines = text.split("\\n")
    out = []
    for line in lines:
        if line.startswith("        self.value + x * ") and line.endswith(" "):
            line = line + "+ 1"
        out.append(line)
    with open(path, "w") as f:
        f.write("\\n".join(out))
print("done")
"""


def git(cwd, *args):
    out = subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def make_repo(work, bosun):
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(FILES):
        sub = repo / "src" / f"m{i % 25}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.rs").write_text(source(i, FUNCTIONS, ""))
    (repo / "TODO.md").write_text(f"# Tasks\n\n- [ ] {TITLE}\n")
    (work / "agent.py").write_text(AGENT)
    (repo / "bosun.toml").write_text(
        f"""[project]
worktree_root = "{work / 'wt'}"
[orchestrator]
max_attempts = 1
[executors.bench]
command = ["python3", "{work / 'agent.py'}"]
[gates.diff]
max_changed_lines = 1000000
"""
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    started = time.perf_counter()
    run = subprocess.run(
        [bosun, "run", "--headless"], cwd=repo, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    branch = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/bosun/")
    if run.returncode != 0 or not branch:
        sys.exit(f"the bench run did not reach approval:\n{run.stdout}\n{run.stderr}")
    head = git(repo, "rev-parse", branch)
    runs = subprocess.run(
        [bosun, "runs", "--json"], cwd=repo, check=True, capture_output=True, text=True
    )
    run_id = json.loads(runs.stdout)[0]["id"]
    return repo, base, head, run_id, took


# GNU time (the `time` program, not the shell's keyword).
TIME = shutil.which("time")


def timed(args, cwd):
    """Wall milliseconds and peak RSS (MB, None without GNU time) of one run of `args`,
    output discarded. The peak comes from GNU time: a child forked from this Python process
    would count Python's own memory as its peak."""
    report = Path(cwd) / ".e2e-rss"
    wrapped = [TIME, "-f", "%M", "-o", str(report), *args] if TIME else args
    started = time.perf_counter()
    done = subprocess.run(wrapped, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        sys.exit(f"{args} failed ({done.returncode})")
    if not TIME:
        return ms, None
    kb = int(report.read_text().split()[-1])
    report.unlink()
    return ms, kb / 1024


def rss(values):
    return "" if None in values else f", {max(values):.0f} MB"


def summary(values):
    return statistics.median(values), min(values), max(values)


def fmt(values, unit="ms"):
    med, lo, hi = summary(values)
    return f"{med:.0f} {unit} ({lo:.0f}–{hi:.0f})"


class Screen:
    """A program in a detached tmux session, read with capture-pane."""

    def __init__(self, command, cwd, env=None):
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        self.started = time.perf_counter()
        full = ["tmux", "new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48"]
        full += ["-c", str(cwd), command]
        subprocess.run(full, check=True, env=env)

    def text(self):
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", SESSION],
            capture_output=True,
            text=True,
        ).stdout

    def wait(self, ready, since=None, limit=30.0):
        """Milliseconds from `since` (default: the start) until `ready(screen)`."""
        since = since or self.started
        while True:
            screen = self.text()
            if ready(screen):
                return (time.perf_counter() - since) * 1000, screen
            if time.perf_counter() - since > limit:
                sys.exit(f"timed out; the screen:\n{screen}")
            time.sleep(0.002)

    def key(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", SESSION, *keys], check=True)
        return time.perf_counter()

    def change(self, *keys):
        """Milliseconds from pressing `keys` until the screen differs."""
        before = self.text()
        at = self.key(*keys)
        return self.wait(lambda s: s != before, since=at)[0]

    def pid(self):
        out = subprocess.run(
            ["tmux", "list-panes", "-t", SESSION, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        return int(out[0])

    def close(self):
        """Ends the session and waits for its program to exit (it holds the store's lock
        until then, and the next command would find bosun still running)."""
        try:
            pid = self.pid()
        except (IndexError, ValueError):
            pid = None
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        deadline = time.perf_counter() + 10
        while pid and time.perf_counter() < deadline:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                break
            if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
                break
            time.sleep(0.005)


def rss_and_idle_cpu(pid, seconds=3.0):
    """Resident memory (MB) of `pid` now, and its CPU use (% of one core) over `seconds`."""
    def ticks():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
    before, started = ticks(), time.perf_counter()
    time.sleep(seconds)
    used = (ticks() - before) / os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, used / (time.perf_counter() - started) * 100


def console(bosun, repo, memory=None):
    """Start → board; start → review's diff; PgDn; G (each a list of one value). With
    `memory` (a dict), also the idle CPU on the board and, with the whole change loaded in the
    review, RSS and idle CPU."""
    env = dict(os.environ, TERM="xterm-256color")
    s = Screen(bosun, repo, env)
    board, _ = s.wait(lambda t: TITLE[:20] in t)
    if memory is not None:
        time.sleep(0.5)
        memory.setdefault("board", []).append(rss_and_idle_cpu(s.pid()))
    s.key("]")
    s.key("Enter")
    review, _ = s.wait(lambda t: "+ 1" in t)
    time.sleep(0.3)  # the rest of the change loads in the background
    pgdn = [s.change("PageDown") for _ in range(5)]
    end = s.change("G")
    if memory is not None:
        time.sleep(0.5)
        memory.setdefault("review", []).append(rss_and_idle_cpu(s.pid()))
    s.close()
    return board, review, pgdn, end


def pager(command, repo, end_key):
    s = Screen(command, repo)
    first, _ = s.wait(lambda t: "diff --git" in t)
    time.sleep(0.3)
    pgdn = [s.change("PageDown") for _ in range(5)]
    end = s.change(end_key)
    s.close()
    return first, pgdn, end


def board_only(bosun, repo, title):
    """Start → board drawn showing `title`, in milliseconds."""
    env = dict(os.environ, TERM="xterm-256color")
    s = Screen(bosun, repo, env)
    board, _ = s.wait(lambda t: title in t)
    s.close()
    return board


def first_frames(repo):
    """The console's own figures for its starts in `repo`, oldest first: milliseconds from
    `main` to the first frame written to the terminal, from its log ("first frame drawn";
    builds before the ninth session do not log it). Without tmux's start and the screen
    polling around it (the floor of `board_only`: 12-15 ms here for a shell that prints one
    line), it moves less with the machine's load."""
    frames = []
    for log in sorted((repo / ".bosun" / "logs").glob("bosun.*.log")):
        for line in log.read_text().splitlines():
            if "first frame drawn" in line and 'ms="' in line:
                frames.append(float(line.rsplit('ms="', 1)[1].split('"')[0]))
    return frames


def board_with_frame(bosun, repo, title):
    """Start → board drawn showing `title`, and the console's own figure for that start
    (None when it logged none)."""
    before = len(first_frames(repo))
    board = board_only(bosun, repo, title)
    after = first_frames(repo)
    return board, (after[-1] if len(after) > before else None)


def small_repo(path, files, tasks, config):
    """A repository of `files` small files and `tasks` open tasks, committed on main."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for i in range(files):
        sub = path / "src" / f"d{i % 20}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.txt").write_text(f"file {i}\n")
    todo = "".join(f"- [ ] Task number {i}\n" for i in range(tasks))
    (path / "TODO.md").write_text(f"# Tasks\n\n{todo}")
    (path / "bosun.toml").write_text(config)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")


def history_repo(work, bosun, runs):
    """A repository whose store holds `runs` failed runs, made by `bosun run --headless` with
    an agent that fails at once. Returns the repository and the seconds a run took."""
    repo = work / "history"
    small_repo(
        repo,
        10,
        runs,
        f"""[project]
worktree_root = "{work / 'wt-history'}"
[orchestrator]
max_attempts = 1
[executors.fail]
command = ["sh", "-c", "exit 1"]
""",
    )
    started = time.perf_counter()
    subprocess.run([bosun, "run", "--headless"], cwd=repo, capture_output=True, check=False)
    took = time.perf_counter() - started
    listed = subprocess.run(
        [bosun, "runs", "--json"], cwd=repo, check=True, capture_output=True, text=True
    )
    made = len(json.loads(listed.stdout))
    if made != runs:
        sys.exit(f"the history repository has {made} runs, not {runs}")
    return repo, took / runs


MERGE_AGENT = 'echo "done by $BOSUN_TASK_ID" > "notes-$BOSUN_TASK_ID.txt"'


def merge_runs(work, bosun, parallel):
    """Seconds per task for `bosun run --headless` taking MERGE_TASKS tasks to auto-merged runs,
    `parallel` agents at a time, in a repository of MERGE_FILES files."""
    repo = work / f"merge-{parallel}"
    small_repo(
        repo,
        MERGE_FILES,
        MERGE_TASKS,
        f"""[project]
worktree_root = "{work / f'wt-merge-{parallel}'}"
[orchestrator]
max_attempts = 1
max_parallel = {parallel}
[policy]
mode = "autonomous"
[executors.note]
command = ["sh", "-c", {json.dumps(MERGE_AGENT)}]
""",
    )
    started = time.perf_counter()
    subprocess.run([bosun, "run", "--headless"], cwd=repo, capture_output=True, check=False)
    took = time.perf_counter() - started
    todo = (repo / "TODO.md").read_text()
    ticked = todo.count("- [x]")
    if ticked != MERGE_TASKS:
        sys.exit(f"{ticked} of {MERGE_TASKS} tasks were merged and ticked:\n{todo}")
    return took / MERGE_TASKS


def merge_by_git(work):
    """Seconds per task for the git CLI doing what bosun does for each: a worktree on a new
    branch, the agent's file, add and commit, merge into main, tick the task, remove the
    worktree and the branch."""
    repo = work / "merge-git"
    small_repo(repo, MERGE_FILES, MERGE_TASKS, "")
    started = time.perf_counter()
    for i in range(MERGE_TASKS):
        wt = work / f"wt-git-{i}"
        git(repo, "worktree", "add", "-q", "-b", f"task-{i}", str(wt))
        (wt / f"notes-{i}.txt").write_text(f"done by {i}\n")
        git(wt, "add", "-A")
        git(wt, "commit", "-q", "-m", f"Task number {i}")
        git(repo, "merge", "-q", "--no-ff", "-m", f"Merge task {i}", f"task-{i}")
        todo = repo / "TODO.md"
        todo.write_text(todo.read_text().replace(f"- [ ] Task number {i}\n", f"- [x] Task number {i}\n"))
        git(repo, "commit", "-q", "-am", f"Tick task {i}")
        git(repo, "worktree", "remove", str(wt))
        git(repo, "branch", "-q", "-D", f"task-{i}")
    return (time.perf_counter() - started) / MERGE_TASKS


def task_list(path, megabytes=10):
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    lines, size, i = ["# Backlog\n"], 0, 0
    while size < megabytes * 1024 * 1024:
        if i % 200 == 0:
            lines.append(f"\n## Section {i // 200}\n\n")
        text = f"- [ ] Task {i}: {' '.join(words[(i + k) % 10] for k in range(6))} #area{i % 7}\n"
        lines.append(text)
        size += len(text)
        i += 1
    path.write_text("".join(lines))
    return i


def main():
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    bosun = os.environ.get("BOSUN")
    if not bosun:
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True
        )
        bosun = str(ROOT / "target" / "release" / "bosun")
    bosun = str(Path(bosun).resolve())
    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="bosun-e2e-", dir=shm if shm.is_dir() else None))
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f}  (work dir {work})")
        repo, base, head, run_id, took = make_repo(work, bosun)
        print(f"agent exit → awaiting approval, whole run: {took:.1f} s\n")
        rows = []

        ours = {"board": [], "review": [], "pgdn": [], "end": []}
        peers = {}
        tig = shutil.which("tig")
        # One session for memory and idle CPU (its timings, waiting on the board, are not
        # kept), then the timed ones.
        memory = {}
        console(bosun, repo, memory)
        for _ in range(RUNS):
            board, review, pgdn, end = console(bosun, repo)
            ours["board"].append(board)
            ours["review"].append(review)
            ours["pgdn"] += pgdn
            ours["end"].append(end)
            for name, cmd, end_key in [
                ("less", f"git diff {base} {head} | less", "G"),
                ("tig", f"git diff {base} {head} | tig", "End"),
            ]:
                if name == "tig" and not tig:
                    continue
                first, pgdn, end = pager(cmd, repo, end_key)
                p = peers.setdefault(name, {"first": [], "pgdn": [], "end": []})
                p["first"].append(first)
                p["pgdn"] += pgdn
                p["end"].append(end)

        def peer_cell(key):
            cells = [f"{n} {fmt(v[key])}" for n, v in peers.items()]
            return "; ".join(cells) or "-"

        def ratio(values, key):
            best = min((statistics.median(v[key]) for v in peers.values()), default=None)
            return f"{statistics.median(values) / best:.1f}×" if best else "-"

        rows.append(("start → board drawn", fmt(ours["board"]), peer_cell("first"), ratio(ours["board"], "first")))
        rows.append(("start → review's first hunk (board + keys)", fmt(ours["review"]), peer_cell("first"), ratio(ours["review"], "first")))
        rows.append(("PgDn → screen changed", fmt(ours["pgdn"]), peer_cell("pgdn"), ratio(ours["pgdn"], "pgdn")))
        rows.append(("end of the diff (G / End) → screen changed", fmt(ours["end"]), peer_cell("end"), ratio(ours["end"], "end")))
        for where, label in [("board", "on the board"), ("review", "in the review, whole change loaded")]:
            mb, cpu = memory[where][0]
            rows.append((f"RSS and idle CPU {label}", f"{mb:.0f} MB, {cpu:.1f} % of a core (3 s)", "-", "-"))

        commands = [
            ("`bosun show RUN`", [bosun, "show", run_id], ["git", "diff", base, head]),
            ("`bosun show RUN --json`", [bosun, "show", run_id, "--json"], ["git", "diff", base, head]),
            ("`bosun runs --json` (1 run)", [bosun, "runs", "--json"], ["git", "log", "--oneline", "-1"]),
        ]
        for what, cmd, peer in commands:
            ms, mb, pms, pmb = [], [], [], []
            for _ in range(RUNS):
                a, b = timed(cmd, repo)
                ms.append(a)
                mb.append(b)
                a, b = timed(peer, repo)
                pms.append(a)
                pmb.append(b)
            rows.append(
                (
                    what,
                    f"{fmt(ms)}{rss(mb)}",
                    f"`{' '.join(peer[:2])}` {fmt(pms)}{rss(pmb)}",
                    f"{statistics.median(ms) / statistics.median(pms):.1f}×",
                )
            )

        big = work / "big"
        big.mkdir()
        git(big, "init", "-q", "-b", "main")
        count = task_list(big / "TODO.md")
        ms, mb = [], []
        for _ in range(RUNS):
            a, b = timed([bosun, "tasks", "--json"], big)
            ms.append(a)
            mb.append(b)
        rows.append((f"`bosun tasks --json`, 10 MB list ({count:,} tasks)", f"{fmt(ms)}{rss(mb)}", "-", "-"))

        if HISTORY:
            history, per_run = history_repo(work, bosun, HISTORY)
            print(f"{HISTORY:,} failed runs made in {per_run * 1000:.0f} ms a run")
            starts = [board_with_frame(bosun, history, "Task number") for _ in range(RUNS)]
            board = [b for b, _ in starts]
            frames = [f for _, f in starts if f is not None]
            rows.append((f"start → board drawn, {HISTORY:,} runs in the store", fmt(board), "-", "-"))
            if frames:
                rows.append(("  of which `main` → first frame (bosun's log)", fmt(frames), "-", "-"))
            ms, pms = [], []
            for _ in range(RUNS):
                ms.append(timed([bosun, "runs", "--json"], history)[0])
                pms.append(timed(["git", "log", "--oneline", "-1"], history)[0])
            rows.append((f"`bosun runs --json` ({HISTORY:,} runs)", fmt(ms), f"`git log` {fmt(pms)}", f"{statistics.median(ms) / statistics.median(pms):.1f}×"))

        by_git = merge_by_git(work) * 1000
        for parallel in (1, 2):
            per_task = merge_runs(work, bosun, parallel) * 1000
            rows.append((
                f"{MERGE_TASKS} tasks → auto-merged runs, {MERGE_FILES:,} files, max_parallel {parallel}",
                f"{per_task:.0f} ms a task",
                f"git CLI, the same steps: {by_git:.0f} ms a task",
                f"{per_task / by_git:.2f}×",
            ))

        print("| what a user does | bosun | peer, same data | ratio |")
        print("|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}; {RUNS} runs each, medians (range)")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
