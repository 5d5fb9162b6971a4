//! CSV binding: the sample set, every messy case real exports produce, located errors, round trips, no panics.

use crate::strategies;
use oneroster_model::csv::{self as orcsv, CsvError, CsvIssue, CsvSetReader, FileMode, ReadOptions, WriteOptions};
use oneroster_model::*;
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

const MANIFEST_USERS_ONLY: &str = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n";

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/oneroster/csv/st-aidans")
}

/// Writes a set of files into a fresh temporary folder.
fn set(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

fn users_set(users_csv: &str) -> tempfile::TempDir {
    set(&[("manifest.csv", MANIFEST_USERS_ONLY.as_bytes()), ("users.csv", users_csv.as_bytes())])
}

fn read(path: &Path) -> Result<orcsv::CsvSet, CsvError> {
    orcsv::read_roster(path, &ReadOptions::default())
}

fn issues(err: CsvError) -> Vec<CsvIssue> {
    match err {
        CsvError::Invalid { issues } => issues.issues,
        other => panic!("expected row issues, got {other}"),
    }
}

const USERS_HEADER: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password";

#[test]
fn reads_the_sample_set() {
    let set = read(&sample()).unwrap();
    assert_eq!(set.manifest.oneroster_version, "1.1");
    assert_eq!(set.manifest.mode(orcsv::CsvFile::Users), FileMode::Bulk);
    assert_eq!(set.manifest.source_system_name.as_deref(), Some("rosterbridge fixtures"));
    let r = &set.roster;
    assert_eq!((r.orgs.len(), r.academic_sessions.len(), r.courses.len(), r.classes.len()), (2, 2, 1, 1));
    assert_eq!((r.users.len(), r.enrollments.len(), r.demographics.len()), (4, 3, 1));
    assert_eq!(r.classes[0].periods, vec!["1", "2"]);
    assert_eq!(r.users[0].user_ids.len(), 2);
    assert_eq!(r.users[3].given_name, "Seán");
    assert_eq!(r.enrollments[2].primary, Some(true));
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
}

#[test]
fn sample_set_round_trips_through_a_folder_and_a_zip() {
    let original = read(&sample()).unwrap().roster;
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("folder");
    orcsv::write_roster(&original, &folder, &WriteOptions::default()).unwrap();
    assert_eq!(read(&folder).unwrap().roster, original);
    let zip = out.path().join("set.zip");
    orcsv::write_roster(&original, &zip, &WriteOptions::default().zip(true)).unwrap();
    assert_eq!(read(&zip).unwrap().roster, original);
}

#[test]
fn accepts_messy_but_meaningful_exports() {
    // BOM, CRLF, columns in another order and letter case, optional columns left out, TRUE in capitals,
    // blank status and dateLastModified (bulk), a date-time without zone, a quoted grade list, userIds,
    // a metadata column, and a trailing blank line.
    let csv = "\u{feff}SOURCEDID,Role,enabledUser,orgSourcedIds,username,givenName,familyName,grades,userIds,dateLastModified,status,metadata.house\r\n\
               u1,Student,TRUE,\"s1, s2\",ada,Ada,Lovelace,\"09,10,11\",\"{LDAP:ada},{SIS:1}\",,,Red\r\n\
               u2,teacher,false,s1,grace,Grace,Hopper,,,2025-01-02 03:04:05,Active,\r\n\
               \r\n";
    let dir = users_set(csv);
    let set = read(dir.path()).unwrap();
    let users = &set.roster.users;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].role, RoleType::Student);
    assert!(users[0].enabled_user && !users[1].enabled_user);
    assert_eq!(users[0].orgs.iter().map(|o| o.sourced_id.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
    assert_eq!(users[0].grades, vec![Grade::Ninth, Grade::Tenth, Grade::Eleventh]);
    assert_eq!(users[0].user_ids[1], UserId { kind: "SIS".into(), identifier: "1".into() });
    assert_eq!(users[0].base.status, Status::Active);
    assert_eq!(users[0].base.date_last_modified, None);
    assert_eq!(users[0].base.metadata["house"], "Red");
    assert!(!users[1].base.metadata.contains_key("house"), "a blank metadata cell is absent");
    assert_eq!(
        oneroster_model::datetime::format_datetime(&users[1].base.date_last_modified.unwrap()),
        "2025-01-02T03:04:05.000Z"
    );
}

#[test]
fn lf_line_ends_and_dates_without_time() {
    let manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.academicSessions,bulk\nfile.enrollments,delta\n";
    let sessions = "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n\
                    t1,,,Autumn,term,2025-09-01T00:00:00Z,2025-12-19,,2026\n";
    let enrollments = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
                       e1,tobedeleted,2025-10-01,c1,s1,u1,student,,2025-09-01,\n";
    let dir = set(&[
        ("manifest.csv", manifest.as_bytes()),
        ("academicSessions.csv", sessions.as_bytes()),
        ("enrollments.csv", enrollments.as_bytes()),
    ]);
    let roster = read(dir.path()).unwrap().roster;
    assert_eq!(roster.academic_sessions[0].start_date.to_string(), "2025-09-01");
    let e = &roster.enrollments[0];
    assert_eq!(e.base.status, Status::ToBeDeleted);
    assert_eq!(
        oneroster_model::datetime::format_datetime(&e.base.date_last_modified.unwrap()),
        "2025-10-01T00:00:00.000Z"
    );
    assert_eq!(e.begin_date.unwrap().to_string(), "2025-09-01");
    assert_eq!(e.end_date, None);
}

#[test]
fn every_error_names_file_line_column_and_value_and_bad_rows_do_not_hide_others() {
    let csv = format!(
        "{USERS_HEADER}\n\
         u1,active,,maybe,s1,student,a,,A,B,,,,,,,,\n\
         u2,active,,true,s1,student,b,,B,C,,,,,,,,\n\
         u3,deleted,yesterday,true,s1,student,c,{{oops,C,D,,,,,,,,\n\
         u4,active,,true,s1,,d,,D,E,,,,,,,,\n"
    );
    let dir = users_set(&csv);
    let found = issues(read(dir.path()).unwrap_err());
    let at = |line: u64, column: &str| {
        found
            .iter()
            .find(|i| i.line == line && i.column.as_deref() == Some(column))
            .unwrap_or_else(|| panic!("no issue at line {line} column {column}: {found:#?}"))
    };
    let i = at(2, "enabledUser");
    assert_eq!((i.file.as_str(), i.value.as_deref()), ("users.csv", Some("maybe")));
    assert_eq!(at(4, "status").value.as_deref(), Some("deleted"));
    assert_eq!(at(4, "dateLastModified").value.as_deref(), Some("yesterday"));
    assert_eq!(at(4, "userIds").value.as_deref(), Some("{oops"));
    assert!(at(5, "role").message.contains("required"));
    assert_eq!(found.len(), 5, "{found:#?}");
    let text = found[0].to_string();
    assert!(text.contains("users.csv line 2 column `enabledUser` value \"maybe\""), "{text}");
}

#[test]
fn delta_files_require_status_and_date_last_modified() {
    let manifest = "propertyName,value\noneroster.version,1.1\nfile.users,delta\n";
    let csv = format!("{USERS_HEADER}\nu1,,,true,s1,student,a,,A,B,,,,,,,,\n");
    let dir = set(&[("manifest.csv", manifest.as_bytes()), ("users.csv", csv.as_bytes())]);
    let found = issues(read(dir.path()).unwrap_err());
    let columns: Vec<_> = found.iter().map(|i| i.column.as_deref().unwrap()).collect();
    assert_eq!(columns, ["status", "dateLastModified"]);
    assert!(found[0].message.contains("delta"));
}

#[test]
fn collects_problems_up_to_a_cap_and_counts_all() {
    let mut csv = format!("{USERS_HEADER}\n");
    for i in 0..50 {
        csv.push_str(&format!("u{i},active,,notabool,s1,student,a,,A,B,,,,,,,,\n"));
    }
    let dir = users_set(&csv);
    let err = orcsv::read_roster(dir.path(), &ReadOptions::default().max_issues(10)).unwrap_err();
    let all = err.issues().unwrap();
    assert_eq!(all.issues.len(), 10);
    assert_eq!(all.total, 50);
    assert!(err.to_string().contains("and 40 more"), "{err}");
}

#[test]
fn file_level_problems() {
    // No manifest.
    let dir = set(&[("users.csv", USERS_HEADER.as_bytes())]);
    assert!(matches!(read(dir.path()), Err(CsvError::MissingManifest { .. })));

    // The manifest names a file the set lacks.
    let dir = set(&[("manifest.csv", MANIFEST_USERS_ONLY.as_bytes())]);
    let err = read(dir.path()).unwrap_err();
    assert!(matches!(&err, CsvError::MissingFile { file, mode: FileMode::Bulk } if file == "users.csv"), "{err}");

    // A required column is missing.
    let dir = users_set("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,givenName,familyName\n");
    let found = issues(read(dir.path()).unwrap_err());
    assert_eq!(found[0].column.as_deref(), Some("username"));
    assert_eq!(found[0].line, 1);

    // A row with the wrong number of fields.
    let dir = users_set(&format!("{USERS_HEADER}\nu1,active,,true\n"));
    let found = issues(read(dir.path()).unwrap_err());
    assert_eq!(found[0].line, 2);
    assert!(found[0].message.contains("4 fields"), "{}", found[0]);

    // Not UTF-8.
    let mut bytes = format!("{USERS_HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"u1,active,,true,s1,student,a,,\xff\xfe,B,,,,,,,,\n");
    let dir = set(&[("manifest.csv", MANIFEST_USERS_ONLY.as_bytes()), ("users.csv", &bytes)]);
    let found = issues(read(dir.path()).unwrap_err());
    assert!(found[0].message.contains("UTF-8"), "{}", found[0]);

    // A manifest for another OneRoster version, and a bad mode.
    let dir = set(&[("manifest.csv", b"propertyName,value\noneroster.version,1.2\nfile.users,sometimes\n")]);
    let found = issues(read(dir.path()).unwrap_err());
    assert!(
        found.iter().any(|i| i.column.as_deref() == Some("oneroster.version") && i.value.as_deref() == Some("1.2"))
    );
    assert!(found.iter().any(|i| i.value.as_deref() == Some("sometimes")));

    // Not a zip.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("set.zip");
    std::fs::write(&fake, b"PK but not really").unwrap();
    assert!(matches!(read(&fake), Err(CsvError::Zip { .. })));
}

#[test]
fn unknown_columns_and_unread_files_are_warnings() {
    let manifest = "propertyName,value\noneroster.version,1.1\nfile.users,bulk\nfile.lineItems,bulk\n";
    let csv = format!("{USERS_HEADER},shoeSize\nu1,active,,true,s1,student,a,,A,B,,,,,,,,,44\n");
    let dir = set(&[
        ("manifest.csv", manifest.as_bytes()),
        ("users.csv", csv.as_bytes()),
        ("lineItems.csv", b"sourcedId\n"),
        ("orgs.csv", b"sourcedId,name,type\n"),
    ]);
    let set = read(dir.path()).unwrap();
    assert_eq!(set.roster.users.len(), 1);
    let messages: Vec<String> = set.warnings.iter().map(ToString::to_string).collect();
    assert!(messages.iter().any(|m| m.contains("shoeSize")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("lineItems.csv") && m.contains("gradebook")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("orgs.csv") && m.contains("absent")), "{messages:?}");
}

#[test]
fn zip_with_files_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("export-2025/manifest.csv", opts).unwrap();
    zip.write_all(MANIFEST_USERS_ONLY.as_bytes()).unwrap();
    zip.start_file("export-2025/Users.csv", opts).unwrap();
    zip.write_all(format!("{USERS_HEADER}\nu1,active,,true,s1,student,a,,A,B,,,,,,,,\n").as_bytes()).unwrap();
    zip.finish().unwrap();
    let set = read(&path).unwrap();
    assert_eq!(set.roster.users[0].username, "a");
}

#[test]
fn streaming_reader_yields_records_and_row_errors_in_order() {
    let csv = format!(
        "{USERS_HEADER}\nu1,active,,true,s1,student,a,,A,B,,,,,,,,\nu2,active,,nope,s1,student,b,,B,C,,,,,,,,\nu3,active,,true,s1,student,c,,C,D,,,,,,,,\n"
    );
    let dir = users_set(&csv);
    let mut reader = CsvSetReader::open(dir.path(), ReadOptions::default()).unwrap();
    let results: Vec<_> = reader.records::<User>().unwrap().collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().base.sourced_id, "u1");
    assert_eq!(results[1].as_ref().unwrap_err()[0].line, 3);
    assert_eq!(results[2].as_ref().unwrap().base.sourced_id, "u3");
    // A kind the manifest marks absent yields nothing.
    assert_eq!(reader.records::<Org>().unwrap().count(), 0);
}

