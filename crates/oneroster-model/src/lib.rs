//! The OneRoster 1.1 rostering data model: entities, the REST/JSON and CSV bindings, the query grammar
//! (`filter`, `sort`, `orderBy`, `fields`) and validation, including what Microsoft School Data Sync rejects.
//!
//! Pure data and parsing: no network, no async, no database. Everything else in rosterbridge that reads or writes
//! rosters builds on it.
//!
//! ```
//! use oneroster_model::{json, User};
//!
//! let body = br#"{"users":[{"sourcedId":"u1","status":"active","dateLastModified":"2025-01-02T03:04:05Z",
//!   "username":"ada","enabledUser":"true","givenName":"Ada","familyName":"Lovelace","role":"student",
//!   "orgs":[{"href":"https://sis.example/ims/oneroster/v1p1/orgs/s1","sourcedId":"s1","type":"org"}]}]}"#;
//! let users: Vec<User> = json::from_collection_json(body)?;
//! assert_eq!(users[0].given_name, "Ada");
//! // Written back, dateLastModified always has milliseconds and a Z.
//! assert!(json::to_collection_json(&users).contains(r#""dateLastModified":"2025-01-02T03:04:05.000Z""#));
//! # Ok::<(), oneroster_model::json::JsonError>(())
//! ```

pub mod csv;
pub mod datetime;
pub mod entity;
pub mod json;
pub mod query;
pub mod roster;
pub mod validate;
pub mod vocab;

pub use entity::{
    AcademicSession, Base, Class, Course, Demographics, Enrollment, Entity, EntityKind, GuidRef, Metadata, Org,
    Password, Status, User, UserId,
};
pub use roster::Roster;
pub use vocab::{ClassType, CodeMinorValue, EnrollmentRole, Grade, GuidType, OrgType, RoleType, SessionType, Sex};
