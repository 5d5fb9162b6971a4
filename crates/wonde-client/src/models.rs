//! The Wonde objects roster sync reads, with the fields it uses.
//!
//! Shapes follow the Wonde API v1.0 documentation (<https://docs.wonde.com/docs/api/sync>): every answer wraps its
//! payload in `data`; an `include`d relation is an object with its own `data` (an object, or a list); dates are
//! objects `{"date": "2016-04-07 11:21:47.000000", "timezone_type": 3, "timezone": "Europe/London"}`. Fields this
//! client does not read are ignored, and fields it reads but Wonde may leave out are optional, so that a school
//! whose MIS lacks something still syncs.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A date-time as Wonde writes it: a local date-time and the zone it is in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WondeDateTime {
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`, in `timezone`.
    pub date: String,
    /// PHP's timezone kind (3 = a named zone).
    #[serde(default)]
    pub timezone_type: Option<u8>,
    /// The zone, e.g. `Europe/London` or `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl WondeDateTime {
    /// A UTC date-time.
    pub fn utc(at: DateTime<Utc>) -> WondeDateTime {
        WondeDateTime {
            date: at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            timezone_type: Some(3),
            timezone: Some("UTC".into()),
        }
    }

    /// The local date-time, without its zone.
    pub fn naive(&self) -> Option<NaiveDateTime> {
        let text = self.date.trim();
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
            .ok()
            .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
    }

    /// The calendar date.
    pub fn date_only(&self) -> Option<NaiveDate> {
        self.naive().map(|d| d.date())
    }

    /// The instant, when the zone is UTC (or absent). Other zones are not converted (no time-zone database is
    /// linked); their local time is read as UTC, which is within a few hours — callers that compare instants
    /// keep a margin for that.
    pub fn approx_utc(&self) -> Option<DateTime<Utc>> {
        self.naive().map(|n| Utc.from_utc_datetime(&n))
    }
}

/// An included relation: `{"data": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Default"))]
pub struct Included<T> {
    /// The related object(s); a missing or `null` `data` reads as the default (none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: T,
}

