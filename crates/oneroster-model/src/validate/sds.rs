//! Helpers of the School Data Sync profile.

use super::MatchField;
use crate::entity::User;
use crate::vocab::Grade;

/// Whether `email` is syntactically plausible: one `@` with a non-empty part on each side, a dot inside the domain
/// (not at its start or end), and no whitespace or control characters. Deliberately far looser than RFC 5322: it
/// catches typing and export mistakes, not every address a mail server would refuse.
pub fn is_plausible_email(email: &str) -> bool {
    // One pass over the bytes: users are many, and every one of them has an email.
    let mut at = None;
    for (i, &b) in email.as_bytes().iter().enumerate() {
        if b == b'@' {
            if at.is_some() {
                return false;
            }
            at = Some(i);
        } else if b <= b' ' || b == 0x7f {
            return false;
        }
    }
    if !email.is_ascii() && email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = at.map(|at| email.split_at(at)) else { return false };
    let domain = domain.get(1..).unwrap_or("");
    !local.is_empty() && !domain.starts_with('.') && !domain.ends_with('.') && domain.contains('.')
}

/// The user's value of the match field, trimmed; `None` if absent or blank.
pub(super) fn match_value<'a>(field: &MatchField, user: &'a User) -> Option<&'a str> {
    let value = match field {
        MatchField::Email => user.email.as_deref(),
        MatchField::Username => Some(user.username.as_str()),
        MatchField::Identifier => user.identifier.as_deref(),
        MatchField::UserId(kind) => {
            user.user_ids.iter().find(|id| id.kind.trim().eq_ignore_ascii_case(kind)).map(|id| id.identifier.as_str())
        }
    };
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The CEDS code a producer probably meant by a grade that is not one: `6` → `06`, `K` → `KG`.
pub(super) fn grade_suggestion(grade: &Grade) -> Option<String> {
    let text = grade.as_str().trim();
    if let Ok(n) = text.parse::<u8>()
        && (1..=13).contains(&n)
    {
        return Some(format!("{n:02}"));
    }
    let code = match text.to_ascii_lowercase().as_str() {
        "k" | "kindergarten" => "KG",
        "pre-k" | "prek" | "pre-kindergarten" | "prekindergarten" => "PK",
        "tk" | "transitional kindergarten" => "TK",
        "ungraded" => "UG",
        "postsecondary" => "PS",
        _ => return None,
    };
    Some(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_emails() {
        for ok in ["a@b.co", "first.last+tag@school.example.org", "o'neil@x.y"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.co", "a@b", "a@@b.co", "a@b@c.co", "a b@c.co", "a@.co", "a@co.", "a@b.co\n"] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn grade_suggestions() {
        assert_eq!(grade_suggestion(&Grade::parse("6")).as_deref(), Some("06"));
        assert_eq!(grade_suggestion(&Grade::parse("K")).as_deref(), Some("KG"));
        assert_eq!(grade_suggestion(&Grade::parse("14")), None);
        assert_eq!(grade_suggestion(&Grade::parse("ext:year7")), None);
    }
}
