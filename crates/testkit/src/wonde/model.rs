//! The data of a fake Wonde school, as plain values a test builds or changes.

use serde::Serialize;

/// Whether a token may read a school (Wonde: a school approves an app's access request in its Wonde portal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Access {
    /// The school approved access: its data can be read.
    Approved,
    /// Access was requested and waits for the school's approval: the school is listed by `GET /schools/pending`.
    Pending,
}

/// A school (`GET /v1.0/schools/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeSchool {
    /// Wonde's id, e.g. `A1930499544`.
    pub id: String,
    /// Name.
    pub name: String,
    /// URN (England and Wales).
    pub urn: Option<u64>,
    /// DfE establishment number.
    pub establishment_number: Option<String>,
    /// Local authority code.
    pub la_code: Option<String>,
    /// `PRIMARY` or `SECONDARY`.
    pub phase_of_education: String,
    /// The MIS, e.g. `SIMS`.
    pub mis: String,
    /// Time zone, e.g. `Europe/London`.
    pub timezone: String,
    /// The region's country code, e.g. `GBR`, `AUS`.
    pub region_code: String,
    /// The API domain that serves the school's data, e.g. `api.wonde.com`.
    pub domain: String,
}

/// A year group (`include=year`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeYear {
    /// Wonde's id.
    pub id: String,
    /// Code, e.g. `7`, `R`.
    pub code: String,
    /// Name, e.g. `Year 7`, `Reception`.
    pub name: String,
}

/// A subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeSubject {
    /// Wonde's id.
    pub id: String,
    /// Code, e.g. `MA`.
    pub code: String,
    /// Name, e.g. `Mathematics`.
    pub name: String,
}

/// A student.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeStudent {
    /// Wonde's id.
    pub id: String,
    /// The unique person identifier.
    pub upi: String,
    /// The MIS id.
    pub mis_id: String,
    /// Preferred first name.
    pub forename: String,
    /// Preferred surname.
    pub surname: String,
    /// Legal first name.
    pub legal_forename: String,
    /// Legal surname.
    pub legal_surname: String,
    /// School email (`contact_details.emails.email`), if the MIS has one.
    pub email: Option<String>,
    /// Home email (`contact_details.emails.home`): personal, never a school account's address.
    pub home_email: Option<String>,
    /// The year group's id.
    pub year: Option<String>,
}

/// An employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeEmployee {
    /// Wonde's id.
    pub id: String,
    /// The unique person identifier.
    pub upi: String,
    /// The MIS id.
    pub mis_id: String,
    /// Title, e.g. `Mrs`.
    pub title: String,
    /// Preferred first name.
    pub forename: String,
    /// Preferred surname.
    pub surname: String,
    /// Work email (`contact_details.emails.work`), if the MIS has one.
    pub email: Option<String>,
}

/// A class and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeClass {
    /// Wonde's id.
    pub id: String,
    /// The MIS id.
    pub mis_id: String,
    /// Name, e.g. `7A/Ma1`.
    pub name: String,
    /// Code.
    pub code: String,
    /// Description, e.g. `Year 7 Mathematics set A`.
    pub description: String,
    /// The subject's id.
    pub subject: Option<String>,
    /// Student ids.
    pub students: Vec<String>,
    /// Employee ids (teachers).
    pub employees: Vec<String>,
}

/// A group: a year group, a registration group, a house.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WondeGroup {
    /// Wonde's id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Code.
    pub code: String,
    /// `YEAR`, `REGISTRATION`, `HOUSE`…
    pub kind: String,
    /// Student ids.
    pub students: Vec<String>,
    /// Employee ids.
    pub employees: Vec<String>,
}

/// A whole school's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchoolData {
    /// The school.
    pub school: WondeSchool,
    /// Year groups.
    pub years: Vec<WondeYear>,
    /// Subjects.
    pub subjects: Vec<WondeSubject>,
    /// Students on roll.
    pub students: Vec<WondeStudent>,
    /// Employees.
    pub employees: Vec<WondeEmployee>,
    /// Classes.
    pub classes: Vec<WondeClass>,
    /// Groups.
    pub groups: Vec<WondeGroup>,
}
