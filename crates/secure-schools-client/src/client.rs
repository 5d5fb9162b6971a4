//! The client, its builder, and the operations of the contract.

use crate::endpoints::Endpoint;
use crate::error::{ApiError, Error, InvalidInput};
use crate::models::{
    BatchItemError, BatchOperation, BatchResponse, BatchResult, Me, NewUser, Organisation, Page, User, UserPatch,
    UsersQuery,
};
use chrono::SecondsFormat;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use http_retry::{HttpReply, Idempotency, Retrier, RetryObserver, RetryPolicy, Sleeper};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The largest page `GET /organisations/{org}/users` allows (`limit`).
pub const MAX_PAGE_LIMIT: u32 = 500;
/// The most operations one batch may carry.
pub const MAX_BATCH_OPERATIONS: usize = 100;
/// The header that carries a batch's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The header the server's request id is read from, for support tickets.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Default time allowed for one attempt of a request, body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of the Secure Schools platform API (the assumed contract of `docs/secure-schools-api.md`).
///
/// Cheap to clone: clones share one connection pool. Every request — pages included — runs under the one
/// [`Retrier`] given to the builder. Built with [`SecureSchoolsClient::builder`].
#[derive(Clone)]
pub struct SecureSchoolsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
    retrier: Retrier,
}

impl std::fmt::Debug for SecureSchoolsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureSchoolsClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("token", &"[redacted]")
            .field("retrier", &self.inner.retrier)
            .finish()
    }
}

/// Builds a [`SecureSchoolsClient`]. The base URL and the token are required; everything else has a default.
pub struct SecureSchoolsClientBuilder {
    base_url: Option<Url>,
    token: Option<SecretString>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    policy: RetryPolicy,
    observer: Option<Arc<dyn RetryObserver>>,
    sleeper: Option<Sleeper>,
    retrier: Option<Retrier>,
}

impl std::fmt::Debug for SecureSchoolsClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureSchoolsClientBuilder")
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("policy", &self.policy)
            .field("observer", &self.observer.is_some())
            .field("retrier", &self.retrier)
            .finish()
    }
}

impl Default for SecureSchoolsClientBuilder {
    fn default() -> SecureSchoolsClientBuilder {
        SecureSchoolsClientBuilder {
            base_url: None,
            token: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("rosterbridge-secure-schools-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            policy: RetryPolicy::default(),
            observer: None,
            sleeper: None,
            retrier: None,
        }
    }
}

impl SecureSchoolsClientBuilder {
    /// The API's base URL, e.g. `https://api.secureschools.example/v1/` (required: there is no built-in host).
    /// Endpoint paths are appended to its path. `http` is accepted for local servers; use `https` otherwise.
    pub fn base_url(mut self, url: Url) -> SecureSchoolsClientBuilder {
        self.base_url = Some(url);
        self
    }

    /// The platform admin's bearer token (required). It is only ever exposed to build the `Authorization`
    /// header, which is marked sensitive.
    pub fn token(mut self, token: SecretString) -> SecureSchoolsClientBuilder {
        self.token = Some(token);
        self
    }

    /// Time allowed for one attempt of a request, body included (default 30 s). A timed-out attempt is retried
    /// like any other transport failure when the request is idempotent.
    pub fn timeout(mut self, timeout: Duration) -> SecureSchoolsClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> SecureSchoolsClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> SecureSchoolsClientBuilder {
        self.user_agent = user_agent.into();
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]). Ignored when [`retrier`](Self::retrier) is given.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> SecureSchoolsClientBuilder {
        self.policy = policy;
        self
    }

    /// A metrics hook that sees every answer and every retry. Ignored when [`retrier`](Self::retrier) is given.
    pub fn observer(mut self, observer: Arc<dyn RetryObserver>) -> SecureSchoolsClientBuilder {
        self.observer = Some(observer);
        self
    }

    /// Replaces how the retrier waits (tests record waits instead of making them). Ignored when
    /// [`retrier`](Self::retrier) is given.
    pub fn sleeper(mut self, sleeper: Sleeper) -> SecureSchoolsClientBuilder {
        self.sleeper = Some(sleeper);
        self
    }

