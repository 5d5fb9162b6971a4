//! What the rosterbridge programs share about their TOML configuration files: an error that names the file, the
//! key and the line ([`ConfigError`]), the lookup of a key path's line in the text ([`line_of`]), and the checks of
//! names that recur in both files ([`is_env_name`], [`is_name`]).
//!
//! ```
//! use config_file::{line_of, ConfigError};
//! use std::path::Path;
//!
//! let text = "[[connections]]\nname = \"a\"\n\n[[connections]]\nname = \"b\"\ntenant = \"\"\n";
//! assert_eq!(line_of(text, "connections[1].tenant"), Some(6));
//! // A key that is not there is reported at its table.
//! assert_eq!(line_of(text, "connections[1].client_id"), Some(4));
//! let error = ConfigError::invalid(Path::new("sync.toml"), text, "connections[1].tenant", "must not be empty");
//! assert_eq!(error.to_string(), "sync.toml:6: `connections[1].tenant`: must not be empty");
//! ```

use std::path::{Path, PathBuf};

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration; the message names the key and line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
    /// The file parses, but a value is wrong.
    #[error("{}{}: `{key}`: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `connections[0].tenant` or `orgs[0].groups[1].role`.
        key: String,
        /// The line the key (or the table holding it) is on, 1-based, when it is in the file.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// A wrong value at `key` of the file at `path` whose text is `text` (the line is looked up).
    pub fn invalid(path: &Path, text: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let key = key.into();
        ConfigError::Invalid { path: path.to_owned(), line: line_of(text, &key), key, message: message.into() }
    }
}

/// Whether `name` can be an environment variable's name: letters, digits and `_`, not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a short name as the configurations use them (connections, sources): letters, digits, `-`, `_`.
pub fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

/// The 1-based line of a key path such as `connections[1].tenant` in the TOML text: the key itself when it is
/// there, else the deepest table on the path that is (a missing key is reported at its table).
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut offset = None;
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name) else { break };
        let mut value = value;
        if let Some(index) = index {
            match value.get_ref() {
                DeValue::Array(items) => match items.get(index) {
                    Some(item) => value = item,
                    None => break,
                },
                _ => break,
            }
        }
        offset = Some(value.span().start);
        match value.get_ref() {
            DeValue::Table(inner) if segments.peek().is_some() => table = inner,
            _ => break,
        }
    }
    offset.map(|at| text[..at.min(text.len())].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_env_name("WONDE_TOKEN") && is_env_name("_X1"));
        assert!(!is_env_name("") && !is_env_name("1X") && !is_env_name("A-B"));
        assert!(is_name("north-field_1") && !is_name("") && !is_name("a b") && !is_name("a:b"));
    }

    #[test]
    fn lines_of_nested_keys_and_unparsable_text() {
        let text = "store = \"x\"\n[[orgs]]\nname = \"A\"\n[[orgs.groups]]\nid = \"g\"\nrole = \"pupil\"\n";
        assert_eq!(line_of(text, "orgs[0].groups[0].role"), Some(6));
        assert_eq!(line_of(text, "store"), Some(1));
        assert_eq!(line_of("not = [toml", "not"), None);
    }
}
