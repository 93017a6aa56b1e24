#!/bin/sh
# Prints $1 bytes of 1 KiB lines as fast as it can.
line=$(printf '%01023d' 0)
yes "$line" | head -c "$1"