    /// A complete retrier (policy, observer, sleeper), e.g. one shared with other clients.
    pub fn retrier(mut self, retrier: Retrier) -> SecureSchoolsClientBuilder {
        self.retrier = Some(retrier);
        self
    }

    /// Builds the client.
    ///
    /// Fails with [`InvalidInput::MissingBaseUrl`] or [`InvalidInput::MissingToken`] when those were not given,
    /// and with [`InvalidInput::BaseUrl`] when the base URL is not an `http(s)` URL without query or fragment.
    pub fn build(self) -> Result<SecureSchoolsClient, Error> {
        let base_url = self.base_url.ok_or(InvalidInput::MissingBaseUrl)?;
        if !matches!(base_url.scheme(), "https" | "http") {
            return Err(
                InvalidInput::BaseUrl { reason: "the scheme must be https (or http for a local server)" }.into()
            );
        }
        if base_url.cannot_be_a_base() || base_url.host().is_none() {
            return Err(InvalidInput::BaseUrl { reason: "it has no host" }.into());
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(InvalidInput::BaseUrl { reason: "it must not have a query or a fragment" }.into());
        }
        if base_url.scheme() == "http" && !is_local(&base_url) {
            tracing::warn!(base_url = %base_url, "the Secure Schools base URL is plain http: the token is sent unencrypted");
        }
        let token = self.token.ok_or(InvalidInput::MissingToken)?;
        if token.expose_secret().trim().is_empty() {
            return Err(InvalidInput::MissingToken.into());
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // The contract has no redirects; following one could carry the token somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::HttpClient)?;
        let retrier = match self.retrier {
            Some(retrier) => retrier,
            None => {
                let mut retrier = Retrier::new(self.policy);
                if let Some(observer) = self.observer {
                    retrier = retrier.with_observer(observer);
                }
                if let Some(sleeper) = self.sleeper {
                    retrier = retrier.with_sleeper(sleeper);
                }
                retrier
            }
        };
        Ok(SecureSchoolsClient { inner: Arc::new(Inner { http, base_url, token, retrier }) })
    }
}

fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The key that makes a batch safe to send again: the server applies a batch once per key and answers a repeat
/// with the first answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A fresh random key (a UUID v4).
    pub fn random() -> IdempotencyKey {
        IdempotencyKey(uuid::Uuid::new_v4().to_string())
    }

    /// A key chosen by the caller — e.g. one recorded before a run was interrupted, so that sending the same
    /// batch again after a restart cannot apply it twice. 1 to 255 visible ASCII characters.
    pub fn new(key: impl Into<String>) -> Result<IdempotencyKey, Error> {
        let key = key.into();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::IdempotencyKey.into());
        }
        Ok(IdempotencyKey(key))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a batch did: one result per operation, in operation order. Item failures are here, not in an `Err`: a
/// batch whose items failed is still a batch that was answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchReport {
    /// The key the batch was sent under (record it to resend the same batch safely).
    pub idempotency_key: IdempotencyKey,
    /// How many operations were sent.
    pub operations: usize,
    /// The results, sorted by `index`.
    pub results: Vec<BatchResult>,
}

impl BatchReport {
    /// The outcome of operation `index`, or `None` if the server sent no result for it.
    pub fn outcome(&self, index: usize) -> Option<Result<Option<&User>, BatchItemError>> {
        self.results.iter().find(|r| r.index == index).map(BatchResult::outcome)
    }

    /// The results of the operations that were done.
    pub fn succeeded(&self) -> impl Iterator<Item = &BatchResult> {
        self.results.iter().filter(|r| r.is_success())
    }

    /// The operations that failed, by index, with why.
    pub fn failed(&self) -> impl Iterator<Item = (usize, BatchItemError)> + '_ {
        self.results.iter().filter_map(|r| r.outcome().err().map(|e| (r.index, e)))
    }

    /// Operations the server sent no result for (the contract says there are none; treat them as not done).
    pub fn unanswered(&self) -> Vec<usize> {
        (0..self.operations).filter(|i| !self.results.iter().any(|r| r.index == *i)).collect()
    }
}

