#!/bin/sh
# Copies the secrets corpus ($CORPUS, the fixture's files/ directory) into the checkout under
# leak/ and prints every file to stdout, as an agent that writes and echoes credentials would.
# On its second attempt it also leaves .second (the test's failing gate then passes).
set -e
mkdir -p leak
cp -R "$CORPUS"/. leak/
for f in leak/* leak/.env leak/.npmrc; do
    cat "$f"
done
if [ "$BOSUN_ATTEMPT" = "2" ]; then
    touch .second
fi
echo "copied the configuration"
