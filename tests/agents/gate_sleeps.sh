#!/bin/sh
# A gate command that never finishes: a child `sleep 60` and the shell waiting for it. Writes
# "<shell pid> <sleep pid>" to $GATE_PID_FILE first (atomically) so a test can check both are
# gone after crash recovery.
sleep 60 &
echo "$$ $!" > "$GATE_PID_FILE.tmp"
mv "$GATE_PID_FILE.tmp" "$GATE_PID_FILE"
echo "checking slowly"
wait