#[test]
fn delta_mode_is_written_to_the_manifest() {
    let roster = read(&sample()).unwrap().roster;
    let out = tempfile::tempdir().unwrap();
    let options = WriteOptions::default()
        .mode(EntityKind::User, FileMode::Delta)
        .mode(EntityKind::Demographics, FileMode::Absent);
    orcsv::write_roster(&roster, out.path(), &options).unwrap();
    let back = read(out.path()).unwrap();
    assert_eq!(back.manifest.mode(orcsv::CsvFile::Users), FileMode::Delta);
    assert_eq!(back.manifest.mode(orcsv::CsvFile::Demographics), FileMode::Absent);
    assert!(!out.path().join("demographics.csv").exists());
    assert_eq!(back.roster.users, roster.users);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_entity_round_trips_through_csv(roster in strategies::roster(), zip in any::<bool>()) {
        let out = tempfile::tempdir().unwrap();
        let target = if zip { out.path().join("set.zip") } else { out.path().join("set") };
        orcsv::write_roster(&roster, &target, &WriteOptions::default().zip(zip)).unwrap();
        let back = orcsv::read_roster(&target, &ReadOptions::default()).unwrap();
        prop_assert_eq!(back.roster, roster);
    }

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = set(&[("manifest.csv", MANIFEST_USERS_ONLY.as_bytes()), ("users.csv", &bytes)]);
        let _ = read(dir.path());
        let dir = set(&[("manifest.csv", &bytes)]);
        let _ = read(dir.path());
    }

    #[test]
    fn reader_never_panics_on_csv_like_rows(rows in proptest::collection::vec("[a-zA-Z0-9{}:,\" \\-]{0,60}", 0..8)) {
        let csv = format!("{USERS_HEADER}\n{}", rows.join("\n"));
        let dir = users_set(&csv);
        let _ = read(dir.path());
    }
}
