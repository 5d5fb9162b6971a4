//! End to end against testkit's stateful Secure Schools fake (built to docs/secure-schools-api.md, independently of
//! this crate's types): real paging, real idempotency, real faults, and the fake's state as the ground truth.

use futures::TryStreamExt;
use http_retry::{RetryPolicy, Sleeper};
use secure_schools_client::{
    BatchOperation, IdempotencyKey, NewUser, SecretString, SecureSchoolsClient, Url, User, UserPatch, UserRole,
    UserStatus, UsersQuery,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::faults::Fault;
use testkit::secure_schools::{self as fake, FakeSecureSchools};
use testkit::server::RunningServer;
use testkit::synthetic::{Trust, TrustSpec};

/// A fake seeded with the small synthetic trust, and a client of its admin whose waits are recorded, not made.
struct E2e {
    trust: Trust,
    fake: FakeSecureSchools,
    _server: RunningServer,
    client: SecureSchoolsClient,
    waits: Arc<Mutex<Vec<Duration>>>,
    base: Url,
}

impl E2e {
    async fn start() -> E2e {
        let trust = TrustSpec::small().generate();
        let fake = FakeSecureSchools::new();
        trust.seed_secure_schools(&fake).unwrap();
        let server = fake.start().await.unwrap();
        let base = Url::parse(&server.url()).unwrap();
        let waits = Arc::new(Mutex::new(Vec::new()));
        let client = client(&base, &trust.admin.token, waits.clone());
        E2e { trust, fake, _server: server, client, waits, base }
    }

    fn org(&self) -> &str {
        &self.trust.schools[0].organisation_id
    }

    fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }

    /// A client of the same server with another token.
    fn client_with(&self, token: &str) -> SecureSchoolsClient {
        client(&self.base, token, Arc::default())
    }
}

fn client(base: &Url, token: &str, waits: Arc<Mutex<Vec<Duration>>>) -> SecureSchoolsClient {
    let sleeper: Sleeper = Arc::new(move |d| {
        waits.lock().unwrap().push(d);
        Box::pin(async {})
    });
    SecureSchoolsClient::builder()
        .base_url(base.clone())
        .token(SecretString::from(token))
        .retry_policy(RetryPolicy::default().jitter(false))
        .sleeper(sleeper)
        .build()
        .unwrap()
}

fn new_user(email: &str) -> NewUser {
    NewUser::new(email, "Zoë", "O'Brien", UserRole::Student).external_id(format!("entra:{email}"))
}

#[tokio::test]
async fn me_is_the_trusts_admin_and_an_admin_of_every_organisation() {
    let e = E2e::start().await;
    let me = e.client.me().await.unwrap();
    assert_eq!(me.email, e.trust.admin.email);
    assert_eq!(me.id, e.trust.admin.identity_id);
    assert!(e.trust.schools.iter().all(|s| me.is_admin_of(&s.organisation_id)));
}

#[tokio::test]
async fn organisations_and_users_stream_over_several_pages() {
    let e = E2e::start().await;
    e.fake.set_organisation_page_size(1);
    let orgs: Vec<_> = e.client.organisations().try_collect().await.unwrap();
    let ids: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    let truth: Vec<String> = e.fake.organisations().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, truth);
    assert_eq!(e.fake.counters().snapshot().endpoint("GET /organisations"), truth.len() as u64);

    e.fake
        .add_users(
            e.org(),
            (0..50).map(|i| fake::NewUser::new(format!("p{i}@s.example"), "A", "B", fake::UserRole::Staff)),
        )
        .unwrap();
    let users: Vec<User> = e.client.users(e.org(), UsersQuery::new().limit(7)).try_collect().await.unwrap();
    let truth = e.fake.users(e.org());
    assert!(truth.len() > 50);
    assert_eq!(users.iter().map(|u| &u.id).collect::<Vec<_>>(), truth.iter().map(|u| &u.id).collect::<Vec<_>>());
    assert_eq!(e.fake.counters().snapshot().endpoint("GET /organisations/{org}/users"), truth.len().div_ceil(7) as u64);
    // The pre-existing users arrive as the contract shapes them: unmanaged, no external id.
    let existing = &e.trust.secure_schools_existing_users[0].users[0];
    let u = users.iter().find(|u| u.email == existing.email).unwrap();
    assert!(!u.managed_by_sync);
    assert_eq!(u.external_id, None);
}

