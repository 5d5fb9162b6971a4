//! Wonde (a school's management information system) as a source of people, and as a OneRoster roster.
//!
//! * [`WondeSource`]: the sync engine's [`IdentitySource`] for one Wonde school. A Wonde connection needs no group
//!   selection: the school is the scope, split in two so that each half carries its role — students
//!   (`<school>/students`, role student) and employees (`<school>/employees`, role staff). [`school_scopes`] gives
//!   both; a binary builds the connection group from them by itself. People are keyed by their `upi`. Students
//!   who leave drop out of `/students` and employees deleted from the MIS drop out of `/employees`, so the engine
//!   suspends them; `changes` also reports them explicitly (`/students-leaver`, `/deletions`).
//! * [`roster`]: the school as a OneRoster 1.1 roster for School Data Sync ([`roster::wonde_roster`]).

pub mod roster;

use async_trait::async_trait;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use sync_engine::clock::{Clock, SystemClock};
use sync_engine::model::{ConnectionId, Role, ScopeId, ScopeSelection, SourcePerson};
use sync_engine::source::{Changes, IdentitySource, SourceCursor, SourceError, SourceSnapshot};
use wonde_client::{Employee, ListQuery, Region, School, Student, WondeClient, WondeError};

/// The scope suffix of a school's students.
pub const STUDENTS: &str = "students";
/// The scope suffix of a school's employees.
pub const EMPLOYEES: &str = "employees";

/// How far back an incremental read starts before the cursor's time. Wonde writes `updated_at` in the school's
/// local time, which may be ahead of UTC (British Summer Time is UTC+1, Australian zones up to UTC+11); reading
/// from 12 hours earlier covers every Wonde region. Re-reading a change is harmless: the engine compares fields.
pub const DEFAULT_OVERLAP_HOURS: i64 = 12;

/// The scope of one half of a school: `<school id>/students` or `<school id>/employees`.
pub fn scope_id(school_id: &str, kind: &str) -> ScopeId {
    ScopeId::new(format!("{school_id}/{kind}"))
}

/// A Wonde school's scopes: students as students and employees as staff. This is the whole connection group of a
/// Wonde connection; `school_name` names the scopes in messages.
pub fn school_scopes(school_id: &str, school_name: &str) -> Vec<ScopeSelection> {
    let name = if school_name.trim().is_empty() { school_id } else { school_name.trim() };
    vec![
        ScopeSelection { scope: scope_id(school_id, STUDENTS), name: format!("{name} students"), role: Role::Student },
        ScopeSelection { scope: scope_id(school_id, EMPLOYEES), name: format!("{name} employees"), role: Role::Staff },
    ]
}

/// Turns a client error into the engine's terms.
pub fn source_error(error: WondeError) -> SourceError {
    if error.is_unauthorized() {
        SourceError::Access(format!("Wonde refused the API token: {error}"))
    } else if error.is_forbidden() {
        SourceError::Access(format!(
            "the school has not approved access for this Wonde token (approve the app in the school's Wonde \
             portal): {error}"
        ))
    } else if error.is_transient() {
        SourceError::Unavailable(error.to_string())
    } else {
        SourceError::Other(error.to_string())
    }
}

/// Maps a Wonde student or employee to a person, keyed by `upi`. `None` for a record without a `upi` (it cannot
/// be tracked across runs; it is left out and logged).
fn person(upi: Option<&str>, given: &str, family: &str, email: Option<&str>) -> Option<SourcePerson> {
    let upi = upi?;
    Some(SourcePerson {
        source_id: upi.to_owned(),
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        email: email.map(str::to_owned),
        username: email.map(str::to_owned),
        enabled: true,
        scopes: Vec::new(),
    })
}

/// The person of a student.
pub fn student_person(s: &Student) -> Option<SourcePerson> {
    person(s.upi(), s.given_name(), s.family_name(), s.email())
}

/// The person of an employee.
pub fn employee_person(e: &Employee) -> Option<SourcePerson> {
    person(e.upi(), e.given_name(), e.family_name(), e.email())
}

/// What the source's cursor holds: when the read began, and each Wonde id seen with its `upi` (deletions name the
/// Wonde id, people are keyed by `upi`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    v: u8,
    at: chrono::DateTime<chrono::Utc>,
    /// `s:<id>` / `e:<id>` → upi.
    ids: BTreeMap<String, String>,
}

