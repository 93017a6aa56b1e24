#!/bin/sh
# Prints $1 bytes of 1 KiB lines as fast as it can, then writes notes.txt.
line=$(printf '%01023d' 0)
yes "$line" | head -c "$1"
echo
printf 'written after the flood\n' > notes.txt
echo "wrote notes.txt"
