//! How filters and sorts reach into records: field names resolved against the catalogue, and field values seen as a
//! (possibly empty) sequence of typed scalars.

use super::catalogue::{FieldDef, FieldType, FieldValue, Queryable};
use crate::datetime::{format_date, format_datetime, parse_bool, parse_date, parse_datetime};
use crate::entity::{GuidRef, UserId};
use crate::vocab::Grade;
use chrono::{DateTime, NaiveDate, Utc};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::slice;

/// One comparable value: a single field value, or one element of a list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Text(Cow<'a, str>),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
    Boolean(bool),
}

impl Scalar<'_> {
    /// Compares two scalars of the same type; `None` when the types differ.
    pub(crate) fn compare(&self, other: &Scalar<'_>) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Text(a), Scalar::Text(b)) => Some(a.as_ref().cmp(b.as_ref())),
            (Scalar::DateTime(a), Scalar::DateTime(b)) => Some(a.cmp(b)),
            (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
            (Scalar::Boolean(a), Scalar::Boolean(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order: by value within a type, by type across types (which one field never mixes).
    pub(crate) fn total_cmp(&self, other: &Scalar<'_>) -> Ordering {
        self.compare(other).unwrap_or_else(|| self.rank().cmp(&other.rank()))
    }

    fn rank(&self) -> u8 {
        match self {
            Scalar::Text(_) => 0,
            Scalar::DateTime(_) => 1,
            Scalar::Date(_) => 2,
            Scalar::Boolean(_) => 3,
        }
    }

    /// The value as OneRoster writes it.
    pub(crate) fn written(&self) -> Cow<'_, str> {
        match self {
            Scalar::Text(text) => Cow::Borrowed(text),
            Scalar::DateTime(dt) => Cow::Owned(format_datetime(dt)),
            Scalar::Date(date) => Cow::Owned(format_date(date)),
            Scalar::Boolean(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// Reads a filter value as a scalar of the type of a field; on failure, says what was expected.
    pub(crate) fn read(ty: FieldType, text: &str) -> Result<Scalar<'static>, &'static str> {
        match ty {
            FieldType::DateTime => parse_datetime(text).map(Scalar::DateTime).map_err(|e| e.expected),
            FieldType::Date => parse_date(text).map(Scalar::Date).map_err(|e| e.expected),
            FieldType::Boolean => parse_bool(text).map(Scalar::Boolean).ok_or("boolean (true or false)"),
            FieldType::Enum(_) | FieldType::GradeList => {
                let spelled = ty.spec_values().iter().find(|v| v.eq_ignore_ascii_case(text));
                Ok(Scalar::Text(Cow::Owned(spelled.map_or(text, |v| v).to_owned())))
            }
            FieldType::Text
            | FieldType::GuidRef
            | FieldType::GuidRefList
            | FieldType::TextList
            | FieldType::UserIdList
            | FieldType::Metadata
            | FieldType::Password => Ok(Scalar::Text(Cow::Owned(text.to_owned()))),
        }
    }
}

/// Which part of a structured value a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Projection {
    /// The value itself; for a `GUIDRef` its `sourcedId`, for a `UserId` its `identifier`.
    Value,
    /// The `type` of a `UserId`.
    UserIdType,
}

/// The scalars of one field value, without allocating.
pub(crate) enum Scalars<'a> {
    One(Option<Scalar<'a>>),
    GuidRefs(slice::Iter<'a, GuidRef>),
    Texts(slice::Iter<'a, String>),
    Grades(slice::Iter<'a, Grade>),
    UserIds(slice::Iter<'a, UserId>, Projection),
}

impl<'a> Scalars<'a> {
    fn of(value: FieldValue<'a>, projection: Projection) -> Scalars<'a> {
        let one = |s: Scalar<'a>| Scalars::One(Some(s));
        match value {
            FieldValue::Text(t) | FieldValue::Enum(t) => one(Scalar::Text(Cow::Borrowed(t))),
            FieldValue::DateTime(dt) => one(Scalar::DateTime(dt)),
            FieldValue::Date(d) => one(Scalar::Date(d)),
            FieldValue::Boolean(b) => one(Scalar::Boolean(b)),
            FieldValue::GuidRef(r) => one(Scalar::Text(Cow::Borrowed(&r.sourced_id))),
            FieldValue::GuidRefs(refs) => Scalars::GuidRefs(refs.iter()),
            FieldValue::Texts(texts) => Scalars::Texts(texts.iter()),
            FieldValue::Grades(grades) => Scalars::Grades(grades.iter()),
            FieldValue::UserIds(ids) => Scalars::UserIds(ids.iter(), projection),
            FieldValue::Absent | FieldValue::Metadata(_) | FieldValue::Password(_) => Scalars::One(None),
        }
    }

    fn of_json(value: Option<&'a serde_json::Value>) -> Scalars<'a> {
        Scalars::One(match value {
            Some(serde_json::Value::String(s)) => Some(Scalar::Text(Cow::Borrowed(s))),
            Some(serde_json::Value::Number(n)) => Some(Scalar::Text(Cow::Owned(n.to_string()))),
            Some(serde_json::Value::Bool(b)) => Some(Scalar::Text(Cow::Borrowed(if *b { "true" } else { "false" }))),
            _ => None,
        })
    }
}

impl<'a> Iterator for Scalars<'a> {
    type Item = Scalar<'a>;

    fn next(&mut self) -> Option<Scalar<'a>> {
        let text = |t: &'a str| Scalar::Text(Cow::Borrowed(t));
        match self {
            Scalars::One(one) => one.take(),
            Scalars::GuidRefs(refs) => refs.next().map(|r| text(&r.sourced_id)),
            Scalars::Texts(texts) => texts.next().map(|t| text(t)),
            Scalars::Grades(grades) => grades.next().map(|g| text(g.as_str())),
            Scalars::UserIds(ids, Projection::Value) => ids.next().map(|id| text(&id.identifier)),
            Scalars::UserIds(ids, Projection::UserIdType) => ids.next().map(|id| text(&id.kind)),
        }
    }
}

/// A field name of a filter or sort, resolved against the catalogue of `E`.
pub(crate) enum Access<E> {
    /// A field of the catalogue, or a part of one.
    Field { def: FieldDef<E>, projection: Projection },
    /// A key of `metadata`, read as text.
    Metadata { key: Box<str> },
}

impl<E: Queryable> Access<E> {
    /// Resolves a name: a queryable field of the catalogue, `metadata.<key>`, `<ref>.sourcedId` for a `GUIDRef` (list)
    /// field, or `userIds.identifier` / `userIds.type`.
    pub(crate) fn resolve(name: &str) -> Option<Access<E>> {
        if let Some(def) = E::field(name) {
            return def.is_queryable().then_some(Access::Field { def: *def, projection: Projection::Value });
        }
        if let Some(key) = name.strip_prefix("metadata.")
            && !key.is_empty()
        {
            return Some(Access::Metadata { key: key.into() });
        }
        let (head, part) = name.split_once('.')?;
        let def = E::field(head)?;
        let projection = match (def.field_type(), part) {
            (FieldType::GuidRef | FieldType::GuidRefList, "sourcedId") => Projection::Value,
            (FieldType::UserIdList, "identifier") => Projection::Value,
            (FieldType::UserIdList, "type") => Projection::UserIdType,
            _ => return None,
        };
        Some(Access::Field { def: *def, projection })
    }

    /// The type filter values are read as.
    pub(crate) fn field_type(&self) -> FieldType {
        match self {
            Access::Field { def, .. } => def.field_type(),
            Access::Metadata { .. } => FieldType::Text,
        }
    }

    /// The scalars of the field in `record`: none when absent, one for a single value, any number for a list.
    pub(crate) fn scalars<'a>(&self, record: &'a E) -> Scalars<'a> {
        match self {
            Access::Field { def, projection } => Scalars::of(def.value(record), *projection),
            Access::Metadata { key } => Scalars::of_json(record.base().metadata.get(key.as_ref())),
        }
    }
}

impl<E> Clone for Access<E> {
    fn clone(&self) -> Self {
        match self {
            Access::Field { def, projection } => Access::Field { def: *def, projection: *projection },
            Access::Metadata { key } => Access::Metadata { key: key.clone() },
        }
    }
}

impl<E> fmt::Debug for Access<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Field { def, projection } => {
                f.debug_struct("Field").field("name", &def.name()).field("projection", projection).finish()
            }
            Access::Metadata { key } => f.debug_struct("Metadata").field("key", key).finish(),
        }
    }
}

/// Whether `haystack` contains `needle_lower` (already lower-cased), ignoring letter case.
pub(crate) fn contains_ignoring_case(haystack: &str, needle_lower: &str) -> bool {
    if haystack.is_ascii() {
        // Lower-casing ASCII text leaves it ASCII and byte for byte in place, so compare bytes without allocating.
        let needle = needle_lower.as_bytes();
        needle.is_empty() || haystack.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        haystack.to_lowercase().contains(needle_lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_ignoring_case_matches_lowercasing() {
        for (hay, needle, expected) in [
            ("Lovelace", "love", true),
            ("LOVELACE", "lace", true),
            ("Lovelace", "", true),
            ("Lo", "love", false),
            ("Ångström", "ångs", true),
            ("ÅNGSTRÖM", "ström", true),
            ("plain", "é", false),
        ] {
            assert_eq!(contains_ignoring_case(hay, needle), expected, "{hay} ~ {needle}");
            assert_eq!(hay.to_lowercase().contains(needle), expected, "{hay} ~ {needle}");
        }
    }

    proptest::proptest! {
        #[test]
        fn contains_ignoring_case_is_lowercased_contains(
            hay in "[a-zA-Z\u{e9}\u{c9}\u{130}\u{212a} ]{0,12}",
            needle in "[a-zA-Z\u{e9}\u{c9}\u{130}\u{212a}]{0,3}",
        ) {
            let needle = needle.to_lowercase();
            proptest::prop_assert_eq!(contains_ignoring_case(&hay, &needle), hay.to_lowercase().contains(&needle));
        }
    }

    #[test]
    fn enum_values_take_the_spec_spelling() {
        let ty = FieldType::Enum(crate::vocab::SessionType::SPEC_VALUES);
        assert_eq!(Scalar::read(ty, "GRADINGPERIOD"), Ok(Scalar::Text("gradingPeriod".into())));
        assert_eq!(Scalar::read(ty, "ext:block"), Ok(Scalar::Text("ext:block".into())));
        assert_eq!(Scalar::read(FieldType::GradeList, "kg"), Ok(Scalar::Text("KG".into())));
    }
}
