//! Writing pre-serialised records into response bodies: the base URL into every `href`, the password out unless
//! it is served, and `fields` selections.

use crate::snapshot::{HREF_MARK, PASSWORD_MARK, Record, STATUS_MARK};
use oneroster_model::json::StatusInfo;
use oneroster_model::query::{FieldSelection, Queryable};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// How records are written for one request.
pub(crate) struct Output<'a, E> {
    /// The public base URL, e.g. `https://feed.example/ims/oneroster/v1p1`.
    pub(crate) base: &'a str,
    /// Whether the `password` member is kept.
    pub(crate) passwords: bool,
    /// The `fields` selection, if any.
    pub(crate) fields: Option<&'a FieldSelection<E>>,
}

/// Writes a stored record as JSON: markers replaced by `base` (hrefs), by the record's `status` and
/// `dateLastModified` columns, or dropped (password).
pub(crate) fn write_json(out: &mut Vec<u8>, record: &Record, base: &str, passwords: bool) {
    let bytes = record.json.as_bytes();
    let mut start = 0;
    while let Some(found) = bytes.get(start..).and_then(|rest| rest.iter().position(|&b| b <= STATUS_MARK)) {
        let at = start + found;
        out.extend_from_slice(bytes.get(start..at).unwrap_or_default());
        match bytes.get(at) {
            Some(&HREF_MARK) => out.extend_from_slice(base.as_bytes()),
            Some(&STATUS_MARK) => write_status(out, record),
            Some(&PASSWORD_MARK) if !passwords => {
                out.push(b'}');
                return;
            }
            _ => {}
        }
        start = at + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// `,"status":"…"` and, when the record has one, `,"dateLastModified":"YYYY-MM-DDTHH:mm:ss.SSSZ"`.
fn write_status(out: &mut Vec<u8>, record: &Record) {
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(record.status.as_str().as_bytes());
    out.push(b'"');
    if let Some(modified) =
        (record.modified != i64::MIN).then(|| chrono::DateTime::from_timestamp_millis(record.modified)).flatten()
    {
        out.extend_from_slice(b",\"dateLastModified\":\"");
        out.extend_from_slice(oneroster_model::datetime::format_datetime(&modified).as_bytes());
        out.push(b'"');
    }
}

impl<E: Queryable> Output<'_, E> {
    /// Writes one record.
    pub(crate) fn record(&self, out: &mut Vec<u8>, record: &Record, scratch: &mut Vec<u8>) {
        let Some(fields) = self.fields else {
            write_json(out, record, self.base, self.passwords);
            return;
        };
        scratch.clear();
        write_json(scratch, record, self.base, self.passwords);
        // Top-level keys are catalogue names, never escaped, so they borrow from the buffer.
        let Ok(members) = serde_json::from_slice::<HashMap<&str, &RawValue>>(scratch) else {
            out.extend_from_slice(scratch);
            return;
        };
        out.push(b'{');
        let mut first = true;
        for name in E::selectable_fields().filter(|name| fields.contains(name)) {
            if let Some(value) = members.get(name) {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                out.extend_from_slice(value.get().as_bytes());
            }
        }
        out.push(b'}');
    }
}

/// `{"<key>":[` — the start of a collection body.
pub(crate) fn open_collection(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":[");
}

/// `]` + an optional `statusInfoSet` + `}` — the end of a collection body.
pub(crate) fn close_collection(out: &mut Vec<u8>, warnings: &[StatusInfo]) {
    out.push(b']');
    if !warnings.is_empty()
        && let Ok(json) = serde_json::to_vec(warnings)
    {
        out.extend_from_slice(b",\"statusInfoSet\":");
        out.extend_from_slice(&json);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_base_status_or_vanish() {
        let json = "{\"sourcedId\":\"u1\"\u{3},\"orgs\":[{\"href\":\"\u{1}/orgs/s1\",\"sourcedId\":\"s1\",\"type\":\"org\"}]\u{2},\"password\":\"pw\"}";
        let modified = chrono::DateTime::parse_from_rfc3339("2025-09-01T07:45:12.345Z").unwrap().timestamp_millis();
        let record = Record::for_test(json, oneroster_model::Status::Active, modified);
        let mut out = Vec::new();
        write_json(&mut out, &record, "https://x/ims/oneroster/v1p1", false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"sourcedId":"u1","status":"active","dateLastModified":"2025-09-01T07:45:12.345Z","orgs":[{"href":"https://x/ims/oneroster/v1p1/orgs/s1","sourcedId":"s1","type":"org"}]}"#
        );
        let record = Record::for_test(json, oneroster_model::Status::ToBeDeleted, i64::MIN);
        let mut out = Vec::new();
        write_json(&mut out, &record, "", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"sourcedId":"u1","status":"tobedeleted","orgs":[{"href":"/orgs/s1","sourcedId":"s1","type":"org"}],"password":"pw"}"#
        );
    }
}
