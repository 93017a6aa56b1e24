#!/bin/sh
# An agent that ignores SIGTERM, and so do its children (an ignored signal is inherited):
# only SIGKILL ends it.
trap '' TERM
echo "started"
sleep 30 &
sleep 30
