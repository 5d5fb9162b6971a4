//! The controlled vocabularies of OneRoster 1.1.
//!
//! Each vocabulary is an enum with one variant per value the specification lists, plus two variants that keep what
//! real producers send instead of failing:
//!
//! * `Extension` — a value with the `ext:` prefix, which the specification allows for proprietary extensions;
//! * `Unknown` — anything else. Reading never fails on it, but [`is_spec_value`](RoleType::is_spec_value) is false
//!   and validation reports it.
//!
//! Values are matched exactly first and then ignoring ASCII letter case (`Student` is read as `student`); they are
//! always written in the specification's spelling.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A proprietary extension value (`ext:` prefix), kept as written.
            Extension(Box<str>),
            /// A value the specification does not list, kept as written.
            Unknown(Box<str>),
        }

        impl $name {
            /// Every value the OneRoster 1.1 specification lists, in its spelling.
            pub const SPEC_VALUES: &'static [&'static str] = &[$($text),+];

            /// Reads a value; never fails (see the module docs).
            pub fn parse(text: &str) -> Self {
                match text {
                    $( $text => return Self::$variant, )+
                    _ => {}
                }
                $( if text.eq_ignore_ascii_case($text) { return Self::$variant; } )+
                if text.len() > 4 && text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("ext:")) {
                    Self::Extension(text.into())
                } else {
                    Self::Unknown(text.into())
                }
            }

            /// The value as OneRoster writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Extension(s) | Self::Unknown(s) => s,
                }
            }

            /// Whether this value is one the specification lists.
            pub fn is_spec_value(&self) -> bool {
                !matches!(self, Self::Extension(_) | Self::Unknown(_))
            }

            /// Whether this value is allowed by the specification: listed, or an `ext:` extension.
            pub fn is_allowed(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} string", stringify!($name))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::parse(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

vocabulary! {
    /// `RoleType`: the role of a user (OneRoster 1.1 §4.13.5).
    RoleType {
        /// `administrator`
        Administrator = "administrator",
        /// `aide`
        Aide = "aide",
        /// `guardian`
        Guardian = "guardian",
        /// `parent`
        Parent = "parent",
        /// `proctor`
        Proctor = "proctor",
        /// `relative`
        Relative = "relative",
        /// `student`
        Student = "student",
        /// `teacher`
        Teacher = "teacher",
    }
}

vocabulary! {
    /// The role of a user in an enrollment (OneRoster 1.1 Enrollment `role`).
    EnrollmentRole {
        /// `administrator`
        Administrator = "administrator",
        /// `proctor`
        Proctor = "proctor",
        /// `student`
        Student = "student",
        /// `teacher`
        Teacher = "teacher",
    }
}

vocabulary! {
    /// `OrgType` (OneRoster 1.1 §4.13.4).
    OrgType {
        /// `department`
        Department = "department",
        /// `school`
        School = "school",
        /// `district`
        District = "district",
        /// `local`
        Local = "local",
        /// `state`
        State = "state",
        /// `national`
        National = "national",
    }
}

vocabulary! {
    /// `SessionType`: the kind of an academic session (OneRoster 1.1 §4.13.7).
    SessionType {
        /// `gradingPeriod`
        GradingPeriod = "gradingPeriod",
        /// `semester`
        Semester = "semester",
        /// `schoolYear`
        SchoolYear = "schoolYear",
        /// `term`
        Term = "term",
    }
}

vocabulary! {
    /// `ClassType` (OneRoster 1.1 §4.13.1).
    ClassType {
        /// `homeroom`
        Homeroom = "homeroom",
        /// `scheduled`
        Scheduled = "scheduled",
    }
}

vocabulary! {
    /// The `sex` of a person's demographics (OneRoster 1.1 Demographics).
    Sex {
        /// `male`
        Male = "male",
        /// `female`
        Female = "female",
        /// `other`
        Other = "other",
        /// `unspecified`
        Unspecified = "unspecified",
    }
}

