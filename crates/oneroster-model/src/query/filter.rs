//! `filter`: the parsed expression, its canonical text, and its evaluation against records.

use super::access::{Access, Scalar, contains_ignoring_case};
use super::catalogue::Queryable;
use super::error::QueryError;
use super::parser;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A comparison operator of a filter predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~`: contains, ignoring letter case (see the [module docs](crate::query)).
    Contains,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 7] = [Op::Eq, Op::Ne, Op::Gt, Op::Ge, Op::Lt, Op::Le, Op::Contains];

    /// The operator as written in a filter, e.g. `>=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "~",
        }
    }

    /// The operator written `symbol`, if any.
    pub fn from_symbol(symbol: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.symbol() == symbol)
    }

    /// Whether a value that compares to the filter's value as `ordering` satisfies this operator (`~` never does:
    /// it is not a comparison).
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering.is_eq(),
            Op::Ne => ordering.is_ne(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
            Op::Contains => false,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One `field op 'value'` comparison, as written (names are checked only when the filter is [bound](Filter::bind)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Predicate {
    /// The field name, e.g. `dateLastModified` or `school.sourcedId`.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The value, unquoted: `''` in the filter text is `'` here.
    pub value: String,
}

impl Predicate {
    /// A predicate.
    pub fn new(field: impl Into<String>, op: Op, value: impl Into<String>) -> Predicate {
        Predicate { field: field.into(), op, value: value.into() }
    }
}

/// Writes `field op 'value'` with quotes in the value doubled.
impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}'{}'", self.field, self.op, self.value.replace('\'', "''"))
    }
}

/// A parsed `filter`: one predicate, or two joined by `AND` or `OR`. See the [module docs](crate::query).
///
/// `Display` writes the canonical form (`field='value'`, joined by ` AND ` / ` OR `), which [`Filter::parse`] reads
/// back to an equal filter provided every field name is one the grammar allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `a`
    Single(Predicate),
    /// `a AND b`
    And(Predicate, Predicate),
    /// `a OR b`
    Or(Predicate, Predicate),
}

impl Filter {
    /// Parses filter text that is already URL-decoded, e.g. `familyName='O''Brien' AND role='student'`.
    pub fn parse(text: &str) -> Result<Filter, QueryError> {
        parser::parse(text)
    }

    /// Parses a raw, URL-encoded query-string value: `+` is read as a space, then `%XX` escapes are decoded (so `%2B`
    /// is a literal `+`), then the text is parsed as by [`Filter::parse`].
    pub fn parse_encoded(raw: &str) -> Result<Filter, QueryError> {
        let spaced = raw.replace('+', " ");
        let decoded =
            percent_encoding::percent_decode_str(&spaced).decode_utf8().map_err(|_| QueryError::FilterEncoding)?;
        Filter::parse(&decoded)
    }

    /// The predicates, in the order written.
    pub fn predicates(&self) -> impl Iterator<Item = &Predicate> {
        let (first, second) = match self {
            Filter::Single(a) => (a, None),
            Filter::And(a, b) | Filter::Or(a, b) => (a, Some(b)),
        };
        std::iter::once(first).chain(second)
    }

    /// Checks the filter against the catalogue of `E` and reads its values as their fields' types.
    ///
    /// Fails with [`QueryError::UnknownFilterField`] for a name `E` has no filterable field for, and with
    /// [`QueryError::InvalidFilterValue`] for a value that cannot be read as its field's type.
    pub fn bind<E: Queryable>(&self) -> Result<BoundFilter<E>, QueryError> {
        let expr = match self {
            Filter::Single(a) => Expr::Single(Test::bind(a)?),
            Filter::And(a, b) => Expr::And(Test::bind(a)?, Test::bind(b)?),
            Filter::Or(a, b) => Expr::Or(Test::bind(a)?, Test::bind(b)?),
        };
        Ok(BoundFilter { filter: self.clone(), expr })
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Single(a) => write!(f, "{a}"),
            Filter::And(a, b) => write!(f, "{a} AND {b}"),
            Filter::Or(a, b) => write!(f, "{a} OR {b}"),
        }
    }
}

impl FromStr for Filter {
    type Err = QueryError;

    /// As [`Filter::parse`].
    fn from_str(text: &str) -> Result<Filter, QueryError> {
        Filter::parse(text)
    }
}

/// A [`Filter`] checked against the catalogue of `E`, ready to test records.
#[derive(Debug, Clone)]
pub struct BoundFilter<E> {
    filter: Filter,
    expr: Expr<E>,
}

impl<E: Queryable> BoundFilter<E> {
    /// Whether `record` satisfies the filter.
    pub fn matches(&self, record: &E) -> bool {
        match &self.expr {
            Expr::Single(a) => a.matches(record),
            Expr::And(a, b) => a.matches(record) && b.matches(record),
            Expr::Or(a, b) => a.matches(record) || b.matches(record),
        }
    }

    /// The filter as parsed.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

impl<E> fmt::Display for BoundFilter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.filter.fmt(f)
    }
}

#[derive(Debug, Clone)]
enum Expr<E> {
    Single(Test<E>),
    And(Test<E>, Test<E>),
    Or(Test<E>, Test<E>),
}

/// A bound predicate.
#[derive(Debug, Clone)]
struct Test<E> {
    access: Access<E>,
    op: Op,
    operand: Operand,
}

#[derive(Debug, Clone)]
enum Operand {
    /// For every operator but `~`: the value read as the field's type.
    Value(Scalar<'static>),
    /// For `~`: the value, lower-cased.
    Contains(String),
}

impl<E: Queryable> Test<E> {
    fn bind(predicate: &Predicate) -> Result<Test<E>, QueryError> {
        let field = &predicate.field;
        let access = Access::resolve(field)
            .ok_or_else(|| QueryError::UnknownFilterField { field: field.clone(), kind: E::KIND })?;
        let operand = if predicate.op == Op::Contains {
            Operand::Contains(predicate.value.to_lowercase())
        } else {
            let value = Scalar::read(access.field_type(), &predicate.value).map_err(|expected| {
                QueryError::InvalidFilterValue { field: field.clone(), value: predicate.value.clone(), expected }
            })?;
            Operand::Value(value)
        };
        Ok(Test { access, op: predicate.op, operand })
    }

    /// A field holds a sequence of scalars (none when absent, one, or a list's elements): `!=` holds when none equals
    /// the value, every other operator when any satisfies it.
    fn matches(&self, record: &E) -> bool {
        let mut scalars = self.access.scalars(record);
        match (&self.operand, self.op) {
            (Operand::Contains(needle), _) => scalars.any(|s| contains_ignoring_case(&s.written(), needle)),
            (Operand::Value(value), Op::Ne) => !scalars.any(|s| s.compare(value).is_some_and(Ordering::is_eq)),
            (Operand::Value(value), op) => scalars.any(|s| s.compare(value).is_some_and(|o| op.holds(o))),
        }
    }
}
