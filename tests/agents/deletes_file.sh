#!/bin/sh
# Deletes the tracked file doomed.txt (without telling git).
rm doomed.txt
echo "removed doomed.txt"
