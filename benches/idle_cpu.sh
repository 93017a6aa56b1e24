#!/usr/bin/env bash
# Idle CPU and memory of the real console (DESIGN.md §11: idle CPU < 0.1 %; RSS < 150 MB with
# 100,000 runs in history and a 100,000-line diff open).
#
# Seeds a repository through `benches/console.rs` (500 Rust files whose branch changes
# 100,000 lines, a task list of 200 done tasks so nothing is left to start, a store of 100,001
# runs: the newest is the large change, awaiting approval), starts `target/release/bosun` on it
# in a detached 200×60 tmux session, and reads the process's CPU time and memory from /proc:
#   1. idle on the board for IDLE_SECONDS (default 10);
#   2. `3` (History), `enter` on the newest run: the 100,000-line diff opens in Review; after
#      SETTLE_SECONDS (default 5) the memory, then idle again for IDLE_SECONDS.
# CPU time is utime+stime from /proc/PID/stat (clock ticks, 10 ms each here) and, finer, the
# sum over the process's threads of /proc/PID/task/*/schedstat (nanoseconds on a CPU).
#
# Usage: benches/idle_cpu.sh            (from the repository root; builds what it needs)
#        IDLE_SECONDS=60 benches/idle_cpu.sh
set -euo pipefail

cd "$(dirname "$0")/.."
idle=${IDLE_SECONDS:-10}
settle=${SETTLE_SECONDS:-5}
socket="bosun-idle-$$"
work=$(mktemp -d)
pid=""

cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
    fi
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin bosun
echo "seeding $work/repo (takes a few seconds)..."
BOSUN_CONSOLE_SEED="$work/repo" cargo bench --quiet --bench console >/dev/null

ticks_per_second=$(getconf CLK_TCK)
bin="$PWD/target/release/bosun"

# utime + stime in clock ticks (fields 14 and 15; the name in parentheses may hold spaces).
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# One line per thread: tid, nanoseconds on a CPU, context switches, name.
snapshot() {
    local t
    for t in /proc/"$1"/task/*; do
        [[ -r $t/schedstat ]] || continue
        printf '%s %s %s %s\n' "${t##*/}" "$(cut -d' ' -f1 "$t/schedstat")" \
            "$(awk '/ctxt_switches/ { s += $2 } END { print s }' "$t/status")" \
            "$(tr ' ' _ <"$t/comm")"
    done 2>/dev/null | sort
}
threads() { ls /proc/"$1"/task | wc -l; }
mem() { awk '/^(VmRSS|VmHWM)/ { printf "%s %.1f MB  ", $1, $2 / 1024 }' "/proc/$1/status"; }

# CPU time and wakeups over IDLE_SECONDS; threads that came or went in between count
# from their own start or up to their end as far as /proc shows them.
measure_idle() {
    local what=$1 t0 t1
    snapshot "$pid" >"$work/before"
    t0=$(ticks "$pid")
    sleep "$idle"
    t1=$(ticks "$pid")
    snapshot "$pid" >"$work/after"
    join -a 2 -e 0 -o 2.1,1.2,2.2,1.3,2.3,2.4 "$work/before" "$work/after" |
        awk -v what="$what" -v secs="$idle" -v dt=$((t1 - t0)) -v hz="$ticks_per_second" '
        { ns = $3 - $2; sw = $5 - $4; n += ns; s += sw
          if (sw > 0 || ns > 0) by[$6] = sprintf("%s %.1f ms %.1f/s", by[$6], ns / 1e6, sw / secs) }
        END {
            printf "%s, %d s: utime+stime %d ticks = %.3f %% of a core; schedstat %.1f ms = %.4f %%; %.1f wakeups/s\n",
                what, secs, dt, 100 * dt / hz / secs, n / 1e6, 100 * n / 1e9 / secs, s / secs
            for (t in by) printf "    thread %-16s%s\n", t, by[t]
        }'
}

wait_for_screen() {
    local text=$1 session=${2:-console} deadline=$((SECONDS + 60))
    until tmux -L "$socket" capture-pane -p -t "$session" | grep -qF -- "$text"; do
        if ((SECONDS > deadline)); then
            echo "the console never showed \"$text\"; the screen was:" >&2
            tmux -L "$socket" capture-pane -p -t "$session" >&2
            exit 1
        fi
        sleep 0.1
    done
}

tmux -L "$socket" new-session -d -s console -x 200 -y 60 "exec $bin --repo $work/repo"
pid=$(tmux -L "$socket" list-panes -t console -F '#{pane_pid}')
wait_for_screen "1 Board"
sleep 2 # let start-up work (the store's first flushes, the first history tick) pass
echo "bosun pid $pid, $(threads "$pid") threads; after start: $(mem "$pid")"
measure_idle "idle on the board (100,001 runs in the store)"

# Two more consoles attached to this bosun (`bosun attach`, through its control socket): the
# CPU of all three over IDLE_SECONDS.
for s in one two; do
    tmux -L "$socket" new-session -d -s "$s" -x 200 -y 60 "exec $bin --repo $work/repo attach"
    wait_for_screen "(attached)" "$s"
done
sleep 2
p1=$(tmux -L "$socket" list-panes -t one -F '#{pane_pid}')
p2=$(tmux -L "$socket" list-panes -t two -F '#{pane_pid}')
echo "attached consoles: pids $p1 $p2; $(mem "$p1")"
a0=$(ticks "$pid"); b0=$(ticks "$p1"); c0=$(ticks "$p2")
sleep "$idle"
a1=$(ticks "$pid"); b1=$(ticks "$p1"); c1=$(ticks "$p2")
awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v hz="$ticks_per_second" -v secs="$idle" 'BEGIN {
    printf "idle with two consoles attached, %d s: bosun %.3f %%, attached %.3f %% and %.3f %%; all three %.3f %% of a core\n",
        secs, 100 * a / hz / secs, 100 * b / hz / secs, 100 * c / hz / secs, 100 * (a + b + c) / hz / secs
}'
for s in one two; do tmux -L "$socket" send-keys -t "$s" q; done
sleep 1

tmux -L "$socket" send-keys -t console 3
wait_for_screen "Adjust every getter by one"
tmux -L "$socket" send-keys -t console Enter
wait_for_screen "src/m0/f0.rs"
sleep "$settle"
echo "100,000-line diff open in Review: $(mem "$pid")"
measure_idle "idle in Review with the diff open"
# To the last line: every file's rows indexed, the end highlighted.
tmux -L "$socket" send-keys -t console G
sleep "$settle"
echo "after G (the end of the diff shown): $(mem "$pid")"

tmux -L "$socket" send-keys -t console q
for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    echo "bosun did not quit on q" >&2
    exit 1
fi
echo "bosun quit on q"
