//! The web UI in-process (`tower::ServiceExt::oneshot`): sign-in, sessions, CSRF and authorization.

use crate::support::env;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use secrecy::SecretString;
use secure_schools_sync::daemon::Daemon;
use secure_schools_sync::ui::{self, AdminSetup};
use std::sync::Arc;
use sync_engine::model::ConnectionId;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The session cookie's token set by this answer.
    fn cookie(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|c| c.split(';').next().map(str::to_owned))
            .and_then(|kv| kv.strip_prefix("ssync_session=").map(str::to_owned))
            .filter(|t| !t.is_empty())
    }

    fn set_cookie(&self) -> Option<String> {
        self.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let at = self.body.find(marker).unwrap_or_else(|| panic!("no CSRF field in {}", self.body)) + marker.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

fn as_refs<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    f.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method("GET").uri(path).header(header::HOST, "127.0.0.1:8787");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, format!("ssync_session={c}"));
    }
    r.body(Body::empty()).unwrap()
}

fn post(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, format!("ssync_session={c}"));
    }
    r.body(Body::from(serde_urlencoded::to_string(form).unwrap())).unwrap()
}

/// A daemon over a signed-in sandbox, with the admin password set.
async fn daemon() -> (crate::support::Env, Arc<Daemon>, Router) {
    let env = env().await;
    let app = secure_schools_sync::app::App::open(
        env.sandbox.config().unwrap(),
        env.sandbox.secrets(),
        secure_schools_sync::app::AppOptions { retry_policy: Some(crate::support::fast_retry()), ..Default::default() },
    )
    .await
    .unwrap();
    let setup = ui::setup_admin(app.store(), Some(&SecretString::from(PASSWORD))).await.unwrap();
    assert_eq!(setup, AdminSetup::Set);
    let daemon = Daemon::new(Arc::new(app));
    let router = daemon.router();
    (env, daemon, router)
}

