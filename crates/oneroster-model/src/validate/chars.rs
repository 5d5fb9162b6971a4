//! Which characters Microsoft Entra ID and School Data Sync accept in the values a roster feeds them, and how to
//! clean a value that has others.
//!
//! | Roster value | Becomes in Entra | Allowed | Why |
//! |---|---|---|---|
//! | class `sourcedId`, class `title` | the section group's `mailNickname` | printable ASCII except `@ ( ) \ [ ] " ; : < > ,` and space | Microsoft Graph v1.0 *group* resource, `mailNickname`: only the ASCII character set 0–127, except `@ () \ [] " ; : <> ,` and SPACE. SDS reports `AzureActiveDirectoryInvalidPropertyValue` for a Section whose values do not contain "only alpha numeric characters and no whitespace" (School Data Sync errors page). |
//! | user `username` | the `userPrincipalName` | `A–Z a–z 0–9 ' . - _ ! # ^ ~`, and one `@` before the domain | Microsoft Graph v1.0 *user* resource, `userPrincipalName`: no accent characters; only `A - Z, a - z, 0 - 9, ' . - _ ! # ^ ~` are allowed in the part before the `@`. |
//! | `givenName`, `familyName`, org `name`, class `title` | a `displayName` | anything but control characters and `<` `>` | School Data Sync errors page: "DisplayName for the student has invalid characters"; a Section fails when "an invalid character exists in the name". |
//!
//! The `clean_*` functions make a suggestion, not a promise: letters with diacritics are folded to ASCII with a
//! small table of common Latin letters ([`fold`]: `é` → `e`, `ß` → `ss`, `ø` → `o`), whitespace becomes `-`, and
//! anything else not allowed is dropped.

/// Characters Microsoft Entra forbids in a `mailNickname`, besides anything outside printable ASCII.
pub const MAIL_NICKNAME_FORBIDDEN: &[char] = &['@', '(', ')', '\\', '[', ']', '"', ';', ':', '<', '>', ',', ' '];

/// The punctuation Microsoft Entra allows in a `userPrincipalName` before the `@`, besides ASCII letters and digits.
pub const UPN_PUNCTUATION: &[char] = &['\'', '.', '-', '_', '!', '#', '^', '~'];

/// Characters SDS rejects in a display name, besides control characters.
pub const DISPLAY_NAME_FORBIDDEN: &[char] = &['<', '>'];

/// The ASCII spelling of a common Latin letter with a diacritic (or a ligature), if the table has it.
pub fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ď' | 'Đ' | 'Ð' => "D",
        'ď' | 'đ' | 'ð' => "d",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Þ' => "TH",
        'þ' => "th",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ý' | 'Ÿ' | 'Ŷ' => "Y",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Whether Microsoft Entra allows `c` in a group's `mailNickname`.
pub fn is_mail_nickname_char(c: char) -> bool {
    c.is_ascii_graphic() && !MAIL_NICKNAME_FORBIDDEN.contains(&c)
}

/// Whether every character of `value` is allowed in a `mailNickname`.
pub fn is_valid_mail_nickname(value: &str) -> bool {
    // Only ASCII is allowed, so a byte test is exact.
    value.bytes().all(|b| is_mail_nickname_char(char::from(b)))
}

/// `value` cleaned for a `mailNickname`: whitespace becomes `-`, letters are folded, other characters are dropped.
pub fn clean_mail_nickname(value: &str) -> String {
    clean(value, is_mail_nickname_char, '-')
}

/// Whether Microsoft Entra allows `c` in a `userPrincipalName` (either side of the `@`).
pub fn is_upn_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || UPN_PUNCTUATION.contains(&c)
}

/// Whether `value` is usable as a `userPrincipalName` or its prefix: allowed characters and at most one `@`.
pub fn is_valid_username(value: &str) -> bool {
    // Only ASCII is allowed, so a byte test is exact.
    let mut ats = 0;
    value.bytes().all(|b| {
        if b == b'@' {
            ats += 1;
            ats == 1
        } else {
            is_upn_char(char::from(b))
        }
    })
}

/// `value` cleaned for a `userPrincipalName`: whitespace becomes `-`, letters are folded, a second `@` and other
/// characters are dropped.
pub fn clean_username(value: &str) -> String {
    let mut seen_at = false;
    clean(
        value,
        |c| {
            if c == '@' && !seen_at {
                seen_at = true;
                true
            } else {
                is_upn_char(c)
            }
        },
        '-',
    )
}

/// Whether SDS accepts `c` in a display name.
pub fn is_display_name_char(c: char) -> bool {
    !c.is_control() && !DISPLAY_NAME_FORBIDDEN.contains(&c)
}

/// Whether every character of `value` is accepted in a display name.
pub fn is_valid_display_name(value: &str) -> bool {
    if value.is_ascii() {
        value.bytes().all(|b| is_display_name_char(char::from(b)))
    } else {
        value.chars().all(is_display_name_char)
    }
}

/// `value` cleaned for a display name: whitespace control characters (tab, line breaks) become a space, other
/// control characters and `<` `>` are dropped. Letters are kept as they are: display names may have diacritics.
pub fn clean_display_name(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_display_name_char(c) {
            out.push(c);
        } else if c.is_whitespace() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_owned()
}

/// Keeps allowed characters, folds letters the table knows, turns each run of whitespace between kept characters
/// into one `space` and drops the rest.
fn clean(value: &str, mut allowed: impl FnMut(char) -> bool, space: char) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.chars() {
        let kept = if allowed(c) {
            Some(Kept::Char(c))
        } else if c.is_whitespace() {
            pending_space = true;
            None
        } else {
            fold(c).map(Kept::Str)
        };
        if let Some(kept) = kept {
            if pending_space && !out.is_empty() {
                out.push(space);
            }
            pending_space = false;
            match kept {
                Kept::Char(c) => out.push(c),
                Kept::Str(s) => out.push_str(s),
            }
        }
    }
    out
}

enum Kept {
    Char(char),
    Str(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_nickname() {
        assert!(is_valid_mail_nickname("Section_math-9A.2025"));
        assert!(!is_valid_mail_nickname("Math 9A"));
        assert!(!is_valid_mail_nickname("Français"));
        assert_eq!(clean_mail_nickname(" Français (9A) @Room:1 "), "Francais-9A-Room1");
        assert_eq!(clean_mail_nickname("Straße  Øst"), "Strasse-Ost");
        assert_eq!(clean_mail_nickname("日本語 class"), "class");
    }

    #[test]
    fn username() {
        assert!(is_valid_username("o'brien.j_2#x^~!@school.example"));
        assert!(!is_valid_username("a@b@c"));
        assert!(!is_valid_username("josé"));
        assert_eq!(clean_username("josé garcía@x@y"), "jose-garcia@xy");
        assert_eq!(clean_username("a+b"), "ab");
    }

    #[test]
    fn display_name() {
        assert!(is_valid_display_name("Zoë O'Neil-Šimić"));
        assert!(!is_valid_display_name("Ada\u{7}"));
        assert!(!is_valid_display_name("<b>Ada</b>"));
        assert_eq!(clean_display_name("<b>Ada</b>\tLove\nlace\u{0}"), "bAda/b Love lace");
    }
}
