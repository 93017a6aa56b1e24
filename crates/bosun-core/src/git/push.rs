//! Publishing a commit: pushing it to a branch on a remote (create or fast-forward, never
//! force), and checking beforehand that the remote can be reached and takes our credentials.
//!
//! Secrets stay out of every message: URLs are shown without their userinfo, and the token and
//! any password in the configured URL are masked in whatever text the transport reports.
//!
//! What this build can speak depends on git2's features: plain `http://`, `git://` and local
//! paths/`file://` always; `https://` and SSH only when libgit2 was built with TLS or libssh2
//! ([`git2::Version`] says, and [`GitError::TransportUnsupported`] is returned otherwise). The
//! credential-helper step needs git2's `cred` feature and is not in this build. This build has
//! neither TLS nor SSH in libgit2: HTTPS and SSH remotes are pushed to by the `git` program
//! when it is installed (see [`cli`]), which also brings the user's whole git setup — SSH
//! config and agent, credential helpers, proxies, `insteadOf` — that libgit2 would not read.

use std::cell::{Cell, RefCell};
use std::path::Path;

use super::{GitError, open};

mod cli;

/// What [`push_commit`] published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The remote's push URL as configured, without credentials (see [`remote_url`]).
    pub remote_url: String,
    /// The branch on the remote, without `refs/heads/`.
    pub branch: String,
    /// The commit the remote branch now points at, as hex.
    pub commit: String,
}

/// The URL of `remote` in the repository at `repo_root` (its push URL if set), without
/// credentials: userinfo is dropped from `http(s)://` and other URLs (a token is often put
/// there as the user name), and an SSH URL keeps only its user name.
pub fn remote_url(repo_root: &Path, remote: &str) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    let found = find_remote(&repo, remote)?;
    Ok(without_credentials(&push_url(&found, remote)?))
}

/// Pushes commit `commit` (hex; it must exist locally) to `refs/heads/{branch}` on `remote`:
/// the branch is created, or fast-forwarded; anything else is refused (by libgit2 before
/// sending, or by the remote) as [`GitError::PushRejected`], and the remote is left as it was.
/// `token` (from an environment variable, for HTTPS) is only ever used as the password of the
/// credentials callback. The commit is pushed by id, so no local ref is created for it.
pub fn push_commit(
    repo_root: &Path,
    remote: &str,
    commit: &str,
    branch: &str,
    token: Option<&str>,
) -> Result<Pushed, GitError> {
    let repo = open(repo_root)?;
    let mut found = find_remote(&repo, remote)?;
    let configured = push_url(&found, remote)?;
    let session = Session::new(remote, &configured, token);

    let id =
        git2::Oid::from_str(commit).map_err(|_| GitError::CommitMissing(commit.to_string()))?;
    match repo.find_commit(id) {
        Ok(_) => {}
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(GitError::CommitMissing(commit.to_string()));
        }
        Err(e) => return Err(e.into()),
    }
    let refname = format!("refs/heads/{branch}");
    // A name git refuses could also change the refspec's meaning (`:` or a leading `+`).
    if branch.starts_with('+') || !git2::Reference::is_valid_name(&refname) {
        return Err(GitError::InvalidBranchName(branch.to_string()));
    }
    if let Err(unsupported) = session.supported() {
        // HTTPS and SSH go through the git program, with the user's whole git setup.
        return match cli::git_program() {
            Some(git) => cli::push(&git, repo_root, &session, &id.to_string(), branch),
            None => Err(unsupported),
        };
    }

    tracing::debug!(remote, url = %session.url, %id, branch, "pushing");
    let mut opts = git2::PushOptions::new();
    opts.remote_callbacks(session.callbacks(&refname));
    let refspec = format!("{id}:{refname}");
    let pushed = found.push(&[refspec.as_str()], Some(&mut opts));
    if let Some(reason) = session.rejection.take() {
        return Err(session.rejected(branch, &reason));
    }
    match pushed {
        Ok(()) => {
            tracing::debug!(remote, url = %session.url, %id, branch, "pushed");
            Ok(Pushed {
                remote_url: session.url.clone(),
                branch: branch.to_string(),
                commit: id.to_string(),
            })
        }
        Err(e) if e.code() == git2::ErrorCode::NotFastForward => Err(session.rejected(
            branch,
            "non-fast-forward: the remote branch has commits the pushed commit does not \
             contain; bosun never force-pushes",
        )),
        Err(e) => Err(session.failed(&e)),
    }
}

