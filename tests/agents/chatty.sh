#!/bin/sh
# Prints a line every 20 ms for about 4 seconds, then writes hello.txt: an agent whose output
# never pauses long enough for a clock that restarts on every event to tick.
i=0
while [ $i -lt 200 ]; do
    echo "working on step $i"
    sleep 0.02
    i=$((i + 1))
done
echo hi > hello.txt
