"""Two builds of bosun side by side on the start-up figures of issue 20, alternated in one
script so that this machine's drifts fall on both alike:

  python3 benches/e2e/ab.py OLD_BINARY NEW_BINARY     (E2E_RUNS: starts each, default 9)

- start → board drawn with 2,000 runs in the store (made by the first binary), and the
  console's own figure from `main` to its first frame (its log; builds since the ninth session);
- start → board drawn with a 10 MB task list (176,028 tasks);
- `bosun tasks --json` on that list: wall time and peak RSS.

Medians with the range; the work directory is on /dev/shm (a fresh tmpfs) and removed after.
Copy each binary out of target/ first: a build in between replaces it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the end-to-end script's helpers)

RUNS = int(os.environ.get("E2E_RUNS", "9"))


def line(label, values, unit="ms"):
    return f"{label:<34} {run.fmt(values, unit)}"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binaries = [str(Path(b).resolve()) for b in sys.argv[1:]]
    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="bosun-ab-", dir=shm if shm.is_dir() else None))
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        history, _ = run.history_repo(work, binaries[0], 2000)
        big = work / "big"
        big.mkdir()
        run.git(big, "init", "-q", "-b", "main")
        count = run.task_list(big / "TODO.md")
        run.git(big, "add", "-A")
        run.git(big, "commit", "-q", "-m", "tasks")
        title = "Task 1 "
        results = {b: {"history": [], "frame": [], "big": [], "json": [], "rss": []} for b in binaries}
        for _ in range(RUNS):
            for b in binaries:
                r = results[b]
                print(f"  {Path(b).name}: board, 2,000 runs", flush=True)
                board, frame = run.board_with_frame(b, history, "Task number")
                r["history"].append(board)
                if frame is not None:
                    r["frame"].append(frame)
                print(f"  {Path(b).name}: board, 10 MB list", flush=True)
                r["big"].append(run.board_only(b, big, title))
                ms, mb = run.timed([b, "tasks", "--json"], big)
                r["json"].append(ms)
                r["rss"].append(mb or 0)
        print(f"load average after: {os.getloadavg()[0]:.2f}; medians of {RUNS}\n")
        for b in binaries:
            r = results[b]
            print(b)
            print(line("  start → board, 2,000 runs", r["history"]))
            if r["frame"]:
                print(line("    main → first frame (its log)", r["frame"]))
            print(line(f"  start → board, {count:,} tasks", r["big"]))
            print(line("  tasks --json, 10 MB list", r["json"]))
            print(line("  tasks --json, peak RSS", r["rss"], "MB"))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", run.SESSION], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
