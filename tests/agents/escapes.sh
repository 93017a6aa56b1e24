#!/bin/sh
# A hostile agent trying to reach past its checkout, as $HOW says. It always also writes
# done.txt in its checkout (so the run has a change to review), and records in tried.txt
# whether its attempt went through ("ok") or was refused ("refused"). The operator's
# repository is found the way an agent would find it: through the checkout's object
# alternates.
#   update-ref  move the operator's main to a commit of its own
#   push        git push its HEAD to the operator's repository path as a new branch
#   hook        write a pre-commit hook into the operator's .git/hooks
#   fsmonitor   set core.fsmonitor in the operator's .git/config
#   relative    write ../../escape.txt
#   absolute    write into the operator's working tree by absolute path
#   home        write $HOME/escape.txt
#   symlink     leave link.txt pointing at the operator's checkout (a gate writes through it)
#   delete      delete its own checkout
#   gitlink     replace its .git with a symlink to the operator's .git (bosun must not follow)
#   links       leave source files that are symlinks to /dev/zero and to $HOME/secret.txt
#               (bosun's analysis must read neither)
#   tcp         connect to 127.0.0.1:$PORT with python3
set -u
objects=$(head -n 1 .git/objects/info/alternates)
operator_git=$(dirname "$objects")
operator=$(dirname "$operator_git")
g() {
    git -c user.name=agent -c user.email=agent@example.com -c commit.gpgsign=false "$@"
}
try() {
    if "$@" >/dev/null 2>&1; then echo ok > tried.txt; else echo refused > tried.txt; fi
}
printf 'done\n' > done.txt
case "$HOW" in
update-ref)
    # A commit made straight in the operator's object store, then main moved to it.
    try sh -c "c=\$(git --git-dir='$operator_git' -c user.name=a -c user.email=a@b commit-tree -p main -m pwned main^{tree}) && git --git-dir='$operator_git' update-ref refs/heads/main \$c"
    ;;
push)
    g add -A && g commit -q -m "agent"
    try g push -q "$operator" HEAD:refs/heads/agent-pushed
    ;;
hook)
    try sh -c "printf '#!/bin/sh\ntouch /tmp/bosun-pwned\n' > '$operator_git/hooks/pre-commit'"
    ;;
fsmonitor)
    try git --git-dir="$operator_git" config core.fsmonitor "touch /tmp/bosun-pwned"
    ;;
relative)
    try sh -c 'echo x > ../../escape.txt'
    ;;
absolute)
    try sh -c "echo x > '$operator/escape.txt'"
    ;;
home)
    try sh -c 'echo x > "$HOME/escape.txt"'
    ;;
symlink)
    ln -s "$operator/through-link.txt" link.txt
    echo ok > tried.txt
    ;;
delete)
    cd .. && rm -rf "$BOSUN_WORKTREE"
    exit 0
    ;;
links)
    ln -s /dev/zero zero.rs
    ln -s "$HOME/secret.txt" leak.py
    echo ok > tried.txt
    ;;
gitlink)
    rm -rf .git && ln -s "$operator_git" .git
    echo ok > tried.txt
    ;;
tcp)
    try python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), timeout=5)"
    ;;
*)
    echo "unknown HOW=$HOW" >&2
    exit 2
    ;;
esac
echo "tried $HOW: $(cat tried.txt 2>/dev/null)"
