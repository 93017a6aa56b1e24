#!/bin/sh
# An agent that exits 0 but leaves a background process running (holding stdout open).
sleep 1000 &
echo "bye"
exit 0
