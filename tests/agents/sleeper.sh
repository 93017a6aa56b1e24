#!/bin/sh
# An agent that hangs with a background child holding its output pipes: only killing its
# whole process group ends it.
echo "started"
sleep 30 &
sleep 30
echo "never printed"
