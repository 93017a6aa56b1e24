//! Which repository and API a `[forge]` section and a git remote's URL mean: the repository
//! from the setting or the URL's path, the API from the setting or the kind's default for
//! the URL's host.

use super::ForgeError;
use crate::config::{ForgeConfig, ForgeKind};

/// A forge's repository and API root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// `owner/name` (GitLab: the project path).
    pub repository: String,
    /// The API's base URL, no trailing slash.
    pub api_url: String,
}

/// A git remote on a forge: where its web server is and the repository path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remote {
    /// `https`, or `http` for a plain-HTTP remote.
    scheme: &'static str,
    /// The host, with its port for an HTTP(S) remote (an SSH port is no web port).
    host: String,
    /// The path without slashes around it or `.git`: `owner/name`, `group/sub/name`.
    path: String,
}

/// The repository and API that `config` and the remote at `remote_url` mean.
pub(crate) fn locate(config: &ForgeConfig, remote_url: &str) -> Result<Located, ForgeError> {
    let kind = config.kind;
    let remote = parse(remote_url);
    let configured = config.repository.trim().trim_matches('/');
    // Repository, and the path before it on the host (Gitea served under a sub-path).
    let (repository, prefix) = if !configured.is_empty() {
        let prefix = remote.as_ref().and_then(|r| {
            r.path
                .strip_suffix(configured)
                .map(|p| p.trim_matches('/').to_string())
        });
        (configured.to_string(), prefix.unwrap_or_default())
    } else {
        let Some(remote) = &remote else {
            return Err(ForgeError::Config(format!(
                "cannot tell the repository from the remote URL `{}`: set [forge] repository to \"owner/name\"",
                without_credentials(remote_url)
            )));
        };
        split_repository(kind, &remote.path)
    };
    check_repository(kind, &repository)?;
    let configured_api = config.api_url.trim().trim_end_matches('/');
    let api_url = if !configured_api.is_empty() {
        if !(configured_api.starts_with("https://") || configured_api.starts_with("http://")) {
            return Err(ForgeError::Config(format!(
                "[forge] api_url `{}` is not an http(s) URL: set it to the API's root, e.g. https://gitea.example.com/api/v1",
                without_credentials(configured_api)
            )));
        }
        configured_api.to_string()
    } else {
        default_api(kind, remote.as_ref(), &prefix)?
    };
    Ok(Located {
        repository,
        api_url,
    })
}

/// The repository in a remote's path, and what comes before it: GitHub and Gitea take the
/// last two segments, GitLab the whole path (groups and subgroups).
fn split_repository(kind: ForgeKind, path: &str) -> (String, String) {
    match kind {
        ForgeKind::Gitlab => (path.to_string(), String::new()),
        ForgeKind::Github | ForgeKind::Gitea => {
            let segments: Vec<&str> = path.split('/').collect();
            let cut = segments.len().saturating_sub(2);
            (segments[cut..].join("/"), segments[..cut].join("/"))
        }
    }
}

