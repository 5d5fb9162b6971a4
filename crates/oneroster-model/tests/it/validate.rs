//! Validation: a valid roster, then one mutation per rule asserting the exact finding; streaming order, the cap on
//! findings and the order of the report.

use chrono::{NaiveDate, TimeZone, Utc};
use oneroster_model::validate::{
    DEFAULT_MAX_FINDINGS, Finding, MatchField, Profile, Report, Rule, SdsOptions, Severity, Validator, validate,
};
use oneroster_model::*;

// ---------------------------------------------------------------------------------------------------------------
// A small valid roster: a district and a school, a school year with a term, one course, one class, a teacher, a
// student and the student's parent, two enrollments and the student's demographics.

fn base(id: &str) -> Base {
    Base { date_last_modified: Some(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()), ..Base::new(id) }
}

fn guid(kind: GuidType, id: &str) -> GuidRef {
    GuidRef::new(kind, id)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn org(id: &str, name: &str, org_type: OrgType, parent: Option<&str>) -> Org {
    Org {
        base: base(id),
        name: name.into(),
        org_type,
        identifier: Some(id.to_uppercase()),
        parent: parent.map(|p| guid(GuidType::Org, p)),
        children: vec![],
    }
}

fn session(id: &str, session_type: SessionType, parent: Option<&str>) -> AcademicSession {
    AcademicSession {
        base: base(id),
        title: format!("Session {id}"),
        start_date: date(2024, 8, 1),
        end_date: date(2025, 6, 30),
        session_type,
        parent: parent.map(|p| guid(GuidType::AcademicSession, p)),
        children: vec![],
        school_year: "2025".into(),
    }
}

fn user(id: &str, username: &str, given: &str, family: &str, role: RoleType) -> User {
    User {
        base: base(id),
        username: username.into(),
        user_ids: vec![],
        enabled_user: true,
        given_name: given.into(),
        family_name: family.into(),
        middle_name: None,
        role,
        identifier: Some(format!("ID-{id}")),
        email: Some(format!("{username}@school.example")),
        sms: None,
        phone: None,
        agents: vec![],
        orgs: vec![guid(GuidType::Org, "s1")],
        grades: vec![],
        password: None,
    }
}

fn enrollment(id: &str, user: &str, role: EnrollmentRole) -> Enrollment {
    Enrollment {
        base: base(id),
        user: guid(GuidType::User, user),
        class: guid(GuidType::Class, "k1"),
        school: guid(GuidType::Org, "s1"),
        role,
        primary: None,
        begin_date: None,
        end_date: None,
    }
}

fn valid() -> Roster {
    let mut student = user("u2", "ada.lovelace", "Ada", "Lovelace", RoleType::Student);
    student.grades = vec![Grade::Ninth];
    student.agents = vec![guid(GuidType::User, "u3")];
    let mut parent = user("u3", "annabella.byron", "Annabella", "Byron", RoleType::Parent);
    parent.agents = vec![guid(GuidType::User, "u2")];
    let mut student_enrollment = enrollment("e2", "u2", EnrollmentRole::Student);
    student_enrollment.begin_date = Some(date(2024, 8, 1));
    student_enrollment.end_date = Some(date(2025, 6, 30));
    let mut teacher_enrollment = enrollment("e1", "u1", EnrollmentRole::Teacher);
    teacher_enrollment.primary = Some(true);
    Roster {
        orgs: vec![
            org("d1", "Lakeside District", OrgType::District, None),
            org("s1", "Lakeside High School", OrgType::School, Some("d1")),
        ],
        academic_sessions: vec![
            session("y2025", SessionType::SchoolYear, None),
            session("t1", SessionType::Term, Some("y2025")),
        ],
        courses: vec![Course {
            base: base("c1"),
            title: "Algebra I".into(),
            school_year: Some(guid(GuidType::AcademicSession, "y2025")),
            course_code: Some("ALG1".into()),
            grades: vec![Grade::Ninth],
            subjects: vec!["Mathematics".into()],
            org: guid(GuidType::Org, "s1"),
            subject_codes: vec![],
            resources: vec![],
        }],
        classes: vec![Class {
            base: base("k1"),
            title: "Algebra-I-A".into(),
            class_code: Some("ALG1-A".into()),
            class_type: ClassType::Scheduled,
            location: Some("Room 101".into()),
            grades: vec![Grade::Ninth],
            subjects: vec![],
            course: guid(GuidType::Course, "c1"),
            school: guid(GuidType::Org, "s1"),
            terms: vec![guid(GuidType::AcademicSession, "t1")],
            subject_codes: vec![],
            periods: vec!["1".into()],
            resources: vec![],
        }],
        users: vec![user("u1", "grace.hopper", "Grace", "Hopper", RoleType::Teacher), student, parent],
        enrollments: vec![teacher_enrollment, student_enrollment],
        demographics: vec![Demographics { base: base("u2"), sex: Some(Sex::Female), ..Demographics::default() }],
    }
}

fn sds() -> Profile {
    Profile::sds()
}

fn sds_matching(match_field: MatchField) -> Profile {
    Profile::Sds(SdsOptions { match_field })
}

/// The one finding of `rule`, asserting there is exactly one.
fn the(report: &Report, rule: Rule) -> &Finding {
    let found: Vec<_> = report.findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(found.len(), 1, "expected one {rule} finding in:\n{report}");
    found[0]
}

/// The one finding of the report, asserting there is exactly one.
fn only(report: &Report) -> &Finding {
    assert_eq!(report.findings.len(), 1, "expected exactly one finding in:\n{report}");
    &report.findings[0]
}

#[track_caller]
fn assert_at(finding: &Finding, severity: Severity, entity: EntityKind, sourced_id: &str, field: &str) {
    assert_eq!(
        (finding.severity, finding.entity, finding.sourced_id.as_str(), finding.field.as_deref()),
        (severity, entity, sourced_id, Some(field)),
        "{finding}"
    );
}

/// A change to the valid roster.
type Mutation = fn(&mut Roster);
/// A mutation, and the entity, `sourcedId` and field of the finding it must cause.
type Case = (Mutation, EntityKind, &'static str, &'static str);

fn mutated(mutate: impl FnOnce(&mut Roster)) -> Roster {
    let mut roster = valid();
    mutate(&mut roster);
    roster
}

// ---------------------------------------------------------------------------------------------------------------
// Valid data.

#[test]
fn valid_roster_has_no_findings_in_any_profile() {
    let roster = valid();
    for profile in [Profile::Core, sds(), sds_matching(MatchField::Username), sds_matching(MatchField::Identifier)] {
        let report = validate(&roster, &profile);
        assert!(report.findings.is_empty(), "{profile:?}:\n{report}");
        assert!(report.is_ok());
        assert_eq!((report.errors, report.warnings, report.truncated), (0, 0, 0));
        assert_eq!(report.records(), roster.len());
        assert_eq!(report.kinds[&EntityKind::User].records, 3);
        assert_eq!(report.kinds[&EntityKind::Enrollment].records, 2);
    }
}

#[test]
fn extension_values_are_allowed() {
    let roster = mutated(|r| {
        r.users[0].role = RoleType::parse("ext:librarian");
        r.classes[0].class_type = ClassType::parse("ext:club");
        r.classes[0].school.kind = GuidType::parse("ext:campus");
        r.users[1].grades = vec![Grade::parse("ext:year10")];
    });
    assert!(validate(&roster, &Profile::Core).findings.is_empty(), "{}", validate(&roster, &Profile::Core));
}

// ---------------------------------------------------------------------------------------------------------------
// Core rules.

#[test]
fn required() {
    let cases: &[Case] = &[
        (|r| r.orgs[1].name = " ".into(), EntityKind::Org, "s1", "name"),
        (|r| r.orgs[1].parent.as_mut().unwrap().sourced_id.clear(), EntityKind::Org, "s1", "parent"),
        (|r| r.academic_sessions[0].title.clear(), EntityKind::AcademicSession, "y2025", "title"),
        (|r| r.academic_sessions[1].school_year.clear(), EntityKind::AcademicSession, "t1", "schoolYear"),
        (|r| r.courses[0].title.clear(), EntityKind::Course, "c1", "title"),
        (|r| r.courses[0].org.sourced_id.clear(), EntityKind::Course, "c1", "org"),
        (|r| r.classes[0].title.clear(), EntityKind::Class, "k1", "title"),
        (|r| r.classes[0].course.sourced_id.clear(), EntityKind::Class, "k1", "course"),
        (|r| r.classes[0].school.sourced_id.clear(), EntityKind::Class, "k1", "school"),
        (|r| r.classes[0].terms.clear(), EntityKind::Class, "k1", "terms"),
        (|r| r.classes[0].terms[0].sourced_id.clear(), EntityKind::Class, "k1", "terms"),
        (|r| r.users[0].username.clear(), EntityKind::User, "u1", "username"),
        (|r| r.users[0].given_name.clear(), EntityKind::User, "u1", "givenName"),
        (|r| r.users[0].family_name.clear(), EntityKind::User, "u1", "familyName"),
        (|r| r.users[2].orgs.clear(), EntityKind::User, "u3", "orgs"),
        (|r| r.users[1].agents[0].sourced_id.clear(), EntityKind::User, "u2", "agents"),
        (|r| r.enrollments[0].user.sourced_id.clear(), EntityKind::Enrollment, "e1", "user"),
        (|r| r.enrollments[0].class.sourced_id.clear(), EntityKind::Enrollment, "e1", "class"),
        (|r| r.enrollments[0].school.sourced_id.clear(), EntityKind::Enrollment, "e1", "school"),
        (|r| r.demographics[0].base.sourced_id.clear(), EntityKind::Demographics, "", "sourcedId"),
    ];
    for (i, (mutate, entity, sourced_id, field)) in cases.iter().enumerate() {
        let report = validate(&mutated(mutate), &Profile::Core);
        let finding = only(&report);
        assert_eq!(finding.rule, Rule::Required, "case {i}");
        assert_at(finding, Severity::Error, *entity, sourced_id, field);
    }
}

#[test]
fn school_year_format() {
    let report = validate(&mutated(|r| r.academic_sessions[0].school_year = "2024-25".into()), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SchoolYearFormat);
    assert_at(finding, Severity::Error, EntityKind::AcademicSession, "y2025", "schoolYear");
}

#[test]
fn missing_date_last_modified_is_a_warning_in_core_and_an_error_for_sds() {
    let roster = mutated(|r| r.users[1].base.date_last_modified = None);
    let core = validate(&roster, &Profile::Core);
    let finding = only(&core);
    assert_eq!(finding.rule, Rule::MissingDateLastModified);
    assert_at(finding, Severity::Warning, EntityKind::User, "u2", "dateLastModified");
    assert!(core.is_ok());

    let sds = validate(&roster, &sds());
    let finding = only(&sds);
    assert_eq!(finding.rule, Rule::SdsMissingDateLastModified);
    assert_at(finding, Severity::Error, EntityKind::User, "u2", "dateLastModified");
    assert!(!sds.is_ok());
}

#[test]
fn unknown_vocabulary() {
    let report = validate(&mutated(|r| r.users[1].role = RoleType::parse("pupil")), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::UnknownVocabulary);
    assert_at(finding, Severity::Warning, EntityKind::User, "u2", "role");
    assert!(finding.message.contains("'pupil'") && finding.message.contains("student, teacher"), "{finding}");

    let cases: &[Case] = &[
        (|r| r.orgs[0].org_type = OrgType::parse("trust"), EntityKind::Org, "d1", "type"),
        (
            |r| r.academic_sessions[1].session_type = SessionType::parse("quarter"),
            EntityKind::AcademicSession,
            "t1",
            "type",
        ),
        (|r| r.classes[0].class_type = ClassType::parse("lab"), EntityKind::Class, "k1", "classType"),
        (|r| r.courses[0].grades = vec![Grade::parse("9")], EntityKind::Course, "c1", "grades"),
        (|r| r.enrollments[1].role = EnrollmentRole::parse("aide"), EntityKind::Enrollment, "e2", "role"),
        (|r| r.demographics[0].sex = Some(Sex::parse("f")), EntityKind::Demographics, "u2", "sex"),
    ];
    for (mutate, entity, sourced_id, field) in cases {
        let report = validate(&mutated(mutate), &Profile::Core);
        let finding = only(&report);
        assert_eq!(finding.rule, Rule::UnknownVocabulary);
        assert_at(finding, Severity::Warning, *entity, sourced_id, field);
    }
}

#[test]
fn duplicate_sourced_id() {
    let roster = mutated(|r| {
        let mut twin = r.classes[0].clone();
        twin.title = "Algebra-I-B".into();
        r.classes.push(twin);
        let twin = r.enrollments[1].clone();
        r.enrollments.push(twin);
    });
    let report = validate(&roster, &Profile::Core);
    assert_eq!(report.findings.len(), 2, "{report}");
    assert!(report.findings.iter().all(|f| f.rule == Rule::DuplicateSourcedId));
    assert_at(&report.findings[0], Severity::Error, EntityKind::Class, "k1", "sourcedId");
    assert_at(&report.findings[1], Severity::Error, EntityKind::Enrollment, "e2", "sourcedId");
}

#[test]
fn dangling_reference() {
    let cases: &[Case] = &[
        (|r| r.orgs[1].parent.as_mut().unwrap().sourced_id = "gone".into(), EntityKind::Org, "s1", "parent"),
        (
            |r| r.academic_sessions[1].parent.as_mut().unwrap().sourced_id = "gone".into(),
            EntityKind::AcademicSession,
            "t1",
            "parent",
        ),
        (|r| r.courses[0].org.sourced_id = "gone".into(), EntityKind::Course, "c1", "org"),
        (
            |r| r.courses[0].school_year.as_mut().unwrap().sourced_id = "gone".into(),
            EntityKind::Course,
            "c1",
            "schoolYear",
        ),
        (|r| r.classes[0].course.sourced_id = "gone".into(), EntityKind::Class, "k1", "course"),
        (|r| r.classes[0].school.sourced_id = "gone".into(), EntityKind::Class, "k1", "school"),
        (|r| r.classes[0].terms[0].sourced_id = "gone".into(), EntityKind::Class, "k1", "terms"),
        (|r| r.users[2].orgs[0].sourced_id = "gone".into(), EntityKind::User, "u3", "orgs"),
        (|r| r.users[1].agents[0].sourced_id = "gone".into(), EntityKind::User, "u2", "agents"),
        (|r| r.enrollments[1].user.sourced_id = "gone".into(), EntityKind::Enrollment, "e2", "user"),
        (|r| r.enrollments[1].class.sourced_id = "gone".into(), EntityKind::Enrollment, "e2", "class"),
        (|r| r.enrollments[1].school.sourced_id = "gone".into(), EntityKind::Enrollment, "e2", "school"),
        (|r| r.demographics[0].base.sourced_id = "gone".into(), EntityKind::Demographics, "gone", "sourcedId"),
    ];
    for (mutate, entity, sourced_id, field) in cases {
        let report = validate(&mutated(mutate), &Profile::Core);
        // A missing org, class or school is all that is reported: the agreement checks stay silent.
        let finding = only(&report);
        assert_eq!(finding.rule, Rule::DanglingReference);
        assert_at(finding, Severity::Error, *entity, sourced_id, field);
        assert!(finding.message.contains("'gone', which is not in the roster"), "{finding}");
    }
}

#[test]
fn reference_type_mismatch() {
    let report = validate(&mutated(|r| r.classes[0].school.kind = GuidType::User), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::ReferenceTypeMismatch);
    assert_at(finding, Severity::Warning, EntityKind::Class, "k1", "school");

    // Terms may say term, and agents student: neither contradicts the field.
    let roster = mutated(|r| {
        r.classes[0].terms[0].kind = GuidType::Term;
        r.users[1].agents[0].kind = GuidType::Student;
    });
    assert!(validate(&roster, &Profile::Core).findings.is_empty());
}

#[test]
fn reference_to_deleted() {
    let report = validate(&mutated(|r| r.courses[0].base.status = Status::ToBeDeleted), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::ReferenceToDeleted);
    assert_at(finding, Severity::Warning, EntityKind::Class, "k1", "course");

    // A deleted record may refer to another deleted one, and deleted records still count as present.
    let roster = mutated(|r| {
        r.courses[0].base.status = Status::ToBeDeleted;
        r.classes[0].base.status = Status::ToBeDeleted;
        for e in &mut r.enrollments {
            e.base.status = Status::ToBeDeleted;
        }
    });
    assert!(validate(&roster, &Profile::Core).findings.is_empty());
}

#[test]
fn enrollment_school_mismatch() {
    let roster = mutated(|r| {
        r.orgs.push(org("s2", "Hillside School", OrgType::School, Some("d1")));
        r.users[1].orgs.push(guid(GuidType::Org, "s2"));
        r.enrollments[1].school.sourced_id = "s2".into();
    });
    let report = validate(&roster, &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::EnrollmentSchoolMismatch);
    assert_at(finding, Severity::Error, EntityKind::Enrollment, "e2", "school");
    assert_eq!(finding.suggestion.as_deref(), Some("s1"));
}

#[test]
fn enrollment_user_not_in_school() {
    let roster = mutated(|r| {
        r.orgs.push(org("s2", "Hillside School", OrgType::School, Some("d1")));
        r.users[1].orgs = vec![guid(GuidType::Org, "s2")];
    });
    let report = validate(&roster, &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::EnrollmentUserNotInSchool);
    assert_at(finding, Severity::Warning, EntityKind::Enrollment, "e2", "user");
    assert!(report.is_ok());
}

#[test]
fn class_school_not_school() {
    let roster = mutated(|r| {
        r.classes[0].school.sourced_id = "d1".into();
        for e in &mut r.enrollments {
            e.school.sourced_id = "d1".into();
        }
        for u in &mut r.users {
            u.orgs.push(guid(GuidType::Org, "d1"));
        }
    });
    let report = validate(&roster, &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::ClassSchoolNotSchool);
    assert_at(finding, Severity::Warning, EntityKind::Class, "k1", "school");
}

#[test]
fn date_order() {
    let report = validate(&mutated(|r| r.academic_sessions[1].start_date = date(2025, 7, 1)), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::DateOrder);
    assert_at(finding, Severity::Error, EntityKind::AcademicSession, "t1", "endDate");

    let report = validate(&mutated(|r| r.enrollments[1].begin_date = Some(date(2025, 7, 1))), &Profile::Core);
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::DateOrder);
    assert_at(finding, Severity::Error, EntityKind::Enrollment, "e2", "endDate");
}

