//! The forge client against a fake GitHub, GitLab and Gitea (`common::forge_server`): pull
//! requests arrive as each forge documents them, statuses, conditional looks, merges,
//! closes and change requests, feedback in order over several pages, and every failure a
//! forge can put up — wrong token, rate limits, server errors, no server — without the token
//! ever showing in an error.

use std::time::{Duration, Instant};

use bosun::config::{ForgeConfig, ForgeKind};
use bosun::forge::{
    CheckStatus, Comment, Forge, ForgeError, Looked, NewPr, PrRef, PrState, ReviewVerdict,
    StatusState, Token,
};
use bosun::llm::client::http_client;
use serde_json::json;

mod common;
use common::forge_server::{ForgeServer, TOKEN};

const KINDS: [ForgeKind; 3] = [ForgeKind::Github, ForgeKind::Gitlab, ForgeKind::Gitea];

/// The client for `server`, quick to give up (waits of at most 2 s, 3 tries).
fn forge_with(server: &ForgeServer, token: &str) -> Forge {
    Forge::new(
        server.kind(),
        &server.url(),
        &server.repository(),
        Some(Token::new(token.to_string())),
        http_client().expect("HTTP client"),
    )
    .with_limits(Duration::from_secs(2), 3)
}

fn forge(server: &ForgeServer) -> Forge {
    forge_with(server, TOKEN)
}

fn new_pr(head: &str) -> NewPr {
    NewPr {
        head: head.to_string(),
        base: "main".to_string(),
        title: "Add the widget".to_string(),
        body: "Adds the widget.\n\n- [x] task 3".to_string(),
        draft: false,
        labels: Vec::new(),
    }
}

/// The token in neither the message nor the debug form of `error`.
fn assert_no_token(error: &ForgeError) {
    let shown = format!("{error} | {error:?}");
    assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
}

fn state(looked: Looked) -> PrState {
    match looked {
        Looked::Changed { state, .. } => state,
        Looked::Unchanged => panic!("expected a changed pull request"),
    }
}

// ---- opening --------------------------------------------------------------------------