/// The people of one Wonde school. Cheap to clone.
#[derive(Clone)]
pub struct WondeSource {
    connection: ConnectionId,
    client: WondeClient,
    school: String,
    region: Option<Region>,
    clock: Arc<dyn Clock>,
    overlap: chrono::Duration,
}

impl std::fmt::Debug for WondeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WondeSource")
            .field("connection", &self.connection)
            .field("school", &self.school)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl WondeSource {
    /// A source reading `school_id` through `client` for `connection`.
    pub fn new(connection: ConnectionId, client: WondeClient, school_id: impl Into<String>) -> WondeSource {
        WondeSource {
            connection,
            client,
            school: school_id.into().trim().to_owned(),
            region: None,
            clock: Arc::new(SystemClock),
            overlap: chrono::Duration::hours(DEFAULT_OVERLAP_HOURS),
        }
    }

    /// The region the connection is configured for: a snapshot then fails, with the remedy, if the school's
    /// `region` says its data lives on another domain (where the configured one would answer no data).
    pub fn with_region(mut self, region: Region) -> WondeSource {
        self.region = Some(region);
        self
    }

    /// The clock that stamps cursors.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> WondeSource {
        self.clock = clock;
        self
    }

    /// How far before the cursor's time incremental reads start (default [`DEFAULT_OVERLAP_HOURS`]).
    pub fn with_overlap(mut self, overlap: chrono::Duration) -> WondeSource {
        self.overlap = overlap;
        self
    }

    /// The school id.
    pub fn school_id(&self) -> &str {
        &self.school
    }

    /// The Wonde client.
    pub fn client(&self) -> &WondeClient {
        &self.client
    }

    /// Which halves of the school the scopes select (students, employees); an error for a scope of another school
    /// or of another kind.
    fn kinds(&self, scopes: &[ScopeSelection]) -> Result<(bool, bool), SourceError> {
        let (mut students, mut employees) = (false, false);
        for s in scopes {
            let Some((school, kind)) = s.scope.as_str().rsplit_once('/') else {
                return Err(SourceError::UnsupportedScope {
                    scope: s.scope.clone(),
                    reason: format!(
                        "a Wonde scope is `<school id>/students` or `<school id>/employees`, not `{}`",
                        s.scope
                    ),
                });
            };
            if school != self.school {
                return Err(SourceError::ScopeNotFound(s.scope.clone()));
            }
            match kind {
                STUDENTS => students = true,
                EMPLOYEES => employees = true,
                other => {
                    return Err(SourceError::UnsupportedScope {
                        scope: s.scope.clone(),
                        reason: format!("`{other}` is not a part of a Wonde school; use students or employees"),
                    });
                }
            }
        }
        Ok((students, employees))
    }

    /// Reads the school: it must exist for the token, have approved access, and live on the configured region.
    pub async fn check_school(&self, scope: Option<&ScopeId>) -> Result<School, SourceError> {
        let school = match self.client.school(&self.school).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => {
                return Err(SourceError::ScopeNotFound(
                    scope.cloned().unwrap_or_else(|| ScopeId::new(self.school.clone())),
                ));
            }
            Err(e) => return Err(source_error(e)),
        };
        if let (Some(configured), Some(actual)) =
            (&self.region, school.region.as_ref().and_then(|r| r.domain.as_deref()))
            && !configured.domain().eq_ignore_ascii_case(actual)
        {
            return Err(SourceError::Other(format!(
                "school {} ({}) is served by {actual}, but the connection uses {}; Wonde answers no data from the \
                 wrong domain. Set `region = \"{actual}\"` on the connection",
                school.name,
                school.id,
                configured.domain()
            )));
        }
        Ok(school)
    }

    async fn read(
        &self,
        students: bool,
        employees: bool,
        since: Option<chrono::DateTime<chrono::Utc>>,
        ids: &mut BTreeMap<String, String>,
    ) -> Result<(Vec<SourcePerson>, BTreeMap<ScopeId, usize>), SourceError> {
        let mut query = ListQuery::new().include(["contact_details"]);
        if let Some(at) = since {
            query = query.updated_after(at);
        }
        let mut people: BTreeMap<String, SourcePerson> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        let mut skipped = 0usize;
        if students {
            let scope = scope_id(&self.school, STUDENTS);
            let list: Vec<Student> =
                self.client.students(&self.school, &query).try_collect().await.map_err(source_error)?;
            let mut n = 0;
            for s in &list {
                let Some(p) = student_person(s) else {
                    skipped += 1;
                    continue;
                };
                ids.insert(format!("s:{}", s.id), p.source_id.clone());
                let entry = people.entry(p.source_id.clone()).or_insert(p);
                if !entry.scopes.contains(&scope) {
                    entry.scopes.push(scope.clone());
                    n += 1;
                }
            }
            counts.insert(scope, n);
        }
        if employees {
            let scope = scope_id(&self.school, EMPLOYEES);
            let list: Vec<Employee> =
                self.client.employees(&self.school, &query).try_collect().await.map_err(source_error)?;
            let mut n = 0;
            for e in &list {
                let Some(p) = employee_person(e) else {
                    skipped += 1;
                    continue;
                };
                ids.insert(format!("e:{}", e.id), p.source_id.clone());
                let entry = people.entry(p.source_id.clone()).or_insert(p);
                if !entry.scopes.contains(&scope) {
                    entry.scopes.push(scope.clone());
                    n += 1;
                }
            }
            counts.insert(scope, n);
        }
        if skipped > 0 {
            tracing::warn!(school = %self.school, skipped, "Wonde records without a upi were left out");
        }
        Ok((people.into_values().collect(), counts))
    }

    fn cursor(&self, at: chrono::DateTime<chrono::Utc>, ids: BTreeMap<String, String>) -> Option<SourceCursor> {
        serde_json::to_string(&Cursor { v: 1, at, ids }).ok().map(SourceCursor)
    }
}