// ---------------------------------------------------------------------------------------------------------------
// School Data Sync rules.

#[test]
fn sds_rules_are_not_checked_by_core() {
    let roster = mutated(|r| {
        r.users[0].identifier = None;
        r.users[0].email = Some("not an email".into());
        r.users[0].username = "josé".into();
        r.classes[0].title = "Algebra I".into();
        r.orgs[0].org_type = OrgType::State;
    });
    assert!(validate(&roster, &Profile::Core).findings.is_empty());
}

#[test]
fn sds_required() {
    let report = validate(&mutated(|r| r.users[0].identifier = Some(" ".into())), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsRequired);
    assert_at(finding, Severity::Error, EntityKind::User, "u1", "identifier");

    let report = validate(&mutated(|r| r.orgs[1].identifier = None), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsRequired);
    assert_at(finding, Severity::Error, EntityKind::Org, "s1", "identifier");
}

#[test]
fn sds_org_type() {
    let roster = mutated(|r| r.orgs.push(org("dep1", "Mathematics Department", OrgType::Department, Some("s1"))));
    let report = validate(&roster, &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsOrgType);
    assert_at(finding, Severity::Warning, EntityKind::Org, "dep1", "type");
}

#[test]
fn sds_missing_match_field() {
    let report = validate(&mutated(|r| r.users[0].email = None), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsMissingMatchField);
    assert_at(finding, Severity::Error, EntityKind::User, "u1", "email");

    // Another match field: the userIds entry of that type.
    let roster = mutated(|r| {
        for (i, u) in r.users.iter_mut().enumerate() {
            if i != 2 {
                u.user_ids.push(UserId { kind: "ldap".into(), identifier: format!("cn=user{i}") });
            }
        }
    });
    let report = validate(&roster, &sds_matching(MatchField::UserId("LDAP".into())));
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsMissingMatchField);
    assert_at(finding, Severity::Error, EntityKind::User, "u3", "userIds");

    // A user being deleted needs no match.
    let roster = mutated(|r| {
        r.users[0].email = None;
        r.users[0].base.status = Status::ToBeDeleted;
        for e in &mut r.enrollments {
            e.base.status = Status::ToBeDeleted;
        }
    });
    assert!(validate(&roster, &sds()).findings.is_empty(), "{}", validate(&roster, &sds()));
}