#[tokio::test]
async fn github_pull_requests_arrive_as_documented() {
    let server = ForgeServer::start(ForgeKind::Github);
    let pr = NewPr {
        draft: true,
        labels: vec!["bosun".into(), "priority: high".into()],
        ..new_pr("bosun/run-1")
    };
    let opened = forge(&server).open_pr(&pr).await.expect("opened");
    assert_eq!(opened.number, 1);
    assert_eq!(opened.url, "https://forge.example/acme/widgets/pull/1");

    let requests = server.requests();
    let create = &requests[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/repos/acme/widgets/pulls");
    assert_eq!(
        create.body,
        json!({
            "title": "Add the widget",
            "head": "bosun/run-1",
            "base": "main",
            "body": "Adds the widget.\n\n- [x] task 3",
            "draft": true,
        })
    );
    assert_eq!(
        create.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(create.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(create.header("x-github-api-version"), Some("2022-11-28"));
    assert!(
        create
            .header("user-agent")
            .is_some_and(|a| a.starts_with("bosun/"))
    );
    let label = &requests[1];
    assert_eq!(label.path, "/repos/acme/widgets/issues/1/labels");
    assert_eq!(label.body, json!({ "labels": ["bosun", "priority: high"] }));

    let fake = &server.prs()[0];
    assert_eq!(fake["draft"], true);
    assert_eq!(fake["labels"], json!(["bosun", "priority: high"]));
}

#[tokio::test]
async fn gitlab_merge_requests_arrive_as_documented() {
    let server = ForgeServer::start(ForgeKind::Gitlab);
    let pr = NewPr {
        draft: true,
        labels: vec!["bosun".into(), "feature".into()],
        ..new_pr("bosun/run-1")
    };
    let opened = forge(&server).open_pr(&pr).await.expect("opened");
    assert_eq!(
        opened,
        PrRef {
            number: 1,
            url: "https://forge.example/acme/tools/widgets/-/merge_requests/1".into(),
        }
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "labels go with the merge request");
    let create = &requests[0];
    assert_eq!(
        create.path,
        "/api/v4/projects/acme%2Ftools%2Fwidgets/merge_requests"
    );
    assert_eq!(
        create.body,
        json!({
            "source_branch": "bosun/run-1",
            "target_branch": "main",
            "title": "Draft: Add the widget",
            "description": "Adds the widget.\n\n- [x] task 3",
            "labels": "bosun,feature",
        })
    );
    assert_eq!(create.header("private-token"), Some(TOKEN));
    assert_eq!(create.header("authorization"), None);
    let fake = &server.prs()[0];
    assert_eq!(fake["draft"], true);
    assert_eq!(fake["labels"], json!(["bosun", "feature"]));
}

#[tokio::test]
async fn gitea_pull_requests_arrive_as_documented() {
    let server = ForgeServer::start(ForgeKind::Gitea);
    let pr = NewPr {
        draft: true,
        labels: vec![
            "bosun".into(),
            "no-such-label".into(),
            "priority: low".into(),
        ],
        ..new_pr("bosun/run-1")
    };
    let opened = forge(&server).open_pr(&pr).await.expect("opened");
    assert_eq!(opened.number, 1);
    assert_eq!(opened.url, "https://forge.example/acme/widgets/pulls/1");

    let requests = server.requests();
    let routes: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.route()))
        .collect();
    assert_eq!(
        routes,
        [
            ("POST", "/api/v1/repos/acme/widgets/pulls"),
            ("GET", "/api/v1/repos/acme/widgets/labels"),
            ("POST", "/api/v1/repos/acme/widgets/issues/1/labels"),
        ]
    );
    assert_eq!(
        requests[0].body,
        json!({
            "title": "WIP: Add the widget",
            "head": "bosun/run-1",
            "base": "main",
            "body": "Adds the widget.\n\n- [x] task 3",
        })
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some(&*format!("token {TOKEN}"))
    );
    // Label ids, the unknown name skipped.
    assert_eq!(requests[2].body, json!({ "labels": [1, 5] }));
    let fake = &server.prs()[0];
    assert_eq!(fake["draft"], true);
    assert_eq!(fake["labels"], json!(["bosun", "priority: low"]));
}

#[tokio::test]
async fn a_second_pull_request_for_the_same_branch_is_rejected_with_the_forges_words() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let forge = forge(&server);
        forge.open_pr(&new_pr("bosun/run-1")).await.expect("first");
        let e = forge
            .open_pr(&new_pr("bosun/run-1"))
            .await
            .expect_err("same head");
        let ForgeError::Rejected {
            status,
            message,
            url,
        } = &e
        else {
            panic!("{kind:?}: {e:?}");
        };
        assert!(
            message.to_lowercase().contains("already exists"),
            "{kind:?}: {message}"
        );
        assert_eq!(*status, if kind == ForgeKind::Github { 422 } else { 409 });
        assert!(url.starts_with(&server.url()), "{url}");
        assert_eq!(server.prs().len(), 1);
    }
    let server = ForgeServer::start(ForgeKind::Github);
    let e = forge(&server)
        .open_pr(&new_pr("x"))
        .await
        .and(forge(&server).open_pr(&new_pr("x")).await)
        .expect_err("duplicate");
    assert!(
        e.to_string()
            .contains("A pull request already exists for acme:x."),
        "{e}"
    );
}

#[tokio::test]
async fn a_repository_without_drafts_gets_a_ready_pull_request() {
    let server = ForgeServer::start(ForgeKind::Github);
    server.fail_next(
        1,
        422,
        &[],
        r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"Draft pull requests are not supported in this repository."}]}"#,
    );
    let pr = NewPr {
        draft: true,
        ..new_pr("bosun/run-1")
    };
    let opened = forge(&server).open_pr(&pr).await.expect("opened ready");
    assert_eq!(opened.number, 1);
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.body["draft"].clone())
        .collect();
    assert_eq!(posts, [json!(true), json!(false)]);
    assert_eq!(server.prs()[0]["draft"], false);
}

