//! `fake-graph`: the fake Microsoft Graph as a standalone server, for manual runs against a local "tenant".
//!
//! ```text
//! fake-graph [--port PORT] [--users N [--seed S]]
//! ```
//!
//! Listens on `127.0.0.1:PORT` (`--port`, else `FAKE_GRAPH_PORT`, else a free port), seeds the built-in sample
//! trust (or, with `--users`, a synthetic trust of about N users), prints the URLs and credentials to configure a
//! client with, and serves until Ctrl-C. Time runs in real time; device code sign-ins are approved with a POST to
//! `/devicelogin`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::net::SocketAddr;
use testkit::graph::{AppRegistration, FakeGraph, sample};
use testkit::server::RunningServer;
use testkit::synthetic::TrustSpec;

struct Args {
    port: u16,
    users: Option<usize>,
    seed: Option<u64>,
}

fn usage() -> String {
    "usage: fake-graph [--port PORT] [--users N [--seed S]]\n\n\
     --port PORT   listen on 127.0.0.1:PORT (default: $FAKE_GRAPH_PORT, else a free port)\n\
     --users N     seed a synthetic trust of about N users instead of the small built-in sample\n\
     --seed S      the synthetic trust's seed (default: the generator's)\n"
        .to_owned()
}

fn parse_args() -> Result<Args, String> {
    let mut port: Option<u16> = None;
    let mut users = None;
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n\n{}", usage()));
        match arg.as_str() {
            "--port" | "-p" => port = Some(value("--port")?.parse().map_err(|e| format!("--port: {e}"))?),
            "--users" => users = Some(value("--users")?.parse().map_err(|e| format!("--users: {e}"))?),
            "--seed" => seed = Some(value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--help" | "-h" => return Err(usage()),
            other => return Err(format!("unknown argument `{other}`\n\n{}", usage())),
        }
    }
    let port = match port {
        Some(p) => p,
        None => match std::env::var("FAKE_GRAPH_PORT") {
            Ok(v) => v.parse().map_err(|e| format!("FAKE_GRAPH_PORT: {e}"))?,
            Err(_) => 0,
        },
    };
    Ok(Args { port, users, seed })
}

/// The fake to serve, and the user principal name of its admin.
fn build(args: &Args) -> (FakeGraph, String) {
    let Some(n) = args.users else {
        let admin = format!("admin@{}", sample::directory().domain);
        return (sample::fake(), admin);
    };
    let mut spec = TrustSpec::with_users(n);
    if let Some(seed) = args.seed {
        spec = spec.seed(seed);
    }
    let trust = spec.generate();
    let fake = FakeGraph::from_directory(&trust.directory);
    fake.register_app(
        AppRegistration::confidential(sample::CLIENT_ID, sample::CLIENT_SECRET).with_application_permissions([
            "User.Read.All",
            "GroupMember.Read.All",
            "Organization.Read.All",
            "RoleManagement.Read.Directory",
        ]),
    );
    fake.register_app(AppRegistration::public(sample::PUBLIC_CLIENT_ID));
    let admin_id = trust.admin.directory_user_id.clone();
    let _ = fake.assign_directory_role(&admin_id, sample::APPLICATION_ADMINISTRATOR, "Application Administrator");
    let _ = fake.assign_directory_role(
        &admin_id,
        sample::CLOUD_APPLICATION_ADMINISTRATOR,
        "Cloud Application Administrator",
    );
    (fake, trust.admin.email.clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let (fake, admin) = build(&args);
    fake.use_real_time();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = RunningServer::start_on(addr, fake.router()).await?;
    let base = server.url();
    let tenant = fake.tenant_id();
    println!("Fake Microsoft Graph listening on {base}");
    println!();
    println!("  authority root : {base}/      (token endpoint {base}/{tenant}/oauth2/v2.0/token)");
    println!("  Graph root     : {base}/      (API at {base}/v1.0/)");
    println!("  tenant         : {tenant} ({})", fake.domain());
    println!("  client id      : {}", sample::CLIENT_ID);
    println!("  client secret  : {}", sample::CLIENT_SECRET);
    println!("  public client  : {} (device code flow)", sample::PUBLIC_CLIENT_ID);
    println!("  admin          : {admin}");
    println!();
    println!("Approve a device code:  curl -d 'user_code=CODE&user={admin}' {base}/devicelogin");
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    server.stop().await;
    Ok(())
}