/// Signs in; returns the session cookie and the CSRF token of its pages.
async fn sign_in(router: &Router) -> (String, String) {
    let form = send(router, get("/ui/login", None)).await;
    let anon = form.cookie().unwrap();
    let done =
        send(router, post("/ui/login", Some(&anon), &[("csrf", &form.csrf()), ("password", PASSWORD), ("next", "")]))
            .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let cookie = done.cookie().unwrap();
    let page = send(router, get("/ui/sync", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (cookie, page.csrf())
}

const PAGES: &[&str] = &[
    "/ui/sync",
    "/ui/sync/live?after=0",
    "/ui/runs",
    "/ui/runs/some-run",
    "/ui/held/some-run",
    "/ui/connections",
    "/ui/connections/new",
    "/ui/connections/new/microsoft",
    "/ui/connections/new/google",
    "/ui/connections/new/wonde",
    "/ui/connections/trust/test",
    "/ui/connections/trust/sign-in",
    "/ui/connections/trust/sign-in/wait",
    "/ui/groups",
    "/ui/groups/new",
    "/ui/groups/ui-1/edit",
    "/ui/groups/ui-1/delete",
    "/ui/doctor",
];

const ACTIONS: &[&str] = &[
    "/ui/sync/all",
    "/ui/sync/org/org-1",
    "/ui/held/some-run/approve",
    "/ui/connections",
    "/ui/connections/trust/sign-in",
    "/ui/connections/trust/delete",
    "/ui/groups",
    "/ui/groups/ui-1",
    "/ui/groups/ui-1/delete",
    "/ui/logout",
];

#[tokio::test]
async fn no_page_or_action_works_signed_out() {
    let (env, daemon, router) = daemon().await;
    for path in PAGES {
        let a = send(&router, get(path, None)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}: {}", a.body);
        assert!(a.location().starts_with("/ui/login?next="), "{path}: {}", a.location());
        assert!(!a.body.contains("trust"), "{path} leaks content signed out");
    }
    // A signed-out session (the sign-in form's) with its own valid CSRF token does not open anything either.
    let form = send(&router, get("/ui/login", None)).await;
    let (anon, csrf) = (form.cookie().unwrap(), form.csrf());
    for path in PAGES {
        let a = send(&router, get(path, Some(&anon))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
    }
    let organisations = env.sandbox.trust.schools.len();
    let before = daemon.live().borrow().clone();
    for path in ACTIONS {
        for cookie in [None, Some(anon.as_str())] {
            let a = send(
                &router,
                post(
                    path,
                    cookie,
                    &[
                        ("csrf", &csrf),
                        ("kind", "microsoft"),
                        ("name", "intruder"),
                        ("tenant", "contoso.onmicrosoft.com"),
                        ("client_id", "x"),
                    ],
                ),
            )
            .await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{path} ({cookie:?}): {}", a.body);
        }
    }
    // Nothing happened: no connection was stored, the sign-in stays, nothing was queued.
    assert!(env.app.store().connection(&ConnectionId::new("intruder")).await.unwrap().is_none());
    assert!(env.app.store().refresh_token(&ConnectionId::new("trust")).await.unwrap().is_some());
    assert_eq!(daemon.app().config().organisations().len(), organisations);
    assert_eq!(*daemon.live().borrow(), before);
    // The static assets are open (the sign-in page needs them).
    assert_eq!(send(&router, get("/ui/assets/ui.css", None)).await.status, StatusCode::OK);
    assert_eq!(send(&router, get("/ui/assets/ui.js", None)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_gives_a_new_strict_http_only_session_and_sign_out_ends_it() {
    let (_env, _daemon, router) = daemon().await;
    let form = send(&router, get("/ui/login", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"password\">"), "{}", form.body);
    let anon = form.cookie().unwrap();
    let set = form.set_cookie().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP on localhost: {set}");

    let wrong =
        send(&router, post("/ui/login", Some(&anon), &[("csrf", &form.csrf()), ("password", "not the password")]))
            .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not right"), "{}", wrong.body);
    assert!(wrong.cookie().is_none_or(|c| c != anon));

    let (cookie, csrf) = sign_in(&router).await;
    assert_ne!(cookie, anon, "the session id changes at sign-in");
    let page = send(&router, get("/ui/connections", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<main id=\"main\""), "landmark");
    assert!(page.body.contains("aria-current=\"page\""), "current page marked");
    let csp = page.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");

    // Behind a TLS-terminating proxy the cookie is Secure.
    let https = Request::builder()
        .uri("/ui/login")
        .header(header::HOST, "sync.example")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    let a = send(&router, https).await;
    assert!(a.set_cookie().unwrap().contains("; Secure"), "{:?}", a.set_cookie());

    // Sign-out needs the token too, then ends the session.
    assert_eq!(send(&router, post("/ui/logout", Some(&cookie), &[])).await.status, StatusCode::FORBIDDEN);
    let out = send(&router, post("/ui/logout", Some(&cookie), &[("csrf", &csrf)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie().unwrap().contains("Max-Age=0"));
    let after = send(&router, get("/ui/sync", Some(&cookie))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/ui/login"));
}

#[tokio::test]
async fn forms_without_a_valid_token_are_refused() {
    let (env, _daemon, router) = daemon().await;
    // The sign-in form too.
    let form = send(&router, get("/ui/login", None)).await;
    let anon = form.cookie().unwrap();
    let a = send(&router, post("/ui/login", Some(&anon), &[("password", PASSWORD)])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.cookie().is_none(), "no session for a forged sign-in");

    let (cookie, csrf) = sign_in(&router).await;
    let (_other_cookie, other_csrf) = sign_in(&router).await;
    assert_ne!(csrf, other_csrf);
    let fields = |token: Option<&str>| {
        let mut f = vec![
            ("kind", "microsoft".to_owned()),
            ("name", "fabrikam".to_owned()),
            ("tenant", "fabrikam.onmicrosoft.com".to_owned()),
            ("client_id", "11111111-2222-3333-4444-555555555555".to_owned()),
            ("auth", "app-only".to_owned()),
            ("client_secret", "s3cret-value".to_owned()),
        ];
        if let Some(t) = token {
            f.push(("csrf", t.to_owned()));
        }
        f
    };
    for (what, token) in [
        ("no token", None),
        ("an empty token", Some("")),
        ("a wrong token", Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")),
        ("another session's token", Some(other_csrf.as_str())),
    ] {
        let f = fields(token);
        let a = send(&router, post("/ui/connections", Some(&cookie), &as_refs(&f))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}: {}", a.body);
    }
    // From another site, even with the right token.
    let f = fields(Some(&csrf));
    let mut cross = post("/ui/connections", Some(&cookie), &as_refs(&f));
    cross.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(send(&router, cross).await.status, StatusCode::FORBIDDEN);
    assert!(env.app.store().connection(&ConnectionId::new("fabrikam")).await.unwrap().is_none());

    // With the session's token (and a same-origin Origin), it works: the connection is stored, its secret encrypted.
    let mut ok = post("/ui/connections", Some(&cookie), &as_refs(&f));
    ok.headers_mut().insert(header::ORIGIN, "http://127.0.0.1:8787".parse().unwrap());
    let a = send(&router, ok).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/ui/connections/fabrikam/test");
    let record = env.app.store().connection(&ConnectionId::new("fabrikam")).await.unwrap().unwrap();
    assert!(matches!(record.secret, roster_store::SecretRef::Stored(_)));
    assert!(!format!("{record:?}").contains("s3cret-value"));
}

#[tokio::test]
async fn bad_input_is_explained_and_nothing_is_stored() {
    let (env, daemon, router) = daemon().await;
    let (cookie, csrf) = sign_in(&router).await;
    for (name, tenant, expected) in [
        ("bad name!", "contoso.onmicrosoft.com", "must be letters, digits, - or _"),
        ("trust", "contoso.onmicrosoft.com", "already exists"),
        ("fine", "not a tenant", "is not a tenant id or domain"),
    ] {
        let a = send(
            &router,
            post(
                "/ui/connections",
                Some(&cookie),
                &[("csrf", &csrf), ("kind", "microsoft"), ("name", name), ("tenant", tenant), ("client_id", "app")],
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(a.body.contains(expected), "{name}: {}", a.body);
        assert!(a.body.contains("role=\"alert\""), "the error is announced");
    }
    // A kind that does not exist is refused; a Google form without its key says what is missing.
    let a = send(&router, post("/ui/connections", Some(&cookie), &[("csrf", &csrf), ("kind", "ldap"), ("name", "g")]))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("There is no connection method `ldap`"), "{}", a.body);
    let a =
        send(&router, post("/ui/connections", Some(&cookie), &[("csrf", &csrf), ("kind", "google"), ("name", "g")]))
            .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("Paste the service account key"), "{}", a.body);
    assert_eq!(send(&router, get("/ui/connections/new/ldap", Some(&cookie))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.app.store().list_connections().await.unwrap().len(), 1, "only the file's sign-in record");
    // The sign-in page only redirects inside the UI.
    let form = send(&router, get("/ui/login?next=//evil.example/x", None)).await;
    assert!(form.body.contains("name=\"next\" value=\"/ui/sync\""), "{}", form.body);
    drop(daemon);
}

#[tokio::test]
async fn the_admin_password_is_set_at_first_start_stored_hashed_and_replaceable() {
    let env = env().await;
    let store = env.app.store();
    assert_eq!(ui::setup_admin(store, None).await.unwrap(), AdminSetup::NotSet);
    let short = ui::setup_admin(store, Some(&SecretString::from("short"))).await.unwrap_err();
    assert!(format!("{short:#}").contains("at least 12"), "{short:#}");
    assert!(!format!("{short:#}").contains("short\""), "the password is not echoed");

    assert_eq!(ui::setup_admin(store, Some(&SecretString::from(PASSWORD))).await.unwrap(), AdminSetup::Set);
    let stored = store.admin_credential("admin").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert!(!stored.password_hash.contains(PASSWORD));
    assert!(ui::verify_password(PASSWORD, &stored.password_hash));
    assert!(!ui::verify_password("something else entirely", &stored.password_hash));

    assert_eq!(ui::setup_admin(store, None).await.unwrap(), AdminSetup::Unchanged);
    assert_eq!(ui::setup_admin(store, Some(&SecretString::from(PASSWORD))).await.unwrap(), AdminSetup::Unchanged);
    let next = "a different long password";
    assert_eq!(ui::setup_admin(store, Some(&SecretString::from(next))).await.unwrap(), AdminSetup::Changed);
    let replaced = store.admin_credential("admin").await.unwrap().unwrap();
    assert!(ui::verify_password(next, &replaced.password_hash));
    assert!(!ui::verify_password(PASSWORD, &replaced.password_hash));
}

#[tokio::test]
async fn without_an_admin_password_the_sign_in_page_says_how_to_set_one() {
    let env = env().await;
    let daemon = Daemon::new(Arc::new(env.app));
    let router = daemon.router();
    let form = send(&router, get("/ui/login", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD"), "{}", form.body);
    assert!(!form.body.contains("type=\"password\""), "no form to guess at");
}

#[tokio::test]
async fn what_the_ui_creates_the_cli_uses_and_the_file_wins_a_clash() {
    let (env, daemon, router) = daemon().await;
    let (cookie, csrf) = sign_in(&router).await;
    let school = env.sandbox.trust.schools[0].clone();
    let org = school.organisation_id.as_str();
    let year = school.year_group_ids[0].as_str();
    let m365 = school.m365_group_ids[0].as_str();

    // A forged form that selects a Microsoft 365 group is refused by the server too, with the reason.
    let forged = [
        ("csrf", csrf.as_str()),
        ("name", "Forged"),
        ("connection", "trust"),
        ("organisation", org),
        ("group", m365),
        (&*format!("role:{m365}"), "staff"),
    ];
    let a = send(&router, post("/ui/groups", Some(&cookie), &forged)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let back = send(&router, get(a.location(), Some(&cookie))).await;
    assert!(back.body.contains("Microsoft 365 group"), "{}", back.body);
    assert!(daemon.app().store().groups().await.unwrap().is_empty());

    // A connection group created in the UI, on the file's connection.
    let role_key = format!("role:{year}");
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Year group extra"),
        ("connection", "trust"),
        ("organisation", org),
        ("group", year),
        (role_key.as_str(), "student"),
    ];
    let a = send(&router, post("/ui/groups", Some(&cookie), &form)).await;
    assert_eq!((a.status, a.location()), (StatusCode::SEE_OTHER, "/ui/groups"));
    let stored = daemon.app().store().groups().await.unwrap();
    assert_eq!(stored.len(), 1);
    let id = stored[0].group.id.clone();
    // The daemon uses it at once …
    assert!(daemon.app().config().connection_groups.iter().any(|g| g.name == "Year group extra"));
    // … and so does the CLI, which opens the app anew: `groups` shows the selection.
    let cli =
        secure_schools_sync::app::App::open(env.sandbox.config().unwrap(), env.sandbox.secrets(), Default::default())
            .await
            .unwrap();
    let rows = secure_schools_sync::commands::group_rows(&cli, "trust", None).await.unwrap();
    let row = rows.iter().find(|r| r.id == year).unwrap();
    assert!(row.selected_by.iter().any(|s| s.organisation == org && s.role == "student"), "{row:?}");
    // The file's groups are listed read-only; the UI's can be edited and deleted.
    let list = send(&router, get("/ui/groups", Some(&cookie))).await;
    assert!(list.body.contains(&format!("/ui/groups/{id}/edit")));
    assert!(!list.body.contains("/ui/groups/config-0/edit"));
    let confirm = send(&router, get(&format!("/ui/groups/{id}/delete"), Some(&cookie))).await;
    assert!(confirm.body.contains("suspended"), "the consequences are spelled out: {}", confirm.body);
    let a = send(&router, post(&format!("/ui/groups/{id}/delete"), Some(&cookie), &[("csrf", &csrf)])).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(daemon.app().store().groups().await.unwrap().is_empty());
    assert!(!daemon.app().config().connection_groups.iter().any(|g| g.name == "Year group extra"));

    // A stored connection with a name the file uses is left out, and says why.
    let clash = secure_schools_sync::config::ConnectionConfig {
        origin: secure_schools_sync::config::Origin::Store("trust".into()),
        ..cli.config().connection("trust").unwrap().clone()
    };
    let record = secure_schools_sync::stored::microsoft_record(&clash, None);
    let mut other = record.clone();
    other.id = ConnectionId::new("from-ui");
    other.name = "from-ui".into();
    daemon.app().store().save_connection(&other).await.unwrap();
    let reopened = cli.reload().await.unwrap();
    assert!(reopened.config().connection("from-ui").is_some_and(|c| c.origin.is_store()));
    assert!(reopened.config().connection("trust").is_some_and(|c| !c.origin.is_store()));
    let settings = &daemon.app().store().connection(&ConnectionId::new("trust")).await.unwrap().unwrap().settings;
    assert_eq!(settings["managed_by"], "file", "the file connection's record only keeps its sign-in");
    let (_, left_out) = cli.file_config().with_stored(vec![clash], vec![]);
    assert!(left_out[0].1.contains("the file's is used"), "{left_out:?}");
}

#[tokio::test]
async fn the_live_region_answers_as_soon_as_the_scheduler_moves() {
    let (env, daemon, router) = daemon().await;
    let (cookie, csrf) = sign_in(&router).await;
    let organisations = env.sandbox.trust.schools.len() as u64;
    let version = daemon.live().borrow().version;
    let (trigger, shutdown) = secure_schools_sync::shutdown::Shutdown::manual();
    let scheduler = daemon.clone().run_scheduler(shutdown);
    let test = async {
        // A long-poll waiting for the next change, and Sync all pressed meanwhile: the poll answers with the region.
        let poll = send(&router, get(&format!("/ui/sync/live?after={version}"), Some(&cookie)));
        let press = send(&router, post("/ui/sync/all", Some(&cookie), &[("csrf", &csrf)]));
        let (answer, pressed) = tokio::join!(poll, press);
        assert_eq!((pressed.status, pressed.location()), (StatusCode::SEE_OTHER, "/ui/sync"));
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.starts_with("<div id=\"live\" data-live-url=\"/ui/sync/live\""), "{}", answer.body);
        tokio::time::timeout(std::time::Duration::from_secs(60), daemon.settled(organisations)).await.unwrap();
        // Once every run ended, the page shows each organisation's state and counts.
        let page = send(&router, get("/ui/sync", Some(&cookie))).await;
        assert!(page.body.contains("Sync all started"), "the one-time message");
        for school in &env.sandbox.trust.schools {
            let row = page.body.split(&format!("data-organisation=\"{}\"", school.organisation_id)).nth(1).unwrap();
            let row = row.split("</tr>").next().unwrap();
            assert!(row.contains(">Succeeded<"), "{row}");
            let created = row.split("data-field=\"created\">").nth(1).unwrap().split('<').next().unwrap();
            assert!(created.parse::<usize>().unwrap() > 0, "{row}");
        }
        assert!(page.body.contains("No sync is running."));
        trigger.trigger();
    };
    let (result, ()) = tokio::join!(scheduler, test);
    result.unwrap();
}

// -------------------------------------------------------------------------------------------------------------
// Google and Wonde connections made in the UI, against the fake Google Directory, the fake Wonde and the fake
// Secure Schools (wired as in google.rs and wonde.rs, but with no connection in the configuration file).

mod kinds {
    use super::*;
    use secure_schools_sync::app::{App, AppOptions, Secrets};
    use secure_schools_sync::config::Config;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use testkit::google::FakeGoogle;
    use testkit::google::sample::{self as google_sample, GoogleDomain, GoogleDomainSpec};
    use testkit::secure_schools::{FakeSecureSchools, Identity, Organisation, User};
    use testkit::server::RunningServer;
    use testkit::wonde::{FakeWonde, SchoolData, SchoolSpec};

    const SS_TOKEN: &str = "ss-ui-kinds-admin-token";
    const WONDE_TOKEN: &str = "wonde-ui-kinds-token-3f9a";
    const WONDE_ORG: &str = "org_northfield_mis";
    const GOOGLE: &str = "trust-google";
    const WONDE: &str = "northfield-mis";

    /// The fakes, and a daemon whose configuration file has no connection at all.
    pub(super) struct KindsEnv {
        pub(super) google: FakeGoogle,
        pub(super) domain: GoogleDomain,
        pub(super) wonde: FakeWonde,
        pub(super) school: SchoolData,
        pub(super) secure_schools: FakeSecureSchools,
        pub(super) google_server: RunningServer,
        pub(super) wonde_server: RunningServer,
        pub(super) config: Config,
        pub(super) secrets: Secrets,
        pub(super) daemon: Arc<Daemon>,
        pub(super) router: Router,
        dir: PathBuf,
        _ss_server: RunningServer,
    }

    impl Drop for KindsEnv {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub(super) async fn kinds_env() -> KindsEnv {
        let domain = GoogleDomainSpec::default().generate();
        let google = FakeGoogle::from_domain(&domain);
        google.register_service_account(google_sample::service_account());
        google.authorise_delegation(google_sample::SERVICE_ACCOUNT_CLIENT_ID, google_sample::SCOPES);
        let school = SchoolSpec::small().generate();
        let wonde = FakeWonde::new();
        wonde.add_school(school.clone());
        wonde.grant(WONDE_TOKEN, &school.school.id);
        let secure_schools = FakeSecureSchools::new();
        let mut admin = Identity::new("ident-ui-kinds", &domain.admin_email, "Iris Admin");
        for s in &domain.schools {
            secure_schools.add_organisation(Organisation::new(&s.organisation_id, &s.name, "100001")).unwrap();
            admin = admin.admin_of(&s.organisation_id);
        }
        secure_schools.add_organisation(Organisation::new(WONDE_ORG, &school.school.name, "100007")).unwrap();
        secure_schools.add_identity(SS_TOKEN, admin.admin_of(WONDE_ORG));
        let google_server = google.start().await.unwrap();
        let wonde_server = wonde.start().await.unwrap();
        let ss_server = secure_schools.start().await.unwrap();
        let dir = std::env::temp_dir().join(format!("ssync-ui-kinds-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "store = {}\n\n[secure_schools]\nbase_url = {}\n\n[safety]\nmax_suspension_percent = 50.0\n",
            toml::Value::String(dir.join("store.db").to_string_lossy().into_owned()),
            toml::Value::String(format!("{}/", ss_server.url())),
        );
        let config = Config::parse(&text, &dir.join("secure-schools-sync.toml")).unwrap();
        let secrets = Secrets {
            secure_schools_token: Some(SecretString::from(SS_TOKEN.to_owned())),
            store_key: Some(roster_store::SecretKey::generate()),
            ..Secrets::default()
        };
        let options = AppOptions { retry_policy: Some(crate::support::fast_retry()), ..AppOptions::default() };
        let app = App::open(config.clone(), secrets.clone(), options).await.unwrap();
        assert_eq!(ui::setup_admin(app.store(), Some(&SecretString::from(PASSWORD))).await.unwrap(), AdminSetup::Set);
        let daemon = Daemon::new(Arc::new(app));
        let router = daemon.router();
        KindsEnv {
            google,
            domain,
            wonde,
            school,
            secure_schools,
            google_server,
            wonde_server,
            config,
            secrets,
            daemon,
            router,
            dir,
            _ss_server: ss_server,
        }
    }

    impl KindsEnv {
        pub(super) fn key_json(&self) -> String {
            self.google.key_json(&self.google_server)
        }

        pub(super) fn google_form(&self, csrf: &str) -> Vec<(&'static str, String)> {
            vec![
                ("csrf", csrf.to_owned()),
                ("kind", "google".into()),
                ("name", GOOGLE.into()),
                ("service_account_key", self.key_json()),
                ("admin_subject", self.domain.admin_email.clone()),
                ("directory_url", FakeGoogle::base_url(&self.google_server)),
            ]
        }

        pub(super) fn wonde_form(&self, csrf: &str) -> Vec<(&'static str, String)> {
            vec![
                ("csrf", csrf.to_owned()),
                ("kind", "wonde".into()),
                ("name", WONDE.into()),
                ("token", WONDE_TOKEN.into()),
                ("school_id", self.school.school.id.clone()),
                ("region", "uk".into()),
                ("organisation", WONDE_ORG.into()),
                ("wonde_url", FakeWonde::base_url(&self.wonde_server).to_string()),
            ]
        }

        fn users(&self, organisation: &str) -> BTreeMap<String, User> {
            self.secure_schools
                .users(organisation)
                .into_iter()
                .filter_map(|u| u.external_id.clone().map(|e| (e, u)))
                .collect()
        }

        /// The private key's body (no PEM armour): what must never be shown.
        fn key_material(&self) -> Vec<String> {
            google_sample::SERVICE_ACCOUNT_KEY_PEM
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .take(3)
                .map(str::to_owned)
                .collect()
        }

        fn assert_no_secret(&self, what: &str, body: &str) {
            assert!(!body.contains(WONDE_TOKEN), "{what} shows the Wonde token");
            for line in self.key_material() {
                assert!(!body.contains(&line), "{what} shows the private key");
            }
            assert!(!body.contains("PRIVATE KEY"), "{what} shows the private key");
        }
    }

    fn field<'a>(body: &'a str, marker: &str) -> &'a str {
        body.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker} in {body}"))
    }

    #[tokio::test]
    async fn google_and_wonde_connections_made_in_the_ui_sync_the_right_users() {
        let env = kinds_env().await;
        let router = &env.router;
        let (cookie, csrf) = sign_in(router).await;
        let c = Some(cookie.as_str());
        let mut pages: Vec<(String, String)> = Vec::new();

        // The picker offers both methods, and each has a form.
        let picker = send(router, get("/ui/connections/new", c)).await;
        for kind in ["microsoft", "google", "wonde"] {
            assert!(picker.body.contains(&format!("href=\"/ui/connections/new/{kind}\"")), "{kind}: {}", picker.body);
        }
        assert!(!picker.body.contains("disabled"), "no method is disabled: {}", picker.body);
        let form = send(router, get("/ui/connections/new/google", c)).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("<textarea id=\"service_account_key\""), "{}", form.body);
        assert!(form.body.contains("https://www.googleapis.com/auth/admin.directory.orgunit.readonly"));
        let form = send(router, get("/ui/connections/new/wonde", c)).await;
        // The organisation is picked from the Secure Schools API.
        assert!(form.body.contains(&format!("<option value=\"{WONDE_ORG}\"")), "{}", form.body);
        assert!(form.body.contains("type=\"password\""), "the token field hides what is typed");

        // Google: created, its key stored encrypted, and every check passes against the fake.
        let f = env.google_form(&csrf);
        let a = send(router, post("/ui/connections", c, &as_refs(&f))).await;
        assert_eq!(
            (a.status, a.location()),
            (StatusCode::SEE_OTHER, "/ui/connections/trust-google/test"),
            "{}",
            a.body
        );
        let store = env.daemon.app().store().clone();
        let record = store.connection(&ConnectionId::new(GOOGLE)).await.unwrap().unwrap();
        assert_eq!(record.kind, sync_engine::model::ConnectionKind::Google);
        assert!(matches!(record.secret, roster_store::SecretRef::Stored(_)));
        assert!(!record.settings.to_string().contains("PRIVATE KEY"), "{}", record.settings);
        assert!(!format!("{record:?}").contains("PRIVATE KEY"));
        assert!(!format!("{:?}", env.daemon.app()).contains("PRIVATE KEY"));
        let test = send(router, get(a.location(), c)).await;
        assert!(test.body.contains("Every check of trust-google passed."), "{}", test.body);
        assert!(test.body.contains("data-check=\"google.delegation\" data-status=\"PASS\""), "{}", test.body);
        pages.push(("the Google test page".into(), test.body));

        // Wonde: created with its connection group, and every check passes.
        let f = env.wonde_form(&csrf);
        let a = send(router, post("/ui/connections", c, &as_refs(&f))).await;
        assert_eq!(
            (a.status, a.location()),
            (StatusCode::SEE_OTHER, "/ui/connections/northfield-mis/test"),
            "{}",
            a.body
        );
        let record = store.connection(&ConnectionId::new(WONDE)).await.unwrap().unwrap();
        assert_eq!(record.kind, sync_engine::model::ConnectionKind::Wonde);
        assert!(matches!(record.secret, roster_store::SecretRef::Stored(_)));
        assert!(!record.settings.to_string().contains(WONDE_TOKEN));
        let test = send(router, get(a.location(), c)).await;
        assert!(test.body.contains("Every check of northfield-mis passed."), "{}", test.body);
        assert!(test.body.contains("with its connection group"), "the one-time message: {}", test.body);
        assert!(test.body.contains("data-check=\"wonde.school_access\" data-status=\"PASS\""), "{}", test.body);
        pages.push(("the Wonde test page".into(), test.body));

        // The list shows both, by kind, with their secret set (and no Sign in button).
        let list = send(router, get("/ui/connections", c)).await;
        let google_row = field(&list.body, "data-connection=\"trust-google\"").split("</tr>").next().unwrap();
        assert!(google_row.contains("Google") && google_row.contains("Key set"), "{google_row}");
        assert!(google_row.contains(&env.domain.admin_email), "{google_row}");
        let wonde_row = field(&list.body, "data-connection=\"northfield-mis\"").split("</tr>").next().unwrap();
        assert!(wonde_row.contains("Token set") && wonde_row.contains(&env.school.school.id), "{wonde_row}");
        assert!(wonde_row.contains(&format!("its own connection group, into {WONDE_ORG}")), "{wonde_row}");
        assert!(!list.body.contains("/sign-in\""), "nobody to sign in: {}", list.body);
        pages.push(("the connection list".into(), list.body));

        // A connection group over Google organisational units: every unit listed, selectable, a role each.
        let mut created = Vec::new();
        for s in &env.domain.schools {
            let q =
                serde_urlencoded::to_string([("connection", GOOGLE), ("organisation", &s.organisation_id)]).unwrap();
            let form = send(router, get(&format!("/ui/groups/new?{q}"), c)).await;
            assert_eq!(form.status, StatusCode::OK);
            assert!(form.body.contains("Organisational units of the account"), "{}", form.body);
            for unit in &env.domain.org_units {
                let row = field(&form.body, &format!("data-group-id=\"{}\"", unit.path));
                assert!(row.starts_with(" data-syncable=\"true\""), "{}: {row}", unit.path);
            }
            assert!(form.body.contains("organisational unit"), "the kind");
            assert!(!form.body.contains("Cannot be synced"), "{}", form.body);
            pages.push((format!("the group form of {}", s.organisation_id), form.body));
            let (staff_role, students_role) = (format!("role:{}", s.staff_path), format!("role:{}", s.students_path));
            let (staff_name, students_name) = (format!("name:{}", s.staff_path), format!("name:{}", s.students_path));
            let f = [
                ("csrf", csrf.as_str()),
                ("name", s.name.as_str()),
                ("connection", GOOGLE),
                ("organisation", s.organisation_id.as_str()),
                ("group", s.staff_path.as_str()),
                (staff_role.as_str(), "staff"),
                (staff_name.as_str(), s.staff_path.as_str()),
                ("group", s.students_path.as_str()),
                (students_role.as_str(), "student"),
                (students_name.as_str(), s.students_path.as_str()),
            ];
            let a = send(router, post("/ui/groups", c, &f)).await;
            assert_eq!((a.status, a.location()), (StatusCode::SEE_OTHER, "/ui/groups"), "{}", a.body);
            let flash = send(router, get("/ui/groups", c)).await;
            assert!(flash.body.contains(&format!("Connection group {} created", s.name)), "{}", flash.body);
            created.push(s.organisation_id.clone());
        }
        assert_eq!(store.groups().await.unwrap().len(), env.domain.schools.len());

        // The Wonde connection's own group is shown read-only, with the explanation; it cannot be chosen.
        let groups = send(router, get("/ui/groups", c)).await;
        let auto = field(&groups.body, "data-automatic=\"wonde\"").split("</tr>").next().unwrap();
        assert!(auto.contains(WONDE_ORG) && auto.contains("Made by the Wonde connection"), "{auto}");
        assert!(auto.contains("The school's students as student") && auto.contains("employees as staff"), "{auto}");
        assert!(!auto.contains("/edit"), "read-only: {auto}");
        assert!(groups.body.contains("A Wonde connection makes its own connection group"), "{}", groups.body);
        pages.push(("the connection groups".into(), groups.body));
        let new = send(router, get("/ui/groups/new", c)).await;
        assert!(new.body.contains("<option value=\"northfield-mis\" disabled>"), "{}", new.body);
        let forged = [
            ("csrf", csrf.as_str()),
            ("name", "Forged"),
            ("connection", WONDE),
            ("organisation", WONDE_ORG),
            ("group", "x"),
            ("role:x", "staff"),
        ];
        let a = send(router, post("/ui/groups", c, &forged)).await;
        let back = send(router, get(a.location(), c)).await;
        assert!(back.body.contains("makes its own connection group"), "{}", back.body);
        assert_eq!(store.groups().await.unwrap().len(), env.domain.schools.len(), "nothing stored");

        // The CLI, opening the store anew, sees both connections: the key reaches the Google client from the store.
        let cli = App::open(env.config.clone(), env.secrets.clone(), Default::default()).await.unwrap();
        let units = secure_schools_sync::commands::group_rows(&cli, GOOGLE, None).await.unwrap();
        let students = units.iter().find(|u| u.id == env.domain.schools[0].students_path).unwrap();
        assert_eq!(students.selected_by[0].role, "student", "{students:?}");
        assert!(cli.wonde(WONDE).is_ok());
        let mut organisations = created.clone();
        organisations.push(WONDE_ORG.to_owned());
        organisations.sort();
        let mut known: Vec<String> = cli.config().organisations().iter().map(|o| o.to_string()).collect();
        known.sort();
        assert_eq!(known, organisations);

        // Sync all from the UI: every organisation gets the right users.
        let (trigger, shutdown) = secure_schools_sync::shutdown::Shutdown::manual();
        let scheduler = env.daemon.clone().run_scheduler(shutdown);
        let run = async {
            let pressed = send(router, post("/ui/sync/all", c, &[("csrf", &csrf)])).await;
            assert_eq!(pressed.status, StatusCode::SEE_OTHER);
            let n = organisations.len() as u64;
            tokio::time::timeout(std::time::Duration::from_secs(60), env.daemon.settled(n)).await.unwrap();
            let page = send(router, get("/ui/sync", c)).await;
            for org in &organisations {
                let row = field(&page.body, &format!("data-organisation=\"{org}\"")).split("</tr>").next().unwrap();
                assert!(row.contains(">Succeeded<"), "{org}: {row}");
            }
            pages.push(("user sync".into(), page.body));
            trigger.trigger();
        };
        let (result, ()) = tokio::join!(scheduler, run);
        result.unwrap();

        for s in &env.domain.schools {
            let users = env.users(&s.organisation_id);
            let mut want = BTreeMap::new();
            for (path, role) in [(&s.students_path, "student"), (&s.staff_path, "staff")] {
                for u in env.domain.users_under(path).into_iter().filter(|u| u.is_active()) {
                    want.insert(format!("{GOOGLE}:{}", u.id), (u.primary_email.to_lowercase(), role));
                }
            }
            assert!(!want.is_empty());
            let got: BTreeMap<String, (String, &str)> =
                users.iter().map(|(e, u)| (e.clone(), (u.email.to_lowercase(), u.role.as_str()))).collect();
            assert_eq!(got, want, "{}", s.organisation_id);
            assert!(users.values().all(|u| u.managed_by_sync && u.status.as_str() == "active"));
        }
        let data = env.wonde.school_data(&env.school.school.id).unwrap();
        let users = env.users(WONDE_ORG);
        assert_eq!(users.len(), data.students.len() + data.employees.len());
        for s in &data.students {
            let u = &users[&format!("{WONDE}:{}", s.upi)];
            assert_eq!((u.role.as_str(), u.status.as_str()), ("student", "active"), "{}", s.upi);
        }
        for e in &data.employees {
            let u = &users[&format!("{WONDE}:{}", e.upi)];
            assert_eq!((u.role.as_str(), u.status.as_str()), ("staff", "active"), "{}", e.upi);
        }

        // No page shows a secret.
        for path in ["/ui/doctor", "/ui/runs", "/ui/connections/new/google", "/ui/connections/new/wonde"] {
            pages.push((path.to_owned(), send(router, get(path, c)).await.body));
        }
        for (what, body) in &pages {
            env.assert_no_secret(what, body);
        }
    }

    #[tokio::test]
    async fn bad_google_and_wonde_input_is_explained_and_nothing_is_stored() {
        let env = kinds_env().await;
        let router = &env.router;
        let (cookie, csrf) = sign_in(router).await;
        let c = Some(cookie.as_str());
        let secret_line = env.key_material()[0].clone();
        // A key with its private key but no client_email: the message names the field, never the key.
        let mut no_email: serde_json::Value = serde_json::from_str(&env.key_json()).unwrap();
        no_email.as_object_mut().unwrap().remove("client_email");
        let mut damaged = env.key_json();
        damaged.truncate(damaged.len() / 2);
        let cases: Vec<(&'static str, String, &'static str)> = vec![
            ("service_account_key", "not json at all".into(), "The service account key cannot be used"),
            ("service_account_key", damaged, "Paste the whole JSON key file again"),
            ("service_account_key", no_email.to_string(), "client_email"),
            ("service_account_key", String::new(), "Paste the service account key"),
            ("admin_subject", "nobody".into(), "is not an admin's email"),
            ("domain", "not a domain".into(), "is not a domain name"),
            ("directory_url", "ftp://example.org".into(), "must be an https:// URL"),
        ];
        for (key, value, expected) in &cases {
            let mut f = env.google_form(&csrf);
            f.retain(|(k, _)| k != key);
            f.push((*key, value.clone()));
            let a = send(router, post("/ui/connections", c, &as_refs(&f))).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{key}={value}: {}", a.body);
            assert!(a.body.contains(expected), "{key}: {}", a.body);
            assert!(a.body.contains("role=\"alert\"") && a.body.contains("enter it again"), "{}", a.body);
            assert!(!a.body.contains(&secret_line) && !a.body.contains("PRIVATE KEY"), "{key}: the key is echoed");
        }
        let mut f = env.google_form(&csrf);
        f.push(("customer", "C03az79cb".into()));
        f.push(("domain", "trust.example.org".into()));
        let a = send(router, post("/ui/connections", c, &as_refs(&f))).await;
        assert!(a.body.contains("not both"), "{}", a.body);

        for (key, value, expected) in [
            ("token", "   ", "The Wonde API token is missing"),
            ("school_id", "A19/30", "is not a Wonde school id"),
            ("region", "mars", "is not a Wonde region"),
            ("organisation", "org_elsewhere", "is not an organisation of this Secure Schools account"),
            ("name", "trust google", "must be letters, digits, - or _"),
        ] {
            let mut f = env.wonde_form(&csrf);
            f.retain(|(k, _)| *k != key);
            f.push((key, value.to_owned()));
            let a = send(router, post("/ui/connections", c, &as_refs(&f))).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{key}: {}", a.body);
            assert!(a.body.contains(expected), "{key}: {}", a.body);
            assert!(!a.body.contains(WONDE_TOKEN), "{key}: the token is echoed");
        }
        assert!(env.daemon.app().store().list_connections().await.unwrap().is_empty(), "nothing was stored");
        assert!(env.daemon.app().config().connections.is_empty());
    }

    #[tokio::test]
    async fn a_stored_key_that_cannot_be_read_is_listed_with_its_remedy_and_can_be_deleted() {
        let env = kinds_env().await;
        let (cookie, csrf) = sign_in(&env.router).await;
        for f in [env.google_form(&csrf), env.wonde_form(&csrf)] {
            let a = send(&env.router, post("/ui/connections", Some(&cookie), &as_refs(&f))).await;
            assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        }
        // The same store opened with another key (e.g. ROSTERBRIDGE_SECRET_KEY was replaced).
        let secrets = Secrets { store_key: Some(roster_store::SecretKey::generate()), ..env.secrets.clone() };
        let app = App::open(env.config.clone(), secrets, Default::default()).await.unwrap();
        for (name, what) in [(GOOGLE, "service account key"), (WONDE, "Wonde API token")] {
            assert!(app.config().connection(name).is_some_and(|c| c.origin.is_store()), "{name} is still listed");
            let (_, why) = app.left_out().iter().find(|(n, _)| n == name).unwrap();
            assert!(why.contains(&format!("its {what} cannot be read")), "{why}");
        }
        let e = format!("{:#}", app.google(GOOGLE).unwrap_err());
        assert!(e.contains("delete the connection and create it again"), "{e}");
        let checks = secure_schools_sync::doctor::connection_checks(&app, GOOGLE).await.unwrap();
        let key = checks.iter().find(|c| c.id == "google.key").unwrap();
        assert_eq!(key.status, secure_schools_sync::doctor::Status::Fail);
        assert!(key.remedy.as_deref().unwrap_or("").contains("web UI"), "{key:?}");
        let checks = secure_schools_sync::doctor::connection_checks(&app, WONDE).await.unwrap();
        let token = checks.iter().find(|c| c.id == "wonde.token").unwrap();
        assert_eq!(token.status, secure_schools_sync::doctor::Status::Fail);
        assert!(token.remedy.as_deref().unwrap_or("").contains("web UI"), "{token:?}");

        // Its list shows why, and it can be deleted there.
        let daemon = Daemon::new(Arc::new(app));
        let router = daemon.router();
        let (cookie, csrf) = sign_in(&router).await;
        let list = send(&router, get("/ui/connections", Some(&cookie))).await;
        let row = field(&list.body, "data-connection=\"trust-google\"").split("</tr>").next().unwrap();
        assert!(row.contains("No usable key"), "{row}");
        assert!(row.contains("action=\"/ui/connections/trust-google/delete\""), "{row}");
        let a = send(&router, post("/ui/connections/trust-google/delete", Some(&cookie), &[("csrf", &csrf)])).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert!(daemon.app().store().connection(&ConnectionId::new(GOOGLE)).await.unwrap().is_none());
        let a = send(&router, post("/ui/connections/northfield-mis/delete", Some(&cookie), &[("csrf", &csrf)])).await;
        let after = send(&router, get(a.location(), Some(&cookie))).await;
        assert!(after.body.contains("is no longer synced"), "{}", after.body);
        assert!(daemon.app().config().connections.is_empty());
        assert!(daemon.app().config().organisations().is_empty(), "its connection group went with it");
    }

    #[tokio::test]
    async fn a_file_connection_of_the_same_name_never_gets_the_stored_key() {
        let env = kinds_env().await;
        let (cookie, csrf) = sign_in(&env.router).await;
        let a = send(&env.router, post("/ui/connections", Some(&cookie), &as_refs(&env.google_form(&csrf)))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        // The file now defines `trust-google` too, with its key in a variable that is not set.
        let text = format!(
            "store = {}\n\n[secure_schools]\nbase_url = {}\n\n[[connections]]\nname = \"{GOOGLE}\"\nkind = \"google\"\n\
             service_account_key_env = \"UI_KINDS_TEST_UNSET_GOOGLE_KEY\"\nadmin_subject = \"it@example.org\"\n",
            toml::Value::String(env.config.store.clone()),
            toml::Value::String(env.config.secure_schools.base_url.to_string()),
        );
        let config = Config::parse(&text, std::path::Path::new("clash.toml")).unwrap();
        let app = App::open(config, env.secrets.clone(), Default::default()).await.unwrap();
        assert!(app.config().connection(GOOGLE).is_some_and(|c| !c.origin.is_store()), "the file wins");
        let e = format!("{:#}", app.google(GOOGLE).unwrap_err());
        assert!(e.contains("UI_KINDS_TEST_UNSET_GOOGLE_KEY"), "the file's key source is used, not the store's: {e}");
        assert!(app.left_out().iter().any(|(n, why)| n == GOOGLE && why.contains("the file's is used")));
    }
}
