//! `POST /organisations/{org}/users/batch`: idempotency keys, retries, per-item results.

use crate::{Fake, error_body, user};
use secure_schools_client::{
    BatchItemError, BatchOperation, Error, IDEMPOTENCY_KEY_HEADER, IdempotencyKey, InvalidInput, MAX_BATCH_OPERATIONS,
    NewUser, UserPatch, UserRole,
};
use serde_json::json;
use wiremock::matchers::{body_json, header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

fn operations() -> Vec<BatchOperation> {
    vec![
        BatchOperation::create("entra:1", NewUser::new("new@s.example", "Ada", "Lovelace", UserRole::Student)),
        BatchOperation::update("u2", "entra:2", UserPatch::new().last_name("Byron")),
        BatchOperation::suspend("u3", "entra:3"),
        BatchOperation::reactivate("u4", "entra:4"),
    ]
}

fn keys(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.headers.get(IDEMPOTENCY_KEY_HEADER).expect("every batch carries a key").to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_batch_sends_the_contract_body_and_types_every_result() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users/batch"))
        .and(header_exists(IDEMPOTENCY_KEY_HEADER))
        .and(body_json(json!({"operations": [
            {"op": "create", "external_id": "entra:1", "fields": {
                "email": "new@s.example", "first_name": "Ada", "last_name": "Lovelace", "role": "student",
                "managed_by_sync": true}},
            {"op": "update", "user_id": "u2", "external_id": "entra:2", "fields": {"last_name": "Byron"}},
            {"op": "suspend", "user_id": "u3", "external_id": "entra:3"},
            {"op": "reactivate", "user_id": "u4", "external_id": "entra:4"}
        ]})))
        // Results out of order: the report sorts them.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"index": 3, "status": 200, "user": user("u4", "d@s.example")},
            {"index": 0, "status": 201, "user": user("u1", "new@s.example")},
            {"index": 1, "status": 200, "user": user("u2", "b@s.example")},
            {"index": 2, "status": 200}
        ]})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let report = fake.client.batch("org-1", &operations()).await.unwrap();
    assert_eq!(report.results.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(report.succeeded().count(), 4);
    assert_eq!(report.failed().count(), 0);
    assert_eq!(report.outcome(0).unwrap().unwrap().unwrap().id, "u1");
    assert_eq!(report.outcome(2).unwrap().unwrap(), None);
    assert!(report.unanswered().is_empty());
    let requests = fake.requests().await;
    assert_eq!(keys(&requests), [report.idempotency_key.as_str()]);
    assert!(uuid_like(report.idempotency_key.as_str()), "{}", report.idempotency_key);
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn a_503_batch_is_retried_with_the_same_key_and_separate_batches_use_different_keys() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users/batch"))
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body("internal", "busy")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users/batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"index": 0, "status": 200, "user": user("u3", "c@s.example")}
        ]})))
        .mount(&fake.server)
        .await;
    let ops = [BatchOperation::suspend("u3", "entra:3")];
    let first = fake.client.batch("org-1", &ops).await.unwrap();
    assert_eq!(first.succeeded().count(), 1);
    let requests = fake.requests().await;
    assert_eq!(requests.len(), 3, "two 503s, then the answer");
    let sent = keys(&requests);
    assert!(sent.iter().all(|k| k == first.idempotency_key.as_str()), "one key for every attempt: {sent:?}");
    let bodies: Vec<_> = requests.iter().map(|r| r.body.clone()).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every attempt sends the same body");
    assert_eq!(fake.waits().len(), 2);

    let second = fake.client.batch("org-1", &ops).await.unwrap();
    assert_ne!(second.idempotency_key, first.idempotency_key, "a new logical batch gets a new key");
    let sent = keys(&fake.requests().await);
    assert_eq!(sent.last().unwrap(), second.idempotency_key.as_str());
}

#[tokio::test]
async fn a_caller_chosen_key_is_sent_as_given() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users/batch"))
        .and(wiremock::matchers::header(IDEMPOTENCY_KEY_HEADER, "run-42-chunk-3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"index": 0, "status": 200}]})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let key = IdempotencyKey::new("run-42-chunk-3").unwrap();
    let ops = [BatchOperation::reactivate("u4", "entra:4")];
    let report = fake.client.batch_with_key("org-1", &ops, key.clone()).await.unwrap();
    assert_eq!(report.idempotency_key, key);
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new("has space").is_err());
}

#[tokio::test]
async fn item_conflicts_and_validation_errors_do_not_fail_the_other_items() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users/batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"index": 0, "status": 409, "error": {"code": "conflict", "message": "email already in use",
                "details": {"existing_user_id": "u77"}}},
            {"index": 1, "status": 200, "user": user("u2", "b@s.example")},
            {"index": 2, "status": 422, "error": {"code": "validation_failed", "message": "invalid fields",
                "details": {"email": "must be a valid address"}}},
            {"index": 3, "status": 404, "error": {"code": "not_found", "message": "no such user"}}
        ]})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let report = fake.client.batch("org-1", &operations()).await.unwrap();
    assert_eq!(report.succeeded().map(|r| r.index).collect::<Vec<_>>(), [1]);
    assert_eq!(report.outcome(1).unwrap().unwrap().unwrap().id, "u2");
    let failed: Vec<(usize, BatchItemError)> = report.failed().collect();
    assert_eq!(failed.len(), 3);
    assert!(failed[0].1.is_conflict(), "{}", failed[0].1);
    assert_eq!(failed[0].1.details(), Some(&json!({"existing_user_id": "u77"})));
    match &failed[1].1 {
        BatchItemError::Validation { message, details } => {
            assert_eq!(message, "invalid fields");
            assert_eq!(details.as_ref().unwrap()["email"], "must be a valid address");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(matches!(&failed[2], (3, BatchItemError::Other { status: 404, code, .. }) if code == "not_found"));
    assert!(fake.waits().is_empty(), "item errors are not retried as a whole batch");
}

#[tokio::test]
async fn too_many_operations_are_refused_before_sending_and_none_sends_nothing() {
    let fake = Fake::start().await;
    let ops: Vec<_> =
        (0..=MAX_BATCH_OPERATIONS).map(|i| BatchOperation::suspend(format!("u{i}"), format!("e:{i}"))).collect();
    let err = fake.client.batch("org-1", &ops).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(InvalidInput::BatchTooLarge { len: 101, max: 100 })), "{err}");
    let report = fake.client.batch("org-1", &[]).await.unwrap();
    assert!(report.results.is_empty());
    assert!(fake.requests().await.is_empty());
}

#[tokio::test]
async fn a_whole_batch_failure_is_an_error_and_bad_indexes_break_the_contract() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/denied/users/batch"))
        .respond_with(ResponseTemplate::new(403).set_body_json(error_body("forbidden", "not an admin")))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/organisations/odd/users/batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"index": 7, "status": 200}]})))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/organisations/short/users/batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"index": 1, "status": 200}]})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let ops = [BatchOperation::suspend("u1", "e:1"), BatchOperation::suspend("u2", "e:2")];
    let err = fake.client.batch("denied", &ops).await.unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    let err = fake.client.batch("odd", &ops).await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
    let report = fake.client.batch("short", &ops).await.unwrap();
    assert_eq!(report.unanswered(), [0]);
    assert!(report.outcome(0).is_none());
}