/// Refuses a repository that is not `owner/name` (GitLab: `group[/sub…]/name`).
fn check_repository(kind: ForgeKind, repository: &str) -> Result<(), ForgeError> {
    let segments: Vec<&str> = repository.split('/').collect();
    let segment_ok = |s: &&str| {
        !s.is_empty()
            && *s != "."
            && *s != ".."
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let count_ok = match kind {
        ForgeKind::Gitlab => segments.len() >= 2,
        ForgeKind::Github | ForgeKind::Gitea => segments.len() == 2,
    };
    if count_ok && segments.iter().all(segment_ok) {
        return Ok(());
    }
    let shape = match kind {
        ForgeKind::Gitlab => "\"group/name\" or \"group/subgroup/name\"",
        ForgeKind::Github | ForgeKind::Gitea => "\"owner/name\"",
    };
    Err(ForgeError::Config(format!(
        "the forge repository `{repository}` is not {shape}: set [forge] repository to it"
    )))
}

/// The kind's API root on the remote's host.
fn default_api(
    kind: ForgeKind,
    remote: Option<&Remote>,
    prefix: &str,
) -> Result<String, ForgeError> {
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    Ok(match (kind, remote) {
        (ForgeKind::Github, Some(r)) if !is_github_com(&r.host) => {
            format!("{}://{}{prefix}/api/v3", r.scheme, r.host)
        }
        (ForgeKind::Github, _) => "https://api.github.com".to_string(),
        (ForgeKind::Gitlab, Some(r)) => format!("{}://{}{prefix}/api/v4", r.scheme, r.host),
        (ForgeKind::Gitlab, None) => "https://gitlab.com/api/v4".to_string(),
        (ForgeKind::Gitea, Some(r)) => format!("{}://{}{prefix}/api/v1", r.scheme, r.host),
        (ForgeKind::Gitea, None) => {
            return Err(ForgeError::Config(
                "cannot tell the Gitea server from the remote URL: set [forge] api_url, e.g. https://gitea.example.com/api/v1"
                    .into(),
            ));
        }
    })
}

fn is_github_com(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    matches!(
        host.as_str(),
        "github.com" | "www.github.com" | "ssh.github.com"
    ) || host.starts_with("github.com:")
}

/// A remote URL read as a forge's: `https://host[:port]/path(.git)`,
/// `ssh://[user@]host[:port]/path(.git)`, `git://host/path`, or scp-like
/// `[user@]host:path(.git)`. `None` for a local path or a URL with no repository path.
fn parse(url: &str) -> Option<Remote> {
    let url = url.trim();
    let (scheme, host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let web = matches!(scheme.as_str(), "http" | "https");
        let host = if web {
            host_port.to_string()
        } else {
            strip_port(host_port).to_string()
        };
        let scheme = match scheme.as_str() {
            "http" => "http",
            "https" | "ssh" | "git" | "git+ssh" | "ssh+git" => "https",
            _ => return None,
        };
        (scheme, host, path)
    } else {
        // scp-like: `host:path` with no slash before the colon (else it is a local path).
        let (before, path) = url.split_once(':')?;
        if before.contains('/') || before.contains('\\') || path.starts_with("//") {
            return None;
        }
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        // `C:\repo` on Windows is a drive, not a host.
        if host.len() <= 1 {
            return None;
        }
        ("https", host.to_string(), path)
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(Remote {
        scheme,
        host,
        path: path.to_string(),
    })
}

/// `host` without `:port` (IPv6 literals in brackets kept whole).
fn strip_port(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end]);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

/// A URL fit to print: no `user:password@` (a remote URL may carry a token).
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: ForgeKind) -> ForgeConfig {
        ForgeConfig {
            kind,
            ..ForgeConfig::default()
        }
    }

    fn found(kind: ForgeKind, url: &str) -> (String, String) {
        let located = locate(&config(kind), url).expect(url);
        (located.repository, located.api_url)
    }

    #[test]
    fn github_remotes_of_every_shape() {
        let want = (
            "acme/widgets".to_string(),
            "https://api.github.com".to_string(),
        );
        for url in [
            "https://github.com/acme/widgets.git",
            "https://github.com/acme/widgets",
            "https://x-access-token:ghs_abc@github.com/acme/widgets.git/",
            "git@github.com:acme/widgets.git",
            "ssh://git@github.com/acme/widgets.git",
            "ssh://git@ssh.github.com:443/acme/widgets.git",
        ] {
            assert_eq!(found(ForgeKind::Github, url), want, "{url}");
        }
        assert_eq!(
            found(ForgeKind::Github, "git@ghe.corp.example:acme/widgets.git"),
            (
                "acme/widgets".to_string(),
                "https://ghe.corp.example/api/v3".to_string()
            )
        );
    }

    #[test]
    fn gitlab_remotes_keep_their_subgroups() {
        assert_eq!(
            found(ForgeKind::Gitlab, "git@gitlab.com:group/sub/name.git"),
            (
                "group/sub/name".to_string(),
                "https://gitlab.com/api/v4".to_string()
            )
        );
        assert_eq!(
            found(
                ForgeKind::Gitlab,
                "ssh://git@gitlab.example.com:2222/group/sub/name.git"
            ),
            (
                "group/sub/name".to_string(),
                "https://gitlab.example.com/api/v4".to_string()
            )
        );
        assert_eq!(
            found(ForgeKind::Gitlab, "http://gitlab.local:8080/g/n"),
            (
                "g/n".to_string(),
                "http://gitlab.local:8080/api/v4".to_string()
            )
        );
    }

    #[test]
    fn gitea_under_a_sub_path() {
        assert_eq!(
            found(
                ForgeKind::Gitea,
                "https://example.com/gitea/acme/widgets.git"
            ),
            (
                "acme/widgets".to_string(),
                "https://example.com/gitea/api/v1".to_string()
            )
        );
        assert_eq!(
            found(ForgeKind::Gitea, "git@gitea.example.com:acme/widgets.git"),
            (
                "acme/widgets".to_string(),
                "https://gitea.example.com/api/v1".to_string()
            )
        );
    }

    #[test]
    fn settings_win_over_the_remote() {
        let config = ForgeConfig {
            kind: ForgeKind::Gitea,
            repository: "other/repo".into(),
            api_url: "http://127.0.0.1:3000/api/v1/".into(),
            ..ForgeConfig::default()
        };
        let located = locate(&config, "/srv/git/repo.git").expect("configured");
        assert_eq!(located.repository, "other/repo");
        assert_eq!(located.api_url, "http://127.0.0.1:3000/api/v1");
    }

    #[test]
    fn a_local_remote_needs_the_repository_set() {
        for url in [
            "/srv/git/repo.git",
            "../repo",
            "file:///srv/repo.git",
            "C:\\repo",
        ] {
            let e = locate(&config(ForgeKind::Github), url).expect_err(url);
            assert!(e.to_string().contains("set [forge] repository"), "{e}");
        }
    }

    #[test]
    fn errors_never_print_credentials_of_a_remote() {
        let e = locate(
            &config(ForgeKind::Github),
            "https://user:s3cret@github.com/",
        )
        .expect_err("no path");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn bad_repositories_are_refused_with_their_shape() {
        let config = ForgeConfig {
            repository: "just-a-name".into(),
            ..ForgeConfig::default()
        };
        let e = locate(&config, "git@github.com:a/b.git").expect_err("one segment");
        assert_eq!(
            e.to_string(),
            "the forge repository `just-a-name` is not \"owner/name\": set [forge] repository to it"
        );
        let config = ForgeConfig {
            kind: ForgeKind::Github,
            repository: "a/b c".into(),
            ..ForgeConfig::default()
        };
        assert!(locate(&config, "").is_err());
        let config = ForgeConfig {
            kind: ForgeKind::Gitea,
            api_url: "gitea.example.com".into(),
            ..ForgeConfig::default()
        };
        let e = locate(&config, "git@gitea.example.com:a/b.git").expect_err("no scheme");
        assert!(e.to_string().contains("not an http(s) URL"), "{e}");
    }
}