impl<T: Default> Default for Included<T> {
    fn default() -> Self {
        Included { data: T::default() }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A school (`GET /v1.0/schools/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct School {
    /// Wonde's id, e.g. `A1930499544`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The DfE establishment number (England and Wales).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub establishment_number: Option<String>,
    /// The unique reference number (England and Wales).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub urn: Option<String>,
    /// `PRIMARY`, `SECONDARY`, …
    #[serde(default)]
    pub phase_of_education: Option<String>,
    /// The local authority code.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub la_code: Option<String>,
    /// The school's time zone, e.g. `Europe/London`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The MIS, e.g. `SIMS`.
    #[serde(default)]
    pub mis: Option<String>,
    /// Where the school's data lives.
    #[serde(default)]
    pub region: Option<SchoolRegion>,
}

/// The `region` object of a school: which domain serves it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SchoolRegion {
    /// A country code, e.g. `GBR`, `AUS`.
    #[serde(default)]
    pub code: Option<String>,
    /// The API domain, e.g. `api.wonde.com`.
    #[serde(default)]
    pub domain: Option<String>,
    /// The school's API URL on that domain.
    #[serde(default)]
    pub school_url: Option<String>,
}

fn opt_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Email addresses of a person (`contact_details.data.emails`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Emails {
    /// The primary address.
    #[serde(default)]
    pub primary: Option<String>,
    /// The address.
    #[serde(default)]
    pub email: Option<String>,
    /// The work address.
    #[serde(default)]
    pub work: Option<String>,
    /// The home address (personal; never used as a school account's address).
    #[serde(default)]
    pub home: Option<String>,
}

/// `contact_details.data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactDetails {
    /// Email addresses.
    #[serde(default)]
    pub emails: Emails,
}

impl ContactDetails {
    /// The address to give a school account: `primary`, else `email`, else `work`. The `home` address is a
    /// personal one and is never used.
    pub fn school_email(&self) -> Option<&str> {
        let e = &self.emails;
        [&e.primary, &e.email, &e.work]
            .into_iter()
            .filter_map(|v| v.as_deref())
            .map(str::trim)
            .find(|v| v.contains('@'))
    }
}

/// A year group (`include=year`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct YearGroup {
    /// Wonde's id.
    #[serde(default)]
    pub id: String,
    /// The MIS code, e.g. `7`, `R`, `N1`.
    #[serde(default)]
    pub code: Option<String>,
    /// The name, e.g. `Year 7`, `Reception`.
    #[serde(default)]
    pub name: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Declares a person record (student or employee) with the fields both share, written out (not `flatten`ed) so
/// that a decode error names the exact field.
macro_rules! person_record {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub struct $name {
            /// Wonde's id (unique per school and kind).
            pub id: String,
            /// The unique person identifier: stable for the person's life in the MIS. Sync keys on it.
            #[serde(default)]
            pub upi: Option<String>,
            /// The MIS's own id.
            #[serde(default, deserialize_with = "opt_string_or_number")]
            pub mis_id: Option<String>,
            /// Preferred first name.
            #[serde(default)]
            pub forename: Option<String>,
            /// Preferred surname.
            #[serde(default)]
            pub surname: Option<String>,
            /// Legal first name.
            #[serde(default)]
            pub legal_forename: Option<String>,
            /// Legal surname.
            #[serde(default)]
            pub legal_surname: Option<String>,
            /// Middle names.
            #[serde(default)]
            pub middle_names: Option<String>,
            /// When Wonde last saw the record change.
            #[serde(default)]
            pub updated_at: Option<WondeDateTime>,
            /// When a deleted record came back.
            #[serde(default)]
            pub restored_at: Option<WondeDateTime>,
            /// `include=contact_details`.
            #[serde(default)]
            pub contact_details: Option<Included<Option<ContactDetails>>>,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $name {
            /// The first name to show: the preferred one, else the legal one.
            pub fn given_name(&self) -> &str {
                first_present(&self.forename, &self.legal_forename)
            }

            /// The last name to show: the preferred one, else the legal one.
            pub fn family_name(&self) -> &str {
                first_present(&self.surname, &self.legal_surname)
            }

            /// The `upi`, when present and not blank.
            pub fn upi(&self) -> Option<&str> {
                self.upi.as_deref().map(str::trim).filter(|u| !u.is_empty())
            }

            /// The school email, when `contact_details` was included and has one.
            pub fn email(&self) -> Option<&str> {
                self.contact_details.as_ref().and_then(|c| c.data.as_ref()).and_then(ContactDetails::school_email)
            }
        }
    };
}

fn first_present<'a>(a: &'a Option<String>, b: &'a Option<String>) -> &'a str {
    a.as_deref().map(str::trim).filter(|s| !s.is_empty()).or(b.as_deref().map(str::trim)).unwrap_or("")
}

person_record! {
    /// A student (`GET /v1.0/schools/{id}/students`).
    Student {
        /// `include=year`.
        #[serde(default)]
        pub year: Option<Included<Option<YearGroup>>>,
        /// `include=classes`.
        #[serde(default)]
        pub classes: Option<Included<Vec<Class>>>,
        /// `include=groups`.
        #[serde(default)]
        pub groups: Option<Included<Vec<Group>>>,
    }
}

person_record! {
    /// An employee (`GET /v1.0/schools/{id}/employees`).
    Employee {
        /// Title, e.g. `Mrs`.
        #[serde(default)]
        pub title: Option<String>,
        /// `include=classes`.
        #[serde(default)]
        pub classes: Option<Included<Vec<Class>>>,
    }
}

impl Student {
    /// The year group, when `year` was included.
    pub fn year_group(&self) -> Option<&YearGroup> {
        self.year.as_ref().and_then(|y| y.data.as_ref())
    }
}

/// A subject (`include=subject` on classes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subject {
    /// Wonde's id.
    #[serde(default)]
    pub id: String,
    /// Code, e.g. `MA`.
    #[serde(default)]
    pub code: Option<String>,
    /// Name, e.g. `Mathematics`.
    #[serde(default)]
    pub name: Option<String>,
}

/// A class's subject: its id, or the subject itself when `include=subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubjectRef {
    /// The subject, included.
    Included(Included<Option<Subject>>),
    /// Only its id.
    Id(String),
}

impl SubjectRef {
    /// The subject, when included.
    pub fn subject(&self) -> Option<&Subject> {
        match self {
            SubjectRef::Included(i) => i.data.as_ref(),
            SubjectRef::Id(_) => None,
        }
    }
}

/// A class (`GET /v1.0/schools/{id}/classes`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Class {
    /// Wonde's id.
    pub id: String,
    /// The MIS id.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub mis_id: Option<String>,
    /// Name, e.g. `7A/Ma1`.
    #[serde(default)]
    pub name: Option<String>,
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Description, e.g. `Year 7 Mathematics set 1`.
    #[serde(default)]
    pub description: Option<String>,
    /// The subject.
    #[serde(default)]
    pub subject: Option<SubjectRef>,
    /// `include=students`.
    #[serde(default)]
    pub students: Option<Included<Vec<Student>>>,
    /// `include=employees`.
    #[serde(default)]
    pub employees: Option<Included<Vec<Employee>>>,
    /// When Wonde last saw it change.
    #[serde(default)]
    pub updated_at: Option<WondeDateTime>,
}

