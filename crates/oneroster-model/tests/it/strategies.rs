//! proptest strategies that generate entities the CSV binding can represent exactly (see `csv` module docs):
//! no leading/trailing blanks, no commas inside list items, canonical GUIDRef types, no `href` or `children`.

use chrono::{DateTime, NaiveDate, Utc};
use oneroster_model::*;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

/// Text with letters from several scripts, apostrophes and inner spaces; never blank at either end.
pub(crate) fn text() -> impl Strategy<Value = String> {
    "[A-Za-zéøßÅ李ΩД'][A-Za-z0-9éøßÅ李ΩД' .,\"-]{0,12}[A-Za-z0-9é李]".prop_map(|s| s)
}

/// An identifier: no commas, no blanks.
pub(crate) fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9_.:-]{0,15}"
}

/// A list item: like `text` without commas.
fn item() -> impl Strategy<Value = String> {
    "[A-Za-z0-9é李][A-Za-z0-9é李 .'-]{0,8}[A-Za-z0-9]"
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Active), Just(Status::ToBeDeleted)]
}

fn datetime() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 … 2100, millisecond precision, as OneRoster writes.
    (0i64..4_102_444_800_000).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1900i32..2100, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn metadata() -> impl Strategy<Value = Metadata> {
    btree_map("[a-z][a-zA-Z0-9]{0,6}", text().prop_map(serde_json::Value::String), 0..3)
}

fn base() -> impl Strategy<Value = Base> {
    (id(), status(), option::of(datetime()), metadata()).prop_map(
        |(sourced_id, status, date_last_modified, metadata)| Base { sourced_id, status, date_last_modified, metadata },
    )
}

fn vocab<T: Clone + std::fmt::Debug + 'static>(
    parse: fn(&str) -> T,
    values: &'static [&'static str],
) -> BoxedStrategy<T> {
    prop_oneof![
        4 => proptest::sample::select(values).prop_map(parse),
        1 => "ext:[a-z]{1,8}".prop_map(move |v| parse(&v)),
        1 => "[a-z]{1,8}[0-9]".prop_map(move |v| parse(&v)),
    ]
    .boxed()
}

fn grades() -> impl Strategy<Value = Vec<Grade>> {
    vec(vocab(Grade::parse, Grade::SPEC_VALUES), 0..3)
}

fn guid(kind: GuidType) -> impl Strategy<Value = GuidRef> {
    id().prop_map(move |id| GuidRef::new(kind.clone(), id))
}

pub(crate) fn org() -> impl Strategy<Value = Org> {
    (base(), text(), vocab(OrgType::parse, OrgType::SPEC_VALUES), option::of(id()), option::of(guid(GuidType::Org)))
        .prop_map(|(base, name, org_type, identifier, parent)| Org {
            base,
            name,
            org_type,
            identifier,
            parent,
            children: vec![],
        })
}

pub(crate) fn academic_session() -> impl Strategy<Value = AcademicSession> {
    (
        base(),
        text(),
        date(),
        date(),
        vocab(SessionType::parse, SessionType::SPEC_VALUES),
        option::of(guid(GuidType::AcademicSession)),
        "[0-9]{4}",
    )
        .prop_map(|(base, title, start_date, end_date, session_type, parent, school_year)| AcademicSession {
            base,
            title,
            start_date,
            end_date,
            session_type,
            parent,
            children: vec![],
            school_year,
        })
}

pub(crate) fn course() -> impl Strategy<Value = Course> {
    (
        base(),
        text(),
        option::of(guid(GuidType::AcademicSession)),
        option::of(id()),
        grades(),
        vec(item(), 0..3),
        guid(GuidType::Org),
        vec(item(), 0..3),
    )
        .prop_map(|(base, title, school_year, course_code, grades, subjects, org, subject_codes)| Course {
            base,
            title,
            school_year,
            course_code,
            grades,
            subjects,
            org,
            subject_codes,
            resources: vec![],
        })
}

