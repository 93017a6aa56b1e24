#!/bin/sh
# Appends "start <task> <epoch-ms>" and, a second later, "end <task> <epoch-ms>" to $TRACE
# (outside the worktree), writing <task>.txt in between. Needs GNU date for milliseconds.
echo "start $BOSUN_TASK_ID $(date +%s%3N)" >> "$TRACE"
sleep 1
printf 'done\n' > "$BOSUN_TASK_ID.txt"
echo "end $BOSUN_TASK_ID $(date +%s%3N)" >> "$TRACE"
