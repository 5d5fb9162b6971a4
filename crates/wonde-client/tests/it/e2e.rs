//! End to end against testkit's fake Wonde: paging, includes, incremental reads, deletions and leavers, access,
//! throttling and faults. Waits are never slept: the retrier's sleeper records them and moves the fake's clock.

use futures::TryStreamExt;
use http_retry::{RetryPolicy, Sleeper};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::faults::Fault;
use testkit::server::RunningServer;
use testkit::wonde::{Access, FakeWonde, SchoolData, SchoolSpec};
use wonde_client::{ListQuery, WondeClient};

const TOKEN: &str = "fake-wonde-token";

fn clock_sleeper(fake: &FakeWonde) -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let (w, f) = (waits.clone(), fake.clone());
    let sleeper: Sleeper = Arc::new(move |d| {
        w.lock().unwrap().push(d);
        f.advance_clock(d);
        Box::pin(async {})
    });
    (sleeper, waits)
}

struct Env {
    fake: FakeWonde,
    data: SchoolData,
    client: WondeClient,
    waits: Arc<Mutex<Vec<Duration>>>,
    _server: RunningServer,
}

async fn setup() -> Env {
    let data = SchoolSpec { students_per_year: 30, ..SchoolSpec::small() }.generate();
    let fake = FakeWonde::new();
    fake.add_school(data.clone());
    fake.grant(TOKEN, &data.school.id);
    let server = fake.start().await.unwrap();
    let (sleeper, waits) = clock_sleeper(&fake);
    let client = WondeClient::builder()
        .base_url(FakeWonde::base_url(&server))
        .token(TOKEN.to_owned().into())
        .retry_policy(RetryPolicy::default().jitter(false))
        .sleeper(sleeper)
        .build()
        .unwrap();
    Env { fake, data, client, waits, _server: server }
}

fn school(env: &Env) -> &str {
    &env.data.school.id
}

#[tokio::test]
async fn students_over_several_pages_with_their_includes() {
    let env = setup().await;
    let query = ListQuery::new().include(["contact_details", "year", "classes"]).per_page(25);
    let pages: Vec<_> =
        env.client.pages::<wonde_client::Student>(school(&env), "students", &query).try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|p| p.data.len()).collect::<Vec<_>>(), [25, 25, 25, 15]);
    assert_eq!(pages[3].next(), None);
    let students: Vec<_> = pages.into_iter().flat_map(|p| p.data).collect();
    let upis: BTreeSet<_> = students.iter().filter_map(|s| s.upi()).collect();
    assert_eq!(upis.len(), 90, "each student once, across pages");
    let first = &students[0];
    let expected = env.data.students.iter().find(|s| s.id == first.id).unwrap();
    assert_eq!(first.email(), expected.email.as_deref(), "the school address, not the home one");
    assert!(first.year_group().and_then(|y| y.name.as_deref()).is_some_and(|n| n.starts_with("Year ")));
    assert_eq!(first.classes.as_ref().unwrap().data.len(), 3, "one class per subject");
    assert_eq!(env.fake.counters().snapshot().endpoint("GET /v1.0/schools/{school}/{resource}"), 4);
}

#[tokio::test]
async fn classes_include_their_students_teachers_and_subject() {
    let env = setup().await;
    let query = ListQuery::new().include(["students", "employees", "subject"]);
    let classes: Vec<_> = env.client.classes(school(&env), &query).try_collect().await.unwrap();
    assert_eq!(classes.len(), env.data.classes.len());
    let c = &classes[0];
    assert!(!c.students.as_ref().unwrap().data.is_empty());
    assert_eq!(c.employees.as_ref().unwrap().data.len(), 1);
    assert!(c.subject.as_ref().and_then(|s| s.subject()).and_then(|s| s.name.clone()).is_some());
    let employees: Vec<_> =
        env.client.employees(school(&env), &ListQuery::new().include(["contact_details"])).try_collect().await.unwrap();
    assert_eq!(employees.len(), 5);
    assert!(employees.iter().all(|e| e.email().is_some_and(|m| m.ends_with(".sch.example"))), "the work address");
}

