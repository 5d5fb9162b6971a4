//! A Wonde school as a OneRoster 1.1 roster, so that a school can feed Microsoft School Data Sync from its MIS.
//!
//! [`wonde_roster`] reads the school, its students (with `contact_details` and `year`), employees (with
//! `contact_details`) and classes (with `students`, `employees` and `subject`), and [`build_roster`] maps them:
//!
//! | Wonde | OneRoster |
//! | --- | --- |
//! | the school | one `org` of type `school`; `identifier` = URN, else establishment number, else Wonde id |
//! | the current academic year ([`AcademicYear`]) | one `academicSession` of type `schoolYear` |
//! | a student | a `user`, role `student`, `sourcedId` = `upi`, `identifier` = MIS id, `grades` from the year group |
//! | an employee | a `user`, role `teacher` if they teach a class, else [`RosterOptions::non_teaching_staff`] |
//! | a subject (else a class without one) | a `course` |
//! | a class | a `class` (`scheduled`), in the school year |
//! | a class's students and employees | `enrollments` (`student` / `teacher`) |
//!
//! Wonde has no academic-year object in the parts of its API this uses, so the school year is the one `today`
//! falls in by the school's region: 1 September – 31 August in the UK and most of the world, the calendar year in
//! Australia, New Zealand and South Africa, 1 July – 30 June in the US (override it with
//! [`RosterOptions::academic_year`]). Year groups become CEDS grade codes by age equivalence ([`grade_for_year`]).

use super::source_error;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::TryStreamExt;
use oneroster_model::{
    AcademicSession, Base, Class, ClassType, Course, Enrollment, EnrollmentRole, Grade, GuidRef, GuidType, Org,
    OrgType, RoleType, Roster, SessionType, User, UserId,
};
use std::collections::{BTreeMap, BTreeSet};
use sync_engine::source::SourceError;
use wonde_client::{Employee, ListQuery, School, Student, WondeClient, YearGroup};

/// A school year: its first and last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcademicYear {
    /// The first day.
    pub start: NaiveDate,
    /// The last day.
    pub end: NaiveDate,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

impl AcademicYear {
    /// The school year `today` falls in, by the region's calendar (`region_code` as the school's `region.code`:
    /// `AUS`, `NZL`, `ZAF` use the calendar year, `USA` 1 July – 30 June, everything else 1 September – 31 August).
    pub fn current(region_code: Option<&str>, today: NaiveDate) -> AcademicYear {
        let code = region_code.unwrap_or("GBR").trim().to_ascii_uppercase();
        let (y, m) = (today.year(), today.month());
        match code.as_str() {
            "AUS" | "NZL" | "ZAF" => AcademicYear { start: ymd(y, 1, 1), end: ymd(y, 12, 31) },
            "USA" => {
                let first = if m >= 7 { y } else { y - 1 };
                AcademicYear { start: ymd(first, 7, 1), end: ymd(first + 1, 6, 30) }
            }
            _ => {
                let first = if m >= 9 { y } else { y - 1 };
                AcademicYear { start: ymd(first, 9, 1), end: ymd(first + 1, 8, 31) }
            }
        }
    }

    /// OneRoster's `schoolYear`: the year it ends in (`2025` for 2024–25).
    pub fn school_year(&self) -> String {
        self.end.year().to_string()
    }

    /// A title: `2024/25`, or `2025` for a calendar year.
    pub fn title(&self) -> String {
        if self.start.year() == self.end.year() {
            self.start.year().to_string()
        } else {
            format!("{}/{:02}", self.start.year(), self.end.year() % 100)
        }
    }
}

