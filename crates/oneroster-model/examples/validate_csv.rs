//! Reads a OneRoster 1.1 CSV set (a folder or a .zip), validates it with the School Data Sync profile, and prints
//! the findings. Streams record by record, so a set of millions of rows fits in little memory.
//!
//! ```text
//! cargo run -p oneroster-model --example validate_csv -- fixtures/oneroster/csv/st-aidans
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use oneroster_model::csv::{CsvEntity, CsvSetReader, ReadOptions};
use oneroster_model::validate::{Profile, Validator};
use oneroster_model::{AcademicSession, Class, Course, Demographics, Enrollment, Org, User};

fn feed<E: CsvEntity>(
    reader: &mut CsvSetReader,
    bad_rows: &mut usize,
    mut each: impl FnMut(&E),
) -> Result<(), Box<dyn std::error::Error>> {
    for record in reader.records::<E>()? {
        match record {
            Ok(entity) => each(&entity),
            Err(issues) => {
                *bad_rows += 1;
                for issue in issues {
                    eprintln!("{issue}");
                }
            }
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: validate_csv <folder or zip>")?;
    let mut reader = CsvSetReader::open(&path, ReadOptions::default())?;
    let mut validator = Validator::new(Profile::sds());
    let mut bad_rows = 0;
    feed::<Org>(&mut reader, &mut bad_rows, |r| validator.org(r))?;
    feed::<AcademicSession>(&mut reader, &mut bad_rows, |r| validator.academic_session(r))?;
    feed::<Course>(&mut reader, &mut bad_rows, |r| validator.course(r))?;
    feed::<Class>(&mut reader, &mut bad_rows, |r| validator.class(r))?;
    feed::<User>(&mut reader, &mut bad_rows, |r| validator.user(r))?;
    feed::<Enrollment>(&mut reader, &mut bad_rows, |r| validator.enrollment(r))?;
    feed::<Demographics>(&mut reader, &mut bad_rows, |r| validator.demographics(r))?;
    for warning in reader.warnings() {
        eprintln!("warning: {warning}");
    }
    let report = validator.finish();
    for finding in &report.findings {
        println!("{finding}");
    }
    println!(
        "{} records; {} errors, {} warnings; {bad_rows} unreadable rows",
        report.records(),
        report.errors,
        report.warnings
    );
    if report.is_ok() && bad_rows == 0 { Ok(()) } else { Err("the set has errors".into()) }
}
