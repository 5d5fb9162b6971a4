//! The rules a [`Finding`](super::Finding) can name, each with a stable id.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A validation rule. Its [`id`](Rule::id) is stable: scripts and CI configurations may match on it.
///
/// Rules whose id starts with `sds-` are checked only by [`Profile::Sds`](super::Profile::Sds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `required`: a required field is missing or blank (a required list is empty, a `GUIDRef` has an empty
    /// `sourcedId`). Error.
    Required,
    /// `school-year-format`: an academic session's `schoolYear` is not a four-digit year. Error.
    SchoolYearFormat,
    /// `missing-date-last-modified`: `dateLastModified` is missing; the REST binding requires it. Warning.
    MissingDateLastModified,
    /// `unknown-vocabulary`: a value is neither one the specification lists nor an `ext:` extension. Warning.
    UnknownVocabulary,
    /// `duplicate-sourced-id`: two records of the same kind share a `sourcedId`. Error on the second.
    DuplicateSourcedId,
    /// `dangling-reference`: a reference names a record that is not in the roster. Error.
    DanglingReference,
    /// `reference-type-mismatch`: a `GUIDRef`'s `type` contradicts the field (e.g. a class `school` of type
    /// `user`). Warning.
    ReferenceTypeMismatch,
    /// `reference-to-deleted`: an active record refers to a record marked `tobedeleted`. Warning.
    ReferenceToDeleted,
    /// `enrollment-school-mismatch`: an enrollment's `school` is not the `school` of its class. Error.
    EnrollmentSchoolMismatch,
    /// `enrollment-user-not-in-school`: an enrollment's user does not list the enrollment's school among its
    /// `orgs`. Warning.
    EnrollmentUserNotInSchool,
    /// `class-school-not-school`: a class's `school` is an org whose type is not `school`. Warning.
    ClassSchoolNotSchool,
    /// `date-order`: a start date (`startDate`, `beginDate`) is after the end date. Error.
    DateOrder,
    /// `sds-required`: a field School Data Sync needs, beyond what OneRoster requires, is missing (a user's or an
    /// org's `identifier`). Error.
    SdsRequired,
    /// `sds-org-type`: an org type School Data Sync does not understand (it takes `school` and `district`).
    /// Warning.
    SdsOrgType,
    /// `sds-missing-match-field`: an active user has no value in the field SDS matches accounts on. Error.
    SdsMissingMatchField,
    /// `sds-duplicate-match-field`: two active users have the same match-field value, ignoring letter case.
    /// Error on the second.
    SdsDuplicateMatchField,
    /// `sds-invalid-email`: an `email` that is not a plausible address. Error.
    SdsInvalidEmail,
    /// `sds-missing-date-last-modified`: `dateLastModified` is missing; SDS delta sync filters on it. Error (it
    /// replaces `missing-date-last-modified` in the SDS profile).
    SdsMissingDateLastModified,
    /// `sds-grade-code`: a grade that is not a CEDS grade-level code; SDS answers `InvalidOrMissingReferenceCode`.
    /// Error (it replaces `unknown-vocabulary` for grades in the SDS profile).
    SdsGradeCode,
    /// `sds-mail-nickname`: a class `sourcedId` (error) or `title` (warning) with characters Microsoft Entra does
    /// not allow in a group's `mailNickname`. See [`chars`](super::chars).
    SdsMailNickname,
    /// `sds-username-characters`: a `username` with characters Microsoft Entra does not allow in a
    /// `userPrincipalName`. Error. See [`chars`](super::chars).
    SdsUsernameCharacters,
    /// `sds-display-name-characters`: a name (`givenName`, `familyName`, org `name`, class `title`) with control
    /// characters or `<` `>`, which SDS rejects in a display name. Error. See [`chars`](super::chars).
    SdsDisplayNameCharacters,
}

impl Rule {
    /// Every rule, core rules first.
    pub const ALL: &'static [Rule] = &[
        Rule::Required,
        Rule::SchoolYearFormat,
        Rule::MissingDateLastModified,
        Rule::UnknownVocabulary,
        Rule::DuplicateSourcedId,
        Rule::DanglingReference,
        Rule::ReferenceTypeMismatch,
        Rule::ReferenceToDeleted,
        Rule::EnrollmentSchoolMismatch,
        Rule::EnrollmentUserNotInSchool,
        Rule::ClassSchoolNotSchool,
        Rule::DateOrder,
        Rule::SdsRequired,
        Rule::SdsOrgType,
        Rule::SdsMissingMatchField,
        Rule::SdsDuplicateMatchField,
        Rule::SdsInvalidEmail,
        Rule::SdsMissingDateLastModified,
        Rule::SdsGradeCode,
        Rule::SdsMailNickname,
        Rule::SdsUsernameCharacters,
        Rule::SdsDisplayNameCharacters,
    ];

    /// The stable kebab-case id, e.g. `dangling-reference`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::SchoolYearFormat => "school-year-format",
            Rule::MissingDateLastModified => "missing-date-last-modified",
            Rule::UnknownVocabulary => "unknown-vocabulary",
            Rule::DuplicateSourcedId => "duplicate-sourced-id",
            Rule::DanglingReference => "dangling-reference",
            Rule::ReferenceTypeMismatch => "reference-type-mismatch",
            Rule::ReferenceToDeleted => "reference-to-deleted",
            Rule::EnrollmentSchoolMismatch => "enrollment-school-mismatch",
            Rule::EnrollmentUserNotInSchool => "enrollment-user-not-in-school",
            Rule::ClassSchoolNotSchool => "class-school-not-school",
            Rule::DateOrder => "date-order",
            Rule::SdsRequired => "sds-required",
            Rule::SdsOrgType => "sds-org-type",
            Rule::SdsMissingMatchField => "sds-missing-match-field",
            Rule::SdsDuplicateMatchField => "sds-duplicate-match-field",
            Rule::SdsInvalidEmail => "sds-invalid-email",
            Rule::SdsMissingDateLastModified => "sds-missing-date-last-modified",
            Rule::SdsGradeCode => "sds-grade-code",
            Rule::SdsMailNickname => "sds-mail-nickname",
            Rule::SdsUsernameCharacters => "sds-username-characters",
            Rule::SdsDisplayNameCharacters => "sds-display-name-characters",
        }
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|rule| rule.id() == id)
    }

    /// Whether the rule belongs to the School Data Sync profile.
    pub fn is_sds(self) -> bool {
        self.id().starts_with("sds-")
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Rule::from_id(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown validation rule `{id}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &rule in Rule::ALL {
            assert!(seen.insert(rule.id()), "{rule:?}");
            assert_eq!(Rule::from_id(rule.id()), Some(rule));
            assert_eq!(rule.is_sds(), format!("{rule:?}").starts_with("Sds"));
        }
    }
}