vocabulary! {
    /// `GUIDType`: what a [`GuidRef`](crate::GuidRef) points at (OneRoster 1.1 §4.13.3).
    GuidType {
        /// `academicSession`
        AcademicSession = "academicSession",
        /// `category`
        Category = "category",
        /// `class`
        Class = "class",
        /// `course`
        Course = "course",
        /// `demographics`
        Demographics = "demographics",
        /// `enrollment`
        Enrollment = "enrollment",
        /// `gradingPeriod`
        GradingPeriod = "gradingPeriod",
        /// `lineItem`
        LineItem = "lineItem",
        /// `org`
        Org = "org",
        /// `resource`
        Resource = "resource",
        /// `result`
        Result = "result",
        /// `student`
        Student = "student",
        /// `teacher`
        Teacher = "teacher",
        /// `term`
        Term = "term",
        /// `user`
        User = "user",
    }
}

vocabulary! {
    /// A grade level. OneRoster 1.1 uses the CEDS "Entry Grade Level" codes.
    Grade {
        /// Infant/toddler
        InfantToddler = "IT",
        /// Preschool
        Preschool = "PR",
        /// Prekindergarten
        PreKindergarten = "PK",
        /// Transitional kindergarten
        TransitionalKindergarten = "TK",
        /// Kindergarten
        Kindergarten = "KG",
        /// First grade
        First = "01",
        /// Second grade
        Second = "02",
        /// Third grade
        Third = "03",
        /// Fourth grade
        Fourth = "04",
        /// Fifth grade
        Fifth = "05",
        /// Sixth grade
        Sixth = "06",
        /// Seventh grade
        Seventh = "07",
        /// Eighth grade
        Eighth = "08",
        /// Ninth grade
        Ninth = "09",
        /// Tenth grade
        Tenth = "10",
        /// Eleventh grade
        Eleventh = "11",
        /// Twelfth grade
        Twelfth = "12",
        /// Grade 13
        Thirteenth = "13",
        /// Postsecondary
        Postsecondary = "PS",
        /// Ungraded
        Ungraded = "UG",
        /// Other
        Other = "Other",
    }
}

vocabulary! {
    /// `imsx_codeMinorFieldValue`: the detail of an `imsx_StatusInfo` (OneRoster 1.1 REST binding).
    CodeMinorValue {
        /// `fullsuccess`
        FullSuccess = "fullsuccess",
        /// `invalid_filter_field`
        InvalidFilterField = "invalid_filter_field",
        /// `invalid_selection_field`
        InvalidSelectionField = "invalid_selection_field",
        /// `invaliddata`
        InvalidData = "invaliddata",
        /// `unauthorisedrequest`
        UnauthorisedRequest = "unauthorisedrequest",
        /// `forbidden`
        Forbidden = "forbidden",
        /// `server_busy`
        ServerBusy = "server_busy",
        /// `unknownobject`
        UnknownObject = "unknownobject",
        /// `internal_server_error`
        InternalServerError = "internal_server_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_any_case() {
        assert_eq!(RoleType::parse("student"), RoleType::Student);
        assert_eq!(RoleType::parse("Student"), RoleType::Student);
        assert_eq!(RoleType::parse("Student").as_str(), "student");
        assert_eq!(SessionType::parse("gradingperiod"), SessionType::GradingPeriod);
        assert_eq!(Grade::parse("kg"), Grade::Kindergarten);
    }

    #[test]
    fn extensions_and_unknowns_are_kept() {
        let ext = RoleType::parse("ext:librarian");
        assert_eq!(ext, RoleType::Extension("ext:librarian".into()));
        assert!(ext.is_allowed() && !ext.is_spec_value());
        let unknown = OrgType::parse("trust");
        assert_eq!(unknown.as_str(), "trust");
        assert!(!unknown.is_allowed());
        assert_eq!(Grade::parse("9"), Grade::Unknown("9".into()));
    }

    #[test]
    fn serde_uses_spec_spelling() {
        let json = serde_json::to_string(&vec![ClassType::Homeroom, ClassType::parse("ext:club")]).unwrap();
        assert_eq!(json, r#"["homeroom","ext:club"]"#);
        let back: Vec<ClassType> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![ClassType::Homeroom, ClassType::Extension("ext:club".into())]);
    }
}
