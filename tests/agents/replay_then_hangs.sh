#!/bin/sh
# Replays a recorded agent output (the first argument), then waits, as a CLI that keeps
# retrying its model does.
cat "$1"
exec sleep 30
