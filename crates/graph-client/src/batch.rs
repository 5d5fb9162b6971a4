//! JSON batching: up to 20 requests in one `POST /$batch` (Graph v1.0 "Combine multiple HTTP requests using JSON
//! batching").
//!
//! Each item has its own status. Items Graph throttled (429) or could not serve (503, 504 for reads) are sent
//! again — alone, in a new batch — under the client's retry policy, waiting for the longest `Retry-After` among
//! them; items that failed only because an item they depend on failed (424) go with it. Other failures are
//! returned per item and do not fail the rest.

use crate::client::{Call, GraphClient};
use crate::error::{self, GraphError};
use crate::models::{GROUP_SELECT, Group};
use http_retry::Idempotency;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// The most requests one batch may hold.
pub const MAX_BATCH: usize = 20;

/// One request of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// Unique within the batch.
    pub id: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// Relative to the version root, e.g. `/groups/{id}?$select=id`.
    pub url: String,
    /// Ids of requests that must succeed first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Headers (a body needs `Content-Type`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl BatchRequest {
    /// A GET.
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> BatchRequest {
        BatchRequest {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            depends_on: Vec::new(),
            headers: BTreeMap::new(),
            body: None,
        }
    }
}

/// One answer of a batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BatchResponse {
    /// The request's id.
    pub id: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Its body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

impl BatchResponse {
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                map.insert(k, v);
            }
        }
        map
    }

    /// The body as `T` if the item succeeded, else the item's error.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T, GraphError> {
        let body = match &self.body {
            Some(v) => serde_json::to_vec(v).unwrap_or_default(),
            None => Vec::new(),
        };
        if (200..300).contains(&self.status) {
            error::decode(&format!("$batch item {}", self.id), &body)
        } else {
            Err(error::from_reply(self.status, &self.header_map(), &body))
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        http_retry::retry_after_from_headers(&self.header_map(), SystemTime::now())
    }
}

#[derive(Serialize)]
struct BatchBody<'a> {
    requests: Vec<&'a BatchRequest>,
}

#[derive(Deserialize)]
struct BatchAnswer {
    responses: Vec<BatchResponse>,
}

impl GraphClient {
    /// Sends up to [`MAX_BATCH`] requests as one batch and returns one answer per request, in request order.
    pub async fn batch(&self, requests: &[BatchRequest]) -> Result<Vec<BatchResponse>, GraphError> {
        if requests.len() > MAX_BATCH {
            return Err(GraphError::InvalidInput(format!(
                "a batch holds at most {MAX_BATCH} requests, not {}",
                requests.len()
            )));
        }
        let ids: BTreeSet<&str> = requests.iter().map(|r| r.id.as_str()).collect();
        if ids.len() != requests.len() {
            return Err(GraphError::InvalidInput("batch request ids must be unique".into()));
        }
        let policy = self.retrier().policy().clone();
        let mut done: BTreeMap<String, BatchResponse> = BTreeMap::new();
        let mut pending: Vec<&BatchRequest> = requests.iter().collect();
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        while !pending.is_empty() {
            attempt += 1;
            let answers = self.send_batch(&pending).await?;
            let mut retry: BTreeSet<String> = BTreeSet::new();
            let mut wait: Option<Duration> = None;
            for answer in &answers {
                let method = pending.iter().find(|r| r.id == answer.id).map(|r| r.method.as_str()).unwrap_or("GET");
                let transient = answer.status == 429 || (matches!(answer.status, 503 | 504) && method == "GET");
                if transient {
                    retry.insert(answer.id.clone());
                    let w = answer.retry_after().unwrap_or_else(|| policy.backoff(attempt));
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
            // Dependents that failed only because a retried item failed go again with it.
            for answer in &answers {
                if answer.status == 424
                    && pending.iter().any(|r| r.id == answer.id && r.depends_on.iter().any(|d| retry.contains(d)))
                {
                    retry.insert(answer.id.clone());
                }
            }
            let wait = wait.unwrap_or(Duration::ZERO);
            let give_up = attempt >= policy.max_attempts || waited + wait > policy.max_total_wait;
            for answer in answers {
                if give_up || !retry.contains(&answer.id) {
                    done.insert(answer.id.clone(), answer);
                }
            }
            if give_up || retry.is_empty() {
                break;
            }
            tracing::warn!(
                items = retry.len(),
                attempt,
                delay_ms = wait.as_millis() as u64,
                "retrying throttled $batch items"
            );
            self.retrier().sleep(wait).await;
            waited += wait;
            pending.retain(|r| retry.contains(&r.id));
        }
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            match done.remove(&request.id) {
                Some(answer) => out.push(answer),
                None => {
                    return Err(GraphError::Decode {
                        path: "$batch".into(),
                        json_path: "responses".into(),
                        message: format!("no answer for request `{}`", request.id),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn send_batch(&self, requests: &[&BatchRequest]) -> Result<Vec<BatchResponse>, GraphError> {
        // A batch of reads can be repeated safely; a batch that writes cannot.
        let idempotency = if requests.iter().all(|r| r.method.eq_ignore_ascii_case("GET")) {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let body = serde_json::to_value(BatchBody { requests: requests.to_vec() })
            .map_err(|e| GraphError::InvalidInput(format!("batch body: {e}")))?;
        let call = Call { method: Method::POST, url: self.url("$batch", &[]), eventual: false, body: Some(body) };
        let reply = self.send(&call, idempotency).await?;
        let answer: BatchAnswer = error::decode("$batch", &reply.body)?;
        Ok(answer.responses)
    }

    /// The relative URL of a batch item: path segments escaped, query added.
    pub(crate) fn batch_url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        let full = self.url_segments(segments, query);
        let base = self.base_url().as_str();
        match full.as_str().strip_prefix(base) {
            Some(rest) => format!("/{rest}"),
            None => full.path().to_owned(),
        }
    }

    /// Many groups by id, 20 per batch. One answer per id, in order: the group, or why it could not be read
    /// (e.g. not found) — one missing group does not fail the others.
    pub async fn groups_by_id(&self, ids: &[String]) -> Result<Vec<Result<Group, GraphError>>, GraphError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let requests: Vec<BatchRequest> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    BatchRequest::get(i.to_string(), self.batch_url(&["groups", id], &[("$select", GROUP_SELECT)]))
                })
                .collect();
            for answer in self.batch(&requests).await? {
                out.push(answer.into_result::<Group>());
            }
        }
        Ok(out)
    }
}
