#!/bin/sh
# Does what the recorded Claude Code run (the first argument) did — writes hello.txt — and
# replays its stream-json output, as `claude -p --output-format stream-json` prints it.
set -e
printf 'hi\n' > hello.txt
cat "$1"