#[test]
fn sds_duplicate_match_field() {
    let report = validate(&mutated(|r| r.users[2].email = Some("Grace.Hopper@School.Example".into())), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsDuplicateMatchField);
    assert_at(finding, Severity::Error, EntityKind::User, "u3", "email");
    assert!(finding.message.contains("user 'u1'"), "{finding}");

    let roster = mutated(|r| r.users[1].identifier = Some("id-U1".into()));
    let report = validate(&roster, &sds_matching(MatchField::Identifier));
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsDuplicateMatchField);
    assert_at(finding, Severity::Error, EntityKind::User, "u2", "identifier");
    // Email is not the match field here, so the same emails would be fine; and Core does not care at all.
    assert!(validate(&roster, &Profile::Core).findings.is_empty());
}

#[test]
fn sds_invalid_email() {
    let report = validate(&mutated(|r| r.users[0].email = Some("grace hopper@school.example".into())), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsInvalidEmail);
    assert_at(finding, Severity::Error, EntityKind::User, "u1", "email");
    assert_eq!(finding.suggestion, None);

    let report = validate(&mutated(|r| r.users[0].email = Some("grace.hopper@school.example ".into())), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsInvalidEmail);
    assert_eq!(finding.suggestion.as_deref(), Some("grace.hopper@school.example"));

    for bad in ["grace.hopper", "grace@hopper@school.example", "@school.example", "grace@localhost"] {
        let report = validate(&mutated(|r| r.users[0].email = Some(bad.into())), &sds());
        assert_eq!(only(&report).rule, Rule::SdsInvalidEmail, "{bad}");
    }
}

