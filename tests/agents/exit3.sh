#!/bin/sh
# An agent that gives up: explains itself, then exits 3.
echo "trying"
echo "fatal: cannot reach the model" >&2
exit 3
