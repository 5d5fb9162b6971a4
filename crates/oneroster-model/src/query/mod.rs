//! The query grammar of the OneRoster 1.1 REST binding: `filter`, `sort` + `orderBy`, and `fields`.
//!
//! Shared by the provider, which evaluates queries against its records, and by clients, which build them. Pure: query
//! text is parsed into typed values and evaluated against typed records; no query text ever becomes code.
//!
//! Every query is checked against the **field catalogue** of the entity type it applies to ([`Queryable`]): the
//! fields a record has, under their JSON names, with their types. A name the catalogue does not know is an error
//! ([`QueryError`]) whose [`code_minor`](QueryError::code_minor) is what an `imsx_StatusInfo` body should carry.
//!
//! # `filter`
//!
//! ```text
//! filter     = predicate [ 1*WS logical 1*WS predicate ]     ; leading and trailing whitespace is allowed
//! predicate  = field *WS operator *WS value
//! field      = 1*( ALPHA / DIGIT / "." / "_" / "-" )         ; but not AND or OR
//! operator   = "=" / "!=" / ">" / ">=" / "<" / "<=" / "~"
//! logical    = "AND" / "OR"                                  ; in any letter case
//! value      = "'" *( any character but "'" / "''" ) "'"     ; a doubled quote is one literal quote
//! ```
//!
//! So `familyName='O''Brien' AND enabledUser='true'` holds two predicates, the first comparing `familyName` with
//! `O'Brien`. At most two predicates are joined, by exactly one `AND` or `OR`. [`Filter::parse`] reads text that is
//! already URL-decoded; [`Filter::parse_encoded`] decodes a raw query-string value first (`%XX` escapes, and `+` as a
//! space). [`Filter`]'s `Display` writes the canonical form, which parses back to the same filter.
//!
//! A parsed [`Filter`] is [bound](Filter::bind) to an entity type before it is evaluated. Binding checks every field
//! name against the catalogue and reads every value as its field's type, so that evaluation compares typed values:
//!
//! * **date-times** (`dateLastModified`) as instants, read with [`parse_datetime`](crate::datetime::parse_datetime):
//!   `dateLastModified>'2024-05-01T10:00:00.000Z'` (what Microsoft School Data Sync sends for a delta sync) and
//!   `dateLastModified>'2024-05-01'` (midnight UTC) both work;
//! * **dates** (`startDate`, `birthDate`, …) as calendar dates;
//! * **booleans** (`enabledUser`, `primary`, …) as booleans: `true` or `false` in any letter case;
//! * **enumerations** (`status`, `role`, `type`, …) by their specification spelling, which is also how they order; a
//!   value that matches a listed one but for letter case is read as that one (`role='Student'`);
//! * **text** case-sensitively, ordered by Unicode code point;
//! * **references** (`GUIDRef`s such as `school`, `orgs`) by the referenced `sourcedId`; `school.sourcedId` and
//!   `orgs.sourcedId` name the same thing;
//! * **user identifiers** (`userIds`) by their `identifier` (also `userIds.identifier`), or by their type with
//!   `userIds.type`;
//! * **extension data**: `metadata.<key>` reads the key of a record's `metadata` as text (strings, numbers and
//!   booleans; anything else counts as absent).
//!
//! A value that cannot be read as its field's type (`dateLastModified>'yesterday'`) is an error, as is an unknown
//! field. The operators mean:
//!
//! | operator | true when |
//! |---|---|
//! | `=` `>` `>=` `<` `<=` | the field's value compares so with the filter's value |
//! | `!=` | the field's value does not equal the filter's value |
//! | `~` | the field's value, written as text, **contains** the filter's value, ignoring letter case |
//!
//! `~` is a case-insensitive substring test (both sides are lower-cased, Unicode-aware), which is how most providers
//! read the specification's "contains"; it applies to fields of any type through their written form
//! (`dateLastModified~'2024-05'` finds records changed in May 2024), so its value is never rejected.
//!
//! A **list** field (`orgs`, `grades`, `subjects`, `userIds`, …) matches `!=` when *no* element equals the value and
//! every other operator when *any* element does. An **absent** optional value behaves as an empty list: `!=` is true,
//! every other operator false.
//!
//! `password` appears in the catalogue only to be selected with `fields`: it can be neither filtered nor sorted on, so
//! that a query cannot probe it.
//!
//! ```
//! use oneroster_model::query::Filter;
//! use oneroster_model::{json, User};
//!
//! let body = br#"{"users":[
//!   {"sourcedId":"u1","status":"active","dateLastModified":"2024-05-02T08:00:00.000Z","username":"ada",
//!    "enabledUser":"true","givenName":"Ada","familyName":"Lovelace","role":"student",
//!    "orgs":[{"sourcedId":"s1","type":"org"}]},
//!   {"sourcedId":"u2","status":"active","dateLastModified":"2024-04-02T08:00:00.000Z","username":"cb",
//!    "enabledUser":"false","givenName":"Charles","familyName":"Babbage","role":"teacher",
//!    "orgs":[{"sourcedId":"s2","type":"org"}]}]}"#;
//! let users: Vec<User> = json::from_collection_json(body)?;
//!
//! let filter = Filter::parse("dateLastModified>'2024-05-01T10:00:00.000Z' AND orgs.sourcedId='s1'")?.bind::<User>()?;
//! let changed: Vec<&str> = users.iter().filter(|u| filter.matches(u)).map(|u| u.username.as_str()).collect();
//! assert_eq!(changed, ["ada"]);
//!
//! let filter = Filter::parse_encoded("familyName~'bab'+OR+role%3D'student'")?.bind::<User>()?;
//! assert!(users.iter().all(|u| filter.matches(u)));
//!
//! // Unknown fields and unreadable values are errors that map to `invalid_filter_field`.
//! let err = Filter::parse("shoeSize='9'")?.bind::<User>().unwrap_err();
//! assert_eq!(err.code_minor(), oneroster_model::CodeMinorValue::InvalidFilterField);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # `sort` and `orderBy`
//!
//! `sort` names one field of the catalogue (the same names as in a filter); `orderBy` is `asc` (the default) or
//! `desc`, in any letter case. Values compare by type as in a filter; lists compare element by element. Records
//! without a value sort after all others in ascending order (and so before them in descending order), and ties are
//! broken by `sourcedId`, so the order is total and `desc` is exactly `asc` reversed. See [`SortSpec`].
//!
//! ```
//! use oneroster_model::query::SortSpec;
//! use oneroster_model::{Base, Org, OrgType};
//!
//! let org = |id: &str, name: &str| Org {
//!     base: Base::new(id), name: name.into(), org_type: OrgType::School,
//!     identifier: None, parent: None, children: vec![],
//! };
//! let mut orgs = vec![org("c", "Beech"), org("a", "Oak"), org("b", "Beech")];
//! SortSpec::<Org>::parse("name", Some("desc"))?.sort(&mut orgs);
//! let ids: Vec<&str> = orgs.iter().map(|o| o.base.sourced_id.as_str()).collect();
//! assert_eq!(ids, ["a", "c", "b"]);
//! # Ok::<(), oneroster_model::query::QueryError>(())
//! ```
//!
//! # `fields`
//!
//! A comma-separated list of top-level field names (`fields=sourcedId,givenName,familyName`); spaces around names and
//! empty items are ignored, and an empty list selects every field. A [`FieldSelection`] keeps only the selected keys
//! of a serialized record. An unknown name is an error ([`FieldSelection::parse`]), or, as the OneRoster 1.1 binding
//! also allows, is dropped and reported as a warning ([`FieldSelection::parse_lenient`]).
//!
//! ```
//! use oneroster_model::query::FieldSelection;
//! use oneroster_model::{Base, Org, OrgType};
//!
//! let org = Org {
//!     base: Base::new("s1"), name: "Oak Academy".into(), org_type: OrgType::School,
//!     identifier: Some("URN 100".into()), parent: None, children: vec![],
//! };
//! let selection = FieldSelection::<Org>::parse("sourcedId, name")?;
//! assert_eq!(selection.to_value(&org), serde_json::json!({"sourcedId": "s1", "name": "Oak Academy"}));
//! # Ok::<(), oneroster_model::query::QueryError>(())
//! ```

mod access;
mod catalogue;
mod error;
mod fields;
mod filter;
mod parser;
mod sort;

pub use catalogue::{FieldDef, FieldType, FieldValue, Queryable};
pub use error::QueryError;
pub use fields::FieldSelection;
pub use filter::{BoundFilter, Filter, Op, Predicate};
pub use sort::{SortOrder, SortSpec};
