//! The fake Wonde's data: schools and their records, each stamped with when it last changed, access per token,
//! deletions, and the throttling buckets.

use super::FakeWondeError;
use super::model::{
    Access, SchoolData, WondeClass, WondeEmployee, WondeGroup, WondeSchool, WondeStudent, WondeSubject, WondeYear,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The largest page served.
pub(crate) const MAX_PER_PAGE: usize = 200;

/// A record and when it last changed.
#[derive(Debug, Clone)]
pub(crate) struct Rec<T> {
    pub(crate) value: T,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A record deleted from the MIS.
#[derive(Debug, Clone)]
pub(crate) struct DeletionRec {
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) at: DateTime<Utc>,
}

/// One school.
#[derive(Debug, Clone)]
pub(crate) struct SchoolState {
    pub(crate) school: WondeSchool,
    pub(crate) now: DateTime<Utc>,
    pub(crate) years: BTreeMap<String, WondeYear>,
    pub(crate) subjects: BTreeMap<String, WondeSubject>,
    pub(crate) students: BTreeMap<String, Rec<WondeStudent>>,
    pub(crate) leavers: BTreeMap<String, Rec<WondeStudent>>,
    pub(crate) employees: BTreeMap<String, Rec<WondeEmployee>>,
    pub(crate) classes: BTreeMap<String, Rec<WondeClass>>,
    pub(crate) groups: BTreeMap<String, Rec<WondeGroup>>,
    pub(crate) deletions: Vec<DeletionRec>,
}

fn rec<T>(value: T, now: DateTime<Utc>) -> Rec<T> {
    Rec { value, created_at: now, updated_at: now }
}

impl SchoolState {
    fn unknown(&self, kind: &'static str, id: &str) -> FakeWondeError {
        FakeWondeError::UnknownRecord { school: self.school.id.clone(), kind, id: id.to_owned() }
    }

    pub(crate) fn upsert_student(&mut self, student: WondeStudent) {
        let now = self.now;
        let created = self.students.get(&student.id).map(|r| r.created_at).unwrap_or(now);
        self.leavers.remove(&student.id);
        self.students.insert(student.id.clone(), Rec { value: student, created_at: created, updated_at: now });
    }

    pub(crate) fn update_student(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut WondeStudent),
    ) -> Result<(), FakeWondeError> {
        let now = self.now;
        let Some(r) = self.students.get_mut(id) else { return Err(self.unknown("student", id)) };
        change(&mut r.value);
        r.value.id = id.to_owned();
        r.updated_at = now;
        Ok(())
    }

    /// Takes a person out of every class and group (the class or group changes).
    fn remove_member(&mut self, id: &str, student: bool) {
        let now = self.now;
        for c in self.classes.values_mut() {
            let list = if student { &mut c.value.students } else { &mut c.value.employees };
            let before = list.len();
            list.retain(|m| m != id);
            if list.len() != before {
                c.updated_at = now;
            }
        }
        for g in self.groups.values_mut() {
            let list = if student { &mut g.value.students } else { &mut g.value.employees };
            let before = list.len();
            list.retain(|m| m != id);
            if list.len() != before {
                g.updated_at = now;
            }
        }
    }

    pub(crate) fn student_leaves(&mut self, id: &str) -> Result<(), FakeWondeError> {
        let Some(mut r) = self.students.remove(id) else { return Err(self.unknown("student", id)) };
        r.updated_at = self.now;
        self.leavers.insert(id.to_owned(), r);
        self.remove_member(id, true);
        Ok(())
    }

    pub(crate) fn delete_student(&mut self, id: &str) -> Result<(), FakeWondeError> {
        if self.students.remove(id).is_none() && self.leavers.remove(id).is_none() {
            return Err(self.unknown("student", id));
        }
        self.remove_member(id, true);
        self.deletions.push(DeletionRec { id: id.to_owned(), kind: "student", at: self.now });
        Ok(())
    }

    pub(crate) fn upsert_employee(&mut self, employee: WondeEmployee) {
        let now = self.now;
        let created = self.employees.get(&employee.id).map(|r| r.created_at).unwrap_or(now);
        self.employees.insert(employee.id.clone(), Rec { value: employee, created_at: created, updated_at: now });
    }

    pub(crate) fn update_employee(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut WondeEmployee),
    ) -> Result<(), FakeWondeError> {
        let now = self.now;
        let Some(r) = self.employees.get_mut(id) else { return Err(self.unknown("employee", id)) };
        change(&mut r.value);
        r.value.id = id.to_owned();
        r.updated_at = now;
        Ok(())
    }

    pub(crate) fn delete_employee(&mut self, id: &str) -> Result<(), FakeWondeError> {
        if self.employees.remove(id).is_none() {
            return Err(self.unknown("employee", id));
        }
        self.remove_member(id, false);
        self.deletions.push(DeletionRec { id: id.to_owned(), kind: "employee", at: self.now });
        Ok(())
    }

    pub(crate) fn data(&self) -> SchoolData {
        SchoolData {
            school: self.school.clone(),
            years: self.years.values().cloned().collect(),
            subjects: self.subjects.values().cloned().collect(),
            students: self.students.values().map(|r| r.value.clone()).collect(),
            employees: self.employees.values().map(|r| r.value.clone()).collect(),
            classes: self.classes.values().map(|r| r.value.clone()).collect(),
            groups: self.groups.values().map(|r| r.value.clone()).collect(),
        }
    }
}

