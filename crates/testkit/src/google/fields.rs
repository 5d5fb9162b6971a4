//! `fields` partial responses ("Partial response",
//! <https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial-response>): a
//! comma-separated list of fields, `a/b` for a field inside another, and `a(b,c)` for several fields inside one;
//! arrays are selected item by item. A selection naming a field the resource does not have is refused with 400
//! "Invalid field selection".

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parsed selection: field name → what to keep inside it (empty: all of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Selection(BTreeMap<String, Selection>);

/// Parses a `fields` value; `Err` names the part that could not be read.
pub(super) fn parse(text: &str) -> Result<Selection, String> {
    let mut chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    chars.reverse();
    let selection = parse_list(&mut chars, false)?;
    if !chars.is_empty() {
        return Err(text.to_owned());
    }
    Ok(selection)
}

fn parse_list(rest: &mut Vec<char>, nested: bool) -> Result<Selection, String> {
    let mut out = Selection::default();
    loop {
        let mut path = vec![name(rest)?];
        while rest.last() == Some(&'/') {
            rest.pop();
            path.push(name(rest)?);
        }
        let inner = if rest.last() == Some(&'(') {
            rest.pop();
            let inner = parse_list(rest, true)?;
            if rest.pop() != Some(')') {
                return Err("missing )".into());
            }
            inner
        } else {
            Selection::default()
        };
        out.insert(&path, inner);
        match rest.last() {
            Some(',') => {
                rest.pop();
            }
            Some(')') if nested => return Ok(out),
            None if !nested => return Ok(out),
            _ => return Err("unexpected character".into()),
        }
    }
}

fn name(rest: &mut Vec<char>) -> Result<String, String> {
    let mut n = String::new();
    while let Some(&c) = rest.last() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '-' || c == '.' {
            n.push(c);
            rest.pop();
        } else {
            break;
        }
    }
    if n.is_empty() { Err("empty field name".into()) } else { Ok(n) }
}

impl Selection {
    fn insert(&mut self, path: &[String], inner: Selection) {
        let Some((first, more)) = path.split_first() else { return };
        let entry = self.0.entry(first.clone()).or_default();
        if more.is_empty() {
            for (k, v) in inner.0 {
                entry.0.insert(k, v);
            }
        } else {
            entry.insert(more, inner);
        }
    }

    /// Checks every selected name against the names a resource may have (`known` gives the names allowed below a
    /// dotted path, `""` for the top); `Err` names the first unknown one.
    pub(super) fn check(
        &self,
        at: &str,
        known: &dyn Fn(&str) -> Option<&'static [&'static str]>,
    ) -> Result<(), String> {
        let Some(allowed) = known(at) else { return Ok(()) };
        for (name, inner) in &self.0 {
            if !allowed.contains(&name.as_str()) {
                return Err(if at.is_empty() { name.clone() } else { format!("{at}/{name}") });
            }
            if !inner.0.is_empty() {
                let child = if at.is_empty() { name.clone() } else { format!("{at}/{name}") };
                inner.check(&child, known)?;
            }
        }
        Ok(())
    }

    /// Keeps only the selected fields of `value`.
    pub(super) fn apply(&self, value: Value) -> Value {
        if self.0.is_empty() {
            return value;
        }
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(inner) = self.0.get(&k) {
                        out.insert(k, inner.apply(v));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.apply(v)).collect()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_fields_and_array_items() {
        let s = parse("nextPageToken,users(id,name(givenName),orgUnitPath)").unwrap();
        let page = json!({"kind": "admin#directory#users", "nextPageToken": "t",
            "users": [{"id": "1", "primaryEmail": "a@x", "name": {"givenName": "A", "familyName": "B"}, "orgUnitPath": "/"}]});
        assert_eq!(
            s.apply(page),
            json!({"nextPageToken": "t", "users": [{"id": "1", "name": {"givenName": "A"}, "orgUnitPath": "/"}]})
        );
        let slash = parse("users/id,users/primaryEmail").unwrap();
        assert_eq!(slash, parse("users(id,primaryEmail)").unwrap());
    }

    #[test]
    fn refuses_broken_syntax() {
        assert!(parse("users(id").is_err());
        assert!(parse("users,,id").is_err());
        assert!(parse("").is_err());
    }
}
