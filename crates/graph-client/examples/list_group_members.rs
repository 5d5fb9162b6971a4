//! Lists the users in a group (directly or through nested groups) of a real tenant.
//!
//! App-only (client credentials): register an app with the `GroupMember.Read.All` and `User.Read.All`
//! application permissions (admin consent), create a client secret, then:
//!
//! ```text
//! GRAPH_TENANT=contoso.onmicrosoft.com GRAPH_CLIENT_ID=<app id> GRAPH_CLIENT_SECRET=<secret> \
//!   cargo run -p graph-client --example list_group_members -- <group object id>
//! ```
//!
//! `GRAPH_CLOUD` may be `global` (default), `usgov-l4`, `usgov-l5` or `china`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use futures::TryStreamExt;
use graph_client::auth::ClientCredentials;
use graph_client::{Cloud, GraphClient, Tenant, ThrottleStats};
use std::sync::Arc;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let group = std::env::args().nth(1).ok_or("usage: list_group_members <group object id>")?;
    let cloud = match std::env::var("GRAPH_CLOUD").unwrap_or_default().as_str() {
        "" | "global" => Cloud::Global,
        "usgov-l4" => Cloud::UsGovL4,
        "usgov-l5" => Cloud::UsGovL5,
        "china" => Cloud::China,
        other => return Err(format!("unknown GRAPH_CLOUD `{other}`").into()),
    };
    let tenant = Tenant::new(env("GRAPH_TENANT")?)?;
    let tokens =
        ClientCredentials::new(cloud.clone(), tenant, env("GRAPH_CLIENT_ID")?, env("GRAPH_CLIENT_SECRET")?.into());
    let stats = Arc::new(ThrottleStats::default());
    let graph = GraphClient::builder().cloud(cloud).token_source(Arc::new(tokens)).observer(stats.clone()).build()?;

    let g = graph.group(&group).await?;
    println!(
        "{} ({}{})",
        g.display_name.as_deref().unwrap_or("?"),
        g.kind(),
        if g.is_dynamic() { ", dynamic" } else { "" }
    );
    let mut members = std::pin::pin!(graph.transitive_members(&group));
    let mut count = 0;
    while let Some(user) = members.try_next().await? {
        count += 1;
        println!(
            "{}\t{}\t{}",
            user.id(),
            user.user_principal_name().unwrap_or(""),
            if user.account_enabled() == Some(false) { "blocked" } else { "enabled" }
        );
    }
    let s = stats.snapshot();
    eprintln!("{count} users; {} requests, {} throttled, {} retries", s.requests, s.throttled, s.retries);
    Ok(())
}
