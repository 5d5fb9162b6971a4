//! `sort` and `orderBy`: a total, deterministic order over records.

use super::access::{Access, Scalars};
use super::catalogue::Queryable;
use super::error::QueryError;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// `orderBy`: the direction of a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// `asc`, the default.
    #[default]
    Asc,
    /// `desc`
    Desc,
}

impl SortOrder {
    /// Reads `asc` or `desc` in any letter case, ignoring surrounding whitespace.
    pub fn parse(text: &str) -> Result<SortOrder, QueryError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("asc") {
            Ok(SortOrder::Asc)
        } else if t.eq_ignore_ascii_case("desc") {
            Ok(SortOrder::Desc)
        } else {
            Err(QueryError::InvalidOrderBy { value: text.to_owned() })
        }
    }

    /// `asc` or `desc`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }

    /// Applies the direction to an ascending comparison.
    pub fn apply(self, ascending: Ordering) -> Ordering {
        match self {
            SortOrder::Asc => ascending,
            SortOrder::Desc => ascending.reverse(),
        }
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sort of records of type `E`: one field of its catalogue and a direction.
///
/// The order is total: values compare by their field's type (lists element by element), a record without a value
/// sorts after every record with one, and ties are broken by `sourcedId`. In `desc` order the whole comparison is
/// reversed, so records without a value come first and `desc` is exactly `asc` backwards. With no field, records are
/// sorted by `sourcedId` alone, the default order of a collection.
pub struct SortSpec<E> {
    /// `None`: by `sourcedId` alone.
    key: Option<(String, Access<E>)>,
    order: SortOrder,
}

impl<E: Queryable> SortSpec<E> {
    /// Sorts by `sourcedId` alone.
    pub fn by_sourced_id(order: SortOrder) -> SortSpec<E> {
        SortSpec { key: None, order }
    }

    /// Sorts by `field`, a name as in a filter (`familyName`, `school.sourcedId`, `metadata.house`, …).
    ///
    /// Fails with [`QueryError::UnknownSortField`] if `E` has no such sortable field.
    pub fn new(field: &str, order: SortOrder) -> Result<SortSpec<E>, QueryError> {
        let access = Access::resolve(field)
            .ok_or_else(|| QueryError::UnknownSortField { field: field.to_owned(), kind: E::KIND })?;
        Ok(SortSpec { key: Some((field.to_owned(), access)), order })
    }

    /// Reads the `sort` and `orderBy` query parameters. A blank `sort` sorts by `sourcedId`; a missing `orderBy` is
    /// `asc`. Names are trimmed of surrounding whitespace.
    pub fn parse(sort: &str, order_by: Option<&str>) -> Result<SortSpec<E>, QueryError> {
        let order = order_by.map(SortOrder::parse).transpose()?.unwrap_or_default();
        match sort.trim() {
            "" => Ok(SortSpec::by_sourced_id(order)),
            field => SortSpec::new(field, order),
        }
    }

    /// The field sorted by, as given (`sourcedId` when sorting by `sourcedId` alone).
    pub fn field(&self) -> &str {
        self.key.as_ref().map_or("sourcedId", |(name, _)| name)
    }

    /// The direction.
    pub fn order(&self) -> SortOrder {
        self.order
    }

    /// Compares two records in this order.
    pub fn compare(&self, a: &E, b: &E) -> Ordering {
        let by_field = match &self.key {
            Some((_, access)) => compare_values(access.scalars(a), access.scalars(b)),
            None => Ordering::Equal,
        };
        self.order.apply(by_field.then_with(|| a.sourced_id().cmp(b.sourced_id())))
    }

    /// Sorts records (or references to them, or `Arc`s of them) in this order. The sort is stable.
    pub fn sort<T: Borrow<E>>(&self, items: &mut [T]) {
        items.sort_by(|a, b| self.compare(a.borrow(), b.borrow()));
    }
}

/// Compares two values ascending: no value after any value, otherwise element by element.
fn compare_values(mut a: Scalars<'_>, mut b: Scalars<'_>) -> Ordering {
    match (a.next(), b.next()) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(x), Some(y)) => {
            let first = x.total_cmp(&y);
            if first.is_ne() {
                return first;
            }
        }
    }
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let next = x.total_cmp(&y);
                if next.is_ne() {
                    return next;
                }
            }
        }
    }
}

impl<E: Queryable> Default for SortSpec<E> {
    /// By `sourcedId`, ascending.
    fn default() -> Self {
        SortSpec::by_sourced_id(SortOrder::Asc)
    }
}

impl<E> Clone for SortSpec<E> {
    fn clone(&self) -> Self {
        SortSpec { key: self.key.clone(), order: self.order }
    }
}

impl<E> fmt::Debug for SortSpec<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.key.as_ref().map_or("sourcedId", |(name, _)| name.as_str());
        f.debug_struct("SortSpec").field("field", &field).field("order", &self.order).finish()
    }
}