/// The CEDS grade of a year group, by age equivalence with the US grades OneRoster uses, or `None` when the year
/// group is not recognised (then the user carries no grade rather than a wrong one).
///
/// * England, Wales, Northern Ireland and New Zealand (`GBR`, `NZL`, and by default): children start Year 1 a
///   year younger than US first graders, so Year N is grade N−1 (Year 1 → `KG`, Year 7 → `06`, Year 13 → `12`);
///   Reception → `PK`; Nursery → `PR`.
/// * Australia, South Africa and the US (`AUS`, `ZAF`, `USA`): Year / Grade N is grade N; Foundation, Prep,
///   Kindergarten, Grade R or K → `KG`; Pre-K → `PK`.
///
/// The year group's `code` is read first (`7`, `R`, `N1`, `Y7`), then its `name` (`Year 7`, `Reception`).
pub fn grade_for_year(region_code: Option<&str>, year: &YearGroup) -> Option<Grade> {
    let code = region_code.unwrap_or("GBR").trim().to_ascii_uppercase();
    let age_shift = !matches!(code.as_str(), "AUS" | "ZAF" | "USA");
    [year.code.as_deref(), year.name.as_deref()].into_iter().flatten().find_map(|text| grade_of(text, age_shift))
}

fn grade_of(text: &str, age_shift: bool) -> Option<Grade> {
    let t = text.trim().to_ascii_lowercase();
    let words: Vec<&str> =
        t.split(|c: char| c.is_whitespace() || c == '-' || c == '_').filter(|w| !w.is_empty()).collect();
    let has = |w: &str| words.contains(&w) || t == w;
    if has("reception") || t == "r" || t == "rec" || has("grade r") {
        return Some(if age_shift { Grade::PreKindergarten } else { Grade::Kindergarten });
    }
    if has("nursery") || t.starts_with('n') && t[1..].chars().all(|c| c.is_ascii_digit()) && t.len() <= 2 {
        return Some(Grade::Preschool);
    }
    if has("foundation") || has("prep") || has("kindergarten") || t == "k" || t == "kg" || t == "gr" {
        return Some(Grade::Kindergarten);
    }
    if has("pre") && has("k") || t == "pk" || t == "prek" || t == "pre-k" {
        return Some(Grade::PreKindergarten);
    }
    // A number: the whole text (`7`), after `y`/`yr` (`Y7`), or the last word (`Year 7`, `Grade 7`).
    let digits = |s: &str| s.parse::<u32>().ok();
    let n = digits(&t)
        .or_else(|| t.strip_prefix("yr").and_then(digits))
        .or_else(|| t.strip_prefix('y').and_then(digits))
        .or_else(|| words.last().and_then(|w| digits(w)).filter(|_| words.len() > 1))?;
    let n = if age_shift { n.checked_sub(1)? } else { n };
    Some(match n {
        0 => Grade::Kindergarten,
        1..=13 => Grade::parse(&format!("{n:02}")),
        _ => return None,
    })
}

/// What non-teaching employees (who teach no class) become.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NonTeachingStaff {
    /// Users with role `administrator` (the default): they get accounts, in no class.
    #[default]
    Administrator,
    /// Left out of the roster.
    Skip,
}

/// How to build the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterOptions {
    /// Today, to pick the current academic year.
    pub today: NaiveDate,
    /// The `dateLastModified` of every record (an import keeps its own per record, by content).
    pub modified: DateTime<Utc>,
    /// The school year, instead of the one `today` falls in by the school's region.
    pub academic_year: Option<AcademicYear>,
    /// What employees who teach no class become.
    pub non_teaching_staff: NonTeachingStaff,
}

impl RosterOptions {
    /// Options for now: today's academic year, `now` as the modification time.
    pub fn at(now: DateTime<Utc>) -> RosterOptions {
        RosterOptions {
            today: now.date_naive(),
            modified: now,
            academic_year: None,
            non_teaching_staff: NonTeachingStaff::default(),
        }
    }
}

/// What was read from Wonde for one school.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchoolSnapshot {
    /// The school.
    pub school: School,
    /// Students on roll, with `contact_details` and `year`.
    pub students: Vec<Student>,
    /// Employees, with `contact_details`.
    pub employees: Vec<Employee>,
    /// Classes, with `students`, `employees` and `subject`.
    pub classes: Vec<wonde_client::Class>,
}

/// A roster and what was left out of it, and why (for a report).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WondeRoster {
    /// The roster.
    pub roster: Roster,
    /// Records left out, one line each (e.g. a student without a `upi`).
    pub notes: Vec<String>,
}

