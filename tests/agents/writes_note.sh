#!/bin/sh
# Replaces notes.txt with one line naming its task. With PROMPT_COPY set, first copies its
# prompt to "$PROMPT_COPY.<attempt>" (outside the worktree) so a test can read it.
set -e
if [ -n "$PROMPT_COPY" ]; then
    cp "$BOSUN_PROMPT_FILE" "$PROMPT_COPY.$BOSUN_ATTEMPT"
fi
printf 'note from %s\n' "$BOSUN_TASK_ID" > notes.txt
echo "wrote notes.txt"
