//! Paging cursors ("Paging"): opaque to clients, keyset underneath.
//!
//! A cursor names the last key of the page it came with, the collection it belongs to, and the fake's cursor epoch.
//! It is written as standard base64 (so it may hold `+`, `/` and `=`, which exercises the clients' URL encoding).
//! Keyset paging over ids that never change gives what the contract asks: a stable order across the pages of one
//! traversal, and every item that is unchanged during the traversal exactly once. Bumping the epoch
//! ([`FakeSecureSchools::expire_cursors`](super::FakeSecureSchools::expire_cursors)) makes every cursor issued so
//! far "expired", which answers `422 validation_failed`.

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The fake's cursor epoch when it was issued.
    pub(crate) epoch: u64,
    /// Which collection: `orgs:<identity id>` or `users:<organisation id>`.
    pub(crate) scope: String,
    /// The last key of the page it came with; the next page starts after it.
    pub(crate) after: String,
}

impl Cursor {
    /// The cursor as sent to clients: base64 of `<epoch>:<scope length>:<scope><after>`.
    pub(crate) fn encode(&self) -> String {
        let raw = format!("{}:{}:{}{}", self.epoch, self.scope.len(), self.scope, self.after);
        base64_encode(raw.as_bytes())
    }

    /// Reads a cursor a client sent back; `None` when it is not one this fake could have issued.
    pub(crate) fn decode(text: &str) -> Option<Cursor> {
        let raw = String::from_utf8(base64_decode(text)?).ok()?;
        let (epoch, rest) = raw.split_once(':')?;
        let (scope_len, rest) = rest.split_once(':')?;
        let scope_len: usize = scope_len.parse().ok()?;
        if !rest.is_char_boundary(scope_len) {
            return None;
        }
        let (scope, after) = rest.split_at(scope_len);
        Some(Cursor { epoch: epoch.parse().ok()?, scope: scope.to_owned(), after: after.to_owned() })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (q, chunk) in bytes.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let v = match c {
                b'=' if q + 1 == quads && i >= 2 => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return None,
                _ => ALPHABET.iter().position(|&a| a == c)? as u32,
            };
            n = (n << 6) | v;
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_the_standard() {
        assert_eq!(base64_encode(b"org_st_bedes"), "b3JnX3N0X2JlZGVz");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        for text in ["", "a", "ab", "abc", "abcd", "users:org/1\u{e9}"] {
            if !text.is_empty() {
                assert_eq!(base64_decode(&base64_encode(text.as_bytes())).unwrap(), text.as_bytes());
            }
        }
        assert_eq!(base64_decode("YW=I"), None);
        assert_eq!(base64_decode("abc"), None);
        assert_eq!(base64_decode("a!cd"), None);
    }

    #[test]
    fn cursors_round_trip_with_separators_in_ids() {
        let c = Cursor { epoch: 3, scope: "users:a:b".into(), after: "u_1:2".into() };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&base64_encode(b"1:99:short")), None);
    }
}
