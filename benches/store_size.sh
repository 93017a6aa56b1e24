#!/usr/bin/env bash
# Store bytes per finished small run (the durable-decisions issue: ≤ 20 KB per run; logs are
# separate files). Makes a repository with RUNS tasks (default 1,000), an agent that writes one
# small file per task, the autonomous policy (every run is gated, auto-approved, merged and
# ticked), runs `bosun run --headless` until the backlog is done, and prints the size of
# `.bosun/store.redb` per run; then `bosun gc` (compaction only: every run is recent) and
# `bosun gc --keep-days 0` (the runs' events, diffs and logs forgotten), with the size after each.
#
# Usage: benches/store_size.sh            (from the repository root; builds what it needs)
#        RUNS=300 BOSUN=target/debug/bosun benches/store_size.sh
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${RUNS:-1000}
if [[ -z "${BOSUN:-}" ]]; then
    cargo build --release --locked --quiet
    BOSUN=$PWD/target/release/bosun
fi
bosun=$(realpath "$BOSUN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo"
cd "$repo"
git init -q -b main
git config user.name bench
git config user.email bench@example.com
{
    echo "# Tasks"
    for i in $(seq 1 "$runs"); do echo "- [ ] Note number $i"; done
} > TODO.md
cat > agent.sh <<'AGENT'
#!/bin/sh
echo "note $BOSUN_TASK_ID" > "note-$BOSUN_TASK_ID.txt"
echo done
AGENT
chmod +x agent.sh
cat > bosun.toml <<TOML
[project]
worktree_root = "$work/wt"
[orchestrator]
max_parallel = 2
max_attempts = 1
[executors.a]
command = ["$repo/agent.sh"]
[policy]
mode = "autonomous"
TOML
git add -A
git commit -qm init
start=$(date +%s)
"$bosun" run --headless > "$work/run.txt" 2>&1 || true
end=$(date +%s)
merged=$("$bosun" runs --status merged --json | grep -c '"id"' || true)
size() { stat -c %s .bosun/store.redb; }
per() { echo "$(( $1 / merged )) bytes per run"; }
echo "$merged runs merged in $((end - start)) s"
beside=$(du -sb .bosun/logs .bosun/runs | awk '{s+=$1} END {print s}')
echo "store.redb: $(size) bytes, $(per "$(size)")"
"$bosun" gc > /dev/null
echo "after bosun gc (compaction): $(size) bytes, $(per "$(size)")"
"$bosun" gc --keep-days 0 > /dev/null
echo "after bosun gc --keep-days 0 (details forgotten): $(size) bytes, $(per "$(size)")"
echo "logs and prompts beside it, before gc: $beside bytes (du, directories included)"