#[tokio::test]
async fn updated_since_reads_only_what_changed() {
    let e = E2e::start().await;
    e.fake.advance_clock(Duration::from_secs(3600));
    let since = e.fake.now();
    let target = e.fake.users(e.org())[1].clone();
    e.client.update_user(e.org(), &target.id, &UserPatch::new().last_name("Ní Bhriain")).await.unwrap();
    let changed: Vec<User> =
        e.client.users(e.org(), UsersQuery::new().updated_since(since)).try_collect().await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].id, target.id);
    assert_eq!(changed[0].updated_at, since);
}

#[tokio::test]
async fn create_update_delete_change_the_fakes_state() {
    let e = E2e::start().await;
    let created = e.client.create_user(e.org(), &new_user("zoe@s.example")).await.unwrap();
    assert_eq!(created.status, UserStatus::Active);
    let stored = e.fake.user(e.org(), &created.id).unwrap();
    assert_eq!((stored.first_name.as_str(), stored.last_name.as_str()), ("Zoë", "O'Brien"));
    assert!(stored.managed_by_sync);

    let updated = e
        .client
        .update_user(e.org(), &created.id, &UserPatch::new().role(UserRole::Staff).external_id(None))
        .await
        .unwrap();
    assert_eq!(updated.role, UserRole::Staff);
    assert_eq!(e.fake.user(e.org(), &created.id).unwrap().external_id, None);

    let err = e.client.create_user(e.org(), &new_user("ZOE@S.EXAMPLE")).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");

    e.client.delete_user(e.org(), &created.id).await.unwrap();
    assert!(e.fake.user(e.org(), &created.id).is_none());
    let err = e.client.delete_user(e.org(), &created.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn a_delete_answered_503_is_retried() {
    let e = E2e::start().await;
    let victim = e.fake.users(e.org())[0].id.clone();
    e.fake.faults().on("DELETE", "/organisations/").times(1).inject(Fault::status(503));
    e.client.delete_user(e.org(), &victim).await.unwrap();
    assert!(e.fake.user(e.org(), &victim).is_none());
    assert_eq!(e.fake.counters().snapshot().endpoint("DELETE /organisations/{org}/users/{id}"), 2);
}

#[tokio::test]
async fn tokens_without_the_right_are_401_and_403() {
    let e = E2e::start().await;
    let err = e.client_with("not-a-token").me().await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    e.fake.add_identity("member", fake::Identity::new("p_m", "m@s.example", "M").member_of(e.org()));
    let err = e.client_with("member").users(e.org(), UsersQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_forbidden(), "{err}");
}

#[tokio::test]
async fn a_batch_retried_after_a_503_applies_once() {
    let e = E2e::start().await;
    let before = e.fake.users(e.org()).len();
    e.fake.faults().on("POST", "/organisations/").times(1).inject(Fault::status(503));
    let ops: Vec<_> =
        (0..5).map(|i| BatchOperation::create(format!("entra:{i}"), new_user(&format!("n{i}@s.example")))).collect();
    let report = e.client.batch(e.org(), &ops).await.unwrap();
    assert_eq!(report.succeeded().count(), 5);
    assert_eq!(e.waits(), [Duration::from_millis(500)], "one backoff after the 503");
    assert_eq!(e.fake.users(e.org()).len(), before + 5, "no duplicates");
    assert_eq!(e.fake.counters().snapshot().endpoint("POST /organisations/{org}/users/batch"), 2);
}

#[tokio::test]
async fn a_batch_whose_answer_was_lost_is_replayed_not_reapplied() {
    let e = E2e::start().await;
    let before = e.fake.users(e.org()).len();
    // The server applies the batch, then the connection breaks mid-answer: only the key makes the retry safe.
    e.fake.faults().on("POST", "/organisations/").times(1).inject(Fault::ResetMidBody);
    let ops: Vec<_> =
        (0..3).map(|i| BatchOperation::create(format!("entra:{i}"), new_user(&format!("n{i}@s.example")))).collect();
    let report = e.client.batch(e.org(), &ops).await.unwrap();
    assert_eq!(report.succeeded().count(), 3, "the stored answer: created, not 409");
    assert_eq!(e.fake.users(e.org()).len(), before + 3);
    let stats = e.fake.batch_stats();
    assert_eq!((stats.applied, stats.replayed), (1, 1));
    // The same key sent again later (a restarted run) changes nothing either.
    let again = e.client.batch_with_key(e.org(), &ops, report.idempotency_key.clone()).await.unwrap();
    assert_eq!(again.results, report.results);
    assert_eq!(e.fake.users(e.org()).len(), before + 3);
    // The same key with other operations is refused.
    let err = e.client.batch_with_key(e.org(), &ops[..1], report.idempotency_key).await.unwrap_err();
    assert!(err.is_validation(), "{err}");
}

#[tokio::test]
async fn a_429_burst_is_absorbed_by_the_retry_policy() {
    let e = E2e::start().await;
    e.fake.faults().on("GET", "/organisations/").times(3).inject(Fault::throttle(2));
    let users: Vec<User> = e.client.users(e.org(), UsersQuery::new()).try_collect().await.unwrap();
    assert_eq!(users.len(), e.fake.users(e.org()).len());
    assert_eq!(e.waits(), [Duration::from_secs(2); 3], "Retry-After honoured");
    assert_eq!(e.fake.counters().snapshot().throttled, 3);
    e.fake.faults().on("POST", "/organisations/").times(2).inject(Fault::throttle(1));
    let report = e.client.batch(e.org(), &[BatchOperation::create("entra:t", new_user("t@s.example"))]).await.unwrap();
    assert_eq!(report.succeeded().count(), 1);
    assert_eq!(e.fake.users(e.org()).iter().filter(|u| u.email == "t@s.example").count(), 1);
}

#[tokio::test]
async fn per_item_conflicts_are_surfaced_and_adoption_works_through_the_batch() {
    let e = E2e::start().await;
    let org = e.org().to_owned();
    let existing =
        e.trust.secure_schools_existing_users[0].users.iter().find(|u| u.directory_user_id.is_some()).unwrap();
    let directory_user = e.trust.user(existing.directory_user_id.as_deref().unwrap()).unwrap();
    let email = Trust::sync_email(directory_user);
    let external_id = format!("entra:{}", directory_user.id);
    let stored = e.fake.user_by_email(&org, email).unwrap();

    // A naive create of someone who is already there is a conflict naming them; the other item still applies.
    let ops = [
        BatchOperation::create(&external_id, NewUser::new(email, "A", "B", UserRole::Staff)),
        BatchOperation::create("entra:fresh", new_user("fresh@s.example")),
    ];
    let report = e.client.batch(&org, &ops).await.unwrap();
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, 0);
    assert!(failed[0].1.is_conflict());
    assert_eq!(failed[0].1.details().unwrap()["existing_user_id"], stored.id.as_str());
    assert!(report.outcome(1).unwrap().is_ok());

    // Adopting instead: the update takes the user over without duplicating it.
    let adopt = BatchOperation::update(
        &stored.id,
        &external_id,
        UserPatch::new().external_id(Some(external_id.clone())).managed_by_sync(true),
    );
    let key = IdempotencyKey::new("adopt-1").unwrap();
    let report = e.client.batch_with_key(&org, &[adopt], key).await.unwrap();
    assert_eq!(report.failed().count(), 0);
    let adopted = e.fake.user_by_external_id(&org, &external_id).unwrap();
    assert_eq!(adopted.id, stored.id);
    assert!(adopted.managed_by_sync);
    assert_eq!(e.fake.users(&org).iter().filter(|u| u.email.eq_ignore_ascii_case(email)).count(), 1);
}
