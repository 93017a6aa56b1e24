#!/bin/sh
# One 200 000-byte line without a newline in between, then a short one.
head -c 200000 /dev/zero | tr '\0' 'y'
echo
echo "after"