/// A request that went out and was answered, and the URL path it went to (for errors).
struct Sent {
    reply: HttpReply,
    path: String,
}

#[derive(Serialize)]
struct BatchBody<'a> {
    operations: &'a [BatchOperation],
}

impl SecureSchoolsClient {
    /// A builder.
    pub fn builder() -> SecureSchoolsClientBuilder {
        SecureSchoolsClientBuilder::default()
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// `GET /me`: who the token belongs to and its memberships.
    pub async fn me(&self) -> Result<Me, Error> {
        let sent = self.send(Endpoint::ME, &[], &[], None, None, Idempotency::Idempotent).await?;
        decode(Endpoint::ME, success(Endpoint::ME, sent)?)
    }

    /// `GET /organisations`: one page, from the start (`cursor` `None`) or from a cursor a previous page gave.
    pub async fn organisations_page(&self, cursor: Option<&str>) -> Result<Page<Organisation>, Error> {
        let query: Vec<(&str, String)> = cursor.map(|c| ("cursor", c.to_owned())).into_iter().collect();
        let sent = self.send(Endpoint::ORGANISATIONS, &[], &query, None, None, Idempotency::Idempotent).await?;
        decode(Endpoint::ORGANISATIONS, success(Endpoint::ORGANISATIONS, sent)?)
    }

    /// Every page of `GET /organisations`, following `next_cursor` exactly as given until it is `null`.
    pub fn organisation_pages(&self) -> BoxStream<'static, Result<Page<Organisation>, Error>> {
        let client = self.clone();
        paged(Endpoint::ORGANISATIONS, "/organisations".to_owned(), move |cursor| {
            let client = client.clone();
            async move { client.organisations_page(cursor.as_deref()).await }
        })
    }