#[tokio::test]
async fn labels_that_fail_leave_the_pull_request_open() {
    let server = ForgeServer::start(ForgeKind::Github);
    server.fail_next_on(
        "/labels",
        1,
        403,
        &[],
        r#"{"message":"Resource not accessible by integration"}"#,
    );
    let pr = NewPr {
        labels: vec!["bosun".into()],
        ..new_pr("bosun/run-1")
    };
    let opened = forge(&server).open_pr(&pr).await.expect("opened anyway");
    assert_eq!(opened.number, 1);
    assert_eq!(server.prs()[0]["labels"], json!([]));
}

// ---- statuses -------------------------------------------------------------------------

#[tokio::test]
async fn statuses_arrive_in_each_forges_words() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let forge = forge(&server);
        let status = |state, description: &str| CheckStatus {
            context: "bosun/tests".into(),
            state,
            description: description.into(),
            target_url: Some("https://ci.example/run/1".into()),
        };
        forge
            .post_status(sha, &status(StatusState::Pending, "running"))
            .await
            .expect("pending");
        // GitLab refuses a status in the state it has; that is no error for bosun.
        forge
            .post_status(sha, &status(StatusState::Pending, "still running"))
            .await
            .expect("pending again");
        forge
            .post_status(sha, &status(StatusState::Success, "12 passed"))
            .await
            .expect("success");
        let long = "é".repeat(200);
        forge
            .post_status(sha, &status(StatusState::Failure, &long))
            .await
            .expect("failure");
        forge
            .post_status(sha, &status(StatusState::Error, "could not run"))
            .await
            .expect("error");

        let posted = server.statuses(sha);
        let field = |key: &str| -> Vec<&str> {
            posted
                .iter()
                .map(|s| s[key].as_str().unwrap_or(""))
                .collect()
        };
        let want: &[&str] = match kind {
            ForgeKind::Gitlab => &["pending", "success", "failed"],
            ForgeKind::Github | ForgeKind::Gitea => {
                &["pending", "pending", "success", "failure", "error"]
            }
        };
        assert_eq!(field("state"), want, "{kind:?}");
        assert!(field("context").iter().all(|c| *c == "bosun/tests"));
        assert!(
            field("target_url")
                .iter()
                .all(|u| *u == "https://ci.example/run/1")
        );
        let long_one = field("description")
            .into_iter()
            .find(|d| d.starts_with('é'))
            .expect("the long description");
        assert_eq!(long_one.chars().count(), 140, "{kind:?}");
        let path = &server.requests()[0].path;
        assert!(path.ends_with(&format!("/statuses/{sha}")), "{path}");
    }
}

// ---- looking --------------------------------------------------------------------------

