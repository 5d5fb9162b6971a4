//! `POST /v1.0/$batch`: up to 20 requests in one, each answered on its own.
//!
//! Follows Graph v1.0 "Combine multiple HTTP requests using JSON batching"
//! (<https://learn.microsoft.com/graph/json-batching>): a body `{"requests": [{"id", "method", "url", "headers"?,
//! "body"?, "dependsOn"?}]}` with at most 20 requests and unique ids (else the whole batch is a 400); each answer
//! `{"id", "status", "headers", "body"}`; "If an individual request fails, any request that depends on that
//! request fails with status code 424 (Failed Dependency)"; "Requests in a batch are evaluated individually
//! against the applicable throttling limits" — every item goes through the same router as a direct request,
//! throttling included, with the batch's `Authorization` and its own headers (e.g. `ConsistencyLevel`).

use super::FakeGraph;
use super::auth;
use super::odata::{ApiError, Ctx, Reply, error_body};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt;

/// The most requests a batch may hold.
const MAX_BATCH: usize = 20;

/// What the batch handler needs: the fake, and the Graph router its items go through.
#[derive(Clone)]
pub(crate) struct BatchState {
    pub(crate) fake: FakeGraph,
    pub(crate) api: Router,
}

#[derive(Debug, Deserialize)]
struct BatchBody {
    requests: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

/// The order to run the items in: dependencies first; a cycle or an unknown id is a 400.
fn order(items: &[Item]) -> Result<Vec<usize>, ApiError> {
    let index: BTreeMap<String, usize> =
        items.iter().enumerate().map(|(i, r)| (r.id.to_ascii_lowercase(), i)).collect();
    if index.len() != items.len() {
        return Err(invalid("Batch request ids must be unique."));
    }
    fn visit(
        i: usize,
        items: &[Item],
        index: &BTreeMap<String, usize>,
        state: &mut Vec<u8>,
        out: &mut Vec<usize>,
    ) -> Result<(), ApiError> {
        match state[i] {
            2 => return Ok(()),
            1 => return Err(invalid("The dependsOn properties of the batch requests form a cycle.")),
            _ => {}
        }
        state[i] = 1;
        for d in &items[i].depends_on {
            let j = *index
                .get(&d.to_ascii_lowercase())
                .ok_or_else(|| invalid(format!("Request '{}' depends on unknown request '{d}'.", items[i].id)))?;
            visit(j, items, index, state, out)?;
        }
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    let mut state = vec![0u8; items.len()];
    let mut out = Vec::with_capacity(items.len());
    for i in 0..items.len() {
        visit(i, items, &index, &mut state, &mut out)?;
    }
    Ok(out)
}

/// The path and query of an item URL, relative to the version root (`/users?…`, `users?…` or an absolute Graph
/// URL).
fn item_target(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map(|j| &url[i + 3 + j..]).unwrap_or("/"),
        None => url,
    };
    let rest = rest.trim_start_matches('/');
    let rest = rest.strip_prefix("v1.0/").unwrap_or(rest);
    format!("/v1.0/{rest}")
}

async fn run_item(state: &BatchState, outer: &HeaderMap, item: &Item) -> Value {
    let method = Method::from_bytes(item.method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
    let mut builder = Request::builder().method(method).uri(item_target(&item.url));
    for name in [header::HOST, header::AUTHORIZATION] {
        if let Some(v) = outer.get(&name) {
            builder = builder.header(name, v);
        }
    }
    for (k, v) in &item.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match &item.body {
        Some(v) => Body::from(serde_json::to_vec(v).unwrap_or_default()),
        None => Body::empty(),
    };
    let response = match builder.body(body) {
        Ok(request) => match state.api.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        Err(e) => {
            return json!({"id": item.id, "status": 400, "body": error_body("BadRequest", &format!("Invalid request: {e}"), "", "", "")});
        }
    };
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if name == header::CONTENT_LENGTH {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_owned(), Value::String(v.to_owned()));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let body = if bytes.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        )
    };
    let mut answer = json!({"id": item.id, "status": status, "headers": headers});
    if let Some(b) = body {
        answer["body"] = b;
    }
    answer
}

/// `POST /v1.0/$batch`.
pub(crate) async fn batch(State(state): State<BatchState>, headers: HeaderMap, body: Bytes) -> Response {
    let ctx = Ctx::from_headers(&state.fake, &headers, "/v1.0/$batch");
    if let Err(e) = state.fake.with_state(|st| auth::authenticate(st, &ctx).map(|_| ())) {
        return ctx.finish(Err(e));
    }
    let parsed: BatchBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return ctx.finish(Err(invalid(format!("Invalid batch payload format: {e}")))),
    };
    let items = parsed.requests;
    if items.is_empty() || items.len() > MAX_BATCH {
        return ctx.finish(Err(invalid(format!(
            "A batch must hold between 1 and {MAX_BATCH} requests; this one holds {}.",
            items.len()
        ))));
    }
    let run_order = match order(&items) {
        Ok(o) => o,
        Err(e) => return ctx.finish(Err(e)),
    };
    let mut answers: BTreeMap<usize, Value> = BTreeMap::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for i in run_order {
        let item = &items[i];
        let answer = if let Some(dep) = item.depends_on.iter().find(|d| failed.contains(&d.to_ascii_lowercase())) {
            json!({
                "id": item.id,
                "status": 424,
                "headers": {"Content-Type": "application/json"},
                "body": error_body(
                    "FailedDependency",
                    &format!("The request failed because the request '{dep}' it depends on failed."),
                    &ctx.date,
                    &ctx.request_id,
                    &ctx.client_request_id,
                )
            })
        } else {
            run_item(&state, &headers, item).await
        };
        let ok = answer["status"].as_u64().is_some_and(|s| (200..300).contains(&s));
        if !ok {
            failed.insert(item.id.to_ascii_lowercase());
        }
        answers.insert(i, answer);
    }
    let responses: Vec<Value> = answers.into_values().collect();
    let mut reply = Reply::json(json!({"responses": responses}));
    reply.status = StatusCode::OK;
    ctx.finish(Ok(reply))
}
