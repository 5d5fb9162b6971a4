//! The hand-written decoding of `User` (one allocation per user) against the derived one it replaced: same values,
//! same errors, same JSON paths; unknown properties ignored; serialisation round trips.
//!
//! User objects follow Graph v1.0 "user resource type" and "Get user"
//! (https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0,
//! https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0); `@removed` follows "user: delta"
//! (https://learn.microsoft.com/en-us/graph/api/user-delta?view=graph-rest-1.0).

use graph_client::{DeltaUser, GraphError, Page, User};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The `User` this crate had before: a derived `Deserialize` with a `String` per property. The reference the
/// hand-written decoding must agree with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    id: String,
    #[serde(default)]
    user_principal_name: Option<String>,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    surname: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
    #[serde(default)]
    job_title: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    employee_id: Option<String>,
    #[serde(default)]
    on_premises_immutable_id: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
}

fn as_reference(u: &User) -> Reference {
    let own = |s: Option<&str>| s.map(str::to_owned);
    Reference {
        id: u.id().to_owned(),
        user_principal_name: own(u.user_principal_name()),
        mail: own(u.mail()),
        given_name: own(u.given_name()),
        surname: own(u.surname()),
        display_name: own(u.display_name()),
        account_enabled: u.account_enabled(),
        job_title: own(u.job_title()),
        department: own(u.department()),
        employee_id: own(u.employee_id()),
        on_premises_immutable_id: own(u.on_premises_immutable_id()),
        user_type: own(u.user_type()),
    }
}

/// A user as "Get user" shows one with `$select` of what sync reads, plus properties sync does not read (which
/// must be skipped whatever their shape), and text that needs JSON escapes.
const DOC_USER: &str = r##"{
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
    "@odata.type": "#microsoft.graph.user",
    "businessPhones": ["+1 412 555 0109"],
    "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    "userPrincipalName": "AdeleV@contoso.com",
    "mail": "AdeleV@contoso.com",
    "givenName": "Adele",
    "surname": "Vance \"the \\ Great\"",
    "displayName": "Adele Vance \u2013 O\u2019Neill",
    "accountEnabled": true,
    "jobTitle": null,
    "officeLocation": "18/2111",
    "onPremisesExtensionAttributes": {"extensionAttribute1": null, "nested": [1, {"a": [true]}]},
    "department": "Retail",
    "employeeId": "E1001",
    "onPremisesImmutableId": null,
    "userType": "Member",
    "preferredLanguage": "en-US"
}"##;

#[test]
fn a_documented_user_decodes_with_escapes_and_unknown_properties_skipped() {
    let user: User = serde_json::from_str(DOC_USER).unwrap();
    assert_eq!(user.id(), "87d349ed-44d7-43e1-9a83-5f2406dee5bd");
    assert_eq!(user.user_principal_name(), Some("AdeleV@contoso.com"));
    assert_eq!(user.mail(), Some("AdeleV@contoso.com"));
    assert_eq!(user.given_name(), Some("Adele"));
    assert_eq!(user.surname(), Some("Vance \"the \\ Great\""));
    assert_eq!(user.display_name(), Some("Adele Vance \u{2013} O\u{2019}Neill"));
    assert_eq!(user.account_enabled(), Some(true));
    assert_eq!(user.job_title(), None);
    assert_eq!(user.department(), Some("Retail"));
    assert_eq!(user.employee_id(), Some("E1001"));
    assert_eq!(user.on_premises_immutable_id(), None);
    assert_eq!(user.user_type(), Some("Member"));
    let reference: Reference = serde_json::from_str(DOC_USER).unwrap();
    assert_eq!(as_reference(&user), reference);
}

