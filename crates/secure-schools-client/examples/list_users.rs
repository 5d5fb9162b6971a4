//! Lists the users of one Secure Schools organisation.
//!
//! ```sh
//! SECURE_SCHOOLS_URL=https://secureschools.example/api/v1/ SECURE_SCHOOLS_TOKEN=... \
//!     cargo run -p secure-schools-client --example list_users -- <organisation id> [updated since, RFC 3339]
//! ```

use futures::TryStreamExt;
use secure_schools_client::{SecretString, SecureSchoolsClient, Url, UsersQuery};
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = std::env::var("SECURE_SCHOOLS_URL").map_err(|_| "set SECURE_SCHOOLS_URL to the API's base URL")?;
    let token = std::env::var("SECURE_SCHOOLS_TOKEN").map_err(|_| "set SECURE_SCHOOLS_TOKEN to an admin's token")?;
    let mut args = std::env::args().skip(1);
    let org = args.next().ok_or("usage: list_users <organisation id> [updated since, RFC 3339]")?;
    let mut query = UsersQuery::new().limit(500);
    if let Some(since) = args.next() {
        query = query.updated_since(since.parse()?);
    }

    let client =
        SecureSchoolsClient::builder().base_url(Url::parse(&base_url)?).token(SecretString::from(token)).build()?;

    let me = client.me().await?;
    if !me.is_admin_of(&org) {
        writeln!(std::io::stderr(), "note: {} is not an admin of {org}", me.email)?;
    }

    let mut out = std::io::stdout().lock();
    let mut users = client.users(&org, query);
    let mut count = 0usize;
    while let Some(user) = users.try_next().await? {
        count += 1;
        writeln!(
            out,
            "{}\t{}\t{} {}\t{}\t{}\t{}",
            user.id,
            user.email,
            user.first_name,
            user.last_name,
            user.role,
            user.status,
            user.external_id.as_deref().unwrap_or("-"),
        )?;
    }
    writeln!(out, "{count} user(s)")?;
    Ok(())
}
