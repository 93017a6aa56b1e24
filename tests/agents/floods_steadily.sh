#!/bin/sh
# Prints 50,000 lines in 25 bursts of 2,000, a tenth of a second apart (about 3 seconds of
# steady flood), then writes notes.txt naming its task.
burst=0
while [ $burst -lt 25 ]; do
    seq 1 2000 | sed "s/^/burst $burst line /"
    sleep 0.1
    burst=$((burst + 1))
done
printf 'flooded for %s\n' "$BOSUN_TASK_ID" > notes.txt
echo "wrote notes.txt"
