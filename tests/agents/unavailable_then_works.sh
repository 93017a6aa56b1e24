#!/bin/sh
# An agent whose model is unavailable at first: while $TRIES_FILE has fewer than $FAILURES
# lines it replays the recorded error stream (the first argument) and exits 1, as the CLI
# did; then it does the work (writes hello.txt).
n=$(cat "$TRIES_FILE" 2>/dev/null | wc -l)
echo try >> "$TRIES_FILE"
if [ "$n" -lt "${FAILURES:-1}" ]; then
  cat "$1"
  exit 1
fi
printf 'hi\n' > hello.txt
echo "wrote hello.txt"
