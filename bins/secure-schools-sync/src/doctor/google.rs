//! The checks of a Google Workspace connection: the key, domain-wide delegation (the token grant), and that the
//! admin the service account acts as can list organisational units and the users of each selected unit.

use super::{Checks, T_GROUPS_SELECTED};
use crate::app::{App, Google};
use crate::config::ConnectionConfig;
use futures::TryStreamExt;
use google_directory_client::UserQuery;
use google_directory_client::auth::{AuthError, SCOPES, TokenSource};

const T_KEY: &str = "The Google service account key can be read";
const T_DELEGATION: &str = "Domain-wide delegation is set up (the token grant works)";
const T_ORG_UNITS: &str = "The admin can list organisational units";
const T_USERS: &str = "The admin can list the users of each selected organisational unit";

const SKIP: &str = "needs a working Google token grant";

/// Runs the Google checks of one connection.
pub(crate) async fn check_connection(app: &App, connection: &ConnectionConfig, checks: &mut Checks) {
    let g = match app.google(&connection.name) {
        Ok(g) => g,
        Err(e) => {
            let remedy = match (&connection.service_account_key_file, &connection.service_account_key_env) {
                (Some(path), _) => format!(
                    "download a JSON key of the service account (Google Cloud console → IAM & Admin → Service \
                     accounts → Keys → Add key) and save it as {}",
                    path.display()
                ),
                (None, Some(var)) => format!("set the environment variable {var} to the service account key's JSON"),
                _ if connection.origin.is_store() => {
                    "delete the connection in the web UI and create it again, pasting the service account's JSON key"
                        .to_owned()
                }
                _ => "fix the connection in the configuration".to_owned(),
            };
            checks.fail("google.key", T_KEY, format!("{e:#}"), remedy);
            for (id, title) in [
                ("google.delegation", T_DELEGATION),
                ("google.read_org_units", T_ORG_UNITS),
                ("google.read_users", T_USERS),
                ("groups.selected", T_GROUPS_SELECTED),
            ] {
                checks.skip(id, title, "needs the service account key");
            }
            return;
        }
    };
    let key = g.tokens.key();
    checks.pass("google.key", T_KEY, format!("service account {}", key.client_email()));
    if let Err(e) = g.tokens.token().await {
        let (detail, remedy) = delegation_failure(g, &e);
        checks.fail("google.delegation", T_DELEGATION, detail, remedy);
        for (id, title) in [
            ("google.read_org_units", T_ORG_UNITS),
            ("google.read_users", T_USERS),
            ("groups.selected", T_GROUPS_SELECTED),
        ] {
            checks.skip(id, title, SKIP);
        }
        return;
    }
    checks.pass(
        "google.delegation",
        T_DELEGATION,
        format!(
            "{} acts as {} with the read-only user and organisational unit scopes",
            key.client_email(),
            g.tokens.subject()
        ),
    );
    let units = match g.directory.org_units().await {
        Ok(units) => {
            checks.pass("google.read_org_units", T_ORG_UNITS, format!("{} organisational unit(s)", units.len()));
            units
        }
        Err(e) => {
            checks.fail("google.read_org_units", T_ORG_UNITS, e.to_string(), admin_remedy(g));
            checks.skip("google.read_users", T_USERS, "needs the organisational units");
            checks.skip("groups.selected", T_GROUPS_SELECTED, "needs the organisational units");
            return;
        }
    };
    let mut selected: Vec<(String, String)> = Vec::new();
    for cg in app.config().connection_groups.iter().filter(|c| c.connection == connection.name) {
        for unit in &cg.groups {
            selected.push((unit.id.clone(), cg.organisation.clone()));
        }
    }
    if selected.is_empty() {
        checks.skip("groups.selected", T_GROUPS_SELECTED, "no connection group uses this connection");
        selected.push(("/".into(), String::new()));
    }
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut readable = 0usize;
    for (path, organisation) in &selected {
        let Some(resolved) = connectors::google::resolve(&units, path) else {
            missing.push(format!("`{path}` (selected for {organisation}) does not exist"));
            continue;
        };
        let probe = g.directory.user_pages(UserQuery::org_unit(&resolved).max_results(1));
        match std::pin::pin!(probe).try_next().await {
            Ok(_) => readable += 1,
            Err(e) => unreadable.push(format!("`{resolved}`: {e}")),
        }
    }
    if unreadable.is_empty() {
        checks.pass("google.read_users", T_USERS, format!("{readable} unit(s) readable"));
    } else {
        checks.fail("google.read_users", T_USERS, unreadable.join("; "), admin_remedy(g));
    }
    if !selected.iter().all(|(_, org)| org.is_empty()) {
        if missing.is_empty() {
            checks.pass(
                "groups.selected",
                T_GROUPS_SELECTED,
                format!("{} selected unit(s), all present", selected.len()),
            );
        } else {
            checks.fail(
                "groups.selected",
                T_GROUPS_SELECTED,
                missing.join("; "),
                format!(
                    "select existing units by their full path (`secure-schools-sync groups --connection {}` lists \
                     them); an organisation with a missing unit does not sync",
                    connection.name
                ),
            );
        }
    }
}

fn admin_remedy(g: &Google) -> String {
    format!(
        "{} must be a super administrator, or hold an admin role that can read users and organisational units, in \
         the Google Admin console (Account → Admin roles)",
        g.tokens.subject()
    )
}

/// What a refused token grant means and what to do.
fn delegation_failure(g: &Google, e: &AuthError) -> (String, String) {
    let key = g.tokens.key();
    let client_id = key.client_id().unwrap_or("(the service account's client id)");
    if e.is_delegation_missing() {
        (
            format!("Google refused the grant: {e}"),
            format!(
                "in the Google Admin console open Security → Access and data control → API controls → Manage \
                 Domain-wide Delegation, and add client ID {client_id} with the OAuth scopes {} (changes can take a \
                 while to apply)",
                SCOPES.join(",")
            ),
        )
    } else if e.is_unknown_subject() {
        (
            format!("Google does not know the admin {}: {e}", g.tokens.subject()),
            "set admin_subject to the email of an existing admin user of the domain".into(),
        )
    } else if e.is_key_refused() {
        (
            format!("Google refused the key {}: {e}", key.private_key_id().unwrap_or("?")),
            "the key was deleted or the service account disabled: create a new JSON key in the Google Cloud console \
             and configure it"
                .into(),
        )
    } else if e.is_clock_skew() {
        (
            e.to_string(),
            "set this machine's clock right (enable NTP): Google refuses assertions from a clock out of step".into(),
        )
    } else {
        (e.to_string(), format!("check the network and {}", key.token_uri()))
    }
}