/// Open → unchanged → changes requested → approved → merged, and a second one closed.
async fn life_of_a_pull_request(kind: ForgeKind) {
    let server = ForgeServer::start(kind);
    let forge = forge(&server);
    let pr = forge.open_pr(&new_pr("bosun/run-1")).await.expect("opened");

    let Looked::Changed { state, etag } = forge.look(&pr, None).await.expect("look") else {
        panic!("the first look finds the pull request");
    };
    assert_eq!(
        state,
        PrState::Open {
            changes_requested: false
        },
        "{kind:?}"
    );
    let etag = etag.expect("the fake forge sends ETags");
    assert_eq!(
        forge.look(&pr, Some(&etag)).await.expect("look again"),
        Looked::Unchanged,
        "{kind:?}"
    );
    let conditional = server.requests().last().cloned().expect("a request");
    assert_eq!(conditional.header("if-none-match"), Some(etag.as_str()));

    server.request_changes(
        pr.number,
        "alice",
        "Please add a test for the empty widget.",
    );
    let Looked::Changed { state, etag } = forge.look(&pr, Some(&etag)).await.expect("look") else {
        panic!("{kind:?}: a change request changes the pull request");
    };
    assert_eq!(
        state,
        PrState::Open {
            changes_requested: true
        },
        "{kind:?}"
    );

    let feedback = forge.feedback(&pr).await.expect("feedback");
    let alice: Vec<&Comment> = feedback.iter().filter(|c| c.author == "alice").collect();
    assert_eq!(alice.len(), 1, "{kind:?}: {feedback:?}");
    assert_eq!(alice[0].body, "Please add a test for the empty widget.");
    let verdict = match kind {
        ForgeKind::Gitlab => None,
        ForgeKind::Github | ForgeKind::Gitea => Some(ReviewVerdict::ChangesRequested),
    };
    assert_eq!(alice[0].review, verdict, "{kind:?}");

    server.approve(pr.number, "alice", "Thanks!");
    assert_eq!(
        state_of(forge.look(&pr, etag.as_deref()).await),
        PrState::Open {
            changes_requested: false
        },
        "{kind:?}: the reviewer's latest verdict counts"
    );

    server.merge(pr.number, "carol");
    let merged = state_of(forge.look(&pr, None).await);
    let commit = server.prs()[0]["merge_commit_sha"]
        .as_str()
        .map(str::to_string);
    assert!(commit.is_some());
    assert_eq!(
        merged,
        PrState::Merged {
            by: Some("carol".into()),
            commit,
        },
        "{kind:?}"
    );

    let second = forge.open_pr(&new_pr("bosun/run-2")).await.expect("second");
    assert_eq!(second.number, 2);
    server.close(second.number, "dave", "Not needed: #1 did it.");
    let closer = match kind {
        // Gitea does not say who closed a pull request.
        ForgeKind::Gitea => None,
        ForgeKind::Github | ForgeKind::Gitlab => Some("dave".to_string()),
    };
    assert_eq!(
        state_of(forge.look(&second, None).await),
        PrState::Closed { by: closer },
        "{kind:?}"
    );
    let feedback = forge.feedback(&second).await.expect("feedback");
    assert_eq!(
        feedback,
        [Comment {
            author: "dave".into(),
            body: "Not needed: #1 did it.".into(),
            review: None,
        }],
        "{kind:?}: the closing comment, no system notes"
    );
}

fn state_of(looked: Result<Looked, ForgeError>) -> PrState {
    state(looked.expect("look"))
}

#[tokio::test]
async fn github_pull_requests_are_followed_to_their_end() {
    life_of_a_pull_request(ForgeKind::Github).await;
}

#[tokio::test]
async fn gitlab_merge_requests_are_followed_to_their_end() {
    life_of_a_pull_request(ForgeKind::Gitlab).await;
}

#[tokio::test]
async fn gitea_pull_requests_are_followed_to_their_end() {
    life_of_a_pull_request(ForgeKind::Gitea).await;
}

#[tokio::test]
async fn feedback_comes_oldest_first_from_every_page() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let forge = forge(&server);
        let pr = forge.open_pr(&new_pr("bosun/run-1")).await.expect("opened");
        server.comment(pr.number, "bob", "Why a new widget?");
        server.request_changes(pr.number, "alice", "Rename it.");
        server.comment(pr.number, "carol", "Agree with alice.");
        server.comment(pr.number, "bob", "OK then.");
        server.set_page_size(1);
        let feedback = forge.feedback(&pr).await.expect("feedback");
        let said: Vec<(&str, &str)> = feedback
            .iter()
            .map(|c| (c.author.as_str(), c.body.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                ("bob", "Why a new widget?"),
                ("alice", "Rename it."),
                ("carol", "Agree with alice."),
                ("bob", "OK then."),
            ],
            "{kind:?}"
        );
        let pages = server
            .requests()
            .iter()
            .filter(|r| r.path.contains("comments") || r.path.contains("notes"))
            .count();
        assert!(pages >= 3, "{kind:?}: {pages} pages of comments read");
        // A list spread over pages still decides whether changes are requested.
        assert_eq!(
            state_of(forge.look(&pr, None).await),
            PrState::Open {
                changes_requested: true
            },
            "{kind:?}"
        );
    }
}

