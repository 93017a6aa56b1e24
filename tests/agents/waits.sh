#!/bin/sh
# Writes its pid to $PID_FILE, works until the file $RELEASE exists (30 s at most), then
# writes notes.txt.
echo "$$" > "$PID_FILE.tmp"
mv "$PID_FILE.tmp" "$PID_FILE"
i=0
while [ ! -e "$RELEASE" ] && [ "$i" -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
printf 'note from %s\n' "$BOSUN_TASK_ID" > notes.txt
