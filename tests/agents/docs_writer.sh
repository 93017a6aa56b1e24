#!/bin/sh
# A documentation agent, choosing what to do from its task's title in the prompt:
#   "API"     writes docs/api.md and also edits code (src/lib.rs), which a docs task may not;
#   "guide"   writes docs/guide.md with a link to a file that does not exist;
#   "index"   writes docs/index.md linking to README.md#usage, a heading that exists.
set -e
prompt=$(cat "$BOSUN_PROMPT_FILE")
mkdir -p docs
case "$prompt" in
*API*)
    printf '# API\n\nCall `run()`.\n' > docs/api.md
    mkdir -p src && printf 'pub fn run() {}\n' > src/lib.rs
    ;;
*guide*)
    printf '# Guide\n\nSee [the setup](setup.md) first.\n' > docs/guide.md
    ;;
*index*)
    printf '# Index\n\nStart with [usage](../README.md#usage).\n' > docs/index.md
    ;;
esac
echo "wrote the docs"