// ---- identity and configuration -------------------------------------------------------

#[tokio::test]
async fn whoami_names_the_tokens_owner() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let me = forge(&server).whoami().await.expect("whoami");
        assert_eq!(me.login, server.login(), "{kind:?}");
        let scopes = match kind {
            ForgeKind::Github => Some(vec!["repo".to_string(), "workflow".to_string()]),
            ForgeKind::Gitlab | ForgeKind::Gitea => None,
        };
        assert_eq!(me.scopes, scopes, "{kind:?}");
    }
}

#[tokio::test]
async fn the_repository_is_read_from_the_remote() {
    let server = ForgeServer::start(ForgeKind::Gitlab);
    let config = ForgeConfig {
        kind: ForgeKind::Gitlab,
        api_url: server.url(),
        ..ForgeConfig::default()
    };
    let forge = Forge::from_config(
        &config,
        "git@gitlab.example.com:acme/tools/widgets.git",
        Some(Token::new(TOKEN.into())),
        http_client().expect("client"),
    )
    .expect("configured");
    assert_eq!(forge.repository(), "acme/tools/widgets");
    assert_eq!(forge.api_url(), server.url());
    assert_eq!(forge.kind(), ForgeKind::Gitlab);
    forge
        .open_pr(&new_pr("b"))
        .await
        .expect("the project is found");

    let e = Forge::from_config(
        &ForgeConfig::default(),
        "/srv/git/widgets.git",
        None,
        http_client().expect("client"),
    )
    .expect_err("a local remote");
    assert!(matches!(e, ForgeError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("[forge] repository"), "{e}");
}

// ---- failures -------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_names_the_url() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let e = forge_with(&server, "wrong-token-0000")
            .whoami()
            .await
            .expect_err("refused");
        let ForgeError::Unauthorized { url } = &e else {
            panic!("{kind:?}: {e:?}");
        };
        assert_eq!(*url, format!("{}/user", server.url()));
        assert!(e.to_string().contains(&format!("{}/user", server.url())));
        assert!(!format!("{e} {e:?}").contains("wrong-token-0000"));
        assert_eq!(server.requests().len(), 1, "no retry of a refused token");
    }
}

#[tokio::test]
async fn a_429_is_waited_out() {
    let server = ForgeServer::start(ForgeKind::Github);
    server.fail_next(
        1,
        429,
        &[("retry-after", "1")],
        r#"{"message":"You have exceeded a secondary rate limit."}"#,
    );
    let started = Instant::now();
    let me = forge(&server).whoami().await.expect("after the wait");
    assert_eq!(me.login, server.login());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_gitlab_429_is_waited_out_until_the_reset() {
    let server = ForgeServer::start(ForgeKind::Gitlab);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let reset = now.to_string();
    server.fail_next(
        1,
        429,
        &[("ratelimit-remaining", "0"), ("ratelimit-reset", &reset)],
        r#"{"message":"Retry later"}"#,
    );
    forge(&server).whoami().await.expect("after the reset");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_rate_limit_longer_than_bosun_waits_is_reported() {
    let server = ForgeServer::start(ForgeKind::Github);
    let reset = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600)
        .to_string();
    server.fail_next(
        1,
        403,
        &[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        r#"{"message":"API rate limit exceeded for user ID 7.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#,
    );
    let started = Instant::now();
    let e = forge(&server)
        .look(
            &PrRef {
                number: 1,
                url: String::new(),
            },
            None,
        )
        .await
        .expect_err("rate-limited");
    let ForgeError::RateLimited { url, wait_secs } = &e else {
        panic!("{e:?}");
    };
    assert!((3000..=3700).contains(wait_secs), "{wait_secs}");
    assert_eq!(*url, format!("{}/repos/acme/widgets/pulls/1", server.url()));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "it did not wait"
    );
    assert_eq!(server.requests().len(), 1);
    assert_no_token(&e);
}

#[tokio::test]
async fn server_errors_are_retried() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        server.fail_next(2, 500, &[], r#"{"message":"internal error"}"#);
        forge(&server).whoami().await.expect("third time");
        assert_eq!(server.requests().len(), 3, "{kind:?}");
    }
    let server = ForgeServer::start(ForgeKind::Gitea);
    server.fail_next(3, 502, &[], "<html>Bad Gateway</html>");
    let e = forge(&server).whoami().await.expect_err("three 502s");
    let ForgeError::Unreachable { url, why } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*url, format!("{}/user", server.url()));
    assert!(why.contains("HTTP 502"), "{why}");
}

