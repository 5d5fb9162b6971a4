//! Lists the students of a Wonde school with their year group and email.
//!
//! ```sh
//! WONDE_TOKEN=… cargo run -p wonde-client --example list_students -- A1930499544 [uk|anz|za|us]
//! ```
#![allow(clippy::print_stdout)]

use futures::TryStreamExt;
use wonde_client::{ListQuery, Region, WondeClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let school = args.next().ok_or("usage: list_students SCHOOL_ID [REGION]")?;
    let region: Region = args.next().as_deref().unwrap_or("uk").parse()?;
    let token = std::env::var("WONDE_TOKEN").map_err(|_| "set WONDE_TOKEN to the API token")?.into();
    let wonde = WondeClient::builder().region(region).token(token).build()?;
    let info = wonde.school(&school).await?;
    println!("{} ({})", info.name, info.id);
    let query = ListQuery::new().include(["contact_details", "year"]);
    let mut students = std::pin::pin!(wonde.students(&school, &query));
    while let Some(s) = students.try_next().await? {
        let year = s.year_group().and_then(|y| y.name.clone()).unwrap_or_default();
        println!(
            "{}\t{} {}\t{year}\t{}",
            s.upi().unwrap_or("?"),
            s.given_name(),
            s.family_name(),
            s.email().unwrap_or("-")
        );
    }
    Ok(())
}