/// Checks that `remote` can be reached and takes push credentials, without pushing: connects
/// in the push direction and lists the remote's refs (for `bosun doctor`).
pub fn check_push(repo_root: &Path, remote: &str, token: Option<&str>) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let mut found = find_remote(&repo, remote)?;
    let configured = push_url(&found, remote)?;
    let session = Session::new(remote, &configured, token);
    if let Err(unsupported) = session.supported() {
        return match cli::git_program() {
            Some(git) => cli::check(&git, repo_root, &session),
            None => Err(unsupported),
        };
    }
    tracing::debug!(remote, url = %session.url, "checking push access");
    let listed = found
        .connect_auth(git2::Direction::Push, Some(session.callbacks("")), None)
        .and_then(|connection| connection.list().map(<[_]>::len));
    match listed {
        Ok(refs) => {
            tracing::debug!(remote, url = %session.url, refs, "push access ok");
            Ok(())
        }
        Err(e) => Err(session.failed(&e)),
    }
}

/// The remote named `name`, or [`GitError::RemoteMissing`].
fn find_remote<'r>(repo: &'r git2::Repository, name: &str) -> Result<git2::Remote<'r>, GitError> {
    match repo.find_remote(name) {
        Ok(r) => Ok(r),
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::NotFound | git2::ErrorCode::InvalidSpec
            ) =>
        {
            Err(GitError::RemoteMissing(name.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The URL pushes go to: the push URL when set, else the URL.
fn push_url(remote: &git2::Remote<'_>, name: &str) -> Result<String, GitError> {
    let url = match remote.pushurl()? {
        Some(url) => url,
        None => remote.url()?,
    };
    if url.is_empty() {
        return Err(GitError::RemoteMissing(name.to_string()));
    }
    Ok(url.to_string())
}

/// How a URL reaches its repository, as far as libgit2 builds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// TLS: needs libgit2 built with `https`.
    Https,
    /// SSH (`ssh://`, `git+ssh://`, or `user@host:path`): needs libgit2 built with `ssh`.
    Ssh,
    /// Local paths, `file://`, `http://`, `git://`: always there.
    Other,
}

fn transport_of(url: &str) -> Transport {
    match url.split_once("://") {
        Some((scheme, _)) => match scheme.to_ascii_lowercase().as_str() {
            "https" => Transport::Https,
            "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
            _ => Transport::Other,
        },
        // scp-like `[user@]host:path`: a `:` before any `/` (a local path has none).
        None => match (url.find(':'), url.find('/')) {
            (Some(colon), Some(slash)) if colon < slash => Transport::Ssh,
            (Some(_), None) => Transport::Ssh,
            _ => Transport::Other,
        },
    }
}

/// `url` without credentials: the userinfo of a `scheme://` URL is dropped, except the user name
/// of an SSH URL (never a secret there, and needed to log in). scp-like URLs and paths cannot
/// carry a password and are returned as they are.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let host = &authority[at + 1..];
    let user = authority[..at].split(':').next().unwrap_or_default();
    if transport_of(url) == Transport::Ssh && !user.is_empty() {
        format!("{scheme}://{user}@{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

/// The secrets in a configured URL: its password, and its user name unless it is an SSH URL.
fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else {
        return Vec::new();
    };
    let userinfo = &rest[..at];
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let mut secrets: Vec<String> = password.into_iter().map(str::to_string).collect();
    if transport_of(url) != Transport::Ssh {
        secrets.push(user.to_string());
    }
    secrets
}

/// A credential the callback hands to libgit2, each at most once per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// The SSH user name (asked for before a key; not a credential by itself).
    Username,
    /// A key from the SSH agent.
    SshAgent,
    /// The token as the password.
    Token,
    /// Negotiate/NTLM with the process's own identity.
    Default,
}

/// One push or check: what to mask in messages, and what the callbacks saw.
struct Session<'t> {
    remote: &'t str,
    /// The configured URL as it is (to find in messages and replace by `url`).
    configured: &'t str,
    /// The URL without credentials: the only form that is shown.
    url: String,
    token: Option<&'t str>,
    secrets: Vec<String>,
    /// The credentials handed out, with what they were (for the error when all are refused).
    tried: RefCell<Vec<(Attempt, String)>>,
    /// The callback ran out of credentials to offer.
    exhausted: Cell<bool>,
    /// The remote's reason for refusing the ref, when it did.
    rejection: RefCell<Option<String>>,
    /// What the remote printed on the progress side band ("remote: …" lines).
    remote_output: RefCell<Vec<u8>>,
}

impl<'t> Session<'t> {
    fn new(remote: &'t str, configured: &'t str, token: Option<&'t str>) -> Self {
        let token = token.filter(|t| !t.is_empty());
        let mut secrets = url_secrets(configured);
        secrets.extend(token.map(str::to_string));
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            remote,
            configured,
            url: without_credentials(configured),
            token,
            secrets,
            tried: RefCell::new(Vec::new()),
            exhausted: Cell::new(false),
            rejection: RefCell::new(None),
            remote_output: RefCell::new(Vec::new()),
        }
    }

    /// Refuses a URL whose transport this build of libgit2 lacks, before trying it.
    fn supported(&self) -> Result<(), GitError> {
        let version = git2::Version::get();
        let missing = match transport_of(self.configured) {
            Transport::Https if !version.https() => Some("HTTPS"),
            Transport::Ssh if !version.ssh() => Some("SSH"),
            Transport::Https | Transport::Ssh | Transport::Other => None,
        };
        match missing {
            Some(scheme) => Err(GitError::TransportUnsupported {
                remote: self.remote.to_string(),
                url: self.url.clone(),
                scheme,
            }),
            None => Ok(()),
        }
    }

    /// `text` with the configured URL shown without credentials and every secret masked.
    fn redact(&self, text: &str) -> String {
        let mut out = text.replace(self.configured, &self.url);
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }

    /// A reason as git reports it, masked, without the dangling `: ` of an empty OS error.
    fn reason(&self, text: &str) -> String {
        self.redact(text.trim().trim_end_matches(':').trim_end())
    }

    /// The remote's side-band output as trimmed, non-empty lines, masked.
    fn remote_lines(&self) -> Vec<String> {
        let output = self.remote_output.borrow();
        String::from_utf8_lossy(&output)
            .split(['\n', '\r'])
            .map(|l| l.trim())
            .map(|l| l.strip_prefix("remote:").map_or(l, str::trim))
            .filter(|l| !l.is_empty())
            .map(|l| self.redact(l))
            .collect()
    }

    /// The next credential to offer for `allowed`, or an error once each has been tried.
    fn credential(
        &self,
        username_from_url: Option<&str>,
        allowed: git2::CredentialType,
    ) -> Result<git2::Cred, git2::Error> {
        let mut tried = self.tried.borrow_mut();
        let fresh = |a: Attempt, tried: &[(Attempt, String)]| !tried.iter().any(|(t, _)| *t == a);
        if allowed.contains(git2::CredentialType::USERNAME) && fresh(Attempt::Username, &tried) {
            let user = username_from_url.unwrap_or("git");
            tried.push((Attempt::Username, format!("SSH user `{user}`")));
            return git2::Cred::username(user);
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) && fresh(Attempt::SshAgent, &tried) {
            let user = username_from_url.unwrap_or("git");
            tried.push((Attempt::SshAgent, format!("SSH agent keys for `{user}`")));
            tracing::debug!(remote = self.remote, "offering SSH agent keys");
            return git2::Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
            && let Some(token) = self.token
            && fresh(Attempt::Token, &tried)
        {
            let user = username_from_url.unwrap_or("x-access-token");
            let shown = self.redact(user);
            tried.push((Attempt::Token, format!("the token as user `{shown}`")));
            tracing::debug!(remote = self.remote, user = %shown, "offering the token");
            return git2::Cred::userpass_plaintext(user, token);
        }
        // A git credential helper would come here (`Cred::credential_helper`), but it needs
        // git2's `cred` feature, which this build does not enable.
        if allowed.contains(git2::CredentialType::DEFAULT) && fresh(Attempt::Default, &tried) {
            tried.push((
                Attempt::Default,
                "default (Negotiate/NTLM) credentials".into(),
            ));
            return git2::Cred::default();
        }
        self.exhausted.set(true);
        Err(git2::Error::from_str(
            "bosun has no further credentials to offer",
        ))
    }

    /// The callbacks of one operation; `refname` is the ref being pushed (empty for a check,
    /// which pushes nothing).
    fn callbacks<'s>(&'s self, refname: &'s str) -> git2::RemoteCallbacks<'s> {
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(move |_url, username_from_url, allowed| {
            self.credential(username_from_url, allowed)
        });
        callbacks.sideband_progress(move |bytes| {
            self.remote_output.borrow_mut().extend_from_slice(bytes);
            true
        });
        callbacks.push_negotiation(move |updates| {
            for u in updates {
                tracing::debug!(
                    remote = self.remote,
                    dst = %String::from_utf8_lossy(u.dst_refname_bytes()),
                    from = %u.src(),
                    to = %u.dst(),
                    "push update"
                );
            }
            Ok(())
        });
        callbacks.push_update_reference(move |name, status| {
            match status {
                Some(reason) => {
                    tracing::debug!(remote = self.remote, name, reason = %self.redact(reason), "ref refused");
                    if name == refname {
                        *self.rejection.borrow_mut() = Some(self.reason(reason));
                    }
                }
                None => tracing::debug!(remote = self.remote, name, "ref updated"),
            }
            Ok(())
        });
        callbacks
    }

    /// The error for `branch` refused with `reason`, with what the remote printed.
    fn rejected(&self, branch: &str, reason: &str) -> GitError {
        let lines = self.remote_lines();
        let reason = if lines.is_empty() {
            reason.to_string()
        } else {
            format!("{reason} (remote: {})", lines.join("; "))
        };
        GitError::PushRejected {
            remote: self.remote.to_string(),
            branch: branch.to_string(),
            reason,
        }
    }

    /// The error for a failed push or check: refused credentials, or the transport's reason.
    fn failed(&self, e: &git2::Error) -> GitError {
        if self.exhausted.get() || e.code() == git2::ErrorCode::Auth {
            let tried = self
                .tried
                .borrow()
                .iter()
                .filter(|(a, _)| *a != Attempt::Username)
                .map(|(_, what)| what.clone())
                .collect();
            return GitError::CredentialsRefused {
                remote: self.remote.to_string(),
                url: self.url.clone(),
                tried,
            };
        }
        let mut reason = self.reason(e.message());
        let lines = self.remote_lines();
        if !lines.is_empty() {
            reason = format!("{reason} (remote: {})", lines.join("; "));
        }
        GitError::RemoteFailed {
            remote: self.remote.to_string(),
            url: self.url.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok-5ecret-DO-NOT-LEAK";

    /// A working repository with one commit on `main`, and a bare one registered as `origin`
    /// at `url(bare path)`.
    struct Fixture {
        _dirs: (tempfile::TempDir, tempfile::TempDir),
        root: std::path::PathBuf,
        bare: std::path::PathBuf,
        first: git2::Oid,
    }

    fn fixture(url: fn(&Path) -> String) -> Fixture {
        let (work, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let repo = git2::Repository::init(work.path()).unwrap();
        let bare = remote.path().join("remote.git");
        git2::Repository::init_bare(&bare).unwrap();
        repo.remote("origin", &url(&bare)).unwrap();
        let first = commit(&repo, None, "one");
        Fixture {
            root: work.path().to_path_buf(),
            bare,
            first,
            _dirs: (work, remote),
        }
    }

    /// A commit with file `f` saying `text`, on top of `parent` (no ref moves).
    fn commit(repo: &git2::Repository, parent: Option<git2::Oid>, text: &str) -> git2::Oid {
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let blob = repo.blob(text.as_bytes()).unwrap();
        let mut tree = repo.treebuilder(None).unwrap();
        tree.insert("f", blob, 0o100_644).unwrap();
        let tree = repo.find_tree(tree.write().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &sig, &sig, text, &tree, &parents)
            .unwrap()
    }

    fn remote_tip(bare: &Path, branch: &str) -> Option<git2::Oid> {
        let repo = git2::Repository::open_bare(bare).unwrap();
        repo.refname_to_id(&format!("refs/heads/{branch}")).ok()
    }

    fn local_refs(root: &Path) -> Vec<String> {
        let repo = git2::Repository::open(root).unwrap();
        let mut names: Vec<String> = repo
            .references()
            .unwrap()
            .map(|r| r.unwrap().name().unwrap().to_string())
            .filter(|n| !n.starts_with("refs/remotes/"))
            .collect();
        names.sort();
        names
    }

    fn by_path(bare: &Path) -> String {
        bare.display().to_string()
    }

    fn by_file_url(bare: &Path) -> String {
        format!("file://{}", bare.display())
    }

    #[test]
    fn pushes_create_then_fast_forward_and_refuse_anything_else() {
        for url in [by_path as fn(&Path) -> String, by_file_url] {
            let f = fixture(url);
            let repo = git2::Repository::open(&f.root).unwrap();
            let refs_before = local_refs(&f.root);

            let first = f.first.to_string();
            let pushed = push_commit(&f.root, "origin", &first, "bosun/run-1", None).unwrap();
            assert_eq!(
                pushed,
                Pushed {
                    remote_url: url(&f.bare),
                    branch: "bosun/run-1".into(),
                    commit: first.clone(),
                }
            );
            assert_eq!(remote_tip(&f.bare, "bosun/run-1"), Some(f.first));

            // The same commit again changes nothing and is fine.
            push_commit(&f.root, "origin", &first, "bosun/run-1", None).unwrap();
            assert_eq!(remote_tip(&f.bare, "bosun/run-1"), Some(f.first));

            let second = commit(&repo, Some(f.first), "two");
            push_commit(&f.root, "origin", &second.to_string(), "bosun/run-1", None).unwrap();
            assert_eq!(remote_tip(&f.bare, "bosun/run-1"), Some(second));

            // A sibling of `second` (and `second`'s own ancestor) would rewrite the branch.
            let sibling = commit(&repo, Some(f.first), "other");
            for older in [sibling, f.first] {
                let err = push_commit(&f.root, "origin", &older.to_string(), "bosun/run-1", None)
                    .unwrap_err();
                assert!(
                    matches!(&err, GitError::PushRejected { remote, branch, reason }
                        if remote == "origin" && branch == "bosun/run-1"
                            && reason.contains("non-fast-forward")),
                    "{err}"
                );
                assert_eq!(remote_tip(&f.bare, "bosun/run-1"), Some(second));
            }

            // No temporary or other local ref was left behind.
            assert_eq!(local_refs(&f.root), refs_before);
            assert_eq!(remote_url(&f.root, "origin").unwrap(), url(&f.bare));
        }
    }

    #[test]
    fn a_remote_branch_with_commits_we_lack_is_left_alone() {
        let f = fixture(by_path);
        // Someone else pushed a commit this repository has never seen.
        let other = tempfile::tempdir().unwrap();
        let theirs = git2::Repository::init(other.path()).unwrap();
        let foreign = commit(&theirs, None, "theirs");
        theirs.remote("origin", &by_path(&f.bare)).unwrap();
        push_commit(other.path(), "origin", &foreign.to_string(), "shared", None).unwrap();

        let err = push_commit(&f.root, "origin", &f.first.to_string(), "shared", None).unwrap_err();
        assert!(
            matches!(&err, GitError::PushRejected { branch, reason, .. }
                if branch == "shared" && reason.contains("non-fast-forward")),
            "{err}"
        );
        assert_eq!(remote_tip(&f.bare, "shared"), Some(foreign));
    }

    #[test]
    fn missing_remote_commit_and_bad_branch_are_named() {
        let f = fixture(by_path);
        let first = f.first.to_string();

        let err = push_commit(&f.root, "upstream", &first, "b", None).unwrap_err();
        assert!(matches!(&err, GitError::RemoteMissing(r) if r == "upstream"));
        assert!(err.to_string().contains("`upstream`"), "{err}");
        assert!(matches!(
            remote_url(&f.root, "upstream"),
            Err(GitError::RemoteMissing(_))
        ));
        assert!(matches!(
            check_push(&f.root, "upstream", None),
            Err(GitError::RemoteMissing(_))
        ));

        let absent = "0123456789abcdef0123456789abcdef01234567";
        for bad in [absent, "not-hex"] {
            let err = push_commit(&f.root, "origin", bad, "b", None).unwrap_err();
            assert!(
                matches!(&err, GitError::CommitMissing(c) if c == bad),
                "{err}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }

        for bad in ["a:b", "+b", "a..b", ""] {
            let err = push_commit(&f.root, "origin", &first, bad, None).unwrap_err();
            assert!(
                matches!(&err, GitError::InvalidBranchName(b) if b == bad),
                "{bad}: {err}"
            );
        }
        assert!(
            git2::Repository::open_bare(&f.bare)
                .unwrap()
                .references()
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[test]
    fn a_ref_the_remote_cannot_update_is_a_rejection_with_its_reason() {
        let f = fixture(by_path);
        // Someone else holds the remote ref's lock: the remote reports that ref as failed.
        std::fs::create_dir_all(f.bare.join("refs/heads")).unwrap();
        std::fs::write(f.bare.join("refs/heads/locked.lock"), "").unwrap();
        let err = push_commit(&f.root, "origin", &f.first.to_string(), "locked", None).unwrap_err();
        assert!(
            matches!(&err, GitError::PushRejected { branch, reason, .. }
                if branch == "locked" && reason.contains("lock")),
            "{err}"
        );
        assert_eq!(remote_tip(&f.bare, "locked"), None);
    }

    #[test]
    fn check_push_lists_a_reachable_remote_and_names_an_unreachable_one() {
        let f = fixture(by_file_url);
        check_push(&f.root, "origin", None).unwrap();

        let repo = git2::Repository::open(&f.root).unwrap();
        repo.remote("gone", "file:///nonexistent/bosun/remote.git")
            .unwrap();
        let err = check_push(&f.root, "gone", None).unwrap_err();
        assert!(
            matches!(&err, GitError::RemoteFailed { remote, url, .. }
                if remote == "gone" && url == "file:///nonexistent/bosun/remote.git"),
            "{err}"
        );
    }

    #[test]
    fn the_push_url_wins_and_urls_are_shown_without_credentials() {
        let f = fixture(by_path);
        let repo = git2::Repository::open(&f.root).unwrap();
        repo.remote_set_pushurl(
            "origin",
            Some(&format!("https://bot:{TOKEN}@example.com/o/r.git")),
        )
        .unwrap();
        assert_eq!(
            remote_url(&f.root, "origin").unwrap(),
            "https://example.com/o/r.git"
        );

        for (url, shown) in [
            ("https://user:pw@host/x.git", "https://host/x.git"),
            ("http://tok@host:8080/x?y@z", "http://host:8080/x?y@z"),
            ("ssh://git:pw@host/x.git", "ssh://git@host/x.git"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("/srv/a@b/r.git", "/srv/a@b/r.git"),
            ("file:///srv/a@b/r.git", "file:///srv/a@b/r.git"),
        ] {
            assert_eq!(without_credentials(url), shown, "{url}");
        }
        assert_eq!(transport_of("git@github.com:o/r.git"), Transport::Ssh);
        assert_eq!(transport_of("host:r.git"), Transport::Ssh);
        assert_eq!(transport_of("/srv/r.git"), Transport::Other);
        assert_eq!(transport_of("./a:b/r.git"), Transport::Other);
        assert_eq!(transport_of("HTTPS://h/r"), Transport::Https);
    }

    #[test]
    fn the_token_never_appears_in_errors() {
        let f = fixture(by_path);
        let repo = git2::Repository::open(&f.root).unwrap();
        let remotes = [
            ("tls", "https://127.0.0.1:1/x.git".to_string()),
            ("plain", "http://127.0.0.1:1/x.git".to_string()),
            (
                "inurl",
                format!("http://x-access-token:{TOKEN}@127.0.0.1:1/x.git"),
            ),
            ("asuser", format!("http://{TOKEN}@127.0.0.1:1/x.git")),
            ("ssh", "git@127.0.0.1:x.git".to_string()),
        ];
        for (name, url) in &remotes {
            repo.remote(name, url).unwrap();
            let first = f.first.to_string();
            let errors = [
                push_commit(&f.root, name, &first, "b", Some(TOKEN)).unwrap_err(),
                check_push(&f.root, name, Some(TOKEN)).unwrap_err(),
            ];
            for err in errors {
                let text = format!("{err} {err:?}");
                assert!(!text.contains(TOKEN), "{name}: {text}");
                assert!(
                    text.contains("127.0.0.1"),
                    "{name}: the URL is named: {text}"
                );
            }
            assert!(!remote_url(&f.root, name).unwrap().contains(TOKEN));
        }
        let plain = check_push(&f.root, "plain", Some(TOKEN)).unwrap_err();
        assert!(matches!(plain, GitError::RemoteFailed { .. }), "{plain}");
    }

    /// A smart-HTTP git server for one test: `git http-backend` behind a minimal HTTP/1.1
    /// server on 127.0.0.1, optionally demanding Basic credentials.
    struct GitHttp {
        addr: std::net::SocketAddr,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl GitHttp {
        /// `None` when there is no `git` program to run `http-backend`.
        fn serve(project_root: &Path, basic: Option<(&str, &str)>) -> Option<Self> {
            let has_git = std::process::Command::new("git")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            if !has_git {
                return None;
            }
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let root = project_root.to_path_buf();
            let auth =
                basic.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
            let stopping = stop.clone();
            let thread = std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let (root, auth) = (root.clone(), auth.clone());
                    if let Ok(stream) = stream {
                        std::thread::spawn(move || {
                            let _ = handle(stream, &root, auth.as_deref());
                        });
                    }
                }
            });
            Some(Self {
                addr,
                stop,
                thread: Some(thread),
            })
        }

        fn url(&self, repo: &str) -> String {
            format!("http://{}/{repo}", self.addr)
        }
    }

    impl Drop for GitHttp {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = std::net::TcpStream::connect(self.addr);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn base64(bytes: &[u8]) -> String {
        const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Serves one request on `stream` through `git http-backend` (CGI), then closes.
    fn handle(stream: std::net::TcpStream, root: &Path, auth: Option<&str>) -> std::io::Result<()> {
        use std::io::{BufRead, Read, Write};
        let mut out = stream.try_clone()?;
        let mut input = std::io::BufReader::new(stream);
        let mut line = String::new();
        input.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            line.clear();
            input.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                input.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                if size == 0 {
                    loop {
                        line.clear();
                        if input.read_line(&mut line)? == 0 || line.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                input.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = header("content-length").and_then(|l| l.parse().ok()) {
            body.resize(len, 0);
            input.read_exact(&mut body)?;
        }
        if let Some(expected) = auth
            && header("authorization") != Some(expected)
        {
            out.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut cgi = std::process::Command::new("git")
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("REMOTE_USER", "bosun-test")
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
            .env("CONTENT_LENGTH", body.len().to_string())
            .env(
                "HTTP_CONTENT_ENCODING",
                header("content-encoding").unwrap_or_default(),
            )
            .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut stdin = cgi.stdin.take().expect("stdin was piped");
        let writer = std::thread::spawn(move || stdin.write_all(&body));
        let output = cgi.wait_with_output()?;
        let _ = writer.join();
        let text = output.stdout;
        let split = text
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
        let (head, content) = match split {
            Some((i, n)) => (
                String::from_utf8_lossy(&text[..i]).into_owned(),
                &text[i + n..],
            ),
            None => (String::new(), &text[..]),
        };
        let mut status = "200 OK".to_string();
        let mut response = Vec::new();
        for l in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match l.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
                _ => response.extend_from_slice(format!("{l}\r\n").as_bytes()),
            }
        }
        let mut reply = format!("HTTP/1.1 {status}\r\n").into_bytes();
        reply.extend_from_slice(&response);
        reply.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                content.len()
            )
            .as_bytes(),
        );
        reply.extend_from_slice(content);
        out.write_all(&reply)?;
        out.flush()
    }

    #[test]
    fn a_pre_receive_hook_rejection_arrives_with_the_hooks_message() {
        let f = fixture(by_path);
        let Some(server) = GitHttp::serve(f.bare.parent().unwrap(), None) else {
            eprintln!("skipped: no `git` program to run http-backend");
            return;
        };
        let repo = git2::Repository::open(&f.root).unwrap();
        repo.remote("http", &server.url("remote.git")).unwrap();
        let first = f.first.to_string();

        check_push(&f.root, "http", None).unwrap();
        push_commit(&f.root, "http", &first, "open", None).unwrap();
        assert_eq!(remote_tip(&f.bare, "open"), Some(f.first));

        let hook = f.bare.join("hooks/pre-receive");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        std::fs::write(
            &hook,
            "#!/bin/sh\necho 'GL-HOOK-ERR: branch is protected, open a review' >&2\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

        let second = commit(&repo, Some(f.first), "two");
        let err = push_commit(&f.root, "http", &second.to_string(), "open", None).unwrap_err();
        match &err {
            GitError::PushRejected {
                remote,
                branch,
                reason,
            } => {
                assert_eq!((remote.as_str(), branch.as_str()), ("http", "open"));
                assert!(reason.contains("pre-receive hook declined"), "{reason}");
                assert!(
                    reason.contains("branch is protected, open a review"),
                    "{reason}"
                );
            }
            other => panic!("expected a rejection, got {other}"),
        }
        assert_eq!(remote_tip(&f.bare, "open"), Some(f.first));
    }

    #[test]
    fn over_http_the_token_is_the_password_and_refused_credentials_end_the_attempts() {
        let f = fixture(by_path);
        let Some(server) =
            GitHttp::serve(f.bare.parent().unwrap(), Some(("x-access-token", TOKEN)))
        else {
            eprintln!("skipped: no `git` program to run http-backend");
            return;
        };
        let repo = git2::Repository::open(&f.root).unwrap();
        repo.remote("http", &server.url("remote.git")).unwrap();
        let first = f.first.to_string();

        for token in [None, Some("wrong-token-value")] {
            for err in [
                check_push(&f.root, "http", token).unwrap_err(),
                push_commit(&f.root, "http", &first, "main", token).unwrap_err(),
            ] {
                let GitError::CredentialsRefused { remote, url, tried } = &err else {
                    panic!("expected refused credentials, got {err}");
                };
                assert_eq!(
                    (remote.as_str(), url.as_str()),
                    ("http", server.url("remote.git").as_str())
                );
                assert_eq!(tried.len(), usize::from(token.is_some()), "{tried:?}");
                let text = err.to_string();
                assert!(!text.contains("wrong-token-value"), "{text}");
                assert!(text.contains("set up"), "{text}");
            }
        }
        assert_eq!(remote_tip(&f.bare, "main"), None);

        check_push(&f.root, "http", Some(TOKEN)).unwrap();
        let pushed = push_commit(&f.root, "http", &first, "main", Some(TOKEN)).unwrap();
        assert_eq!(pushed.remote_url, server.url("remote.git"));
        assert_eq!(remote_tip(&f.bare, "main"), Some(f.first));
    }

    /// The git program's path (HTTPS and SSH remotes in this build), exercised over smart
    /// HTTP: the token as bosun's credential helper's password, a refused one, a hook's
    /// rejection, and the check.
    #[test]
    fn the_git_program_pushes_with_the_token_and_reports_refusals() {
        let f = fixture(by_path);
        let Some(server) =
            GitHttp::serve(f.bare.parent().unwrap(), Some(("x-access-token", TOKEN)))
        else {
            eprintln!("skipped: no `git` program to run http-backend");
            return;
        };
        let git = cli::git_program().expect("git is on PATH (http-backend ran)");
        let url = server.url("remote.git");
        git2::Repository::open(&f.root)
            .unwrap()
            .remote("http", &url)
            .unwrap();
        let first = f.first.to_string();

        let wrong = Session::new("http", &url, Some("wrong-token-value"));
        let err = cli::push(&git, &f.root, &wrong, &first, "main").unwrap_err();
        assert!(
            matches!(err, GitError::CredentialsRefused { .. }),
            "expected refused credentials, got {err}"
        );
        assert!(!err.to_string().contains("wrong-token-value"), "{err}");
        assert!(cli::check(&git, &f.root, &wrong).is_err());

        let right = Session::new("http", &url, Some(TOKEN));
        cli::check(&git, &f.root, &right).unwrap();
        let pushed = cli::push(&git, &f.root, &right, &first, "main").unwrap();
        assert_eq!(pushed.commit, first);
        assert_eq!(remote_tip(&f.bare, "main"), Some(f.first));

        let hook = f.bare.join("hooks/pre-receive");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        std::fs::write(
            &hook,
            "#!/bin/sh\necho 'protected branch: open a review' >&2\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        let repo = git2::Repository::open(&f.root).unwrap();
        let second = commit(&repo, Some(f.first), "two").to_string();
        let err = cli::push(&git, &f.root, &right, &second, "main").unwrap_err();
        let GitError::PushRejected { reason, .. } = &err else {
            panic!("expected a rejection, got {err}");
        };
        assert!(
            reason.contains("protected branch: open a review"),
            "{reason}"
        );
        assert!(!reason.contains(TOKEN), "{reason}");
        assert_eq!(remote_tip(&f.bare, "main"), Some(f.first));
    }
}
