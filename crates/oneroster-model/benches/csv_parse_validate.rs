//! Benchmark: parse and validate a large OneRoster 1.1 CSV set, streaming.
//!
//! Generates a set (default 1,000,000 users, 50,000 classes, 3,000,000 enrollments; see `--help`) in a
//! temporary folder, then reads every file record by record and feeds each record to the validator (SDS
//! profile), keeping no records. Reports rows per second and the peak resident memory of the parse+validate
//! phase against the size of the CSV files. The peak is measured by resetting the kernel's high-water mark
//! (`/proc/self/clear_refs`) after generation and reading `VmHWM` at the end.
//!
//! ```text
//! cargo bench -p oneroster-model --bench csv_parse_validate
//! cargo bench -p oneroster-model --bench csv_parse_validate -- --users 100000 --classes 5000 --enrollments 300000
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use oneroster_model::csv::{CsvEntity, CsvSetReader, ReadOptions};
use oneroster_model::validate::{Profile, Validator};
use oneroster_model::{AcademicSession, Class, Course, Demographics, Enrollment, Org, User};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

struct Sizes {
    users: usize,
    classes: usize,
    enrollments: usize,
    schools: usize,
}

fn parse_args() -> Sizes {
    let mut sizes = Sizes { users: 1_000_000, classes: 50_000, enrollments: 3_000_000, schools: 200 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.replace('_', "").parse().ok()).expect("a number after the flag");
        match arg.as_str() {
            "--users" => sizes.users = value(),
            "--classes" => sizes.classes = value(),
            "--enrollments" => sizes.enrollments = value(),
            "--schools" => sizes.schools = value(),
            "--help" | "-h" => {
                println!("csv_parse_validate [--users N] [--classes N] [--enrollments N] [--schools N]");
                std::process::exit(0);
            }
            _ => {} // cargo bench passes --bench; ignore what is not ours
        }
    }
    sizes
}

fn file(dir: &Path, name: &str) -> BufWriter<std::fs::File> {
    BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(name)).unwrap())
}

