#!/bin/sh
# Leaves aider's own bookkeeping in the checkout, as aider 0.86 does (its history, input
# history and tag cache); with WORK set it also does the work (writes hello.txt).
printf '# aider chat started\n' > .aider.chat.history.md
printf '+create hello.txt\n' > .aider.input.history
mkdir -p .aider.tags.cache.v4 && printf 'x' > .aider.tags.cache.v4/cache.db
if [ -n "$WORK" ]; then printf 'hi\n' > hello.txt; fi
echo "Applied edit to hello.txt"