    /// Every organisation the token can see, across all pages.
    pub fn organisations(&self) -> BoxStream<'static, Result<Organisation, Error>> {
        items(self.organisation_pages())
    }

    /// `GET /organisations/{org}/users`: one page, from the start (`cursor` `None`) or from a cursor a previous
    /// page gave. A `limit` outside 1 to 500 is refused before anything is sent.
    pub async fn users_page(&self, org: &str, query: &UsersQuery, cursor: Option<&str>) -> Result<Page<User>, Error> {
        let mut pairs: Vec<(&str, String)> = users_query(query)?;
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_owned()));
        }
        let sent = self.send(Endpoint::LIST_USERS, &[org], &pairs, None, None, Idempotency::Idempotent).await?;
        decode(Endpoint::LIST_USERS, success(Endpoint::LIST_USERS, sent)?)
    }

    /// Every page of an organisation's users, following `next_cursor` exactly as given until it is `null`. An
    /// invalid query makes the stream's only item an [`Error::InvalidInput`].
    pub fn user_pages(&self, org: &str, query: UsersQuery) -> BoxStream<'static, Result<Page<User>, Error>> {
        if let Err(e) = users_query(&query) {
            return stream::once(async move { Err(e) }).boxed();
        }
        let client = self.clone();
        let org = org.to_owned();
        let path =
            Endpoint::LIST_USERS.url(&self.inner.base_url, &[&org]).map(|u| u.path().to_owned()).unwrap_or_default();
        paged(Endpoint::LIST_USERS, path, move |cursor| {
            let (client, org, query) = (client.clone(), org.clone(), query.clone());
            async move { client.users_page(&org, &query, cursor.as_deref()).await }
        })
    }

    /// Every user of an organisation (changed since `query.updated_since`, if set), across all pages.
    pub fn users(&self, org: &str, query: UsersQuery) -> BoxStream<'static, Result<User, Error>> {
        items(self.user_pages(org, query))
    }

    /// `POST /organisations/{org}/users`: creates a user and returns it.
    ///
    /// Not idempotent (the contract gives single creates no idempotency key), so it is retried only when the
    /// server cannot have acted: a 429, or a connection that was never made. Prefer [`batch`](Self::batch) for
    /// creates that must survive failures.
    pub async fn create_user(&self, org: &str, user: &NewUser) -> Result<User, Error> {
        let body = encode(user)?;
        let sent = self.send(Endpoint::CREATE_USER, &[org], &[], Some(body), None, Idempotency::NotIdempotent).await?;
        decode(Endpoint::CREATE_USER, success(Endpoint::CREATE_USER, sent)?)
    }

    /// `PATCH /organisations/{org}/users/{id}`: changes the fields the patch sets and returns the user.
    pub async fn update_user(&self, org: &str, id: &str, patch: &UserPatch) -> Result<User, Error> {
        let body = encode(patch)?;
        // Idempotent: the same PATCH applied twice leaves the same fields.
        let sent = self.send(Endpoint::UPDATE_USER, &[org, id], &[], Some(body), None, Idempotency::Idempotent).await?;
        decode(Endpoint::UPDATE_USER, success(Endpoint::UPDATE_USER, sent)?)
    }

    /// `DELETE /organisations/{org}/users/{id}`.
    ///
    /// A 404 on the first attempt is an error ([`Error::is_not_found`]); a 404 after a retry means an earlier
    /// attempt deleted the user, so it is success.
    pub async fn delete_user(&self, org: &str, id: &str) -> Result<(), Error> {
        let sent = self.send(Endpoint::DELETE_USER, &[org, id], &[], None, None, Idempotency::Idempotent).await?;
        if sent.reply.status == reqwest::StatusCode::NOT_FOUND && sent.reply.attempts > 1 {
            tracing::debug!(path = %sent.path, "404 after a retried delete: an earlier attempt deleted the user");
            return Ok(());
        }
        success(Endpoint::DELETE_USER, sent).map(|_| ())
    }

    /// `POST /organisations/{org}/users/batch` under a fresh [`IdempotencyKey`]: at most
    /// [`MAX_BATCH_OPERATIONS`] operations, each with its own result.
    ///
    /// The key is generated once per call and sent unchanged on every retry of that call, so a batch retried
    /// after a 5xx or a dropped connection is never applied twice. Operations that fail (409 conflict, 422
    /// validation, …) are reported in the [`BatchReport`]; they do not fail the batch or the other operations.
    /// An empty batch is answered locally without a request.
    pub async fn batch(&self, org: &str, operations: &[BatchOperation]) -> Result<BatchReport, Error> {
        self.batch_with_key(org, operations, IdempotencyKey::random()).await
    }

    /// [`batch`](Self::batch) under a key the caller chose, e.g. one recorded before an interruption, so that
    /// sending the same operations again after a restart is safe too.
    pub async fn batch_with_key(
        &self,
        org: &str,
        operations: &[BatchOperation],
        key: IdempotencyKey,
    ) -> Result<BatchReport, Error> {
        if operations.len() > MAX_BATCH_OPERATIONS {
            return Err(InvalidInput::BatchTooLarge { len: operations.len(), max: MAX_BATCH_OPERATIONS }.into());
        }
        if operations.is_empty() {
            return Ok(BatchReport { idempotency_key: key, operations: 0, results: Vec::new() });
        }
        let body = encode(&BatchBody { operations })?;
        // A POST, but idempotent BECAUSE of the Idempotency-Key: every attempt carries the same key, and the server
        // applies a batch once per key. So the retrier may resend it after a 5xx or a broken connection.
        let sent = self.send(Endpoint::BATCH, &[org], &[], Some(body), Some(&key), Idempotency::Idempotent).await?;
        let sent = success(Endpoint::BATCH, sent)?;
        let path = sent.path.clone();
        let response: BatchResponse = decode(Endpoint::BATCH, sent)?;
        let mut results = response.results;
        results.sort_by_key(|r| r.index);
        let broken = |message: String| Error::InvalidResponse {
            method: Endpoint::BATCH.method.as_str(),
            path: path.clone(),
            message,
        };
        if let Some(r) = results.iter().find(|r| r.index >= operations.len()) {
            return Err(broken(format!("a result for operation {} of {}", r.index, operations.len())));
        }
        if let Some(pair) = results.windows(2).find(|w| w[0].index == w[1].index) {
            return Err(broken(format!("two results for operation {}", pair[0].index)));
        }
        let report = BatchReport { idempotency_key: key, operations: operations.len(), results };
        tracing::debug!(
            key = %report.idempotency_key,
            operations = report.operations,
            failed = report.failed().count(),
            "secure schools batch answered"
        );
        Ok(report)
    }

    /// Sends one request under the retrier and returns the final answer, success or not.
    async fn send(
        &self,
        endpoint: Endpoint,
        params: &[&str],
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        key: Option<&IdempotencyKey>,
        idempotency: Idempotency,
    ) -> Result<Sent, Error> {
        let mut url = endpoint.url(&self.inner.base_url, params)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let path = url.path().to_owned();
        let method = endpoint.method.to_reqwest();
        let inner = &self.inner;
        let reply = inner
            .retrier
            .execute(idempotency, || {
                let mut request = inner
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(inner.token.expose_secret())
                    .header(ACCEPT, "application/json");
                if let Some(body) = &body {
                    request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
                }
                if let Some(key) = key {
                    request = request.header(IDEMPOTENCY_KEY_HEADER, key.as_str());
                }
                request
            })
            .await?;
        tracing::debug!(
            method = endpoint.method.as_str(),
            %path,
            status = reply.status.as_u16(),
            attempts = reply.attempts,
            "secure schools request"
        );
        Ok(Sent { reply, path })
    }
}