#[test]
fn sds_grade_code() {
    let roster = mutated(|r| r.classes[0].grades = vec![Grade::parse("9")]);
    let report = validate(&roster, &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsGradeCode);
    assert_at(finding, Severity::Error, EntityKind::Class, "k1", "grades");
    assert_eq!(finding.suggestion.as_deref(), Some("09"));
    // Core only warns.
    assert_eq!(only(&validate(&roster, &Profile::Core)).rule, Rule::UnknownVocabulary);
    // An ext: grade is allowed by OneRoster but is no CEDS code.
    let roster = mutated(|r| r.users[1].grades = vec![Grade::parse("ext:year10")]);
    assert_at(only(&validate(&roster, &sds())), Severity::Error, EntityKind::User, "u2", "grades");
}

#[test]
fn sds_mail_nickname() {
    let roster = mutated(|r| {
        r.classes[0].base.sourced_id = "Algebra 1A".into();
        for e in &mut r.enrollments {
            e.class.sourced_id = "Algebra 1A".into();
        }
    });
    let report = validate(&roster, &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsMailNickname);
    assert_at(finding, Severity::Error, EntityKind::Class, "Algebra 1A", "sourcedId");
    assert_eq!(finding.suggestion.as_deref(), Some("Algebra-1A"));

    let report = validate(&mutated(|r| r.classes[0].title = "Français (1ère) : groupe A".into()), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsMailNickname);
    assert_at(finding, Severity::Warning, EntityKind::Class, "k1", "title");
    assert_eq!(finding.suggestion.as_deref(), Some("Francais-1ere-groupe-A"));
}

