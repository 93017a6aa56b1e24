#!/bin/sh
# A confused or hostile agent: writes note.txt, then leaves its checkout's git state somewhere
# other than the run's branch, as $HOW says. What bosun reviews and merges must still be
# exactly the files it left.
#   branch    commits on a new branch it switched to
#   detached  commits, detaches HEAD, then writes more without committing
#   reset     commits, then resets its branch back to where it started (keeping the files)
#   hard      commits twice, `git reset --hard` to the first, then writes the rest again
#   main      points HEAD at the operator's main branch, then leaves the file uncommitted
#   index     stages a removal of TODO.md it does not make on disk, and hides note.txt from
#             the index with --assume-unchanged after committing an earlier version
set -e
g() {
    git -c user.name=agent -c user.email=agent@example.com -c commit.gpgsign=false "$@"
}
printf 'first line\n' > note.txt
case "$HOW" in
branch)
    g checkout -q -b elsewhere
    g add -A
    g commit -q -m "agent: note on another branch"
    printf 'second line\n' >> note.txt
    g commit -q -am "agent: second line"
    ;;
detached)
    g add -A
    g commit -q -m "agent: first line"
    g checkout -q --detach
    printf 'second line\n' >> note.txt
    ;;
reset)
    g add -A
    g commit -q -m "agent: first line"
    g reset -q --soft HEAD~1
    printf 'second line\n' >> note.txt
    ;;
hard)
    g add -A
    g commit -q -m "agent: first line"
    printf 'a stray line\n' >> note.txt
    g commit -q -am "agent: stray"
    g reset -q --hard HEAD~1
    printf 'second line\n' >> note.txt
    ;;
main)
    g symbolic-ref HEAD refs/heads/main
    printf 'second line\n' >> note.txt
    ;;
index)
    g add -A
    g commit -q -m "agent: first line"
    printf 'second line\n' >> note.txt
    g update-index --assume-unchanged note.txt
    g rm -q --cached TODO.md
    ;;
*)
    echo "unknown HOW=$HOW" >&2
    exit 2
    ;;
esac
echo "left git as $HOW"