/// Reads what [`build_roster`] needs for one school.
pub async fn read_school(client: &WondeClient, school_id: &str) -> Result<SchoolSnapshot, SourceError> {
    let school = client.school(school_id).await.map_err(|e| {
        if e.is_not_found() {
            SourceError::Other(format!("Wonde has no school `{school_id}` for this token"))
        } else {
            source_error(e)
        }
    })?;
    let id = school.id.clone();
    let students = client
        .students(&id, &ListQuery::new().include(["contact_details", "year"]))
        .try_collect()
        .await
        .map_err(source_error)?;
    let employees = client
        .employees(&id, &ListQuery::new().include(["contact_details"]))
        .try_collect()
        .await
        .map_err(source_error)?;
    let classes = client
        .classes(&id, &ListQuery::new().include(["students", "employees", "subject"]))
        .try_collect()
        .await
        .map_err(source_error)?;
    Ok(SchoolSnapshot { school, students, employees, classes })
}

/// Reads a Wonde school and builds its OneRoster roster: the library entry point of the Wonde → School Data Sync
/// feed. Import the result with `roster_store::Store::import_roster(&built.roster, ImportMode::Bulk, now)`.
pub async fn wonde_roster(
    client: &WondeClient,
    school_id: &str,
    options: &RosterOptions,
) -> Result<WondeRoster, SourceError> {
    let snapshot = read_school(client, school_id).await?;
    Ok(build_roster(&snapshot, options))
}

fn base(id: impl Into<String>, modified: DateTime<Utc>) -> Base {
    Base { date_last_modified: Some(modified), ..Base::new(id) }
}