#[test]
fn sds_username_characters() {
    let report = validate(&mutated(|r| r.users[1].username = "josé garcía".into()), &sds());
    let finding = the(&report, Rule::SdsUsernameCharacters);
    assert_at(finding, Severity::Error, EntityKind::User, "u2", "username");
    assert_eq!(finding.suggestion.as_deref(), Some("jose-garcia"));

    let report = validate(&mutated(|r| r.users[1].username = "ada+1@school.example".into()), &sds());
    let finding = only(&report);
    assert_eq!(finding.rule, Rule::SdsUsernameCharacters);
    assert_eq!(finding.suggestion.as_deref(), Some("ada1@school.example"));

    // One @ and the documented punctuation are fine.
    let report = validate(&mutated(|r| r.users[1].username = "o'neil_a.b-c!#^~@school.example".into()), &sds());
    assert!(report.findings.is_empty(), "{report}");
}

#[test]
fn sds_display_name_characters() {
    let cases: &[(Mutation, EntityKind, &str, &str, &str)] = &[
        (|r| r.users[0].given_name = "Grace<b>".into(), EntityKind::User, "u1", "givenName", "Graceb"),
        (|r| r.users[0].family_name = "Hop\u{7}per".into(), EntityKind::User, "u1", "familyName", "Hopper"),
        (|r| r.orgs[1].name = "Lakeside\nHigh".into(), EntityKind::Org, "s1", "name", "Lakeside High"),
        (|r| r.classes[0].title = "Algebra-<I>".into(), EntityKind::Class, "k1", "title", "Algebra-I"),
    ];
    for (mutate, entity, sourced_id, field, suggestion) in cases {
        let report = validate(&mutated(mutate), &sds());
        let finding = the(&report, Rule::SdsDisplayNameCharacters);
        assert_at(finding, Severity::Error, *entity, sourced_id, field);
        assert_eq!(finding.suggestion.as_deref(), Some(*suggestion));
    }
    // Letters from any script are fine in names.
    let report = validate(&mutated(|r| r.users[0].given_name = "Zoë-李 O'Brien".into()), &sds());
    assert!(report.findings.is_empty(), "{report}");
}

