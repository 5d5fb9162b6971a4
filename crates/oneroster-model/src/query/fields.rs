//! `fields`: which top-level fields of a record a response carries.

use super::catalogue::Queryable;
use super::error::QueryError;
use std::fmt;
use std::marker::PhantomData;

/// A `fields` selection for records of type `E`: every field, or the listed ones.
pub struct FieldSelection<E> {
    /// `None`: every field. Otherwise catalogue names, each once, in the order written.
    names: Option<Vec<&'static str>>,
    kind: PhantomData<fn() -> E>,
}

impl<E: Queryable> FieldSelection<E> {
    /// Selects every field.
    pub fn all() -> FieldSelection<E> {
        FieldSelection { names: None, kind: PhantomData }
    }

    /// Reads a `fields` value: names separated by commas, trimmed; empty items are ignored, and a list with no names
    /// selects every field.
    ///
    /// Fails with [`QueryError::UnknownSelectionFields`], listing every name `E` does not have.
    pub fn parse(text: &str) -> Result<FieldSelection<E>, QueryError> {
        match FieldSelection::parse_lenient(text) {
            (selection, None) => Ok(selection),
            (_, Some(err)) => Err(err),
        }
    }

    /// Reads a `fields` value as [`parse`](FieldSelection::parse) does, but ignores unknown names instead of failing,
    /// as the OneRoster 1.1 binding allows: returns the selection of the known names (every field if none is known)
    /// and, if any name was unknown, the error to report as an `invalid_selection_field` warning.
    pub fn parse_lenient(text: &str) -> (FieldSelection<E>, Option<QueryError>) {
        let mut names: Vec<&'static str> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            match E::field(item) {
                Some(def) if !names.contains(&def.name()) => names.push(def.name()),
                Some(_) => {}
                None if !unknown.iter().any(|u| u == item) => unknown.push(item.to_owned()),
                None => {}
            }
        }
        let selection = FieldSelection { names: (!names.is_empty()).then_some(names), kind: PhantomData };
        let error =
            (!unknown.is_empty()).then_some(QueryError::UnknownSelectionFields { fields: unknown, kind: E::KIND });
        (selection, error)
    }

    /// Whether every field is selected.
    pub fn is_all(&self) -> bool {
        self.names.is_none()
    }

    /// The selected names: as written for a list, the whole catalogue when every field is selected.
    pub fn names(&self) -> Vec<&'static str> {
        match &self.names {
            Some(names) => names.clone(),
            None => E::selectable_fields().collect(),
        }
    }

    /// Whether the field named `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        match &self.names {
            Some(names) => names.contains(&name),
            None => E::field(name).is_some(),
        }
    }

    /// Removes the keys that are not selected from a serialized record. Anything but a JSON object is left as is.
    pub fn apply(&self, record: &mut serde_json::Value) {
        if let (Some(names), serde_json::Value::Object(map)) = (&self.names, record) {
            map.retain(|key, _| names.contains(&key.as_str()));
        }
    }

    /// Serializes a record with only the selected fields.
    pub fn to_value(&self, record: &E) -> serde_json::Value {
        // Serializing an entity cannot fail: every map key is a string and no field's serializer returns an error.
        let mut value = serde_json::to_value(record).unwrap_or_default();
        self.apply(&mut value);
        value
    }
}

impl<E: Queryable> Default for FieldSelection<E> {
    /// Every field.
    fn default() -> Self {
        FieldSelection::all()
    }
}

/// Writes the selection as a `fields` value (`sourcedId,givenName`); empty when every field is selected.
impl<E> fmt::Display for FieldSelection<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names.as_deref().unwrap_or_default().join(","))
    }
}

impl<E> Clone for FieldSelection<E> {
    fn clone(&self) -> Self {
        FieldSelection { names: self.names.clone(), kind: PhantomData }
    }
}

impl<E> PartialEq for FieldSelection<E> {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl<E> Eq for FieldSelection<E> {}

impl<E> fmt::Debug for FieldSelection<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldSelection").field("names", &self.names).finish()
    }
}
