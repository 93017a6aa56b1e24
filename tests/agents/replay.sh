#!/bin/sh
# Replays a recorded agent output file (the first argument) on stdout.
cat "$1"
