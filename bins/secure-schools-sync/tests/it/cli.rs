//! The configuration's errors, the binary itself (`--help`, `demo`), and that no secret is ever printed.

use crate::support::synced_env;
use secure_schools_sync::config::{Config, ConfigError};
use secure_schools_sync::doctor;
use secure_schools_sync::output::Output;
use std::path::Path;
use std::process::Command;

const GOOD: &str = r#"
store = "rosterbridge.db"

[secure_schools]
base_url = "https://api.secureschools.example/v1/"

[[connections]]
name = "northfield"
kind = "microsoft"
tenant = "northfield.onmicrosoft.com"
client_id = "00000000-0000-0000-0000-000000000000"

[[connection_groups]]
name = "Northfield Primary"
organisation = "org-northfield-primary"
connection = "northfield"
groups = [
  { id = "11111111-1111-1111-1111-111111111111", name = "All Staff", role = "staff" },
  { id = "22222222-2222-2222-2222-222222222222", name = "All Pupils", role = "pupil" },
]
"#;

#[test]
fn the_commented_example_configuration_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/secure-schools-sync.example.toml");
    let config = Config::load(&path).unwrap();
    // A Microsoft, a Google and a Wonde connection; the Wonde connection makes its own group.
    assert_eq!(config.connections.len(), 3);
    assert!(config.connections[0].is_microsoft());
    assert!(config.connections.iter().any(|c| c.is_google()));
    assert!(config.connections.iter().any(|c| c.is_wonde()));
    assert_eq!(config.organisations().len(), 3);
    assert_eq!(config.daemon.listen.to_string(), "127.0.0.1:8787");
}

#[test]
fn organisations_run_at_once_is_checked() {
    let good = GOOD.replace("role = \"pupil\"", "role = \"student\"");
    assert_eq!(Config::parse(&good, Path::new("sss.toml")).unwrap().sync.parallel_organisations, 4);
    let one = format!("{good}\n[sync]\nparallel_organisations = 1\n");
    assert_eq!(Config::parse(&one, Path::new("sss.toml")).unwrap().sync.parallel_organisations, 1);
    let zero = format!("{good}\n[sync]\nparallel_organisations = 0\n");
    let text = Config::parse(&zero, Path::new("sss.toml")).unwrap_err().to_string();
    assert!(text.contains("`sync.parallel_organisations`: must be between 1 and 64"), "{text}");
}

#[test]
fn a_wrong_value_is_reported_with_its_key_and_line() {
    let err = Config::parse(GOOD, Path::new("sss.toml")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert!(text.contains("`connection_groups[0].groups[1].role`"), "{text}");
    assert!(text.contains("sss.toml:19"), "the line of the second group: {text}");
    assert!(text.contains("`pupil` is not a role"), "{text}");

    let bad_connection = GOOD
        .replace("role = \"pupil\"", "role = \"student\"")
        .replace("connection = \"northfield\"", "connection = \"southfield\"");
    let text = Config::parse(&bad_connection, Path::new("sss.toml")).unwrap_err().to_string();
    assert!(
        text.contains("sss.toml:16: `connection_groups[0].connection`: no connection is named `southfield`"),
        "{text}"
    );
}

#[test]
fn a_syntax_error_or_an_unknown_key_is_reported_with_its_line() {
    let text =
        Config::parse("[secure_schools]\nbase_url = \"https://x.example/\"\nbase_urll = 1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("base_urll"), "{text}");
    let text = Config::parse("[secure_schools\n", Path::new("c.toml")).unwrap_err().to_string();
    assert!(text.contains("line 1"), "{text}");
}

#[test]
fn the_binary_prints_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_secure-schools-sync")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["connect", "groups", "plan", "sync", "doctor", "daemon", "runs", "demo"] {
        assert!(text.contains(command), "{command} missing from --help:\n{text}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_secure-schools-sync")).args(["sync", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("all"));
}

#[test]
fn the_binary_runs_the_demo_with_no_credentials() {
    let output = Command::new(env!("CARGO_BIN_EXE_secure-schools-sync"))
        .arg("demo")
        .env_remove("SECURE_SCHOOLS_TOKEN")
        .env_remove("ROSTERBRIDGE_SECRET_KEY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for step in [
        "1. connect microsoft",
        "2. groups",
        "3. doctor",
        "4. plan",
        "5. sync all",
        "7. changes at the source",
        "9. sync all",
        "Done:",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(!stdout.contains("ssk_"), "the Secure Schools token must not be printed");
    assert!(!stdout.contains("fake-rt.") && !stdout.contains("fake-at."), "no token may be printed");
}

#[test]
fn a_missing_configuration_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_secure-schools-sync"))
        .args(["--config", "/nonexistent/secure-schools-sync.toml", "plan"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read /nonexistent/secure-schools-sync.toml"), "{stderr}");
}

#[tokio::test]
async fn no_token_or_secret_appears_in_any_output() {
    let env = synced_env().await;
    let refresh = env.app.store().refresh_token(&"trust".into()).await.unwrap().unwrap();
    use secrecy::ExposeSecret;
    let (mut out, text) = Output::capture();
    doctor::doctor(&env.app, false, &mut out).await.unwrap();
    doctor::doctor(&env.app, true, &mut out).await.unwrap();
    secure_schools_sync::commands::runs(&env.app, None, 10, true, &mut out).await.unwrap();
    secure_schools_sync::commands::plan(&env.app, None, true, &mut out).await.unwrap();
    let text = text.text();
    assert!(!text.contains(refresh.expose_secret()));
    assert!(!text.contains(&env.trust().admin.token));
    assert!(!text.contains("fake-at.") && !text.contains("fake-rt."));
    let debug = format!("{:?} {:?}", env.app, env.sandbox.secrets());
    assert!(!debug.contains(&env.trust().admin.token), "{debug}");
    assert!(!debug.contains(secure_schools_sync::demo::CONFIDENTIAL_CLIENT_SECRET), "{debug}");
}
