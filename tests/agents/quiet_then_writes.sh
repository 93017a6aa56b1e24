#!/bin/sh
# Says one thing, then nothing for 2.5 s (as gemini and opencode do while they retry a
# failing model), then writes notes.txt.
echo "thinking"
sleep 2.5
printf 'note\n' > notes.txt
echo "wrote notes.txt"