#[tokio::test]
async fn a_forge_that_is_not_there_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("http://127.0.0.1:{port}/api/v1");
    let forge = Forge::new(
        ForgeKind::Gitea,
        &url,
        "acme/widgets",
        Some(Token::new(TOKEN.into())),
        http_client().expect("client"),
    )
    .with_limits(Duration::from_secs(2), 2);
    let e = forge
        .post_status(
            "abc",
            &CheckStatus {
                context: "bosun/tests".into(),
                state: StatusState::Pending,
                description: String::new(),
                target_url: None,
            },
        )
        .await
        .expect_err("nobody listens");
    let ForgeError::Unreachable { url: at, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*at, format!("{url}/repos/acme/widgets/statuses/abc"));
    assert!(e.to_string().contains(&url));
    assert_no_token(&e);
}

#[tokio::test]
async fn a_forge_echoing_the_token_has_it_cut_out() {
    for (status, kind) in [
        (403, ForgeKind::Github),
        (422, ForgeKind::Gitlab),
        (500, ForgeKind::Gitea),
    ] {
        let server = ForgeServer::start(kind);
        let body = json!({ "message": format!("token {TOKEN} lacks the repo scope") }).to_string();
        server.fail_next(3, status, &[], &body);
        let e = forge(&server)
            .open_pr(&new_pr("bosun/run-1"))
            .await
            .expect_err("refused");
        assert_no_token(&e);
        assert!(
            e.to_string().contains("token <token> lacks the repo scope"),
            "{e}"
        );
        match (status, &e) {
            (403, ForgeError::Forbidden { .. })
            | (422, ForgeError::Rejected { status: 422, .. })
            | (500, ForgeError::Unreachable { .. }) => {}
            _ => panic!("{status}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn missing_things_are_not_found() {
    for kind in KINDS {
        let server = ForgeServer::start(kind);
        let e = forge(&server)
            .look(
                &PrRef {
                    number: 9,
                    url: String::new(),
                },
                None,
            )
            .await
            .expect_err("no pull request 9");
        assert!(matches!(e, ForgeError::NotFound { .. }), "{kind:?}: {e:?}");
        let wrong = Forge::new(
            kind,
            &server.url(),
            "acme/gadgets",
            Some(Token::new(TOKEN.into())),
            http_client().expect("client"),
        );
        let e = wrong
            .open_pr(&new_pr("b"))
            .await
            .expect_err("no such repository");
        assert!(matches!(e, ForgeError::NotFound { .. }), "{kind:?}: {e:?}");
        assert!(e.to_string().contains("gadgets"), "{e}");
    }
}

#[test]
fn the_forges_futures_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let forge = Forge::new(
        ForgeKind::Github,
        "http://127.0.0.1:9",
        "a/b",
        None,
        http_client().expect("client"),
    );
    let pr = PrRef {
        number: 1,
        url: String::new(),
    };
    let new = new_pr("b");
    let status = CheckStatus {
        context: "c".into(),
        state: StatusState::Success,
        description: String::new(),
        target_url: None,
    };
    send(&forge.open_pr(&new));
    send(&forge.post_status("abc", &status));
    send(&forge.look(&pr, None));
    send(&forge.feedback(&pr));
    send(&forge.whoami());
}
