//! The parser of `filter` text; the grammar is in the module docs of [`crate::query`].

use super::error::QueryError;
use super::filter::{Filter, Op, Predicate};

const EXPECTED_FIELD: &str = "a field name";
const EXPECTED_OPERATOR: &str = "an operator (=, !=, >, >=, <, <=, ~)";
const EXPECTED_QUOTE: &str = "a value in single quotes";
const EXPECTED_CLOSING_QUOTE: &str = "a closing ' for the value that starts here";
const EXPECTED_LOGICAL: &str = "AND, OR or the end of the filter";
const EXPECTED_SPACE_BEFORE_LOGICAL: &str = "a space, then AND or OR, or the end of the filter";
const EXPECTED_SPACE_AFTER_LOGICAL: &str = "a space after AND or OR";
const EXPECTED_END: &str = "the end of the filter (a filter joins at most two predicates)";

/// How long an excerpt of unexpected input an error quotes, in characters.
const EXCERPT_CHARS: usize = 24;

/// Whether `c` may appear in a field name.
fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~')
}

/// Whether `word` is a logical operator, which cannot be a field name.
fn is_logical(word: &str) -> bool {
    word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or")
}

/// Parses decoded filter text.
pub(crate) fn parse(src: &str) -> Result<Filter, QueryError> {
    let mut p = Parser { src, pos: 0 };
    p.skip_whitespace();
    let first = p.predicate()?;
    let space = p.skip_whitespace();
    if p.at_end() {
        return Ok(Filter::Single(first));
    }
    if space == 0 {
        return Err(p.error_here(EXPECTED_SPACE_BEFORE_LOGICAL));
    }
    let logical_at = p.pos;
    let logical = p.take_while(is_field_char);
    let is_and = if logical.eq_ignore_ascii_case("and") {
        true
    } else if logical.eq_ignore_ascii_case("or") {
        false
    } else {
        return Err(p.error_at(logical_at, EXPECTED_LOGICAL));
    };
    if p.skip_whitespace() == 0 {
        return Err(p.error_here(EXPECTED_SPACE_AFTER_LOGICAL));
    }
    let second = p.predicate()?;
    p.skip_whitespace();
    if !p.at_end() {
        return Err(p.error_here(EXPECTED_END));
    }
    Ok(if is_and { Filter::And(first, second) } else { Filter::Or(first, second) })
}

struct Parser<'a> {
    src: &'a str,
    /// A byte offset into `src`, always on a character boundary.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    /// Consumes the longest prefix whose characters satisfy `keep`.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// Consumes whitespace; returns how many bytes it consumed.
    fn skip_whitespace(&mut self) -> usize {
        self.take_while(char::is_whitespace).len()
    }

    fn predicate(&mut self) -> Result<Predicate, QueryError> {
        let field_at = self.pos;
        let field = self.take_while(is_field_char);
        if field.is_empty() || is_logical(field) {
            return Err(self.error_at(field_at, EXPECTED_FIELD));
        }
        self.skip_whitespace();
        let op_at = self.pos;
        let op = self.take_while(is_operator_char);
        let Some(op) = Op::from_symbol(op) else {
            return Err(self.error_at(op_at, EXPECTED_OPERATOR));
        };
        self.skip_whitespace();
        let value = self.quoted_value()?;
        Ok(Predicate { field: field.to_owned(), op, value })
    }

    /// Reads `'…'`, where `''` stands for one `'`.
    fn quoted_value(&mut self) -> Result<String, QueryError> {
        let open_at = self.pos;
        if !self.rest().starts_with('\'') {
            return Err(self.error_here(EXPECTED_QUOTE));
        }
        self.pos += 1;
        let mut value = String::new();
        loop {
            let rest = self.rest();
            let Some(quote) = rest.find('\'') else {
                self.pos = self.src.len();
                return Err(QueryError::FilterSyntax {
                    position: self.chars_before(open_at),
                    expected: EXPECTED_CLOSING_QUOTE,
                    found: None,
                });
            };
            value.push_str(&rest[..quote]);
            self.pos += quote + 1;
            if self.rest().starts_with('\'') {
                value.push('\'');
                self.pos += 1;
            } else {
                return Ok(value);
            }
        }
    }

    fn chars_before(&self, byte: usize) -> usize {
        self.src.get(..byte).map_or(0, |s| s.chars().count())
    }

    fn error_here(&self, expected: &'static str) -> QueryError {
        self.error_at(self.pos, expected)
    }

    /// An error at byte offset `at`, quoting the input from there up to the next whitespace.
    fn error_at(&self, at: usize, expected: &'static str) -> QueryError {
        let rest = self.src.get(at..).unwrap_or_default();
        let found = if rest.is_empty() {
            None
        } else {
            let word: String = rest.chars().take_while(|c| !c.is_whitespace()).take(EXCERPT_CHARS).collect();
            Some(if word.is_empty() { rest.chars().take(1).collect() } else { word })
        };
        QueryError::FilterSyntax { position: self.chars_before(at), expected, found }
    }
}
