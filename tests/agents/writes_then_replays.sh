#!/bin/sh
# Does the work (writes hello.txt), then replays a recorded agent output (the first
# argument) on stdout, as that CLI printed it.
set -e
printf 'hi\n' > hello.txt
cat "$1"
