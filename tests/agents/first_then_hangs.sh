#!/bin/sh
# The first run (no "$MARK" yet) writes notes.txt and finishes; every later one hangs like
# hangs.sh, writing "<shell pid> <sleep pid>" to $PID_FILE first.
if [ ! -e "$MARK" ]; then
    : > "$MARK"
    printf 'note from %s\n' "$BOSUN_TASK_ID" > notes.txt
    echo "wrote notes.txt"
    exit 0
fi
sleep 60 &
echo "$$ $!" > "$PID_FILE.tmp"
mv "$PID_FILE.tmp" "$PID_FILE"
echo "working on it"
wait