#[async_trait]
impl IdentitySource for WondeSource {
    fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    async fn snapshot(&self, scopes: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError> {
        let (students, employees) = self.kinds(scopes)?;
        let started = self.clock.now();
        self.check_school(scopes.first().map(|s| &s.scope)).await?;
        let mut ids = BTreeMap::new();
        let (people, scope_counts) = self.read(students, employees, None, &mut ids).await?;
        Ok(SourceSnapshot { people, scope_counts, cursor: self.cursor(started, ids) })
    }

    /// People changed since the cursor (`updated_after`), and those who left (`/students-leaver`) or were deleted
    /// from the MIS (`/deletions`). An unreadable cursor asks for a full snapshot.
    async fn changes(&self, scopes: &[ScopeSelection], cursor: &SourceCursor) -> Result<Changes, SourceError> {
        let (students, employees) = self.kinds(scopes)?;
        let Ok(previous) = serde_json::from_str::<Cursor>(&cursor.0) else {
            return Ok(Changes::FullResyncRequired);
        };
        if previous.v != 1 {
            return Ok(Changes::FullResyncRequired);
        }
        let started = self.clock.now();
        let since = previous.at - self.overlap;
        let mut ids = previous.ids;
        let (upserts, _) = self.read(students, employees, Some(since), &mut ids).await?;
        let mut removed = Vec::new();
        let query = ListQuery::new().updated_after(since);
        if students {
            let leavers: Vec<Student> =
                self.client.leavers(&self.school, &query).try_collect().await.map_err(source_error)?;
            removed.extend(leavers.iter().filter_map(|s| s.upi().map(str::to_owned)));
            for s in &leavers {
                ids.remove(&format!("s:{}", s.id));
            }
        }
        let deletions: Vec<wonde_client::Deletion> =
            self.client.deletions(&self.school, &query).try_collect().await.map_err(source_error)?;
        for d in deletions.iter().filter(|d| d.restored_at.is_none()) {
            let key = match d.kind.as_deref() {
                Some("student") if students => format!("s:{}", d.id),
                Some("employee") if employees => format!("e:{}", d.id),
                _ => continue,
            };
            if let Some(upi) = ids.remove(&key) {
                removed.push(upi);
            }
        }
        removed.sort();
        removed.dedup();
        let upserts = upserts.into_iter().filter(|p| removed.binary_search(&p.source_id).is_err()).collect();
        // Everyone the school has now, per scope: the cursor's id map is the full membership once the changes
        // are applied to it (it was complete at the last snapshot).
        let mut scope_counts = BTreeMap::new();
        for (on, prefix, kind) in [(students, "s:", STUDENTS), (employees, "e:", EMPLOYEES)] {
            if on {
                scope_counts.insert(scope_id(&self.school, kind), ids.keys().filter(|k| k.starts_with(prefix)).count());
            }
        }
        let Some(cursor) = self.cursor(started, ids) else {
            return Ok(Changes::FullResyncRequired);
        };
        Ok(Changes::Changes { upserts, removed, scope_counts, cursor })
    }
}
