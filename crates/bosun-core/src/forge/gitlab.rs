//! GitLab's REST API (v4), gitlab.com or self-hosted: merge requests (numbered by `iid`),
//! commit statuses, notes. A project is named by its URL-encoded path (`group%2Fsub%2Fname`).

use serde::Deserialize;
use serde_json::json;

use super::http::{Api, encode};
use super::{
    CheckStatus, Comment, Dialect, ForgeError, Identity, Looked, NewPr, PrRef, PrState,
    StatusState, draft_title,
};

/// GitLab refuses to post a status in the state it already has ("Cannot transition status
/// via :run from :running"): the status is there, which is what was asked.
const SAME_STATE: &str = "cannot transition status";

/// GitLab.
pub(crate) struct Gitlab;

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
struct Created {
    iid: u64,
    web_url: String,
}

#[derive(Deserialize)]
struct MergeRequest {
    state: String,
    #[serde(default)]
    merge_user: Option<User>,
    #[serde(default)]
    merged_by: Option<User>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    closed_by: Option<User>,
    #[serde(default)]
    detailed_merge_status: Option<String>,
}

#[derive(Deserialize)]
struct Note {
    #[serde(default)]
    body: String,
    #[serde(default)]
    author: Option<User>,
    #[serde(default)]
    system: bool,
}

/// The project's path, encoded as its id.
fn project(api: &Api) -> String {
    format!("/projects/{}", encode(api.repository()))
}

impl Dialect for Gitlab {
    async fn open_pr(&self, api: &Api, pr: &NewPr) -> Result<PrRef, ForgeError> {
        let title = if pr.draft {
            draft_title(&pr.title, "Draft: ")
        } else {
            pr.title.clone()
        };
        let mut body = json!({
            "source_branch": pr.head,
            "target_branch": pr.base,
            "title": title,
            "description": pr.body,
        });
        // Labels go with the merge request, as one comma-separated list.
        let labels: Vec<&str> = pr
            .labels
            .iter()
            .map(String::as_str)
            .filter(|label| {
                let fits = !label.contains(',') && !label.trim().is_empty();
                if !fits {
                    tracing::debug!(label, "a GitLab label cannot hold a comma: skipped");
                }
                fits
            })
            .collect();
        if !labels.is_empty() {
            body["labels"] = json!(labels.join(","));
        }
        let answer = api
            .post(&format!("{}/merge_requests", project(api)), &body)
            .await?;
        let created: Created = answer.json()?;
        Ok(PrRef {
            number: created.iid,
            url: created.web_url,
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
            StatusState::Failure | StatusState::Error => "failed",
        };
        let mut body = json!({
            "state": state,
            "name": status.context,
            "description": status.description,
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        let path = format!("{}/statuses/{}", project(api), encode(sha));
        match api.post(&path, &body).await {
            Ok(_) => Ok(()),
            Err(ForgeError::Rejected { message, .. })
                if message.to_ascii_lowercase().contains(SAME_STATE) =>
            {
                tracing::debug!(
                    sha,
                    context = status.context,
                    "the status already has that state"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn look(&self, api: &Api, pr: &PrRef, etag: Option<&str>) -> Result<Looked, ForgeError> {
        let answer = api
            .get(
                &format!("{}/merge_requests/{}", project(api), pr.number),
                etag,
            )
            .await?;
        if answer.not_modified() {
            return Ok(Looked::Unchanged);
        }
        let mr: MergeRequest = answer.json()?;
        let state = match mr.state.as_str() {
            "merged" => PrState::Merged {
                by: mr.merge_user.or(mr.merged_by).map(|u| u.username),
                // A fast-forward merge has no merge commit: the head is what landed.
                commit: mr.merge_commit_sha.or(mr.squash_commit_sha).or(mr.sha),
            },
            "closed" => PrState::Closed {
                by: mr.closed_by.map(|u| u.username),
            },
            // `opened`, and `locked` (a merge under way).
            _ => PrState::Open {
                changes_requested: mr.detailed_merge_status.as_deref() == Some("requested_changes"),
            },
        };
        Ok(Looked::Changed {
            state,
            etag: answer.etag(),
        })
    }

    async fn feedback(&self, api: &Api, pr: &PrRef) -> Result<Vec<Comment>, ForgeError> {
        let notes: Vec<Note> = api
            .get_all(&format!(
                "{}/merge_requests/{}/notes?sort=asc&order_by=created_at&per_page=100",
                project(api),
                pr.number
            ))
            .await?;
        Ok(notes
            .into_iter()
            // System notes are GitLab's own log ("merged", "added 1 commit").
            .filter(|note| !note.system)
            .map(|note| Comment {
                author: note.author.map(|u| u.username).unwrap_or_default(),
                body: note.body,
                review: None,
            })
            .collect())
    }

    async fn whoami(&self, api: &Api) -> Result<Identity, ForgeError> {
        let user: User = api.get_json("/user").await?;
        Ok(Identity {
            login: user.username,
            scopes: None,
        })
    }

    async fn find_open(&self, api: &Api, head: &str) -> Result<Option<PrRef>, ForgeError> {
        let path = format!(
            "{}/merge_requests?state=opened&source_branch={}&per_page=100",
            project(api),
            encode(head)
        );
        let open: Vec<ListedMr> = api.get_all(&path).await?;
        Ok(open
            .into_iter()
            .find(|mr| mr.state == "opened" && mr.source_branch == head)
            .map(|mr| PrRef {
                number: mr.iid,
                url: mr.web_url,
            }))
    }
}

/// A merge request as GitLab's list gives it.
#[derive(Deserialize)]
struct ListedMr {
    iid: u64,
    web_url: String,
    state: String,
    source_branch: String,
}