// ---------------------------------------------------------------------------------------------------------------
// Streaming, the cap and the order of the report.

/// A roster with problems of many kinds, several of them about references across kinds.
fn broken() -> Roster {
    mutated(|r| {
        r.orgs.push(org("s2", "Hillside School", OrgType::School, Some("nowhere")));
        r.orgs[0].base.status = Status::ToBeDeleted;
        r.academic_sessions[1].parent = Some(guid(GuidType::Org, "y2025"));
        r.courses[0].org.sourced_id = "s9".into();
        r.classes[0].base.date_last_modified = None;
        r.classes.push(Class { base: base("k2"), school: guid(GuidType::Org, "d1"), ..r.classes[0].clone() });
        r.users[0].email = Some("grace.hopper@school.example".into());
        r.users[1].email = Some("GRACE.HOPPER@school.example".into());
        r.users[1].agents.push(guid(GuidType::User, "u404"));
        r.users[2].orgs = vec![guid(GuidType::Org, "s2")];
        r.users[2].username = "annabella byron".into();
        r.enrollments[0].school.sourced_id = "s2".into();
        r.enrollments.push(enrollment("e3", "u3", EnrollmentRole::Student));
        r.enrollments.push(Enrollment {
            class: guid(GuidType::Class, "k2"),
            ..enrollment("e4", "u404", EnrollmentRole::Student)
        });
        r.enrollments.push(r.enrollments[1].clone());
        r.demographics.push(Demographics { base: base("u404"), ..Demographics::default() });
    })
}

