//! Synthetic Wonde schools: students in year groups and registration groups, subject classes taught by teachers,
//! support staff who teach nothing, deterministic from a seed.

use super::model::{
    SchoolData, WondeClass, WondeEmployee, WondeGroup, WondeSchool, WondeStudent, WondeSubject, WondeYear,
};
use crate::synthetic::names::{FIRST_COMMON, LAST_COMMON};
use crate::synthetic::rng::Rng;

/// What to generate. Start from [`SchoolSpec::small`] and change what a test needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolSpec {
    /// The seed: the same spec gives the same school.
    pub seed: u64,
    /// Wonde's school id.
    pub school_id: String,
    /// The school's name.
    pub name: String,
    /// The region's country code (`GBR`, `AUS`, `NZL`, `ZAF`, `USA`).
    pub region_code: String,
    /// The API domain serving the school.
    pub domain: String,
    /// Year groups: `(code, name)`, e.g. `("7", "Year 7")`.
    pub years: Vec<(String, String)>,
    /// Students per year group.
    pub students_per_year: usize,
    /// Registration groups (forms) per year group.
    pub forms_per_year: usize,
    /// Subjects: `(code, name)`; each year group has one class per subject and form.
    pub subjects: Vec<(String, String)>,
    /// Employees who teach nothing (office, site, support staff).
    pub support_staff: usize,
}

impl SchoolSpec {
    /// A secondary school in England: years 7–9, 8 students in each (two forms), Mathematics, English and Science
    /// taught per form by one teacher per subject, and two support staff. 24 students, 5 employees, 18 classes.
    pub fn small() -> SchoolSpec {
        SchoolSpec {
            seed: 7,
            school_id: "A1930499544".into(),
            name: "Northfield Academy".into(),
            region_code: "GBR".into(),
            domain: "api.wonde.com".into(),
            years: (7..=9).map(|y| (y.to_string(), format!("Year {y}"))).collect(),
            students_per_year: 8,
            forms_per_year: 2,
            subjects: vec![
                ("MA".into(), "Mathematics".into()),
                ("EN".into(), "English".into()),
                ("SC".into(), "Science".into()),
            ],
            support_staff: 2,
        }
    }

    /// Students in all.
    pub fn expected_students(&self) -> usize {
        self.years.len() * self.students_per_year
    }

    /// Employees in all: one teacher per subject, plus support staff.
    pub fn expected_employees(&self) -> usize {
        self.subjects.len() + self.support_staff
    }

    /// The school's email domain, e.g. `northfield-academy.sch.example`.
    pub fn email_domain(&self) -> String {
        let slug: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        format!("{slug}.sch.example")
    }

    /// Generates the school.
    pub fn generate(&self) -> SchoolData {
        let mut rng = Rng::stream(self.seed, 0x0057_4f4e_4445, 0);
        let domain = self.email_domain();
        let mut next_id = 1_000_000_000u64 + (self.seed % 1000) * 1_000_000;
        let mut id = || {
            next_id += 1 + (next_id % 7);
            format!("A{next_id}")
        };
        let upi = |rng: &mut Rng| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let school = WondeSchool {
            id: self.school_id.clone(),
            name: self.name.clone(),
            urn: Some(100_000 + self.seed % 900_000),
            establishment_number: Some(format!("{}", 4000 + self.seed % 1000)),
            la_code: Some("873".into()),
            phase_of_education: "SECONDARY".into(),
            mis: "SIMS".into(),
            timezone: "Europe/London".into(),
            region_code: self.region_code.clone(),
            domain: self.domain.clone(),
        };
        let subjects: Vec<WondeSubject> = self
            .subjects
            .iter()
            .map(|(code, name)| WondeSubject { id: id(), code: code.clone(), name: name.clone() })
            .collect();
        let titles = ["Mr", "Mrs", "Ms", "Dr", "Miss"];
        let mut employees = Vec::new();
        let person_name = |rng: &mut Rng| {
            let first = rng.pick(FIRST_COMMON).copied().unwrap_or(("Sam", "sam"));
            let last = rng.pick(LAST_COMMON).copied().unwrap_or(("Smith", "smith"));
            (first, last)
        };
        let mut email_locals = std::collections::BTreeSet::new();
        let mut unique_local = |base: String| {
            let mut candidate = base.clone();
            let mut n = 2;
            while !email_locals.insert(candidate.clone()) {
                candidate = format!("{base}{n}");
                n += 1;
            }
            candidate
        };
        for i in 0..self.expected_employees() {
            let ((first, first_ascii), (last, last_ascii)) = person_name(&mut rng);
            let local = unique_local(format!("{}.{last_ascii}", &first_ascii[..1]));
            employees.push(WondeEmployee {
                id: id(),
                upi: upi(&mut rng),
                mis_id: format!("{}", 5000 + i),
                title: titles[i % titles.len()].into(),
                forename: first.into(),
                surname: last.into(),
                email: Some(format!("{local}@{domain}")),
            });
        }
        let mut years = Vec::new();
        let mut students = Vec::new();
        let mut classes = Vec::new();
        let mut groups = Vec::new();
        let mut n = 0usize;
        for (yi, (code, name)) in self.years.iter().enumerate() {
            let year = WondeYear { id: id(), code: code.clone(), name: name.clone() };
            let mut members = Vec::new();
            for _ in 0..self.students_per_year {
                n += 1;
                let ((first, first_ascii), (last, last_ascii)) = person_name(&mut rng);
                let local = unique_local(format!("{}{}.{last_ascii}", 20 + yi, first_ascii));
                students.push(WondeStudent {
                    id: id(),
                    upi: upi(&mut rng),
                    mis_id: format!("{}", 1000 + n),
                    forename: first.into(),
                    surname: last.into(),
                    legal_forename: first.into(),
                    legal_surname: last.into(),
                    email: Some(format!("{local}@{domain}")),
                    home_email: Some(format!("{first_ascii}.{last_ascii}@home.example")),
                    year: Some(year.id.clone()),
                });
                members.push(students[students.len() - 1].id.clone());
            }
            groups.push(WondeGroup {
                id: id(),
                name: name.clone(),
                code: code.clone(),
                kind: "YEAR".into(),
                students: members.clone(),
                employees: Vec::new(),
            });
            let forms = self.forms_per_year.max(1);
            for f in 0..forms {
                let letter = (b'A' + (f % 26) as u8) as char;
                let form_name = format!("{code}{letter}");
                let form_members: Vec<String> =
                    members.iter().enumerate().filter(|(i, _)| i % forms == f).map(|(_, m)| m.clone()).collect();
                let tutor = employees.get((yi * forms + f) % self.subjects.len().max(1)).map(|e| e.id.clone());
                groups.push(WondeGroup {
                    id: id(),
                    name: form_name.clone(),
                    code: form_name.clone(),
                    kind: "REGISTRATION".into(),
                    students: form_members.clone(),
                    employees: tutor.into_iter().collect(),
                });
                for (si, subject) in subjects.iter().enumerate() {
                    let class_name = format!("{form_name}/{}", subject.code);
                    classes.push(WondeClass {
                        id: id(),
                        mis_id: format!("{}", 9000 + classes.len()),
                        name: class_name.clone(),
                        code: class_name,
                        description: format!("{name} {} {letter}", subject.name),
                        subject: Some(subject.id.clone()),
                        students: form_members.clone(),
                        employees: employees.get(si).map(|e| e.id.clone()).into_iter().collect(),
                    });
                }
            }
            years.push(year);
        }
        SchoolData { school, years, subjects, students, employees, classes, groups }
    }
}
