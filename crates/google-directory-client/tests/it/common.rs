//! A client over the fake Google with a fast retry policy.

use google_directory_client::auth::{DelegatedServiceAccount, SCOPES};
use google_directory_client::{DirectoryClient, DirectoryStats, ServiceAccountKey};
use http_retry::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;
use testkit::google::FakeGoogle;
use testkit::server::RunningServer;

pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(Duration::from_millis(1)).max_backoff(Duration::from_millis(2)).jitter(false)
}

pub(crate) fn key(server: &RunningServer, fake: &FakeGoogle) -> ServiceAccountKey {
    ServiceAccountKey::from_json(&fake.key_json(server)).unwrap()
}

pub(crate) fn client(server: &RunningServer, fake: &FakeGoogle, admin: &str) -> (DirectoryClient, Arc<DirectoryStats>) {
    let stats = Arc::new(DirectoryStats::default());
    let builder = DirectoryClient::builder()
        .base_url(url::Url::parse(&FakeGoogle::base_url(server)).unwrap())
        .retry_policy(fast_retry())
        .observer(stats.clone());
    let tokens = DelegatedServiceAccount::new(key(server, fake), admin, SCOPES).with_retrier(builder.retrier());
    (builder.token_source(Arc::new(tokens)).build().unwrap(), stats)
}