/// The answer if it is a success, else the typed API error.
fn success(endpoint: Endpoint, sent: Sent) -> Result<Sent, Error> {
    if sent.reply.status.is_success() {
        Ok(sent)
    } else {
        Err(ApiError::from_reply(endpoint, sent.path, &sent.reply).into())
    }
}

/// The query pairs of a users request, or why the query is refused.
fn users_query(query: &UsersQuery) -> Result<Vec<(&'static str, String)>, Error> {
    let mut pairs = Vec::new();
    if let Some(limit) = query.limit {
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(InvalidInput::LimitOutOfRange { limit, max: MAX_PAGE_LIMIT }.into());
        }
        pairs.push(("limit", limit.to_string()));
    }
    if let Some(since) = query.updated_since {
        pairs.push(("updated_since", since.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    }
    Ok(pairs)
}

fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(body).map_err(Error::Encode)
}

/// Reads a success body as `T`, naming the JSON path on failure.
fn decode<T: DeserializeOwned>(endpoint: Endpoint, sent: Sent) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(&sent.reply.body);
    let fail = |json_path: String, source| Error::Decode {
        method: endpoint.method.as_str(),
        path: sent.path.clone(),
        json_path,
        source,
    };
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| fail(e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| fail(".".to_owned(), e))?;
    Ok(value)
}

/// The pages of a collection: fetches the first page, then follows `next_cursor` exactly as given until it is
/// `null`. A cursor that names the page just fetched again would loop for ever, so it ends the stream with
/// [`Error::InvalidResponse`] (after that page). After any error the stream ends.
fn paged<T, F, Fut>(endpoint: Endpoint, path: String, fetch: F) -> BoxStream<'static, Result<Page<T>, Error>>
where
    T: Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    enum Next {
        First,
        Cursor(String),
        Repeated(String),
        Done,
    }
    stream::try_unfold((Next::First, fetch, path), move |(next, mut fetch, path)| async move {
        let sent = match next {
            Next::Done => return Ok(None),
            Next::Repeated(cursor) => {
                return Err(Error::InvalidResponse {
                    method: endpoint.method.as_str(),
                    path,
                    message: format!("next_cursor {cursor:?} repeats the cursor of the page it came with"),
                });
            }
            Next::First => None,
            Next::Cursor(cursor) => Some(cursor),
        };
        let page = fetch(sent.clone()).await?;
        let next = match &page.next_cursor {
            None => Next::Done,
            Some(cursor) if Some(cursor) == sent.as_ref() => Next::Repeated(cursor.clone()),
            Some(cursor) => Next::Cursor(cursor.clone()),
        };
        Ok(Some((page, (next, fetch, path))))
    })
    .boxed()
}

/// The items of a stream of pages.
fn items<T: Send + 'static>(pages: BoxStream<'static, Result<Page<T>, Error>>) -> BoxStream<'static, Result<T, Error>> {
    pages.map_ok(|page| stream::iter(page.data.into_iter().map(Ok))).try_flatten().boxed()
}