/// A group: a year group, registration group, house… (`GET /v1.0/schools/{id}/groups`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Group {
    /// Wonde's id.
    pub id: String,
    /// The MIS id.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub mis_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Kind, e.g. `YEAR`, `REGISTRATION`, `HOUSE`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// `include=students`.
    #[serde(default)]
    pub students: Option<Included<Vec<Student>>>,
    /// `include=employees`.
    #[serde(default)]
    pub employees: Option<Included<Vec<Employee>>>,
}

/// A record deleted from the school's MIS (`GET /v1.0/schools/{id}/deletions`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deletion {
    /// The Wonde id of the deleted record.
    pub id: String,
    /// What it was: `student`, `employee`, `class`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// When it was deleted.
    #[serde(default)]
    pub deleted_at: Option<WondeDateTime>,
    /// When it came back, if it did.
    #[serde(default)]
    pub restored_at: Option<WondeDateTime>,
}

/// `meta.pagination`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pagination {
    /// The next page's URL, exactly as to be requested; `null` on the last page.
    #[serde(default)]
    pub next: Option<String>,
    /// The previous page's URL.
    #[serde(default)]
    pub previous: Option<String>,
    /// Whether there are more pages.
    #[serde(default)]
    pub more: Option<bool>,
    /// The page size.
    #[serde(default)]
    pub per_page: Option<u32>,
    /// This page's number (1-based).
    #[serde(default)]
    pub current_page: Option<u32>,
}

/// `meta`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Meta {
    /// Paging.
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// The relations the endpoint can include.
    #[serde(default)]
    pub includes: Vec<String>,
}

/// A single object: `{"data": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct One<T> {
    pub(crate) data: T,
}

/// One page of a list: `{"data": [...], "meta": {"pagination": {...}}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct Page<T> {
    /// The items.
    #[serde(default)]
    pub data: Vec<T>,
    /// Paging and includes.
    #[serde(default)]
    pub meta: Meta,
}

impl<T> Page<T> {
    /// The next page's URL, if there is one.
    pub fn next(&self) -> Option<&str> {
        self.meta.pagination.as_ref().and_then(|p| p.next.as_deref()).filter(|n| !n.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_with_and_without_fractions() {
        let d = WondeDateTime { date: "2016-04-07 11:21:47.000000".into(), timezone_type: Some(3), timezone: None };
        assert_eq!(d.naive().unwrap().to_string(), "2016-04-07 11:21:47");
        let d = WondeDateTime { date: "2016-04-07".into(), ..WondeDateTime::default() };
        assert_eq!(d.date_only().unwrap().to_string(), "2016-04-07");
        let now = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(WondeDateTime::utc(now).approx_utc(), Some(now));
    }

    #[test]
    fn names_and_email_prefer_preferred_and_school_addresses() {
        let s: Student = serde_json::from_value(serde_json::json!({
            "id": "A1", "upi": " U1 ", "forename": "", "legal_forename": "Elizabeth", "surname": "Bennet",
            "contact_details": {"data": {"emails": {"home": "lizzy@home.example", "primary": null,
                "email": "e.bennet@school.example"}}},
            "year": {"data": null}
        }))
        .unwrap();
        assert_eq!(s.given_name(), "Elizabeth");
        assert_eq!(s.family_name(), "Bennet");
        assert_eq!(s.upi(), Some("U1"));
        assert_eq!(s.email(), Some("e.bennet@school.example"));
        assert!(s.year_group().is_none());
    }
}
