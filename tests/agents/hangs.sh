#!/bin/sh
# Never finishes: a child `sleep 60` and the shell waiting for it. Writes "<shell pid> <sleep
# pid>" to $PID_FILE first (atomically) so a test can check both are gone afterwards.
sleep 60 &
echo "$$ $!" > "$PID_FILE.tmp"
mv "$PID_FILE.tmp" "$PID_FILE"
echo "working on it"
wait
