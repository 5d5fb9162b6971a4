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
    // A kind this build cannot sync from is refused with the reason, not faked.
    let a =
        send(&router, post("/ui/connections", Some(&cookie), &[("csrf", &csrf), ("kind", "google"), ("name", "g")]))
            .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("cannot sync from Google Workspace yet"), "{}", a.body);
    let picker = send(&router, get("/ui/connections/new", Some(&cookie))).await;
    assert!(picker.body.contains("href=\"/ui/connections/new/microsoft\""));
    assert!(!picker.body.contains("href=\"/ui/connections/new/google\""));
    assert_eq!(send(&router, get("/ui/connections/new/wonde", Some(&cookie))).await.status, StatusCode::NOT_FOUND);
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
        let mut finished = daemon.finished_runs();
        // A long-poll waiting for the next change, and Sync all pressed meanwhile: the poll answers with the region.
        let poll = send(&router, get(&format!("/ui/sync/live?after={version}"), Some(&cookie)));
        let press = send(&router, post("/ui/sync/all", Some(&cookie), &[("csrf", &csrf)]));
        let (answer, pressed) = tokio::join!(poll, press);
        assert_eq!((pressed.status, pressed.location()), (StatusCode::SEE_OTHER, "/ui/sync"));
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.starts_with("<div id=\"live\" data-live-url=\"/ui/sync/live\""), "{}", answer.body);
        tokio::time::timeout(std::time::Duration::from_secs(60), finished.wait_for(|n| *n >= organisations))
            .await
            .unwrap()
            .unwrap();
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