/// A token bucket of requests.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) tokens: f64,
    pub(crate) updated: DateTime<Utc>,
}

/// The whole fake.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) now: DateTime<Utc>,
    pub(crate) domain: String,
    pub(crate) default_per_page: usize,
    pub(crate) rate_limit: Option<(u32, Duration)>,
    pub(crate) buckets: HashMap<String, Bucket>,
    pub(crate) access: HashMap<(String, String), Access>,
    pub(crate) schools: BTreeMap<String, SchoolState>,
}

impl State {
    pub(crate) fn new(now: DateTime<Utc>) -> State {
        State {
            now,
            domain: "api.wonde.com".into(),
            default_per_page: 50,
            rate_limit: None,
            buckets: HashMap::new(),
            access: HashMap::new(),
            schools: BTreeMap::new(),
        }
    }

    pub(crate) fn add_school(&mut self, data: SchoolData) {
        let now = self.now;
        let state = SchoolState {
            school: data.school.clone(),
            now,
            years: data.years.into_iter().map(|y| (y.id.clone(), y)).collect(),
            subjects: data.subjects.into_iter().map(|x| (x.id.clone(), x)).collect(),
            students: data.students.into_iter().map(|s| (s.id.clone(), rec(s, now))).collect(),
            leavers: BTreeMap::new(),
            employees: data.employees.into_iter().map(|e| (e.id.clone(), rec(e, now))).collect(),
            classes: data.classes.into_iter().map(|c: WondeClass| (c.id.clone(), rec(c, now))).collect(),
            groups: data.groups.into_iter().map(|g: WondeGroup| (g.id.clone(), rec(g, now))).collect(),
            deletions: Vec::new(),
        };
        self.schools.insert(data.school.id, state);
    }

    pub(crate) fn school_mut(&mut self, id: &str) -> Result<&mut SchoolState, FakeWondeError> {
        let now = self.now;
        let s = self.schools.get_mut(id).ok_or_else(|| FakeWondeError::UnknownSchool(id.to_owned()))?;
        s.now = now;
        Ok(s)
    }

    pub(crate) fn set_access(&mut self, token: &str, school: &str, access: Option<Access>) {
        let key = (token.to_owned(), school.to_owned());
        match access {
            Some(a) => {
                self.access.insert(key, a);
            }
            None => {
                self.access.remove(&key);
            }
        }
    }

    /// Whether the token is known at all (it has been given access to, or asked for, some school).
    pub(crate) fn token_known(&self, token: &str) -> bool {
        self.access.keys().any(|(t, _)| t == token)
    }

    pub(crate) fn set_rate_limit(&mut self, limit: Option<(u32, Duration)>) {
        self.rate_limit = limit;
        self.buckets.clear();
    }

    /// Takes one request from the token's bucket; `Err(seconds)` to wait when it is empty.
    pub(crate) fn charge(&mut self, token: &str) -> Result<(), u64> {
        let Some((requests, per)) = self.rate_limit else { return Ok(()) };
        let capacity = f64::from(requests);
        let rate = capacity / per.as_secs_f64();
        let now = self.now;
        let bucket = self.buckets.entry(token.to_owned()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = (now - bucket.updated).to_std().unwrap_or_default().as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}