fn feed_reversed(roster: &Roster, profile: &Profile) -> Report {
    let mut v = Validator::new(profile.clone());
    roster.demographics.iter().for_each(|r| v.demographics(r));
    roster.enrollments.iter().for_each(|r| v.enrollment(r));
    roster.users.iter().for_each(|r| v.user(r));
    roster.classes.iter().for_each(|r| v.class(r));
    roster.courses.iter().for_each(|r| v.course(r));
    roster.academic_sessions.iter().for_each(|r| v.academic_session(r));
    roster.orgs.iter().for_each(|r| v.org(r));
    v.finish()
}

#[test]
fn out_of_order_feeding_gives_the_same_report() {
    let roster = broken();
    for profile in [Profile::Core, sds()] {
        let in_order = validate(&roster, &profile);
        assert!(in_order.errors >= 8 && in_order.warnings >= 4, "{in_order}");
        for rule in [
            Rule::DanglingReference,
            Rule::ReferenceToDeleted,
            Rule::ReferenceTypeMismatch,
            Rule::EnrollmentSchoolMismatch,
            Rule::EnrollmentUserNotInSchool,
            Rule::ClassSchoolNotSchool,
            Rule::DuplicateSourcedId,
        ] {
            assert!(in_order.findings.iter().any(|f| f.rule == rule), "{rule} missing from\n{in_order}");
        }
        assert_eq!(feed_reversed(&roster, &profile), in_order, "{profile:?}");
    }
}

/// A roster large enough that users and enrollments are checked over several batches, with problems spread across
/// them: 20 enrollments of users that do not exist, 7 of a class that does not, a user and an enrollment twice
/// (far apart), 4 users sharing Ada's email, 3 users outside the school of their enrollments.
fn large() -> Roster {
    let mut r = valid();
    for i in 0..300 {
        let mut u = user(&format!("bulk-u{i}"), &format!("bulk{i}"), "Bulk", "User", RoleType::Student);
        if i % 97 == 5 {
            u.email = Some("ada.lovelace@school.example".into());
        }
        if i % 101 == 7 {
            u.orgs = vec![guid(GuidType::Org, "d1")];
        }
        r.users.push(u);
    }
    let twin = r.users.iter().find(|u| u.base.sourced_id == "bulk-u150").cloned().unwrap();
    r.users.push(twin);
    for i in 0..700 {
        let mut e = enrollment(&format!("bulk-e{i}"), &format!("bulk-u{}", i % 310), EnrollmentRole::Student);
        if i % 113 == 3 {
            e.class.sourced_id = "nope".into();
        }
        r.enrollments.push(e);
    }
    let twin = r.enrollments.iter().find(|e| e.base.sourced_id == "bulk-e400").cloned().unwrap();
    r.enrollments.push(twin);
    r
}