#[test]
fn only_the_id_is_required_and_empty_text_is_not_absent() {
    let user: User = serde_json::from_str(r#"{"id": "u1", "mail": ""}"#).unwrap();
    assert_eq!(user.id(), "u1");
    assert_eq!(user.mail(), Some(""));
    assert_eq!(user.user_principal_name(), None);
    assert_eq!(user.account_enabled(), None);
    let err = serde_json::from_str::<User>(r#"{"mail": "a@b"}"#).unwrap_err();
    assert!(err.to_string().starts_with("missing field `id`"), "{err}");
    let err = serde_json::from_str::<User>(r#"{"id": null}"#).unwrap_err();
    assert!(err.to_string().starts_with("invalid type: null, expected a string"), "{err}");
}

#[test]
fn a_property_given_twice_is_an_error_naming_it() {
    let err = serde_json::from_str::<User>(r#"{"id": "u1", "mail": "a@b", "mail": null}"#).unwrap_err();
    assert!(err.to_string().starts_with("duplicate field `mail`"), "{err}");
    let err =
        serde_json::from_str::<User>(r#"{"id": "u1", "accountEnabled": true, "accountEnabled": false}"#).unwrap_err();
    assert!(err.to_string().starts_with("duplicate field `accountEnabled`"), "{err}");
}

#[test]
fn a_bad_value_in_a_page_is_reported_with_its_json_path() {
    let body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
        "value": [{"id": "u0"}, {"id": "u1", "mail": "a@b"}, {"id": "u2", "surname": 42}]
    });
    let err = Page::<User>::from_json("/v1.0/users", body.to_string().as_bytes()).unwrap_err();
    match err {
        GraphError::Decode { path, json_path, message } => {
            assert_eq!(path, "/v1.0/users");
            assert_eq!(json_path, "value[2].surname");
            assert!(message.starts_with("invalid type: integer `42`, expected a string"), "{message}");
        }
        other => panic!("expected a decode error, got {other}"),
    }
    let body = json!({"value": [{"id": "u0"}, {"userPrincipalName": "x@y"}]});
    match Page::<User>::from_json("p", body.to_string().as_bytes()).unwrap_err() {
        GraphError::Decode { json_path, message, .. } => {
            assert_eq!(json_path, "value[1]");
            assert!(message.starts_with("missing field `id`"), "{message}");
        }
        other => panic!("expected a decode error, got {other}"),
    }
}

#[test]
fn a_delta_user_reads_removed_and_a_plain_user_ignores_it() {
    // "user: delta": a removed user carries its id and `@removed`.
    let removed = r#"{"id": "u3", "@removed": {"reason": "deleted"}}"#;
    let delta: DeltaUser = serde_json::from_str(removed).unwrap();
    assert_eq!(delta.user.id(), "u3");
    assert_eq!(delta.removed.and_then(|r| r.reason).as_deref(), Some("deleted"));
    let user: User = serde_json::from_str(removed).unwrap();
    assert_eq!(user, User::builder("u3").build().unwrap());

    let delta: DeltaUser = serde_json::from_str(DOC_USER).unwrap();
    assert!(delta.removed.is_none());
    assert_eq!(delta.user, serde_json::from_str::<User>(DOC_USER).unwrap());

    let err = serde_json::from_str::<DeltaUser>(r#"{"id": "u", "@removed": {}, "@removed": {}}"#).unwrap_err();
    assert!(err.to_string().starts_with("duplicate field `@removed`"), "{err}");
    let err = serde_json::from_str::<DeltaUser>(r#"{"id": "u", "@removed": "gone"}"#).unwrap_err();
    assert!(err.to_string().contains("expected struct Removed"), "{err}");
}

#[test]
fn serialisation_writes_graph_json_with_nulls_as_the_derived_one_did() {
    let user: User = serde_json::from_str(DOC_USER).unwrap();
    let reference: Reference = serde_json::from_str(DOC_USER).unwrap();
    assert_eq!(serde_json::to_string(&user).unwrap(), serde_json::to_string(&reference).unwrap());
    let delta = DeltaUser { user: user.clone(), removed: None };
    let value = serde_json::to_value(&delta).unwrap();
    assert_eq!(value["id"], "87d349ed-44d7-43e1-9a83-5f2406dee5bd");
    assert_eq!(value["jobTitle"], serde_json::Value::Null);
    assert!(value.get("@removed").is_none());
}

#[test]
fn debug_shows_every_property_by_name() {
    let user = User::builder("u1").mail("a@b").account_enabled(false).build().unwrap();
    let debug = format!("{user:?}");
    assert!(debug.starts_with(r#"User { id: "u1", user_principal_name: None, mail: Some("a@b"), "#), "{debug}");
    assert!(debug.contains("account_enabled: Some(false)"), "{debug}");
    assert!(debug.ends_with("user_type: None }"), "{debug}");
}

#[test]
fn to_builder_makes_a_changed_copy() {
    let user: User = serde_json::from_str(DOC_USER).unwrap();
    let changed = user.to_builder().job_title("Head of Maths").build().unwrap();
    assert_eq!(changed.job_title(), Some("Head of Maths"));
    assert_ne!(changed, user);
    let mut expected = as_reference(&user);
    expected.job_title = Some("Head of Maths".into());
    assert_eq!(as_reference(&changed), expected);
    assert_eq!(user.to_builder().build().unwrap(), user);
}

/// Property names: the ones a user has, some it does not (including near misses), and `@removed`.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "id", "userPrincipalName", "mail", "givenName", "surname", "displayName", "accountEnabled", "jobTitle",
            "department", "employeeId", "onPremisesImmutableId", "userType",
        ])
        .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["@odata.type", "@removed", "businessPhones", "ID", "Mail", "mail ", ""])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z@.]{1,12}",
    ]
}

/// Any JSON value, strings with characters that need escapes or are outside ASCII.
fn value() -> impl Strategy<Value = serde_json::Value> {
    let text = prop_oneof!["[a-z0-9@.]{0,40}", any::<String>(), "[\"\\\\/\u{0}-\u{1f}é–’😀]{0,8}"];
    let leaf = prop_oneof![
        4 => text.prop_map(serde_json::Value::String),
        2 => Just(serde_json::Value::Null),
        1 => any::<bool>().prop_map(serde_json::Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object written by hand, so that a property can occur twice.
fn object(entries: &[(String, serde_json::Value)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Objects that are mostly valid users: an `id` string first, then arbitrary properties.
fn user_object() -> impl Strategy<Value = String> {
    (any::<bool>(), "[a-f0-9-]{0,36}", prop::collection::vec((key(), value()), 0..16)).prop_map(
        |(with_id, id, mut entries)| {
            if with_id {
                entries.insert(0, ("id".to_owned(), serde_json::Value::String(id)));
            }
            object(&entries)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the object, the hand-written decoding gives what the derived one gave: the same user, or the same
    /// error message (with the same line and column).
    #[test]
    fn decoding_agrees_with_the_derived_reference(text in user_object()) {
        let ours = serde_json::from_str::<User>(&text);
        let reference = serde_json::from_str::<Reference>(&text);
        match (ours, reference) {
            (Ok(u), Ok(r)) => prop_assert_eq!(as_reference(&u), r),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "disagree on {}: {:?} vs {:?}", text, a, b),
        }
    }

    /// In a page, a fault is reported at the same JSON path as with the derived reference.
    #[test]
    fn page_errors_carry_the_same_json_path(objects in prop::collection::vec(user_object(), 1..4)) {
        let body = format!(r#"{{"@odata.context":"x","value":[{}]}}"#, objects.join(","));
        let ours = Page::<User>::from_json("p", body.as_bytes());
        let reference = Page::<Reference>::from_json("p", body.as_bytes());
        match (ours, reference) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.value.iter().map(as_reference).collect::<Vec<_>>(), b.value);
            }
            (
                Err(GraphError::Decode { json_path: a, message: ma, .. }),
                Err(GraphError::Decode { json_path: b, message: mb, .. }),
            ) => {
                prop_assert_eq!(a, b);
                prop_assert_eq!(ma, mb);
            }
            (a, b) => prop_assert!(false, "disagree on {}: {:?} vs {:?}", body, a.err(), b.err()),
        }
    }

    /// A user built from any properties serialises to JSON that decodes to the same user.
    #[test]
    fn built_users_round_trip_through_json(
        id in any::<String>(),
        texts in prop::collection::vec(prop::option::of(any::<String>()), 10),
        enabled in prop::option::of(any::<bool>()),
    ) {
        let mut b = User::builder(id);
        let setters: [fn(graph_client::UserBuilder, String) -> graph_client::UserBuilder; 10] = [
            |b, v| b.user_principal_name(v), |b, v| b.mail(v), |b, v| b.given_name(v), |b, v| b.surname(v),
            |b, v| b.display_name(v), |b, v| b.job_title(v), |b, v| b.department(v), |b, v| b.employee_id(v),
            |b, v| b.on_premises_immutable_id(v), |b, v| b.user_type(v),
        ];
        for (set, text) in setters.iter().zip(&texts) {
            if let Some(text) = text {
                b = set(b, text.clone());
            }
        }
        if let Some(enabled) = enabled {
            b = b.account_enabled(enabled);
        }
        let user = b.build().unwrap();
        let json = serde_json::to_string(&user).unwrap();
        let back: User = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &user);
        let reference: Reference = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(as_reference(&user), reference);
    }
}
