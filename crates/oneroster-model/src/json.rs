//! The OneRoster 1.1 REST/JSON binding: response wrappers and `imsx_StatusInfo` bodies.
//!
//! A collection is wrapped in an object keyed by the collection's name (`{"users": […]}`), a single record by the
//! singular name (`{"user": {…}}`); a collection endpoint that returns a subset of another kind keeps the kind's
//! key (`/schools` answers `{"orgs": […]}`, `/students` answers `{"users": […]}`, `/terms` answers
//! `{"academicSessions": […]}`).
//!
//! Decode errors carry the JSON path that failed (`users[3].role`).

use crate::entity::{Entity, EntityKind};
use crate::vocab::CodeMinorValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// JSON that is not the OneRoster shape expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid OneRoster JSON at `{path}`: {message}")]
pub struct JsonError {
    /// Where the error is, e.g. `users[3].role`; `.` for the document itself.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| JsonError { path: e.path().to_string(), message: e.inner().to_string() })
}

type Envelope = std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>;

fn unwrap<T: DeserializeOwned>(bytes: &[u8], key: &str, what: &str) -> Result<T, JsonError> {
    let envelope: Envelope = decode(bytes)?;
    let Some(inner) = envelope.get(key) else {
        return Err(JsonError { path: ".".into(), message: format!("expected {what} under the key `{key}`") });
    };
    decode::<T>(inner.get().as_bytes()).map_err(|e| JsonError { path: nest(key, &e.path), message: e.message })
}

fn nest(key: &str, path: &str) -> String {
    if path == "." {
        key.to_owned()
    } else if path.starts_with('[') {
        format!("{key}{path}")
    } else {
        format!("{key}.{path}")
    }
}

/// Reads a collection response such as `{"users": […]}`.
pub fn from_collection_json<E: Entity>(bytes: &[u8]) -> Result<Vec<E>, JsonError> {
    unwrap(bytes, E::KIND.collection_key(), "an array")
}

/// Reads a single-record response such as `{"user": {…}}`.
pub fn from_single_json<E: Entity>(bytes: &[u8]) -> Result<E, JsonError> {
    unwrap(bytes, E::KIND.single_key(), "an object")
}

/// Writes a collection response, e.g. `{"users": […]}`.
pub fn to_collection_json<E: Entity>(items: &[E]) -> String {
    let mut out = String::with_capacity(64 + items.len() * 256);
    out.push_str("{\"");
    out.push_str(E::KIND.collection_key());
    out.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Serialising these types cannot fail: every map key is a string and no serializer returns an error.
        if let Ok(json) = serde_json::to_string(item) {
            out.push_str(&json);
        }
    }
    out.push_str("]}");
    out
}

/// Writes a single-record response, e.g. `{"user": {…}}`.
pub fn to_single_json<E: Entity>(item: &E) -> String {
    let mut map = serde_json::Map::new();
    map.insert(E::KIND.single_key().to_owned(), serde_json::to_value(item).unwrap_or_default());
    serde_json::Value::Object(map).to_string()
}

/// Returns the JSON key a collection endpoint wraps its records in; see the module docs.
pub fn collection_key(kind: EntityKind) -> &'static str {
    kind.collection_key()
}

/// `imsx_codeMajor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeMajor {
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `processing`
    Processing,
    /// `unsupported`
    Unsupported,
}

/// `imsx_severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSeverity {
    /// `status`
    Status,
    /// `warning`
    Warning,
    /// `error`
    Error,
}

/// One `imsx_codeMinorField`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMinorField {
    /// `imsx_codeMinorFieldName`; the binding uses `TargetEndSystem`.
    #[serde(rename = "imsx_codeMinorFieldName")]
    pub name: String,
    /// `imsx_codeMinorFieldValue`.
    #[serde(rename = "imsx_codeMinorFieldValue")]
    pub value: CodeMinorValue,
}

/// `imsx_CodeMinor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMinor {
    /// `imsx_codeMinorField`.
    #[serde(rename = "imsx_codeMinorField")]
    pub fields: Vec<CodeMinorField>,
}

/// `imsx_StatusInfo`: the body of an error response, or one entry of a `statusInfoSet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// `imsx_codeMajor`.
    #[serde(rename = "imsx_codeMajor")]
    pub code_major: CodeMajor,
    /// `imsx_severity`.
    #[serde(rename = "imsx_severity")]
    pub severity: StatusSeverity,
    /// `imsx_description`: human-readable.
    #[serde(rename = "imsx_description", default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `imsx_CodeMinor`.
    #[serde(rename = "imsx_CodeMinor", default, skip_serializing_if = "Option::is_none")]
    pub code_minor: Option<CodeMinor>,
}

impl StatusInfo {
    /// A `failure`/`error` status with one code minor (field name `TargetEndSystem`) and a description.
    pub fn failure(code: CodeMinorValue, description: impl Into<String>) -> StatusInfo {
        StatusInfo {
            code_major: CodeMajor::Failure,
            severity: StatusSeverity::Error,
            description: Some(description.into()),
            code_minor: Some(CodeMinor {
                fields: vec![CodeMinorField { name: "TargetEndSystem".into(), value: code }],
            }),
        }
    }

    /// A `success`/`warning` status, as sent beside data in a `statusInfoSet` (e.g. an ignored `fields` name).
    pub fn warning(code: CodeMinorValue, description: impl Into<String>) -> StatusInfo {
        StatusInfo {
            code_major: CodeMajor::Success,
            severity: StatusSeverity::Warning,
            ..StatusInfo::failure(code, description)
        }
    }

    /// The first code minor value, if any.
    pub fn code_minor_value(&self) -> Option<&CodeMinorValue> {
        self.code_minor.as_ref().and_then(|c| c.fields.first()).map(|f| &f.value)
    }

    /// Reads an error body: a bare `imsx_StatusInfo`, `{"imsx_StatusInfo": …}`, or the first entry of a
    /// `{"statusInfoSet": […]}`.
    pub fn from_json(bytes: &[u8]) -> Result<StatusInfo, JsonError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shapes {
            Bare(StatusInfo),
            Wrapped {
                #[serde(rename = "imsx_StatusInfo", alias = "imsx_statusInfo")]
                info: StatusInfo,
            },
            Set(StatusInfoSet),
        }
        match decode::<Shapes>(bytes)? {
            Shapes::Bare(info) | Shapes::Wrapped { info } => Ok(info),
            Shapes::Set(set) => set
                .status_info_set
                .into_iter()
                .next()
                .ok_or_else(|| JsonError { path: "statusInfoSet".into(), message: "empty status set".into() }),
        }
    }
}

/// `{"statusInfoSet": […]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfoSet {
    /// The statuses.
    #[serde(rename = "statusInfoSet")]
    pub status_info_set: Vec<StatusInfo>,
}
