#!/bin/sh
# Adds self.txt and commits it itself, leaving nothing uncommitted.
set -e
printf 'committed by the agent\n' > self.txt
git add -A
git -c user.name=agent -c user.email=agent@example.com -c commit.gpgsign=false \
    commit -q -m "agent: add self.txt"
echo "committed"