#[test]
fn batches_give_the_same_report_in_any_order() {
    let roster = large();
    for profile in [Profile::Core, sds()] {
        let in_order = validate(&roster, &profile);
        let count = |rule: Rule, field: &str| {
            in_order.findings.iter().filter(|f| f.rule == rule && f.field.as_deref() == Some(field)).count()
        };
        assert_eq!(count(Rule::DanglingReference, "user"), 20, "{in_order}");
        assert_eq!(count(Rule::DanglingReference, "class"), 7, "{in_order}");
        assert_eq!(count(Rule::EnrollmentUserNotInSchool, "user"), 3 * 2 + 1, "{in_order}");
        let dups: Vec<_> = in_order.findings.iter().filter(|f| f.rule == Rule::DuplicateSourcedId).collect();
        assert_eq!(dups.len(), 2);
        assert_at(dups[0], Severity::Error, EntityKind::User, "bulk-u150", "sourcedId");
        assert_at(dups[1], Severity::Error, EntityKind::Enrollment, "bulk-e400", "sourcedId");
        if profile != Profile::Core {
            let shared: Vec<_> = in_order.findings.iter().filter(|f| f.rule == Rule::SdsDuplicateMatchField).collect();
            assert_eq!(shared.len(), 4);
            assert!(shared.iter().all(|f| f.message.contains("user 'u2'")), "{in_order}");
        }

        assert_eq!(feed_reversed(&roster, &profile), in_order, "{profile:?}");

        // Users and enrollments interleaved, one of each in turn.
        let mut v = Validator::new(profile.clone());
        v.roster(&Roster { users: vec![], enrollments: vec![], demographics: vec![], ..roster.clone() });
        let (mut users, mut enrollments) = (roster.users.iter(), roster.enrollments.iter());
        loop {
            let (u, e) = (users.next(), enrollments.next());
            if u.is_none() && e.is_none() {
                break;
            }
            u.into_iter().for_each(|u| v.user(u));
            e.into_iter().for_each(|e| v.enrollment(e));
        }
        roster.demographics.iter().for_each(|d| v.demographics(d));
        assert_eq!(v.finish(), in_order, "{profile:?}");
    }
}

#[test]
fn cap_keeps_the_first_findings_and_counts_the_rest() {
    let roster = broken();
    let full = validate(&roster, &sds());
    let total = full.findings.len();
    assert!(total > 5, "{full}");
    assert_eq!(full.truncated, 0);
    assert_eq!(full.errors + full.warnings, total);

    let mut v = Validator::new(sds()).with_max_findings(5);
    v.roster(&roster);
    let capped = v.finish();
    assert_eq!(capped.findings, full.findings[..5]);
    assert_eq!(capped.truncated, total - 5);
    assert_eq!((capped.errors, capped.warnings, &capped.kinds), (full.errors, full.warnings, &full.kinds));
    // Out of order, the same findings survive the cap.
    let mut v = Validator::new(sds()).with_max_findings(5);
    roster.enrollments.iter().for_each(|r| v.enrollment(r));
    roster.users.iter().for_each(|r| v.user(r));
    v.roster(&Roster { enrollments: vec![], users: vec![], ..roster.clone() });
    assert_eq!(v.finish(), capped);

    let mut v = Validator::new(Profile::Core).with_max_findings(0);
    v.roster(&roster);
    let none = v.finish();
    assert!(none.findings.is_empty() && !none.is_ok());
    assert_eq!(DEFAULT_MAX_FINDINGS, 10_000);
}

#[test]
fn findings_are_sorted_and_deterministic() {
    let roster = broken();
    let report = validate(&roster, &sds());
    let key = |f: &Finding| (f.entity, f.sourced_id.clone(), f.field.clone(), f.rule.id());
    assert!(report.findings.windows(2).all(|w| key(&w[0]) <= key(&w[1])), "{report}");
    let again = validate(&roster, &sds());
    assert_eq!(again, report);
    assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&report).unwrap());
}

#[test]
fn findings_serialize_and_display() {
    let report = validate(&mutated(|r| r.enrollments[1].user.sourced_id = "gone".into()), &Profile::Core);
    let finding = only(&report);
    assert_eq!(
        serde_json::to_value(finding).unwrap(),
        serde_json::json!({
            "severity": "error",
            "entity": "enrollment",
            "sourcedId": "e2",
            "field": "user",
            "rule": "dangling-reference",
            "message": "refers to user 'gone', which is not in the roster",
        })
    );
    assert_eq!(
        finding.to_string(),
        "error[dangling-reference] enrollment 'e2' user: refers to user 'gone', which is not in the roster"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!((json["errors"].clone(), json["truncated"].clone()), (1.into(), 0.into()));
    assert_eq!(json["kinds"]["user"]["records"], 3);
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}