/// Builds the roster of a school from what was read (a pure function: the same input gives the same roster).
pub fn build_roster(snapshot: &SchoolSnapshot, options: &RosterOptions) -> WondeRoster {
    let school = &snapshot.school;
    let region = school.region.as_ref().and_then(|r| r.code.as_deref());
    let modified = options.modified;
    let mut notes = Vec::new();
    let org_ref = GuidRef::new(GuidType::Org, school.id.clone());
    let year = options.academic_year.unwrap_or_else(|| AcademicYear::current(region, options.today));
    let session_id = format!("{}-{}-{}", school.id, year.start.year(), year.end.year());
    let session_ref = GuidRef::new(GuidType::AcademicSession, session_id.clone());
    let org = Org {
        base: base(school.id.clone(), modified),
        name: if school.name.trim().is_empty() { school.id.clone() } else { school.name.trim().to_owned() },
        org_type: OrgType::School,
        identifier: school.urn.clone().or_else(|| school.establishment_number.clone()).or(Some(school.id.clone())),
        parent: None,
        children: Vec::new(),
    };
    let session = AcademicSession {
        base: base(session_id.clone(), modified),
        title: year.title(),
        start_date: year.start,
        end_date: year.end,
        session_type: SessionType::SchoolYear,
        parent: None,
        children: Vec::new(),
        school_year: year.school_year(),
    };

    // Users. Wonde ids are per kind, so the maps from Wonde id to upi are kept apart.
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    let mut student_upi: BTreeMap<&str, String> = BTreeMap::new();
    let mut student_grade: BTreeMap<String, Grade> = BTreeMap::new();
    for s in &snapshot.students {
        let Some(upi) = s.upi() else {
            notes.push(format!("student {} ({} {}) has no upi; left out", s.id, s.given_name(), s.family_name()));
            continue;
        };
        let grades: Vec<Grade> = s.year_group().and_then(|y| grade_for_year(region, y)).into_iter().collect();
        if let Some(g) = grades.first() {
            student_grade.insert(upi.to_owned(), g.clone());
        }
        student_upi.insert(s.id.as_str(), upi.to_owned());
        users.insert(
            upi.to_owned(),
            user(
                upi,
                &s.id,
                s.mis_id.as_deref(),
                s.given_name(),
                s.family_name(),
                s.email(),
                RoleType::Student,
                grades,
                &org_ref,
                modified,
            ),
        );
    }
    let teaching: BTreeSet<&str> = snapshot
        .classes
        .iter()
        .flat_map(|c| c.employees.iter().flat_map(|e| e.data.iter().map(|e| e.id.as_str())))
        .collect();
    let mut employee_upi: BTreeMap<&str, String> = BTreeMap::new();
    for e in &snapshot.employees {
        let Some(upi) = e.upi() else {
            notes.push(format!("employee {} ({} {}) has no upi; left out", e.id, e.given_name(), e.family_name()));
            continue;
        };
        let role = if teaching.contains(e.id.as_str()) {
            RoleType::Teacher
        } else {
            match options.non_teaching_staff {
                NonTeachingStaff::Administrator => RoleType::Administrator,
                NonTeachingStaff::Skip => continue,
            }
        };
        if users.contains_key(upi) {
            notes.push(format!("employee {} has the upi of a student; left out", e.id));
            continue;
        }
        employee_upi.insert(e.id.as_str(), upi.to_owned());
        users.insert(
            upi.to_owned(),
            user(
                upi,
                &e.id,
                e.mis_id.as_deref(),
                e.given_name(),
                e.family_name(),
                e.email(),
                role,
                Vec::new(),
                &org_ref,
                modified,
            ),
        );
    }

    // Courses (per subject, else per class), classes and enrollments.
    let mut courses: BTreeMap<String, Course> = BTreeMap::new();
    let mut classes = Vec::new();
    let mut enrollments = Vec::new();
    for c in &snapshot.classes {
        let subject = c.subject.as_ref().and_then(|s| s.subject());
        let (course_id, course_title, course_code) = match subject {
            Some(s) => (
                format!("{}-subject-{}", school.id, s.id),
                s.name.clone().or(s.code.clone()).unwrap_or_else(|| s.id.clone()),
                s.code.clone(),
            ),
            None => (format!("{}-class-{}", school.id, c.id), class_title(c), c.code.clone()),
        };
        courses.entry(course_id.clone()).or_insert_with(|| Course {
            base: base(course_id.clone(), modified),
            title: course_title,
            school_year: Some(session_ref.clone()),
            course_code,
            grades: Vec::new(),
            subjects: subject.and_then(|s| s.name.clone()).into_iter().collect(),
            org: org_ref.clone(),
            subject_codes: Vec::new(),
            resources: Vec::new(),
        });
        let members: Vec<&str> = c
            .students
            .iter()
            .flat_map(|s| s.data.iter())
            .filter_map(|s| s.upi().or_else(|| student_upi.get(s.id.as_str()).map(String::as_str)))
            .filter(|upi| users.contains_key(*upi))
            .collect();
        let teachers: Vec<&str> = c
            .employees
            .iter()
            .flat_map(|e| e.data.iter())
            .filter_map(|e| e.upi().or_else(|| employee_upi.get(e.id.as_str()).map(String::as_str)))
            .filter(|upi| users.contains_key(*upi))
            .collect();
        let grades: BTreeSet<Grade> = members.iter().filter_map(|u| student_grade.get(*u).cloned()).collect();
        classes.push(Class {
            base: base(c.id.clone(), modified),
            title: class_title(c),
            class_code: c.name.clone().or(c.code.clone()),
            class_type: ClassType::Scheduled,
            location: None,
            grades: grades.into_iter().collect(),
            subjects: subject.and_then(|s| s.name.clone()).into_iter().collect(),
            course: GuidRef::new(GuidType::Course, course_id),
            school: org_ref.clone(),
            terms: vec![session_ref.clone()],
            subject_codes: Vec::new(),
            periods: Vec::new(),
            resources: Vec::new(),
        });
        let class_ref = GuidRef::new(GuidType::Class, c.id.clone());
        let mut seen = BTreeSet::new();
        for (i, upi) in teachers.iter().enumerate() {
            if seen.insert(*upi) {
                enrollments.push(enrollment(
                    &c.id,
                    upi,
                    EnrollmentRole::Teacher,
                    Some(i == 0),
                    &class_ref,
                    &org_ref,
                    modified,
                ));
            }
        }
        for upi in members {
            if seen.insert(upi) {
                enrollments.push(enrollment(&c.id, upi, EnrollmentRole::Student, None, &class_ref, &org_ref, modified));
            }
        }
    }
    let mut roster = Roster {
        orgs: vec![org],
        academic_sessions: vec![session],
        courses: courses.into_values().collect(),
        classes,
        users: users.into_values().collect(),
        enrollments,
        demographics: Vec::new(),
    };
    roster.link_children();
    WondeRoster { roster, notes }
}

