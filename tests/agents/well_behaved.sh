#!/bin/sh
# A well-behaved agent: talks on both streams, edits a file in its working directory, exits 0.
echo "reading the task"
echo "careful: this goes to stderr" >&2
printf 'hi\n' > hello.txt
echo "wrote hello.txt"
echo "done on stderr" >&2
echo "all done"
