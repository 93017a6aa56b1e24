//! GitHub's REST API (v3, `X-GitHub-Api-Version: 2022-11-28`), github.com or Enterprise:
//! pulls, issue labels and comments, commit statuses, reviews.

use serde::Deserialize;
use serde_json::json;

use super::http::{Api, encode};
use super::{
    CheckStatus, Comment, Dialect, ForgeError, Identity, Looked, NewPr, PrRef, PrState,
    ReviewVerdict, StatusState, changes_requested,
};

/// GitHub's answer when a repository cannot have draft pull requests (private repositories
/// on some plans).
const NO_DRAFTS: &str = "draft pull requests are not supported";

/// GitHub.
pub(crate) struct Github;

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
struct Pull {
    state: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merged_by: Option<User>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    #[serde(default)]
    closed_by: Option<User>,
}

#[derive(Deserialize)]
struct Review {
    #[serde(default)]
    user: Option<User>,
    state: String,
    #[serde(default)]
    body: Option<String>,
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

    /// Its verdict; `None` for a review still pending or since dismissed.
    fn verdict(&self) -> Option<ReviewVerdict> {
        match self.state.as_str() {
            "APPROVED" => Some(ReviewVerdict::Approved),
            "CHANGES_REQUESTED" => Some(ReviewVerdict::ChangesRequested),
            "COMMENTED" => Some(ReviewVerdict::Commented),
            _ => None,
        }
    }

    /// What it does to the reviewer's standing verdict: a comment changes nothing, a
    /// dismissal clears it.
    fn effect(&self) -> Option<bool> {
        match self.state.as_str() {
            "CHANGES_REQUESTED" => Some(true),
            "APPROVED" | "DISMISSED" => Some(false),
            _ => None,
        }
    }
}

impl Dialect for Github {
    async fn open_pr(&self, api: &Api, pr: &NewPr) -> Result<PrRef, ForgeError> {
        let repo = api.repo_path();
        let path = format!("/repos/{repo}/pulls");
        let body = |draft: bool| {
            json!({
                "title": pr.title,
                "head": pr.head,
                "base": pr.base,
                "body": pr.body,
                "draft": draft,
            })
        };
        let answer = match api.post(&path, &body(pr.draft)).await {
            Err(ForgeError::Rejected { message, .. })
                if pr.draft && message.to_ascii_lowercase().contains(NO_DRAFTS) =>
            {
                tracing::warn!(
                    repository = api.repository(),
                    "the repository cannot have draft pull requests: opening a ready one"
                );
                api.post(&path, &body(false)).await?
            }
            other => other?,
        };
        let created: Created = answer.json()?;
        if !pr.labels.is_empty() {
            let labels = format!("/repos/{repo}/issues/{}/labels", created.number);
            if let Err(e) = api.post(&labels, &json!({ "labels": pr.labels })).await {
                let error = api.describe(e);
                tracing::warn!(pr = created.number, %error, "cannot label the pull request");
            }
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
        let state = match status.state {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        };
        let mut body = json!({
            "state": state,
            "context": status.context,
            "description": status.description,
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        let path = format!("/repos/{}/statuses/{}", api.repo_path(), encode(sha));
        api.post(&path, &body).await.map(drop)
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
        let state = if pull.merged == Some(true) || pull.merged_at.is_some() {
            PrState::Merged {
                by: pull.merged_by.map(|u| u.login),
                commit: pull.merge_commit_sha,
            }
        } else if pull.state == "closed" {
            // Only the issue side of a pull request says who closed it.
            let issue = api
                .get_json::<Issue>(&format!("/repos/{repo}/issues/{}", pr.number))
                .await;
            let by = match issue {
                Ok(issue) => issue.closed_by.map(|u| u.login),
                Err(e) => {
                    let error = api.describe(e);
                    tracing::debug!(pr = pr.number, %error, "cannot tell who closed the pull request");
                    None
                }
            };
            PrState::Closed { by }
        } else {
            let reviews: Vec<Review> = api
                .get_all(&format!(
                    "/repos/{repo}/pulls/{}/reviews?per_page=100",
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
                "/repos/{repo}/pulls/{}/reviews?per_page=100",
                pr.number
            ))
            .await?;
        let comments: Vec<IssueComment> = api
            .get_all(&format!(
                "/repos/{repo}/issues/{}/comments?per_page=100",
                pr.number
            ))
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
        let answer = api.get("/user", None).await?;
        let user: User = answer.json()?;
        // Classic tokens list their scopes; fine-grained tokens and apps send no header.
        let scopes = answer.header("x-oauth-scopes").map(|scopes| {
            scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        });
        Ok(Identity {
            login: user.login,
            scopes,
        })
    }

    async fn find_open(&self, api: &Api, head: &str) -> Result<Option<PrRef>, ForgeError> {
        // Gitea lists pull requests the same way (GitHub's `head=owner:branch` filter is not
        // portable, so the open ones are read and matched here).
        let open: Vec<Listed> = api
            .get_all(&format!(
                "/repos/{}/pulls?state=open&per_page=100",
                api.repo_path()
            ))
            .await?;
        Ok(open
            .into_iter()
            .find(|pr| pr.state == "open" && pr.head.name == head)
            .map(|pr| PrRef {
                number: pr.number,
                url: pr.html_url,
            }))
    }
}

/// A pull request as GitHub's (and Gitea's) lists give it.
#[derive(Deserialize)]
struct Listed {
    number: u64,
    html_url: String,
    state: String,
    head: Head,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ref")]
    name: String,
}