/// A class's title: its MIS name (`7A/Ma1`), which teachers know it by and which is valid in a Teams class
/// mailNickname, else its description, else its id.
fn class_title(c: &wonde_client::Class) -> String {
    [&c.name, &c.description, &c.code]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .map(str::trim)
        .find(|v| !v.is_empty())
        .unwrap_or(&c.id)
        .to_owned()
}

#[allow(clippy::too_many_arguments)]
fn user(
    upi: &str,
    wonde_id: &str,
    mis_id: Option<&str>,
    given: &str,
    family: &str,
    email: Option<&str>,
    role: RoleType,
    grades: Vec<Grade>,
    org: &GuidRef,
    modified: DateTime<Utc>,
) -> User {
    User {
        base: base(upi, modified),
        username: email.unwrap_or(upi).to_owned(),
        user_ids: vec![UserId { kind: "Wonde".into(), identifier: wonde_id.to_owned() }],
        enabled_user: true,
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        middle_name: None,
        role,
        identifier: Some(mis_id.filter(|m| !m.trim().is_empty()).unwrap_or(upi).to_owned()),
        email: email.map(str::to_owned),
        sms: None,
        phone: None,
        agents: Vec::new(),
        orgs: vec![org.clone()],
        grades,
        password: None,
    }
}

fn enrollment(
    class_id: &str,
    upi: &str,
    role: EnrollmentRole,
    primary: Option<bool>,
    class: &GuidRef,
    school: &GuidRef,
    modified: DateTime<Utc>,
) -> Enrollment {
    Enrollment {
        base: base(format!("{class_id}-{upi}"), modified),
        user: GuidRef::new(GuidType::User, upi),
        class: class.clone(),
        school: school.clone(),
        role,
        primary,
        begin_date: None,
        end_date: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year(code: &str, name: &str) -> YearGroup {
        YearGroup { id: "y".into(), code: Some(code.into()), name: Some(name.into()), description: None }
    }

    #[test]
    fn year_groups_map_to_ceds_grades_by_age() {
        let g = |region, code, name| grade_for_year(region, &year(code, name)).map(|g| g.as_str().to_owned());
        assert_eq!(g(Some("GBR"), "7", "Year 7").as_deref(), Some("06"));
        assert_eq!(g(Some("GBR"), "1", "Year 1").as_deref(), Some("KG"));
        assert_eq!(g(None, "R", "Reception").as_deref(), Some("PK"));
        assert_eq!(g(None, "N2", "Nursery").as_deref(), Some("PR"));
        assert_eq!(g(Some("GBR"), "Y13", "").as_deref(), Some("12"));
        assert_eq!(g(Some("NZL"), "", "Year 13").as_deref(), Some("12"));
        assert_eq!(g(Some("AUS"), "7", "Year 7").as_deref(), Some("07"));
        assert_eq!(g(Some("AUS"), "F", "Foundation").as_deref(), Some("KG"));
        assert_eq!(g(Some("ZAF"), "R", "Grade R").as_deref(), Some("KG"));
        assert_eq!(g(Some("USA"), "K", "Kindergarten").as_deref(), Some("KG"));
        assert_eq!(g(Some("GBR"), "6F", "Sixth Form").as_deref(), None, "not recognised: no grade, not a wrong one");
        assert_eq!(g(Some("GBR"), "20", "Year 20"), None);
    }

    #[test]
    fn academic_years_follow_the_regions_calendar() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let uk = AcademicYear::current(Some("GBR"), d(2025, 3, 1));
        assert_eq!(
            (uk.start, uk.end, uk.school_year(), uk.title()),
            (d(2024, 9, 1), d(2025, 8, 31), "2025".into(), "2024/25".into())
        );
        assert_eq!(AcademicYear::current(None, d(2025, 9, 1)).start, d(2025, 9, 1));
        let au = AcademicYear::current(Some("AUS"), d(2025, 3, 1));
        assert_eq!((au.start, au.end, au.title()), (d(2025, 1, 1), d(2025, 12, 31), "2025".into()));
        let us = AcademicYear::current(Some("USA"), d(2025, 6, 30));
        assert_eq!((us.start, us.end), (d(2024, 7, 1), d(2025, 6, 30)));
    }
}
