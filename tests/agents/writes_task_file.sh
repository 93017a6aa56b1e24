#!/bin/sh
# A dependable agent: writes done-<task id>.txt (one file per task, so runs merged one after
# another never conflict) and says what it did. With PROMPT_COPY set, first copies its prompt
# to "$PROMPT_COPY.<run id>" (outside the worktree) so a test can read it.
set -e
if [ -n "$PROMPT_COPY" ]; then
    cp "$BOSUN_PROMPT_FILE" "$PROMPT_COPY.$BOSUN_RUN_ID"
fi
printf 'done\n' > "done-$BOSUN_TASK_ID.txt"
echo "wrote done-$BOSUN_TASK_ID.txt"
