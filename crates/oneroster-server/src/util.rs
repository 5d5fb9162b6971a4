//! Small helpers shared by the modules.

use crate::error::Error;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| Error::internal(format!("the system random source failed: {e}")))?;
    Ok(bytes)
}

/// RFC 3986 unreserved characters are left alone; everything else is percent-encoded. The encoding OAuth 1.0a
/// (RFC 5849 §3.6) requires, and a safe one for a path segment.
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes `text` with [`RFC3986`].
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Decodes a `application/x-www-form-urlencoded` value: `+` is a space, then `%XX` escapes. `None` if the result is
/// not UTF-8.
pub(crate) fn form_decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|s| s.into_owned())
}
