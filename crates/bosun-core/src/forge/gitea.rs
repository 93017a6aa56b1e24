//! Gitea's (and Forgejo's) REST API (v1): pulls, labels by id, commit statuses, reviews and
//! issue comments.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::http::Api;
use super::{
    CheckStatus, Comment, Dialect, ForgeError, Identity, Looked, NewPr, PrRef, PrState,
    ReviewVerdict, changes_requested, draft_title,
};

/// Gitea.
pub(crate) struct Gitea;

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Created {
    number: u64,
    html_url: String,
}

#[derive(Deserialize)]
struct Label {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct Pull {
    state: String,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    merged_by: Option<User>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct Review {
    #[serde(default)]
    user: Option<User>,
    state: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    dismissed: bool,
    #[serde(default)]
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct IssueComment {
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

impl Review {
    fn reviewer(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.login.as_str())
    }

    /// Its verdict; `None` for a pending review, a review request or a dismissed review.
    fn verdict(&self) -> Option<ReviewVerdict> {
        if self.dismissed {
            return None;
        }
        match self.state.as_str() {
            "APPROVED" => Some(ReviewVerdict::Approved),
            "REQUEST_CHANGES" => Some(ReviewVerdict::ChangesRequested),
            "COMMENT" => Some(ReviewVerdict::Commented),
            _ => None,
        }
    }

    /// What it does to the reviewer's standing verdict (see [`changes_requested`]).
    fn effect(&self) -> Option<bool> {
        if self.dismissed {
            return Some(false);
        }
        match self.state.as_str() {
            "REQUEST_CHANGES" => Some(true),
            "APPROVED" => Some(false),
            _ => None,
        }
    }
}

/// Puts the labels called `names` on issue (pull) `number`: Gitea takes label ids, so the
/// repository's labels are read first; names it does not have are skipped.
async fn label(api: &Api, number: u64, names: &[String]) -> Result<(), ForgeError> {
    let repo = api.repo_path();
    let known: Vec<Label> = api
        .get_all(&format!("/repos/{repo}/labels?limit=50"))
        .await?;
    let ids: HashMap<&str, u64> = known.iter().map(|l| (l.name.as_str(), l.id)).collect();
    let mut wanted = Vec::new();
    for name in names {
        match ids.get(name.as_str()) {
            Some(id) => wanted.push(*id),
            None => tracing::debug!(label = %name, "the repository has no such label: skipped"),
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    api.post(
        &format!("/repos/{repo}/issues/{number}/labels"),
        &json!({ "labels": wanted }),
    )
    .await
    .map(drop)
}

impl Dialect for Gitea {
    async fn open_pr(&self, api: &Api, pr: &NewPr) -> Result<PrRef, ForgeError> {
        let title = if pr.draft {
            draft_title(&pr.title, "WIP: ")
        } else {
            pr.title.clone()
        };
        let body = json!({
            "title": title,
            "head": pr.head,
            "base": pr.base,
            "body": pr.body,
        });
        let answer = api
            .post(&format!("/repos/{}/pulls", api.repo_path()), &body)
            .await?;
        let created: Created = answer.json()?;
        if !pr.labels.is_empty()
            && let Err(e) = label(api, created.number, &pr.labels).await
        {
            let error = api.describe(e);
            tracing::warn!(pr = created.number, %error, "cannot label the pull request");
        }
        Ok(PrRef {
            number: created.number,
            url: created.html_url,
        })
    }

    async fn post_status(
        &self,
        api: &Api,
        sha: &str,
        status: &CheckStatus,
    ) -> Result<(), ForgeError> {
        // Gitea's commit statuses are GitHub's: the same endpoint, fields and state words.
        super::github::Github.post_status(api, sha, status).await
    }

    async fn look(&self, api: &Api, pr: &PrRef, etag: Option<&str>) -> Result<Looked, ForgeError> {
        let repo = api.repo_path();
        let answer = api
            .get(&format!("/repos/{repo}/pulls/{}", pr.number), etag)
            .await?;
        if answer.not_modified() {
            return Ok(Looked::Unchanged);
        }
        let pull: Pull = answer.json()?;
        let state = if pull.merged {
            PrState::Merged {
                by: pull.merged_by.map(|u| u.login),
                commit: pull.merge_commit_sha,
            }
        } else if pull.state == "closed" {
            // Gitea does not say who closed a pull request.
            PrState::Closed { by: None }
        } else {
            let reviews: Vec<Review> = api
                .get_all(&format!(
                    "/repos/{repo}/pulls/{}/reviews?limit=50",
                    pr.number
                ))
                .await?;
            PrState::Open {
                changes_requested: changes_requested(
                    reviews.iter().map(|r| (r.reviewer(), r.effect())),
                ),
            }
        };
        Ok(Looked::Changed {
            state,
            etag: answer.etag(),
        })
    }

    async fn feedback(&self, api: &Api, pr: &PrRef) -> Result<Vec<Comment>, ForgeError> {
        let repo = api.repo_path();
        let reviews: Vec<Review> = api
            .get_all(&format!(
                "/repos/{repo}/pulls/{}/reviews?limit=50",
                pr.number
            ))
            .await?;
        let comments: Vec<IssueComment> = api
            .get_all(&format!("/repos/{repo}/issues/{}/comments", pr.number))
            .await?;
        let login =
            |user: &Option<User>| user.as_ref().map(|u| u.login.clone()).unwrap_or_default();
        Ok(super::thread(
            reviews.iter().filter_map(|r| {
                let body = r.body.clone().unwrap_or_default();
                Some((
                    r.submitted_at.as_deref(),
                    r.reviewer().to_string(),
                    r.verdict()?,
                    body,
                ))
            }),
            comments.iter().map(|c| {
                let body = c.body.clone().unwrap_or_default();
                (c.created_at.as_deref(), login(&c.user), body)
            }),
        ))
    }

    async fn whoami(&self, api: &Api) -> Result<Identity, ForgeError> {
        let user: User = api.get_json("/user").await?;
        Ok(Identity {
            login: user.login,
            scopes: None,
        })
    }

    async fn find_open(&self, api: &Api, head: &str) -> Result<Option<PrRef>, ForgeError> {
        super::github::Github.find_open(api, head).await
    }
}
