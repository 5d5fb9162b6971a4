//! The one error type of the query grammar.

use crate::entity::EntityKind;
use crate::vocab::CodeMinorValue;

/// A `filter`, `sort`, `orderBy` or `fields` value that cannot be used.
///
/// Every variant is the client's fault (HTTP 400); [`code_minor`](QueryError::code_minor) says which
/// `imsx_codeMinorFieldValue` to report, and the message names the offending field or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The filter does not follow the grammar (see the [module docs](crate::query)).
    #[error("invalid filter at character {position}: expected {expected}, found {}", found_text(.found))]
    FilterSyntax {
        /// Where the problem is, counted in characters from 0 at the start of the (decoded) filter.
        position: usize,
        /// What the grammar allows there.
        expected: &'static str,
        /// The text found there (a short excerpt), or `None` at the end of the input.
        found: Option<String>,
    },
    /// The filter is not UTF-8 text once percent-decoded.
    #[error("invalid filter: not UTF-8 text once percent-decoded")]
    FilterEncoding,
    /// The filter names a field the entity does not have, or one that cannot be filtered on.
    #[error("`{field}` is not a filterable field of {}", .kind.collection_key())]
    UnknownFilterField {
        /// The field as written in the filter.
        field: String,
        /// The entity filtered.
        kind: EntityKind,
    },
    /// A filter value cannot be read as the type of the field it is compared with.
    #[error("`{value}` is not a valid {expected} for the filter field `{field}`")]
    InvalidFilterValue {
        /// The field as written in the filter.
        field: String,
        /// The value as written in the filter (unquoted).
        value: String,
        /// What the field's type requires, e.g. `date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)`.
        expected: &'static str,
    },
    /// `sort` names a field the entity does not have, or one that cannot be sorted on.
    #[error("`{field}` is not a sortable field of {}", .kind.collection_key())]
    UnknownSortField {
        /// The field as written in `sort`.
        field: String,
        /// The entity sorted.
        kind: EntityKind,
    },
    /// `orderBy` is neither `asc` nor `desc`.
    #[error("`{value}` is not a valid orderBy: expected `asc` or `desc`")]
    InvalidOrderBy {
        /// The value as written.
        value: String,
    },
    /// `fields` names fields the entity does not have.
    #[error("unknown selection field(s) of {}: {}", .kind.collection_key(), quoted_list(.fields))]
    UnknownSelectionFields {
        /// The unknown names, in the order written, each once.
        fields: Vec<String>,
        /// The entity selected from.
        kind: EntityKind,
    },
}

impl QueryError {
    /// The `imsx_codeMinorFieldValue` to report: `invalid_filter_field` for every filter error,
    /// `invalid_selection_field` for `fields`, and `invaliddata` for `sort` and `orderBy` (OneRoster 1.1 has no code
    /// of its own for them).
    pub fn code_minor(&self) -> CodeMinorValue {
        match self {
            QueryError::FilterSyntax { .. }
            | QueryError::FilterEncoding
            | QueryError::UnknownFilterField { .. }
            | QueryError::InvalidFilterValue { .. } => CodeMinorValue::InvalidFilterField,
            QueryError::UnknownSelectionFields { .. } => CodeMinorValue::InvalidSelectionField,
            QueryError::UnknownSortField { .. } | QueryError::InvalidOrderBy { .. } => CodeMinorValue::InvalidData,
        }
    }
}

fn found_text(found: &Option<String>) -> String {
    match found {
        Some(text) => format!("`{text}`"),
        None => "end of input".to_owned(),
    }
}

fn quoted_list(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
