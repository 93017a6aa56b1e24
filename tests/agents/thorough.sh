#!/bin/sh
# A thorough agent: writes hello.txt and also the extra.txt a quality gate looks for.
set -e
printf 'hi\n' > hello.txt
printf 'checked\n' > extra.txt
echo "wrote hello.txt and extra.txt"