pub(crate) fn class() -> impl Strategy<Value = Class> {
    (
        (base(), text(), option::of(id()), vocab(ClassType::parse, ClassType::SPEC_VALUES), option::of(text())),
        (grades(), vec(item(), 0..3), guid(GuidType::Course), guid(GuidType::Org)),
        (vec(guid(GuidType::AcademicSession), 0..3), vec(item(), 0..3), vec(item(), 0..3)),
    )
        .prop_map(
            |(
                (base, title, class_code, class_type, location),
                (grades, subjects, course, school),
                (terms, subject_codes, periods),
            )| Class {
                base,
                title,
                class_code,
                class_type,
                location,
                grades,
                subjects,
                course,
                school,
                terms,
                subject_codes,
                periods,
                resources: vec![],
            },
        )
}

fn user_id() -> impl Strategy<Value = UserId> {
    ("[A-Za-z][A-Za-z0-9 _-]{0,6}[A-Za-z0-9]", "[A-Za-z0-9][A-Za-z0-9:._-]{0,10}")
        .prop_map(|(kind, identifier)| UserId { kind, identifier })
}

pub(crate) fn user() -> impl Strategy<Value = User> {
    (
        (base(), id(), vec(user_id(), 0..3), any::<bool>(), text(), text(), option::of(text())),
        (vocab(RoleType::parse, RoleType::SPEC_VALUES), option::of(id()), option::of("[a-z]{1,8}@[a-z]{1,8}\\.org")),
        (option::of("[0-9+][0-9 ]{2,11}[0-9]"), option::of("[0-9+][0-9 ]{2,11}[0-9]"), vec(guid(GuidType::User), 0..3)),
        (vec(guid(GuidType::Org), 0..3), grades(), option::of("[!-~]{1,12}")),
    )
        .prop_map(
            |(
                (base, username, user_ids, enabled_user, given_name, family_name, middle_name),
                (role, identifier, email),
                (sms, phone, agents),
                (orgs, grades, password),
            )| User {
                base,
                username,
                user_ids,
                enabled_user,
                given_name,
                family_name,
                middle_name,
                role,
                identifier,
                email,
                sms,
                phone,
                agents,
                orgs,
                grades,
                password: password
                    .map(|p: String| Password::new(p.trim().to_owned()))
                    .filter(|p| !p.expose().is_empty()),
            },
        )
}

pub(crate) fn enrollment() -> impl Strategy<Value = Enrollment> {
    (
        base(),
        guid(GuidType::User),
        guid(GuidType::Class),
        guid(GuidType::Org),
        vocab(EnrollmentRole::parse, EnrollmentRole::SPEC_VALUES),
        option::of(any::<bool>()),
        option::of(date()),
        option::of(date()),
    )
        .prop_map(|(base, user, class, school, role, primary, begin_date, end_date)| Enrollment {
            base,
            user,
            class,
            school,
            role,
            primary,
            begin_date,
            end_date,
        })
}

pub(crate) fn demographics() -> impl Strategy<Value = Demographics> {
    (
        (base(), option::of(date()), option::of(vocab(Sex::parse, Sex::SPEC_VALUES))),
        vec(option::of(any::<bool>()), 7),
        (option::of("[A-Z]{2}"), option::of("[A-Z]{2}"), option::of(text()), option::of(text())),
    )
        .prop_map(|((base, birth_date, sex), flags, (country, state, city, residence))| Demographics {
            base,
            birth_date,
            sex,
            american_indian_or_alaska_native: flags[0],
            asian: flags[1],
            black_or_african_american: flags[2],
            native_hawaiian_or_other_pacific_islander: flags[3],
            white: flags[4],
            demographic_race_two_or_more_races: flags[5],
            hispanic_or_latino_ethnicity: flags[6],
            country_of_birth_code: country,
            state_of_birth_abbreviation: state,
            city_of_birth: city,
            public_school_residence_status: residence,
        })
}

pub(crate) fn roster() -> impl Strategy<Value = Roster> {
    (
        vec(org(), 0..4),
        vec(academic_session(), 0..4),
        vec(course(), 0..4),
        vec(class(), 0..4),
        vec(user(), 0..4),
        vec(enrollment(), 0..4),
        vec(demographics(), 0..4),
    )
        .prop_map(|(orgs, academic_sessions, courses, classes, users, enrollments, demographics)| Roster {
            orgs,
            academic_sessions,
            courses,
            classes,
            users,
            enrollments,
            demographics,
        })
}
