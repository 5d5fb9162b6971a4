//! A standalone Secure Schools fake, for trying the CLI or a client by hand: seeds a small synthetic trust and
//! prints the base URL and the admin's bearer token.
//!
//! ```text
//! fake-secure-schools [--port N] [--seed N] [--users N]
//! ```
//!
//! The port also comes from `FAKE_SECURE_SCHOOLS_PORT` (default 0: any free port), the seed from
//! `FAKE_SECURE_SCHOOLS_SEED` (default 42), and the size from `FAKE_SECURE_SCHOOLS_USERS` (default: the small
//! trust, three schools of 52). Stops on Ctrl-C or SIGTERM.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use testkit::secure_schools::FakeSecureSchools;
use testkit::server::RunningServer;
use testkit::synthetic::TrustSpec;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Options from the command line, then the environment.
#[derive(Debug)]
struct Options {
    port: u16,
    seed: u64,
    users: Option<usize>,
}

fn parse_number<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, BoxError> {
    match value {
        None => Ok(None),
        Some(v) => v.replace('_', "").parse().map(Some).map_err(|_| format!("{name}: not a number: {v:?}").into()),
    }
}

fn options() -> Result<Options, BoxError> {
    let mut port = std::env::var("FAKE_SECURE_SCHOOLS_PORT").ok();
    let mut seed = std::env::var("FAKE_SECURE_SCHOOLS_SEED").ok();
    let mut users = std::env::var("FAKE_SECURE_SCHOOLS_USERS").ok();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg, None),
        };
        let slot = match flag.as_str() {
            "--port" => &mut port,
            "--seed" => &mut seed,
            "--users" => &mut users,
            "-h" | "--help" => {
                println!("usage: fake-secure-schools [--port N] [--seed N] [--users N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        };
        *slot = Some(inline.or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"))?);
    }
    Ok(Options {
        port: parse_number("port", port)?.unwrap_or(0),
        seed: parse_number("seed", seed)?.unwrap_or(42),
        users: parse_number("users", users)?,
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run() -> Result<(), BoxError> {
    let options = options()?;
    let spec = match options.users {
        Some(n) => TrustSpec::with_users(n),
        None => TrustSpec::small(),
    }
    .seed(options.seed);
    let trust = spec.generate();
    let fake = FakeSecureSchools::new();
    trust.seed_secure_schools(&fake)?;
    let server = RunningServer::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)), fake.router()).await?;
    println!("Secure Schools fake: {}", trust.name);
    println!("  base URL:    {}", server.url());
    println!("  admin token: {}", trust.admin.token);
    println!("  admin email: {}", trust.admin.email);
    for school in &trust.schools {
        println!(
            "  organisation {} ({}): {} users",
            school.organisation_id,
            school.name,
            fake.users(&school.organisation_id).len()
        );
    }
    println!("Ctrl-C to stop.");
    shutdown_signal().await;
    server.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("fake-secure-schools: {e}");
        std::process::exit(1);
    }
}