/// Writes the set row by row (never holding it) and returns its size in bytes.
fn generate(dir: &Path, s: &Sizes) -> u64 {
    let stamp = "2025-09-01T07:45:12.345Z";
    let mut m = file(dir, "manifest.csv");
    writeln!(m, "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1").unwrap();
    for f in ["academicSessions", "classes", "courses", "enrollments", "orgs", "users"] {
        writeln!(m, "file.{f},bulk").unwrap();
    }
    for f in ["categories", "classResources", "courseResources", "demographics", "lineItems", "resources", "results"] {
        writeln!(m, "file.{f},absent").unwrap();
    }
    drop(m);

    let mut w = file(dir, "orgs.csv");
    writeln!(w, "{}", Org::COLUMNS.join(",")).unwrap();
    writeln!(w, "trust,active,{stamp},Synthetic Trust,district,TRUST,").unwrap();
    for i in 0..s.schools {
        writeln!(w, "school-{i},active,{stamp},School {i},school,URN{i:06},trust").unwrap();
    }
    drop(w);

    let mut w = file(dir, "academicSessions.csv");
    writeln!(w, "{}", AcademicSession::COLUMNS.join(",")).unwrap();
    writeln!(w, "year-2026,active,{stamp},2025-26,schoolYear,2025-09-01,2026-08-31,,2026").unwrap();
    writeln!(w, "term-1,active,{stamp},Autumn,term,2025-09-01,2025-12-19,year-2026,2026").unwrap();
    drop(w);

    let courses = (s.classes / 10).max(1);
    let mut w = file(dir, "courses.csv");
    writeln!(w, "{}", Course::COLUMNS.join(",")).unwrap();
    for i in 0..courses {
        writeln!(w, "course-{i},active,{stamp},year-2026,Course {i},C{i},07,school-{},Mathematics,MA", i % s.schools)
            .unwrap();
    }
    drop(w);

    // Class c belongs to school c % schools; user u belongs to school u % schools.
    let mut w = file(dir, "classes.csv");
    writeln!(w, "{}", Class::COLUMNS.join(",")).unwrap();
    for i in 0..s.classes {
        writeln!(
            w,
            "class-{i},active,{stamp},Class {i},07,course-{},CL{i},scheduled,Room {},school-{},term-1,Mathematics,MA,1",
            i % courses,
            i % 40,
            i % s.schools
        )
        .unwrap();
    }
    drop(w);

    let mut w = file(dir, "users.csv");
    writeln!(w, "{}", User::COLUMNS.join(",")).unwrap();
    for i in 0..s.users {
        let role = if i % 20 == 0 { "teacher" } else { "student" };
        writeln!(
            w,
            "user-{i},active,{stamp},true,school-{},{role},user{i},{{SIS:{i}}},Given{i},Family{i},,ID{i},user{i}@school.example,,,,07,",
            i % s.schools
        )
        .unwrap();
    }
    drop(w);

    // Enrollment e puts a user of the class's school into the class, so that all references agree.
    let mut w = file(dir, "enrollments.csv");
    writeln!(w, "{}", Enrollment::COLUMNS.join(",")).unwrap();
    let users_per_school = s.users / s.schools;
    let classes_per_school = s.classes / s.schools;
    for e in 0..s.enrollments {
        let school = e % s.schools;
        let class = school + s.schools * ((e / s.schools) % classes_per_school.max(1));
        let user = school + s.schools * ((e / s.schools / classes_per_school.max(1)) % users_per_school.max(1));
        writeln!(w, "enr-{e},active,{stamp},class-{class},school-{school},user-{user},student,false,2025-09-01,")
            .unwrap();
    }
    drop(w);

    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn feed<E: CsvEntity>(reader: &mut CsvSetReader, rows: &mut u64, bad: &mut u64, mut f: impl FnMut(&E)) {
    for record in reader.records::<E>().unwrap() {
        *rows += 1;
        match record {
            Ok(entity) => f(&entity),
            Err(_) => *bad += 1,
        }
    }
}

fn main() {
    let sizes = parse_args();
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let bytes = generate(dir.path(), &sizes);
    println!(
        "generated {} users, {} classes, {} enrollments: {:.1} MB of CSV in {:.2?}",
        sizes.users,
        sizes.classes,
        sizes.enrollments,
        bytes as f64 / 1e6,
        t.elapsed()
    );

    let baseline = peak_rss_kib();
    let reset = reset_peak_rss();
    let t = Instant::now();
    let mut reader = CsvSetReader::open(dir.path(), ReadOptions::default()).unwrap();
    let mut validator = Validator::new(Profile::sds());
    let (mut rows, mut bad) = (0u64, 0u64);
    feed::<Org>(&mut reader, &mut rows, &mut bad, |r| validator.org(r));
    feed::<AcademicSession>(&mut reader, &mut rows, &mut bad, |r| validator.academic_session(r));
    feed::<Course>(&mut reader, &mut rows, &mut bad, |r| validator.course(r));
    feed::<Class>(&mut reader, &mut rows, &mut bad, |r| validator.class(r));
    feed::<User>(&mut reader, &mut rows, &mut bad, |r| validator.user(r));
    feed::<Enrollment>(&mut reader, &mut rows, &mut bad, |r| validator.enrollment(r));
    feed::<Demographics>(&mut reader, &mut rows, &mut bad, |r| validator.demographics(r));
    let report = validator.finish();
    let elapsed = t.elapsed();
    let peak = peak_rss_kib();

    println!("parsed and validated {rows} rows in {elapsed:.2?}: {:.0} rows/s", rows as f64 / elapsed.as_secs_f64());
    println!("unreadable rows: {bad}; findings: {} errors, {} warnings", report.errors, report.warnings);
    for finding in report.findings.iter().take(5) {
        println!("  {finding}");
    }
    match (peak, reset) {
        (Some(peak), true) => println!(
            "peak RSS during parse+validate: {:.1} MB = {:.2}x the CSV bytes (RSS before: {:.1} MB)",
            peak as f64 * 1024.0 / 1e6,
            peak as f64 * 1024.0 / bytes as f64,
            baseline.unwrap_or(0) as f64 * 1024.0 / 1e6
        ),
        _ => println!("peak RSS: not measurable here (no /proc/self/clear_refs)"),
    }
}