#[tokio::test]
async fn updated_after_returns_only_what_changed_and_deletions_and_leavers_are_listed() {
    let env = setup().await;
    let id = school(&env).to_owned();
    env.fake.advance_clock(Duration::from_secs(3600));
    let since = env.fake.now();
    env.fake.advance_clock(Duration::from_secs(60));
    let (a, b, c) = (&env.data.students[0], &env.data.students[1], &env.data.students[2]);
    env.fake.update_student(&id, &a.id, |s| s.surname = "Changed".into()).unwrap();
    env.fake.student_leaves(&id, &b.id).unwrap();
    env.fake.delete_student(&id, &c.id).unwrap();
    let changed: Vec<_> = env.client.students(&id, &ListQuery::new().updated_after(since)).try_collect().await.unwrap();
    assert_eq!(changed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);
    assert_eq!(changed[0].family_name(), "Changed");
    let leavers: Vec<_> = env.client.leavers(&id, &ListQuery::new().updated_after(since)).try_collect().await.unwrap();
    assert_eq!(leavers.iter().map(|s| s.upi().unwrap()).collect::<Vec<_>>(), [b.upi.as_str()]);
    let deletions: Vec<_> = env
        .client
        .deletions(&id, &ListQuery::new().updated_after(since).param("type", "student"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(deletions.len(), 1);
    assert_eq!((deletions[0].id.as_str(), deletions[0].kind.as_deref()), (c.id.as_str(), Some("student")));
    let all: Vec<_> = env.client.students(&id, &ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 88);
}

#[tokio::test]
async fn access_not_approved_is_forbidden_and_the_school_is_listed_as_pending() {
    let env = setup().await;
    let id = school(&env).to_owned();
    env.fake.set_access(TOKEN, &id, Some(Access::Pending));
    let e = env.client.school(&id).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    let pending: Vec<_> = env.client.pending_schools().try_collect().await.unwrap();
    assert_eq!(pending.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert!(env.client.school("A0000000000").await.unwrap_err().is_not_found(), "an unknown school is 404");
    let wrong = WondeClient::builder()
        .base_url(env.client.base_url().clone())
        .token("not-a-token".to_owned().into())
        .build()
        .unwrap();
    assert!(wrong.school(&id).await.unwrap_err().is_unauthorized());
}

#[tokio::test]
async fn throttling_is_waited_out_as_retry_after_says() {
    let env = setup().await;
    env.fake.set_rate_limit(2, Duration::from_secs(10));
    let query = ListQuery::new().per_page(10);
    let students: Vec<_> = env.client.students(school(&env), &query).try_collect().await.unwrap();
    assert_eq!(students.len(), 90);
    let counts = env.fake.counters().snapshot();
    assert!(counts.throttled >= 3, "{counts:?}");
    let waits = env.waits.lock().unwrap().clone();
    assert_eq!(waits.len() as u64, counts.throttled);
    assert!(waits.iter().all(|w| *w == Duration::from_secs(5)), "{waits:?}");
}

#[tokio::test]
async fn a_burst_of_5xx_a_reset_mid_page_and_a_malformed_page() {
    let env = setup().await;
    let prefix = format!("/v1.0/schools/{}/students", school(&env));
    env.fake.faults().on("GET", &prefix).after(1).times(2).inject(Fault::status(503));
    env.fake.faults().on("GET", &prefix).after(1).times(1).inject(Fault::ResetMidBody);
    let students: Vec<_> =
        env.client.students(school(&env), &ListQuery::new().per_page(40)).try_collect().await.unwrap();
    assert_eq!(students.len(), 90, "retries recover every page");
    env.fake.faults().on("GET", &prefix).after(1).times(1).inject(Fault::MalformedJson);
    let err =
        env.client.students(school(&env), &ListQuery::new().per_page(40)).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, wonde_client::WondeError::Decode { .. }), "{err}");
}
