#!/bin/sh
# An agent that keeps making the same mistake: writes bad.txt, which the test's `check` gate
# refuses.
set -e
printf 'oops\n' > bad.txt
echo "wrote bad.txt"
