//! tests: query — the `filter`, `sort`/`orderBy` and `fields` grammar against the field catalogue.

use oneroster_model::query::{
    FieldSelection, FieldType, FieldValue, Filter, Op, Predicate, QueryError, Queryable, SortOrder, SortSpec,
};
use oneroster_model::{
    AcademicSession, Class, CodeMinorValue, Course, Demographics, Enrollment, Entity, EntityKind, Org, User, json,
};
use proptest::prelude::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const USERS: &str = r#"{"users":[
  {"sourcedId":"u1","status":"active","dateLastModified":"2024-05-02T08:00:00.000Z",
   "metadata":{"house":"Red","year":9,"flags":["a"]},
   "username":"ada","enabledUser":"true","givenName":"Ada","familyName":"Lovelace","middleName":"King",
   "role":"student","email":"ada@example.org","grades":["09"],
   "userIds":[{"type":"LDAP","identifier":"alovelace"}],
   "orgs":[{"sourcedId":"s1","type":"org"}]},
  {"sourcedId":"u2","status":"tobedeleted","dateLastModified":"2024-05-01T10:00:00.000Z",
   "username":"cb","enabledUser":"false","givenName":"Charles","familyName":"Babbage","role":"teacher",
   "userIds":[{"type":"SIS","identifier":"T-100"}],
   "orgs":[{"sourcedId":"s1","type":"org"},{"sourcedId":"s2","type":"org"}]},
  {"sourcedId":"u3","status":"active","dateLastModified":"2024-04-30T23:59:59.999Z",
   "username":"grace","enabledUser":"true","givenName":"Grace","familyName":"Hopper","role":"student",
   "email":"grace@example.org","grades":["10","11"],
   "orgs":[{"sourcedId":"s2","type":"org"}]},
  {"sourcedId":"u4","status":"active",
   "username":"mob","enabledUser":"true","givenName":"Mary Ann","familyName":"O'Brien","role":"administrator"}
]}"#;

fn users() -> Vec<User> {
    json::from_collection_json(USERS.as_bytes()).unwrap()
}

const SESSIONS: &str = r#"{"academicSessions":[
  {"sourcedId":"t1","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","title":"Autumn",
   "startDate":"2024-09-01","endDate":"2024-12-20","type":"term","schoolYear":"2025"},
  {"sourcedId":"t2","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","title":"Spring",
   "startDate":"2025-01-06","endDate":"2025-04-04","type":"term","schoolYear":"2025"},
  {"sourcedId":"y1","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","title":"2024-25",
   "startDate":"2024-09-01","endDate":"2025-07-20","type":"schoolYear","schoolYear":"2025"}
]}"#;

fn sessions() -> Vec<AcademicSession> {
    json::from_collection_json(SESSIONS.as_bytes()).unwrap()
}

const ENROLLMENTS: &str = r#"{"enrollments":[
  {"sourcedId":"e1","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","role":"student","primary":"false",
   "user":{"sourcedId":"u1","type":"user"},"class":{"sourcedId":"c1","type":"class"},
   "school":{"sourcedId":"s1","type":"org"},"beginDate":"2024-09-01"},
  {"sourcedId":"e2","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","role":"teacher","primary":"true",
   "user":{"sourcedId":"u2","type":"user"},"class":{"sourcedId":"c1","type":"class"},
   "school":{"sourcedId":"s1","type":"org"}},
  {"sourcedId":"e3","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","role":"student",
   "user":{"sourcedId":"u3","type":"user"},"class":{"sourcedId":"c2","type":"class"},
   "school":{"sourcedId":"s2","type":"org"},"beginDate":"2025-01-06"}
]}"#;

fn enrollments() -> Vec<Enrollment> {
    json::from_collection_json(ENROLLMENTS.as_bytes()).unwrap()
}

const CLASSES: &str = r#"{"classes":[
  {"sourcedId":"c1","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","title":"Maths 9A",
   "classType":"scheduled","subjects":["Mathematics","Statistics"],"periods":["1","2"],
   "course":{"sourcedId":"k1","type":"course"},"school":{"sourcedId":"s1","type":"org"},
   "terms":[{"sourcedId":"t1","type":"academicSession"}]},
  {"sourcedId":"c2","status":"active","dateLastModified":"2024-01-01T00:00:00.000Z","title":"Form 9",
   "classType":"homeroom","course":{"sourcedId":"k2","type":"course"},"school":{"sourcedId":"s2","type":"org"},
   "terms":[{"sourcedId":"t1","type":"academicSession"},{"sourcedId":"t2","type":"academicSession"}]}
]}"#;

fn classes() -> Vec<Class> {
    json::from_collection_json(CLASSES.as_bytes()).unwrap()
}

/// The ids of the records that `filter` matches, in input order.
fn matching<E: Queryable>(records: &[E], filter: &str) -> Vec<String> {
    let bound = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")).bind::<E>();
    let bound = bound.unwrap_or_else(|e| panic!("{filter}: {e}"));
    records.iter().filter(|r| bound.matches(r)).map(|r| r.sourced_id().to_owned()).collect()
}

/// Asserts what each filter matches among `records`.
fn check<E: Queryable>(records: &[E], cases: &[(&str, &[&str])]) {
    for (filter, expected) in cases {
        assert_eq!(matching(records, filter), *expected, "filter {filter}");
    }
}

fn bind_error<E: Queryable>(filter: &str) -> QueryError {
    let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    parsed.bind::<E>().map(|_| ()).expect_err(filter)
}

