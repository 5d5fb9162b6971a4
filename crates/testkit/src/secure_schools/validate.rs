//! Reading request bodies the way the contract describes them, field by field, so that a refusal can say which
//! field was wrong (`validation_failed` details are "an object of field name → message", docs "Errors").

use super::model::{NewUser, UserPatch, UserRole, UserStatus};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Field name → message: the `details` of a `validation_failed` answer.
pub(crate) type FieldErrors = BTreeMap<String, String>;

/// The longest a name may be (the contract sets no limit; the fake refuses absurd values).
const MAX_NAME_CHARS: usize = 256;

/// Whether an email address is acceptable: one `@`, a non-empty local part of at most 64 bytes, a domain with a
/// dot and no empty labels, no whitespace or control characters, at most 254 bytes ("Objects" → `User.email`,
/// `format: email` in the OpenAPI file).
pub(crate) fn is_valid_email(email: &str) -> bool {
    if email.is_empty() || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

fn name(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) if s.trim().is_empty() => Err("must not be empty"),
        Value::String(s) if s.chars().count() > MAX_NAME_CHARS => Err("is too long"),
        Value::String(s) if s.chars().any(char::is_control) => Err("must not contain control characters"),
        Value::String(s) => Ok(s.clone()),
        _ => Err("must be a string"),
    }
}

fn email(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) if is_valid_email(s) => Ok(s.clone()),
        Value::String(_) => Err("must be a valid address"),
        _ => Err("must be a string"),
    }
}

fn role(value: &Value) -> Result<UserRole, &'static str> {
    value.as_str().and_then(UserRole::parse_known).ok_or("must be one of admin, staff, student, governor")
}

fn status(value: &Value) -> Result<UserStatus, &'static str> {
    value.as_str().and_then(UserStatus::parse_known).ok_or("must be one of active, suspended")
}

fn boolean(value: &Value) -> Result<bool, &'static str> {
    value.as_bool().ok_or("must be a boolean")
}

/// An external id: a non-empty string (`null` only where the caller allows it).
pub(crate) fn external_id(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) if s.is_empty() => Err("must not be empty"),
        Value::String(s) => Ok(s.clone()),
        _ => Err("must be a string"),
    }
}

/// Reads one field with `read`; records a message under `field` when it is missing (and required) or wrong.
fn field<T>(
    object: &Map<String, Value>,
    field: &str,
    required: bool,
    errors: &mut FieldErrors,
    read: impl Fn(&Value) -> Result<T, &'static str>,
) -> Option<T> {
    match object.get(field) {
        None if required => {
            errors.insert(field.to_owned(), "is required".to_owned());
            None
        }
        None => None,
        Some(value) => match read(value) {
            Ok(v) => Some(v),
            Err(message) => {
                errors.insert(field.to_owned(), message.to_owned());
                None
            }
        },
    }
}

/// A `NewUser` body (`POST /organisations/{org}/users`): `email`, `first_name`, `last_name`, `role` and
/// `managed_by_sync` required, `external_id` an optional non-empty string. Unknown fields are ignored.
///
/// For a batch `create` ("Objects" → `BatchOperation`), `fields` holds the same minus `external_id`, which comes
/// from the operation: pass it as `op_external_id`. A `fields.external_id` that disagrees with it is refused.
pub(crate) fn new_user(body: &Value, op_external_id: Option<&str>) -> Result<NewUser, FieldErrors> {
    let mut errors = FieldErrors::new();
    let Some(object) = body.as_object() else {
        errors.insert("body".to_owned(), "must be a JSON object".to_owned());
        return Err(errors);
    };
    let email = field(object, "email", true, &mut errors, email);
    let first_name = field(object, "first_name", true, &mut errors, name);
    let last_name = field(object, "last_name", true, &mut errors, name);
    let role = field(object, "role", true, &mut errors, role);
    let managed_by_sync = field(object, "managed_by_sync", true, &mut errors, boolean);
    let own_external_id = field(object, "external_id", false, &mut errors, external_id);
    let external_id = match (op_external_id, own_external_id) {
        (Some(op), Some(own)) if op != own => {
            errors.insert("fields.external_id".to_owned(), "differs from the operation's external_id".to_owned());
            None
        }
        (Some(op), _) => Some(op.to_owned()),
        (None, own) => own,
    };
    match (email, first_name, last_name, role, managed_by_sync) {
        (Some(email), Some(first_name), Some(last_name), Some(role), Some(managed_by_sync)) if errors.is_empty() => {
            Ok(NewUser { email, first_name, last_name, role, status: UserStatus::Active, external_id, managed_by_sync })
        }
        _ => Err(errors),
    }
}

/// A `UserPatch` body: any of `email`, `first_name`, `last_name`, `role`, `status`, `external_id` (a string, or
/// `null` to clear) and `managed_by_sync`. Unknown fields are ignored; an empty object is an empty patch.
pub(crate) fn patch(body: &Value) -> Result<UserPatch, FieldErrors> {
    let mut errors = FieldErrors::new();
    let Some(object) = body.as_object() else {
        errors.insert("body".to_owned(), "must be a JSON object".to_owned());
        return Err(errors);
    };
    let patch = UserPatch {
        email: field(object, "email", false, &mut errors, email),
        first_name: field(object, "first_name", false, &mut errors, name),
        last_name: field(object, "last_name", false, &mut errors, name),
        role: field(object, "role", false, &mut errors, role),
        status: field(object, "status", false, &mut errors, status),
        external_id: field(object, "external_id", false, &mut errors, |v| match v {
            Value::Null => Ok(None),
            v => external_id(v).map(Some),
        }),
        managed_by_sync: field(object, "managed_by_sync", false, &mut errors, boolean),
    };
    if errors.is_empty() { Ok(patch) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails() {
        for good in ["a@b.example", "O'Brien.Zoë@school.sch.uk", "x+tag@sub.domain.example"] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in ["", "no-at.example", "a@b", "a@@b.example", "a b@c.example", "@b.example", "a@b..example"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn new_user_names_every_bad_field() {
        let errors = new_user(&json!({"email": "nope", "first_name": "", "role": "caretaker"}), None).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["email", "first_name", "last_name", "managed_by_sync", "role"]);
    }

    #[test]
    fn patch_reads_null_external_id_as_clear() {
        let p = patch(&json!({"external_id": null, "unknown": 1})).unwrap();
        assert_eq!(p.external_id, Some(None));
        assert!(patch(&json!({"external_id": ""})).is_err());
        assert_eq!(patch(&json!({})).unwrap(), UserPatch::default());
    }
}