fn syntax_error(filter: &str) -> (usize, &'static str, Option<String>) {
    match Filter::parse(filter) {
        Err(QueryError::FilterSyntax { position, expected, found }) => (position, expected, found),
        other => panic!("{filter}: expected a syntax error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Filter: operators by type

#[test]
fn text_operators() {
    check(
        &users(),
        &[
            ("givenName='Ada'", &["u1"]),
            ("givenName='ada'", &[]),
            ("givenName!='Ada'", &["u2", "u3", "u4"]),
            ("familyName>'Hopper'", &["u1", "u4"]),
            ("familyName>='Hopper'", &["u1", "u3", "u4"]),
            ("familyName<'Hopper'", &["u2"]),
            ("familyName<='Hopper'", &["u2", "u3"]),
            ("familyName~'OVE'", &["u1"]),
            ("username~''", &["u1", "u2", "u3", "u4"]),
            ("sourcedId='u3'", &["u3"]),
        ],
    );
}

#[test]
fn date_time_operators() {
    check(
        &users(),
        &[
            ("dateLastModified='2024-05-01T10:00:00.000Z'", &["u2"]),
            ("dateLastModified!='2024-05-01T10:00:00.000Z'", &["u1", "u3", "u4"]),
            ("dateLastModified>'2024-05-01T10:00:00.000Z'", &["u1"]),
            ("dateLastModified>='2024-05-01T10:00:00.000Z'", &["u1", "u2"]),
            ("dateLastModified<'2024-05-01T10:00:00.000Z'", &["u3"]),
            ("dateLastModified<='2024-05-01T10:00:00.000Z'", &["u2", "u3"]),
            // Other spellings of the same instant compare equal: an offset, no milliseconds, no offset at all.
            ("dateLastModified='2024-05-01T12:00:00+02:00'", &["u2"]),
            ("dateLastModified='2024-05-01T10:00:00'", &["u2"]),
            // A bare date is midnight UTC.
            ("dateLastModified>'2024-05-01'", &["u1", "u2"]),
            ("dateLastModified~'2024-05'", &["u1", "u2"]),
            ("dateLastModified~'.999z'", &["u3"]),
        ],
    );
}

#[test]
fn sds_delta_filter() {
    // School Data Sync asks for what changed since its last run exactly like this.
    let filter = Filter::parse("dateLastModified>'2024-05-01T10:00:00.000Z'").unwrap();
    assert_eq!(filter, Filter::Single(Predicate::new("dateLastModified", Op::Gt, "2024-05-01T10:00:00.000Z")));
    let bound = filter.bind::<User>().unwrap();
    let changed: Vec<_> = users().into_iter().filter(|u| bound.matches(u)).map(|u| u.username).collect();
    assert_eq!(changed, ["ada"]);
    // The same, as it arrives in the query string.
    let encoded = "dateLastModified%3E%272024-05-01T10%3A00%3A00.000Z%27";
    assert_eq!(Filter::parse_encoded(encoded).unwrap(), filter);
    for kind_filter in [
        matching(&sessions(), "dateLastModified>'2023-12-31T23:59:59.999Z'"),
        matching(&enrollments(), "dateLastModified>'2023-12-31T23:59:59.999Z'"),
    ] {
        assert_eq!(kind_filter.len(), 3);
    }
}

#[test]
fn date_operators() {
    check(
        &sessions(),
        &[
            ("startDate='2024-09-01'", &["t1", "y1"]),
            ("startDate!='2024-09-01'", &["t2"]),
            ("startDate>'2024-09-01'", &["t2"]),
            ("startDate>='2024-09-01'", &["t1", "t2", "y1"]),
            ("endDate<'2025-04-04'", &["t1"]),
            ("endDate<='2025-04-04'", &["t1", "t2"]),
            // A date-time is read as the calendar date it names.
            ("startDate='2024-09-01T00:00:00.000Z'", &["t1", "y1"]),
            ("endDate~'2025-0'", &["t2", "y1"]),
        ],
    );
    // An absent optional date matches only `!=`.
    check(
        &enrollments(),
        &[
            ("beginDate='2024-09-01'", &["e1"]),
            ("beginDate!='2024-09-01'", &["e2", "e3"]),
            ("beginDate>'2000-01-01'", &["e1", "e3"]),
            ("beginDate<'2100-01-01'", &["e1", "e3"]),
        ],
    );
}

#[test]
fn boolean_operators() {
    check(
        &users(),
        &[
            ("enabledUser='true'", &["u1", "u3", "u4"]),
            ("enabledUser='FALSE'", &["u2"]),
            ("enabledUser!='true'", &["u2"]),
            ("enabledUser>'false'", &["u1", "u3", "u4"]),
            ("enabledUser>='false'", &["u1", "u2", "u3", "u4"]),
            ("enabledUser<'true'", &["u2"]),
            ("enabledUser<='false'", &["u2"]),
            ("enabledUser~'ru'", &["u1", "u3", "u4"]),
        ],
    );
    check(
        &enrollments(),
        &[("primary='true'", &["e2"]), ("primary!='true'", &["e1", "e3"]), ("primary='false'", &["e1"])],
    );
}

#[test]
fn enum_operators() {
    check(
        &users(),
        &[
            ("role='student'", &["u1", "u3"]),
            ("role='Student'", &["u1", "u3"]),
            ("role!='student'", &["u2", "u4"]),
            ("role<'student'", &["u4"]),
            ("role<='student'", &["u1", "u3", "u4"]),
            ("role>'student'", &["u2"]),
            ("role>='teacher'", &["u2"]),
            ("role~'TEACH'", &["u2"]),
            ("role='ext:librarian'", &[]),
            ("status='active'", &["u1", "u3", "u4"]),
            ("status='tobedeleted'", &["u2"]),
            ("status!='active'", &["u2"]),
        ],
    );
    check(
        &sessions(),
        &[("type='schoolYear'", &["y1"]), ("type='SCHOOLYEAR'", &["y1"]), ("type='term'", &["t1", "t2"])],
    );
    check(&classes(), &[("classType='homeroom'", &["c2"])]);
}

#[test]
fn list_operators() {
    check(
        &users(),
        &[
            // GUIDRef lists compare on the referenced sourcedId: `=` any, `!=` none.
            ("orgs='s1'", &["u1", "u2"]),
            ("orgs!='s1'", &["u3", "u4"]),
            ("orgs.sourcedId='s2'", &["u2", "u3"]),
            ("orgs>'s1'", &["u2", "u3"]),
            ("orgs<='s1'", &["u1", "u2"]),
            ("orgs~'S2'", &["u2", "u3"]),
            // Grades compare by their code, read in any case.
            ("grades='09'", &["u1"]),
            ("grades='9'", &[]),
            ("grades!='10'", &["u1", "u2", "u4"]),
            ("grades>='10'", &["u3"]),
            ("grades<'10'", &["u1"]),
            // UserIds compare by identifier, or by type with `userIds.type`.
            ("userIds='alovelace'", &["u1"]),
            ("userIds.identifier='T-100'", &["u2"]),
            ("userIds.type='LDAP'", &["u1"]),
            ("userIds.type!='LDAP'", &["u2", "u3", "u4"]),
            ("userIds~'love'", &["u1"]),
        ],
    );
    check(
        &classes(),
        &[
            ("subjects='Statistics'", &["c1"]),
            ("subjects!='Statistics'", &["c2"]),
            ("subjects~'math'", &["c1"]),
            ("subjects>'N'", &["c1"]),
            ("periods='2'", &["c1"]),
            ("terms='t2'", &["c2"]),
            ("terms.sourcedId='t1'", &["c1", "c2"]),
        ],
    );
}

#[test]
fn guid_ref_fields_compare_on_sourced_id() {
    check(
        &enrollments(),
        &[
            ("school='s1'", &["e1", "e2"]),
            ("school.sourcedId='s1'", &["e1", "e2"]),
            ("class.sourcedId!='c1'", &["e3"]),
            ("user.sourcedId>='u2'", &["e2", "e3"]),
            ("user~'U3'", &["e3"]),
        ],
    );
    check(&classes(), &[("course.sourcedId='k2'", &["c2"]), ("school='s1'", &["c1"])]);
}

#[test]
fn absent_optional_values() {
    check(
        &users(),
        &[
            ("middleName='King'", &["u1"]),
            ("middleName!='King'", &["u2", "u3", "u4"]),
            ("middleName!='nobody'", &["u1", "u2", "u3", "u4"]),
            ("middleName>''", &["u1"]),
            ("middleName<'zzz'", &["u1"]),
            ("middleName~''", &["u1"]),
            ("email~'example'", &["u1", "u3"]),
            ("email!='ada@example.org'", &["u2", "u3", "u4"]),
            ("dateLastModified>'1970-01-01'", &["u1", "u2", "u3"]),
        ],
    );
}

#[test]
fn metadata_keys_compare_as_text() {
    check(
        &users(),
        &[
            ("metadata.house='Red'", &["u1"]),
            ("metadata.year='9'", &["u1"]),
            ("metadata.house~'re'", &["u1"]),
            ("metadata.house!='Red'", &["u2", "u3", "u4"]),
            // Arrays and objects count as absent.
            ("metadata.flags='a'", &[]),
            ("metadata.nothing!='x'", &["u1", "u2", "u3", "u4"]),
        ],
    );
}

#[test]
fn and_or() {
    check(
        &users(),
        &[
            ("role='student' AND enabledUser='true'", &["u1", "u3"]),
            ("role='student' AND orgs='s2'", &["u3"]),
            ("role='student' and orgs='s2'", &["u3"]),
            ("givenName='Ada' OR familyName='Babbage'", &["u1", "u2"]),
            ("givenName='Ada' oR familyName='Babbage'", &["u1", "u2"]),
            ("status='tobedeleted' OR dateLastModified>'2024-05-01T10:00:00.000Z'", &["u1", "u2"]),
            ("givenName='Ada' AND givenName='Grace'", &[]),
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Filter: syntax

#[test]
fn whitespace_quotes_and_encoding() {
    let users = users();
    // Whitespace around operators and the whole expression is optional.
    assert_eq!(matching(&users, "  givenName = 'Ada'  "), ["u1"]);
    assert_eq!(matching(&users, "givenName\t='Ada'\tOR\tgivenName= 'Grace'"), ["u1", "u3"]);
    // Values keep their spaces; a doubled quote is one literal quote.
    assert_eq!(matching(&users, "givenName='Mary Ann'"), ["u4"]);
    assert_eq!(matching(&users, "givenName=' Mary Ann'"), Vec::<String>::new());
    assert_eq!(matching(&users, "familyName='O''Brien'"), ["u4"]);
    assert_eq!(matching(&users, "familyName~''''"), ["u4"]);
    assert_eq!(Filter::parse("a=''''").unwrap(), Filter::Single(Predicate::new("a", Op::Eq, "'")));
    assert_eq!(Filter::parse("a=''").unwrap(), Filter::Single(Predicate::new("a", Op::Eq, "")));
    // A value may hold what looks like syntax.
    assert_eq!(
        Filter::parse("a='x'' AND b=''y' OR c~'='").unwrap(),
        Filter::Or(Predicate::new("a", Op::Eq, "x' AND b='y"), Predicate::new("c", Op::Contains, "="))
    );
    // URL-encoded input: `+` is a space, `%2B` a plus, `%27` a quote.
    let decoded = Filter::parse("givenName='Mary Ann' AND familyName='O''Brien'").unwrap();
    for encoded in [
        "givenName%3D%27Mary%20Ann%27%20AND%20familyName%3D%27O%27%27Brien%27",
        "givenName='Mary+Ann'+AND+familyName='O''Brien'",
        "givenName%3d'Mary+Ann'%20and+familyName='O%27%27Brien'",
    ] {
        let filter = Filter::parse_encoded(encoded).unwrap();
        assert_eq!(filter.to_string(), decoded.to_string(), "{encoded}");
        assert_eq!(matching(&users, &filter.to_string()), ["u4"]);
    }
    assert_eq!(Filter::parse_encoded("a='1%2B1'").unwrap(), Filter::Single(Predicate::new("a", Op::Eq, "1+1")));
    assert_eq!(Filter::parse_encoded("a='100%'").unwrap(), Filter::Single(Predicate::new("a", Op::Eq, "100%")));
    let err = Filter::parse_encoded("a='%FF'").unwrap_err();
    assert_eq!(err, QueryError::FilterEncoding);
    assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField);
}

#[test]
fn display_is_canonical() {
    let filter = Filter::parse("  givenName = 'O''Brien'   and role~'stu' ").unwrap();
    assert_eq!(filter.to_string(), "givenName='O''Brien' AND role~'stu'");
    let filter: Filter = "a!='1' or b>='2'".parse().unwrap();
    assert_eq!(filter.to_string(), "a!='1' OR b>='2'");
    assert_eq!(filter.predicates().map(|p| p.op).collect::<Vec<_>>(), [Op::Ne, Op::Ge]);
    for op in Op::ALL {
        let text = format!("x{op}'v'");
        assert_eq!(Filter::parse(&text).unwrap(), Filter::Single(Predicate::new("x", op, "v")));
        assert_eq!(Op::from_symbol(op.symbol()), Some(op));
    }
    let bound = filter.bind::<User>();
    assert!(matches!(bound, Err(QueryError::UnknownFilterField { .. })));
    let bound = Filter::parse("givenName<'M'").unwrap().bind::<User>().unwrap();
    assert_eq!(bound.to_string(), "givenName<'M'");
    assert_eq!(bound.filter(), &Filter::parse("givenName<'M'").unwrap());
}

#[test]
fn malformed_filters_are_syntax_errors() {
    let cases: &[(&str, usize, Option<&str>)] = &[
        // (filter, position in characters, text found there)
        ("", 0, None),
        ("   ", 3, None),
        ("givenName", 9, None),
        ("givenName=", 10, None),
        // missing quotes
        ("givenName=Ada", 10, Some("Ada")),
        ("givenName='Ada", 10, None),
        ("givenName=Ada'", 10, Some("Ada'")),
        ("givenName=\"Ada\"", 10, Some("\"Ada\"")),
        // unknown operators
        ("givenName=='Ada'", 9, Some("=='Ada'")),
        ("givenName<>'Ada'", 9, Some("<>'Ada'")),
        ("givenName=~'Ada'", 9, Some("=~'Ada'")),
        ("givenName eq 'Ada'", 10, Some("eq")),
        ("givenName LIKE 'Ada'", 10, Some("LIKE")),
        ("givenName 'Ada'", 10, Some("'Ada'")),
        ("='Ada'", 0, Some("='Ada'")),
        // three predicates
        ("a='1' AND b='2' AND c='3'", 16, Some("AND")),
        ("a='1' OR b='2' OR c='3'", 15, Some("OR")),
        // trailing garbage
        ("givenName='Ada' x", 16, Some("x")),
        ("givenName='Ada' AND role='student' ;", 35, Some(";")),
        ("givenName='Ada''", 10, None),
        ("givenName='Ada'x", 15, Some("x")),
        // logical operators misused
        ("givenName='Ada' AND AND role='student'", 20, Some("AND")),
        ("givenName='Ada' AND", 19, None),
        ("givenName='Ada' AND ", 20, None),
        ("AND givenName='Ada'", 0, Some("AND")),
        ("givenName='Ada' XOR role='student'", 16, Some("XOR")),
        ("givenName='Ada' && role='student'", 16, Some("&&")),
        ("givenName='Ada'AND role='student'", 15, Some("AND")),
        ("givenName='Ada' AND'x'", 19, Some("'x'")),
        ("givenName='Ada' ANDrole='student'", 16, Some("ANDrole='student'")),
        // characters that cannot be in a field name; positions count characters, not bytes
        ("prénom='x'", 2, Some("énom='x'")),
        ("(givenName='Ada')", 0, Some("(givenName='Ada')")),
    ];
    for &(filter, position, found) in cases {
        let (pos, expected, got) = syntax_error(filter);
        assert_eq!((pos, got.as_deref()), (position, found), "{filter:?} (expected {expected})");
        let err = Filter::parse(filter).unwrap_err();
        assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField);
        let message = err.to_string();
        assert!(message.contains(&format!("at character {position}")), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn syntax_errors_say_what_was_expected() {
    let message = |f: &str| Filter::parse(f).unwrap_err().to_string();
    assert_eq!(
        message("givenName=Ada"),
        "invalid filter at character 10: expected a value in single quotes, found `Ada`"
    );
    assert_eq!(
        message("givenName='Ada"),
        "invalid filter at character 10: expected a closing ' for the value that starts here, found end of input"
    );
    assert!(message("givenName=='Ada'").contains("expected an operator (=, !=, >, >=, <, <=, ~), found `=='Ada'`"));
    assert!(message("a='1' AND b='2' AND c='3'").contains("at most two predicates"));
    assert!(message("").contains("expected a field name, found end of input"));
    // A long excerpt is cut short.
    let long = format!("a='1' {}", "x".repeat(100));
    let (_, _, found) = syntax_error(&long);
    assert_eq!(found.map(|f| f.chars().count()), Some(24));
}

// ---------------------------------------------------------------------------------------------------------------
// Filter: binding

#[test]
fn unknown_filter_fields() {
    for (filter, field) in [
        ("shoeSize='9'", "shoeSize"),
        ("givenname='Ada'", "givenname"),
        ("role='student' AND school.sourcedId='s1'", "school.sourcedId"),
        ("orgs.href='x'", "orgs.href"),
        ("givenName.sourcedId='x'", "givenName.sourcedId"),
        ("userIds.foo='x'", "userIds.foo"),
        ("metadata='x'", "metadata"),
        ("metadata.='x'", "metadata."),
        ("password='hunter2'", "password"),
        ("password~'h'", "password"),
    ] {
        let err = bind_error::<User>(filter);
        assert_eq!(err, QueryError::UnknownFilterField { field: field.into(), kind: EntityKind::User }, "{filter}");
        assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField);
        assert_eq!(err.to_string(), format!("`{field}` is not a filterable field of users"));
    }
    // Names are per entity: `school` is a field of enrollments, not of orgs.
    assert!(Filter::parse("school='s1'").unwrap().bind::<Enrollment>().is_ok());
    assert!(matches!(bind_error::<Org>("school='s1'"), QueryError::UnknownFilterField { kind: EntityKind::Org, .. }));
}

#[test]
fn unreadable_filter_values() {
    let err = bind_error::<User>("dateLastModified>'yesterday'");
    assert!(matches!(
        &err,
        QueryError::InvalidFilterValue { field, value, .. } if field == "dateLastModified" && value == "yesterday"
    ));
    assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField);
    let message = err.to_string();
    assert!(message.contains("`yesterday`") && message.contains("`dateLastModified`") && message.contains("date-time"));

    for filter in ["enabledUser='yes'", "enabledUser=''", "dateLastModified=''", "givenName='Ada' OR enabledUser='1'"] {
        let err = bind_error::<User>(filter);
        assert!(matches!(err, QueryError::InvalidFilterValue { .. }), "{filter}: {err:?}");
    }
    for filter in ["startDate='2024-13-01'", "endDate<'01/09/2024'"] {
        let err = bind_error::<AcademicSession>(filter);
        assert!(
            matches!(&err, QueryError::InvalidFilterValue { expected, .. } if expected.contains("date")),
            "{err:?}"
        );
    }
    // `~` compares written text, so its value is never rejected.
    assert!(Filter::parse("dateLastModified~'yesterday'").unwrap().bind::<User>().is_ok());
    // Text fields take any value, enumerations any spelling (extensions are values too).
    assert!(Filter::parse("role='ext:librarian' OR givenName=''").unwrap().bind::<User>().is_ok());
}

// ---------------------------------------------------------------------------------------------------------------
// Sort

fn ids<E: Entity>(records: &[E]) -> Vec<&str> {
    records.iter().map(|r| r.sourced_id()).collect()
}

#[test]
fn sort_ascending_and_descending_with_ties() {
    let mut users = users();
    // Ties on role are broken by sourcedId.
    let spec = SortSpec::<User>::parse("role", None).unwrap();
    assert_eq!((spec.field(), spec.order()), ("role", SortOrder::Asc));
    spec.sort(&mut users);
    assert_eq!(ids(&users), ["u4", "u1", "u3", "u2"]);
    // `desc` is `asc` exactly reversed.
    SortSpec::<User>::parse("role", Some("desc")).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u2", "u3", "u1", "u4"]);
    SortSpec::<User>::parse("familyName", Some("ASC")).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u2", "u3", "u1", "u4"]);
    SortSpec::<User>::parse(" givenName ", Some("Desc")).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u4", "u3", "u2", "u1"]);
}

#[test]
fn sort_compares_by_type() {
    let mut users = users();
    // Date-times as instants; the user without one sorts last ascending, first descending.
    SortSpec::<User>::parse("dateLastModified", None).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u3", "u2", "u1", "u4"]);
    SortSpec::<User>::parse("dateLastModified", Some("desc")).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u4", "u1", "u2", "u3"]);
    // Booleans: false first.
    SortSpec::<User>::parse("enabledUser", None).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u2", "u1", "u3", "u4"]);
    // Lists element by element, empty lists last: [s1] < [s1, s2] < [s2] < [].
    SortSpec::<User>::parse("orgs.sourcedId", None).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u1", "u2", "u3", "u4"]);
    SortSpec::<User>::parse("grades", Some("desc")).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u4", "u2", "u3", "u1"]);
    SortSpec::<User>::parse("metadata.house", None).unwrap().sort(&mut users);
    assert_eq!(ids(&users), ["u1", "u2", "u3", "u4"]);

    let mut sessions = sessions();
    SortSpec::<AcademicSession>::parse("endDate", Some("desc")).unwrap().sort(&mut sessions);
    assert_eq!(ids(&sessions), ["y1", "t2", "t1"]);
    SortSpec::<AcademicSession>::parse("startDate", None).unwrap().sort(&mut sessions);
    assert_eq!(ids(&sessions), ["t1", "y1", "t2"]);
}

#[test]
fn sort_by_sourced_id_and_on_references() {
    let users = users();
    let mut refs: Vec<&User> = users.iter().rev().collect();
    SortSpec::<User>::default().sort(&mut refs);
    assert_eq!(refs.iter().map(|u| u.sourced_id()).collect::<Vec<_>>(), ["u1", "u2", "u3", "u4"]);
    let spec = SortSpec::<User>::parse("", Some("desc")).unwrap();
    assert_eq!(spec.field(), "sourcedId");
    spec.sort(&mut refs);
    assert_eq!(refs.iter().map(|u| u.sourced_id()).collect::<Vec<_>>(), ["u4", "u3", "u2", "u1"]);
    let by_family = SortSpec::<User>::new("familyName", SortOrder::Asc).unwrap();
    assert!(by_family.compare(&users[1], &users[0]).is_lt());
    assert!(by_family.compare(&users[0], &users[0]).is_eq());
}

#[test]
fn unknown_sort_fields_and_orders() {
    for field in ["shoeSize", "password", "metadata", "school", "familyName,givenName"] {
        let err = SortSpec::<User>::parse(field, None).unwrap_err();
        assert_eq!(err, QueryError::UnknownSortField { field: field.into(), kind: EntityKind::User });
        assert_eq!(err.code_minor(), CodeMinorValue::InvalidData);
        assert!(err.to_string().contains(&format!("`{field}`")));
    }
    let err = SortSpec::<User>::parse("familyName", Some("sideways")).unwrap_err();
    assert_eq!(err, QueryError::InvalidOrderBy { value: "sideways".into() });
    assert_eq!(err.code_minor(), CodeMinorValue::InvalidData);
    assert!(err.to_string().contains("`sideways`"));
    assert_eq!(SortOrder::parse(" DESC "), Ok(SortOrder::Desc));
}

// ---------------------------------------------------------------------------------------------------------------
// Fields

#[test]
fn field_selection() {
    let users = users();
    let selection = FieldSelection::<User>::parse(" sourcedId, givenName,,familyName ,givenName,").unwrap();
    assert!(!selection.is_all());
    assert_eq!(selection.names(), ["sourcedId", "givenName", "familyName"]);
    assert_eq!(selection.to_string(), "sourcedId,givenName,familyName");
    assert!(selection.contains("givenName") && !selection.contains("role"));
    assert_eq!(selection.to_value(&users[0]), json!({"sourcedId": "u1", "givenName": "Ada", "familyName": "Lovelace"}));
    // Selected fields a record leaves out stay out.
    let selection = FieldSelection::<User>::parse("middleName,email").unwrap();
    assert_eq!(selection.to_value(&users[1]), json!({}));
    assert_eq!(selection.to_value(&users[0]), json!({"middleName": "King", "email": "ada@example.org"}));
    // `apply` works on records already serialized, and leaves anything but an object alone.
    let mut value = serde_json::to_value(&users[2]).unwrap();
    FieldSelection::<User>::parse("orgs").unwrap().apply(&mut value);
    assert_eq!(value, json!({"orgs": [{"sourcedId": "s2", "type": "org"}]}));
    let mut not_object = json!(["sourcedId"]);
    selection.apply(&mut not_object);
    assert_eq!(not_object, json!(["sourcedId"]));
}

#[test]
fn empty_field_selection_selects_everything() {
    let users = users();
    for text in ["", " ", ",", " , ,"] {
        let selection = FieldSelection::<User>::parse(text).unwrap();
        assert!(selection.is_all());
        assert_eq!(selection, FieldSelection::all());
        assert_eq!(selection.to_value(&users[0]), serde_json::to_value(&users[0]).unwrap());
        assert_eq!(selection.to_string(), "");
    }
    assert!(FieldSelection::<User>::default().contains("password"));
    assert_eq!(FieldSelection::<User>::all().names().len(), User::FIELDS.len());
}

#[test]
fn unknown_selection_fields() {
    let err = FieldSelection::<User>::parse("sourcedId,shoeSize, hat ,shoeSize,orgs.sourcedId").unwrap_err();
    assert_eq!(
        err,
        QueryError::UnknownSelectionFields {
            fields: vec!["shoeSize".into(), "hat".into(), "orgs.sourcedId".into()],
            kind: EntityKind::User
        }
    );
    assert_eq!(err.code_minor(), CodeMinorValue::InvalidSelectionField);
    assert_eq!(err.to_string(), "unknown selection field(s) of users: `shoeSize`, `hat`, `orgs.sourcedId`");
    // Names are per entity.
    assert!(FieldSelection::<Org>::parse("givenName").is_err());
    // Leniently, unknown names are dropped and reported; with none left, everything is selected.
    let (selection, warning) = FieldSelection::<User>::parse_lenient("givenName,hat");
    assert_eq!(selection.names(), ["givenName"]);
    assert!(matches!(warning, Some(QueryError::UnknownSelectionFields { ref fields, .. }) if fields == &["hat"]));
    let (selection, warning) = FieldSelection::<User>::parse_lenient("hat");
    assert!(selection.is_all() && warning.is_some());
    let (_, warning) = FieldSelection::<User>::parse_lenient("givenName");
    assert!(warning.is_none());
}

// ---------------------------------------------------------------------------------------------------------------
// Catalogue

/// Asserts that the catalogue of `E` names exactly the keys a fully populated record serializes, each once.
fn assert_catalogue_matches_json<E: Queryable>(record: serde_json::Value) {
    let body = json!({ E::KIND.collection_key(): [record] }).to_string();
    let records: Vec<E> = json::from_collection_json(body.as_bytes()).unwrap();
    let serialized = serde_json::to_value(&records[0]).unwrap();
    let mut keys: Vec<&str> = serialized.as_object().unwrap().keys().map(String::as_str).collect();
    let mut names: Vec<&str> = E::selectable_fields().collect();
    keys.sort_unstable();
    names.sort_unstable();
    let unique = names.len();
    names.dedup();
    assert_eq!(names.len(), unique, "{:?}: duplicate names", E::KIND);
    assert_eq!(names, keys, "{:?}", E::KIND);
    for def in E::FIELDS {
        assert_ne!(def.value(&records[0]), FieldValue::Absent, "{:?}.{}", E::KIND, def.name());
        assert_eq!(records[0].field_value(def.name()), Some(def.value(&records[0])));
    }
}

fn base(id: &str) -> serde_json::Value {
    json!({"sourcedId": id, "status": "active", "dateLastModified": "2024-01-01T00:00:00.000Z", "metadata": {"k": 1}})
}

fn with(mut base: serde_json::Value, fields: serde_json::Value) -> serde_json::Value {
    if let (Some(b), Some(f)) = (base.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    base
}

fn guid(kind: &str, id: &str) -> serde_json::Value {
    json!({"href": format!("https://sis.example/{id}"), "sourcedId": id, "type": kind})
}

#[test]
fn catalogue_names_every_serialized_field() {
    assert_catalogue_matches_json::<Org>(with(
        base("o1"),
        json!({"name": "Oak", "type": "school", "identifier": "URN 1", "parent": guid("org", "d1"),
               "children": [guid("org", "x1")]}),
    ));
    assert_catalogue_matches_json::<AcademicSession>(with(
        base("t1"),
        json!({"title": "Autumn", "startDate": "2024-09-01", "endDate": "2024-12-20", "type": "term",
               "parent": guid("academicSession", "y1"), "children": [guid("academicSession", "g1")],
               "schoolYear": "2025"}),
    ));
    assert_catalogue_matches_json::<Course>(with(
        base("k1"),
        json!({"title": "Maths", "schoolYear": guid("academicSession", "y1"), "courseCode": "MA", "grades": ["09"],
               "subjects": ["Mathematics"], "org": guid("org", "s1"), "subjectCodes": ["MAT"],
               "resources": [guid("resource", "r1")]}),
    ));
    assert_catalogue_matches_json::<Class>(with(
        base("c1"),
        json!({"title": "Maths 9A", "classCode": "9A", "classType": "scheduled", "location": "Room 1",
               "grades": ["09"], "subjects": ["Mathematics"], "course": guid("course", "k1"),
               "school": guid("org", "s1"), "terms": [guid("academicSession", "t1")], "subjectCodes": ["MAT"],
               "periods": ["1"], "resources": [guid("resource", "r1")]}),
    ));
    assert_catalogue_matches_json::<User>(with(
        base("u1"),
        json!({"username": "ada", "userIds": [{"type": "LDAP", "identifier": "ada"}], "enabledUser": "true",
               "givenName": "Ada", "familyName": "Lovelace", "middleName": "King", "role": "student",
               "identifier": "S1", "email": "ada@example.org", "sms": "+44 7700 900000", "phone": "+44 20 7946 0000",
               "agents": [guid("user", "p1")], "orgs": [guid("org", "s1")], "grades": ["09"],
               "password": "hunter2"}),
    ));
    assert_catalogue_matches_json::<Enrollment>(with(
        base("e1"),
        json!({"user": guid("user", "u1"), "class": guid("class", "c1"), "school": guid("org", "s1"),
               "role": "student", "primary": "false", "beginDate": "2024-09-01", "endDate": "2025-07-20"}),
    ));
    assert_catalogue_matches_json::<Demographics>(with(
        base("u1"),
        json!({"birthDate": "2010-03-04", "sex": "female", "americanIndianOrAlaskaNative": "false", "asian": "false",
               "blackOrAfricanAmerican": "false", "nativeHawaiianOrOtherPacificIslander": "false", "white": "true",
               "demographicRaceTwoOrMoreRaces": "false", "hispanicOrLatinoEthnicity": "false",
               "countryOfBirthCode": "GB", "stateOfBirthAbbreviation": "LN", "cityOfBirth": "London",
               "publicSchoolResidenceStatus": "01652"}),
    ));
}

#[test]
fn catalogue_types_and_values() {
    let users = users();
    let field_type = |name: &str| User::field(name).map(|f| f.field_type());
    assert_eq!(field_type("dateLastModified"), Some(FieldType::DateTime));
    assert_eq!(field_type("enabledUser"), Some(FieldType::Boolean));
    assert_eq!(field_type("orgs"), Some(FieldType::GuidRefList));
    assert_eq!(field_type("userIds"), Some(FieldType::UserIdList));
    assert_eq!(field_type("grades"), Some(FieldType::GradeList));
    assert_eq!(field_type("password"), Some(FieldType::Password));
    assert_eq!(field_type("orgs.sourcedId"), None);
    assert!(matches!(field_type("role"), Some(FieldType::Enum(values)) if values.contains(&"guardian")));
    assert!(User::field("password").is_some_and(|f| !f.is_queryable()));
    assert!(FieldType::TextList.is_list() && !FieldType::GuidRef.is_list());
    assert_eq!(Enrollment::field("beginDate").map(|f| f.field_type()), Some(FieldType::Date));

    assert_eq!(users[0].field_value("givenName"), Some(FieldValue::Text("Ada")));
    assert_eq!(users[0].field_value("role"), Some(FieldValue::Enum("student")));
    assert_eq!(users[0].field_value("enabledUser"), Some(FieldValue::Boolean(true)));
    assert_eq!(users[3].field_value("middleName"), Some(FieldValue::Absent));
    assert_eq!(users[3].field_value("dateLastModified"), Some(FieldValue::Absent));
    assert!(matches!(users[1].field_value("orgs"), Some(FieldValue::GuidRefs(orgs)) if orgs.len() == 2));
    assert_eq!(users[0].field_value("shoeSize"), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

/// Field names the grammar allows, never `AND` or `OR`.
fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,16}"
        .prop_filter("a logical operator", |f| !f.eq_ignore_ascii_case("and") && !f.eq_ignore_ascii_case("or"))
}

fn predicate(
    field: impl Strategy<Value = String> + 'static,
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<Predicate> {
    let op = proptest::sample::select(Op::ALL.to_vec());
    (field, op, value).prop_map(|(field, op, value)| Predicate { field, op, value }).boxed()
}

fn filter_of(predicate: BoxedStrategy<Predicate>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        predicate.clone().prop_map(Filter::Single),
        (predicate.clone(), predicate.clone()).prop_map(|(a, b)| Filter::And(a, b)),
        (predicate.clone(), predicate).prop_map(|(a, b)| Filter::Or(a, b)),
    ]
}

/// Any filter the grammar can express, with values of arbitrary text (quotes, spaces, `%`, `+`, any script).
fn any_filter() -> impl Strategy<Value = Filter> {
    filter_of(predicate(field_name(), any::<String>()))
}

/// Filters over real field names with values that are sometimes readable as their types.
fn plausible_filter() -> impl Strategy<Value = Filter> {
    let names: Vec<String> = User::selectable_fields()
        .chain(AcademicSession::selectable_fields())
        .chain(Enrollment::selectable_fields())
        .map(str::to_owned)
        .chain(
            ["orgs.sourcedId", "school.sourcedId", "userIds.type", "userIds.identifier", "metadata.k"]
                .map(String::from),
        )
        .collect();
    let value = prop_oneof![
        Just("true".to_owned()),
        Just("FALSE".to_owned()),
        Just("2024-05-01".to_owned()),
        Just("2024-05-01T10:00:00.000Z".to_owned()),
        Just("student".to_owned()),
        Just(String::new()),
        "[0-9:TZ.+-]{0,24}",
        any::<String>(),
    ];
    filter_of(predicate(proptest::sample::select(names), value))
}

/// Text built from fragments of filter syntax, so that parsing gets past the first character often.
fn filter_like_text() -> impl Strategy<Value = String> {
    let fragment = proptest::sample::select(vec![
        "givenName",
        "dateLastModified",
        "orgs.sourcedId",
        "enabledUser",
        "role",
        "metadata.k",
        "AND",
        "or",
        "=",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "~",
        "==",
        "'",
        "''",
        "'x'",
        "'2024-05-01'",
        "'true'",
        " ",
        "\t",
        "%27",
        "%3D",
        "%",
        "+",
        "é",
        "李",
        "\u{0130}",
        ",",
        "(",
        ")",
    ]);
    proptest::collection::vec(fragment, 0..14).prop_map(|parts| parts.concat())
}

/// The fields of users that can be filtered and sorted on.
fn queryable_user_fields() -> Vec<&'static str> {
    User::FIELDS.iter().filter(|f| f.is_queryable()).map(|f| f.name()).collect()
}

/// Binds a filter to every entity type and evaluates it against `records`; must never panic.
fn bind_and_evaluate(filter: &Filter, users: &[User], sessions: &[AcademicSession], enrollments: &[Enrollment]) {
    fn evaluate<E: Queryable>(filter: &Filter, records: &[E]) {
        match filter.bind::<E>() {
            Ok(bound) => assert!(records.iter().filter(|r| bound.matches(r)).count() <= records.len()),
            Err(err) => assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField, "{err}"),
        }
    }
    evaluate(filter, users);
    evaluate(filter, sessions);
    evaluate(filter, enrollments);
    evaluate::<Org>(filter, &[]);
    evaluate::<Course>(filter, &[]);
    evaluate::<Class>(filter, &[]);
    evaluate::<Demographics>(filter, &[]);
}

proptest! {
    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = Filter::parse(&text);
        let _ = Filter::parse_encoded(&text);
    }

    #[test]
    fn parse_and_evaluate_filter_like_text(text in filter_like_text()) {
        let (users, sessions, enrollments) = (users(), sessions(), enrollments());
        for parsed in [Filter::parse(&text), Filter::parse_encoded(&text)] {
            match parsed {
                Ok(filter) => bind_and_evaluate(&filter, &users, &sessions, &enrollments),
                Err(err) => prop_assert_eq!(err.code_minor(), CodeMinorValue::InvalidFilterField),
            }
        }
    }

    #[test]
    fn display_round_trips(filter in any_filter()) {
        let text = filter.to_string();
        prop_assert_eq!(Filter::parse(&text), Ok(filter.clone()));
        // Extra whitespace and lower-case logical operators read the same.
        let loose = match &filter {
            Filter::Single(a) => format!("  {a}\t"),
            Filter::And(a, b) => format!(" {a}  and\t{b} "),
            Filter::Or(a, b) => format!("{a}\tor  {b}"),
        };
        prop_assert_eq!(Filter::parse(&loose), Ok(filter.clone()));
        // As the value of a query parameter.
        let encoded = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC).to_string();
        prop_assert_eq!(Filter::parse_encoded(&encoded), Ok(filter));
    }

    #[test]
    fn plausible_filters_bind_and_evaluate(filter in plausible_filter()) {
        bind_and_evaluate(&filter, &users(), &sessions(), &enrollments());
        prop_assert_eq!(Filter::parse(&filter.to_string()), Ok(filter));
    }

    #[test]
    fn evaluate_against_generated_records(
        filter in plausible_filter(),
        users in proptest::collection::vec(crate::strategies::user(), 0..4),
        sessions in proptest::collection::vec(crate::strategies::academic_session(), 0..4),
        enrollments in proptest::collection::vec(crate::strategies::enrollment(), 0..4),
    ) {
        bind_and_evaluate(&filter, &users, &sessions, &enrollments);
    }

    #[test]
    fn not_equal_is_the_negation_of_equal(
        field in proptest::sample::select(queryable_user_fields()),
        value in prop_oneof![Just("true".to_owned()), Just("2024-05-01".to_owned()), "[a-z0-9]{0,3}"],
        users in proptest::collection::vec(crate::strategies::user(), 1..4),
    ) {
        let eq = Filter::Single(Predicate::new(field, Op::Eq, value.clone())).bind::<User>();
        let ne = Filter::Single(Predicate::new(field, Op::Ne, value)).bind::<User>();
        if let (Ok(eq), Ok(ne)) = (eq, ne) {
            for user in &users {
                prop_assert_ne!(eq.matches(user), ne.matches(user));
            }
        }
    }

    #[test]
    fn sort_is_total_and_desc_reverses_asc(
        field in proptest::sample::select(queryable_user_fields()),
        users in proptest::collection::vec(crate::strategies::user(), 0..8),
    ) {
        let mut users = users;
        // Distinct ids, as a provider's records have.
        for (i, user) in users.iter_mut().enumerate() {
            user.base.sourced_id = format!("{i:02}");
        }
        let asc = SortSpec::<User>::parse(field, None).unwrap();
        let desc = SortSpec::<User>::parse(field, Some("desc")).unwrap();
        let mut up = users.clone();
        asc.sort(&mut up);
        let mut down = users.clone();
        desc.sort(&mut down);
        down.reverse();
        prop_assert_eq!(ids(&up), ids(&down));
        for pair in up.windows(2) {
            prop_assert!(asc.compare(&pair[0], &pair[1]).is_lt());
        }
    }
}
