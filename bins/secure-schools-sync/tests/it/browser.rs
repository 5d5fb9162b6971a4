//! The web UI in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven with fantoccini), against
//! the daemon wired to the testkit fakes: one browser session walks the whole scenario of the help article. A
//! screenshot of every page is saved under `target/ui-screenshots/` (and, with `UPDATE_UI_SCREENSHOTS=1`, copied
//! to `docs/ui/`). Without a browser this test fails: `scripts/test` installs one (`scripts/ensure-chromium`).

use crate::support::{expected, fast_retry, spec};
use anyhow::{Context, anyhow};
use fantoccini::{Client, ClientBuilder, Locator};
use secrecy::SecretString;
use secure_schools_sync::app::{App, AppOptions};
use secure_schools_sync::daemon::{Daemon, serve_on};
use secure_schools_sync::demo::{PUBLIC_CLIENT_ID, Sandbox, SandboxAuth};
use secure_schools_sync::doctor::CLOUD_APPLICATION_ADMINISTRATOR;
use secure_schools_sync::shutdown::Shutdown;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "a long admin password for the browser test";
/// The longest any one step may take (a device-code poll is 5 s; a sync of one school, a second or two).
const STEP: Duration = Duration::from_secs(60);

/// chromedriver on a free port, killed (and reaped) when dropped, so that no process outlives the test.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChromeDriver {
    /// Starts chromedriver and waits (bounded) for it to say it is listening.
    fn start() -> anyhow::Result<ChromeDriver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (run scripts/ensure-chromium to install it)"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("chromedriver has no stdout"))?;
        let driver = ChromeDriver { child, port };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let ready = line.contains("started successfully");
                let _ = tx.send(line);
                if ready {
                    break;
                }
            }
        });
        loop {
            let line =
                rx.recv_timeout(Duration::from_secs(30)).context("chromedriver did not say it started within 30 s")?;
            if line.contains("started successfully") {
                return Ok(driver);
            }
        }
    }

    /// A headless Chromium session.
    async fn session(&self) -> anyhow::Result<Client> {
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=en-GB", "--no-first-run"]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("starting headless Chromium through chromedriver")
    }
}

fn screenshot_dirs() -> Vec<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| manifest.join("../../target"));
    let mut dirs = vec![target.join("ui-screenshots")];
    if std::env::var_os("UPDATE_UI_SCREENSHOTS").is_some() {
        dirs.push(manifest.join("../../docs/ui"));
    }
    dirs
}

/// The browser, the base URL, and where screenshots go.
struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    async fn goto(&self, path: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(&format!("{}{path}", self.base)).await?)
    }

    async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.client.find(Locator::Css(css)).await.with_context(|| format!("finding `{css}`"))
    }

    /// Waits (bounded) until an element is on the page: the live regions update by themselves.
    async fn wait_for(&self, locator: Locator<'_>) -> anyhow::Result<fantoccini::elements::Element> {
        let what = format!("{locator:?}");
        self.client.wait().at_most(STEP).for_element(locator).await.with_context(|| format!("waiting for {what}"))
    }

    async fn path(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    /// Saves a screenshot of the page's top.
    async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        self.client.execute("window.scrollTo(0, 0)", vec![]).await?;
        let png = self.client.screenshot().await?;
        for dir in screenshot_dirs() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{name}.png")), &png)?;
        }
        Ok(())
    }

    async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    /// Clicks something that loads a new page (a link, a form's button) and waits until the new page is there: the
    /// old document is marked first, so an element found afterwards is never the old page's.
    async fn click_nav(&self, css: &str) -> anyhow::Result<()> {
        self.client.execute("document.documentElement.setAttribute('data-stale', '1')", vec![]).await?;
        self.find(css).await?.click().await?;
        self.wait_for(Locator::Css("html:not([data-stale])")).await?;
        Ok(())
    }

    async fn flash(&self) -> anyhow::Result<String> {
        Ok(self.find(".flash").await?.text().await?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_walks_the_whole_job_in_a_real_browser() {
    // The daemon, wired to the fakes, with no connection and no connection group yet: the UI creates them.
    let sandbox = Sandbox::start(&spec(), SandboxAuth::Delegated).await.unwrap();
    let mut config = sandbox.config().unwrap();
    config.connections.clear();
    config.connection_groups.clear();
    let options = AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() };
    let app = App::open(config, sandbox.secrets(), options).await.unwrap();
    secure_schools_sync::ui::setup_admin(app.store(), Some(&SecretString::from(PASSWORD))).await.unwrap();
    let daemon = Daemon::new(Arc::new(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, shutdown) = Shutdown::manual();
    let serve = serve_on(daemon.clone(), listener, shutdown);

    let driver = ChromeDriver::start().expect("chromedriver must start: the browser tests never skip");
    let scenario = async {
        let client = driver.session().await.expect("headless Chromium must start: the browser tests never skip");
        let browser = Browser { client, base };
        let result = walk(&browser, &sandbox, &daemon).await;
        if result.is_err() {
            let _ = browser.screenshot("failure").await;
        }
        let _ = browser.client.close().await;
        stop.trigger();
        result
    };
    let (served, walked) = tokio::join!(serve, scenario);
    drop(driver);
    walked.unwrap();
    served.unwrap();
}

async fn walk(b: &Browser, sandbox: &Sandbox, daemon: &Arc<Daemon>) -> anyhow::Result<()> {
    let trust = &sandbox.trust;
    let school = &trust.schools[0];
    let org = school.organisation_id.as_str();

    // Sign in: every page sends a signed-out browser to the sign-in form, and back after it.
    b.goto("/ui/connections").await?;
    assert_eq!(b.path().await?, "/ui/login");
    b.screenshot("01-sign-in").await?;
    b.fill("#password", "not the password").await?;
    b.click_nav("form[action='/ui/login'] button[type=submit]").await?;
    assert!(b.flash().await?.contains("not right"));
    b.fill("#password", PASSWORD).await?;
    b.click_nav("form[action='/ui/login'] button[type=submit]").await?;
    assert_eq!(b.path().await?, "/ui/connections");

    // The method picker offers Microsoft, Google and Wonde. The Google and Wonde forms are only looked at here (the
    // in-process tests in ui.rs create and sync them against their fakes); then a Microsoft connection is created.
    b.click_nav("a[href='/ui/connections/new']").await?;
    b.screenshot("02-connection-methods").await?;
    b.click_nav("a[href='/ui/connections/new/google']").await?;
    assert_eq!(b.find("label[for='service_account_key']").await?.text().await?, "Service account key (JSON)");
    b.screenshot("14-google-connection-form").await?;
    b.goto("/ui/connections/new/wonde").await?;
    // The organisations come from the Secure Schools API.
    b.find(&format!("select#organisation option[value='{org}']")).await?;
    b.screenshot("15-wonde-connection-form").await?;
    b.goto("/ui/connections/new").await?;
    b.click_nav("a[href='/ui/connections/new/microsoft']").await?;
    b.fill("#name", "trust").await?;
    b.fill("#tenant", &trust.directory.tenant_id).await?;
    b.fill("#client_id", PUBLIC_CLIENT_ID).await?;
    b.find("#auth-delegated").await?.click().await?;
    b.find("details summary").await?.click().await?;
    let root = format!("{}/", sandbox.graph_url());
    b.fill("#authority_url", &root).await?;
    b.fill("#graph_url", &root).await?;
    b.screenshot("03-connection-form").await?;
    b.click_nav("form[action='/ui/connections'] button[type=submit]").await?;

    // The device-code sign-in is shown inline; the admin enters the code on "another device" (the fake approves
    // it), and the page notices by itself.
    assert_eq!(b.path().await?, "/ui/connections/trust/sign-in");
    let code = b.wait_for(Locator::Css("#user-code")).await?.text().await?;
    assert!(sandbox.graph.pending_user_codes().contains(&code), "{code} is not a code the fake issued");
    b.screenshot("04-device-code").await?;
    sandbox.graph.approve_device_code(&code, &trust.admin.email)?;
    let signed_in = b.wait_for(Locator::Css("#sign-in-state.flash.ok")).await?.text().await?;
    assert!(signed_in.contains(&trust.admin.email), "{signed_in}");
    b.screenshot("05-signed-in").await?;

    // The connection's test runs the doctor's checks of it.
    b.click_nav("a[href='/ui/connections/trust/test']").await?;
    b.find("tr[data-check='microsoft.sign_in'][data-status='PASS']").await?;
    b.find("tr[data-check='microsoft.roles'][data-status='PASS']").await?;
    b.screenshot("06-connection-test").await?;

    // Create a connection group: connection → organisation (listed from Secure Schools) → the tenant's groups.
    b.goto("/ui/groups/new").await?;
    b.find("#connection").await?.select_by_value("trust").await?;
    b.find("#organisation").await?.select_by_value(org).await?;
    b.click_nav("form[action='/ui/groups/new'] button[type=submit]").await?;
    let m365 = &school.m365_group_ids[0];
    let m365_row = format!("tr[data-group-id='{m365}']");
    assert!(
        !b.find(&format!("{m365_row} input[type=checkbox]")).await?.is_enabled().await?,
        "an M365 group is not selectable"
    );
    let why = b.find(&format!("{m365_row} .hint")).await?.text().await?;
    assert!(why.contains("Microsoft 365"), "{why}");
    assert_eq!(b.find(&format!("{m365_row} td:nth-child(3)")).await?.text().await?, "Microsoft 365");
    for (group, role) in [(&school.staff_group_id, "staff"), (&school.student_group_id, "student")] {
        b.find(&format!("input[name='group'][value='{group}']")).await?.click().await?;
        b.find(&format!("select[name='role:{group}']")).await?.select_by_value(role).await?;
    }
    b.screenshot("07-connection-group-form").await?;
    b.click_nav("form[action='/ui/groups'] button[type=submit]").await?;
    assert_eq!(b.path().await?, "/ui/groups");
    assert!(b.flash().await?.contains("created"), "{}", b.flash().await?);
    b.screenshot("08-connection-groups").await?;
    assert_eq!(daemon.app().config().organisations().len(), 1);

    // Sync all: the run finishes (the page updates by itself) with the counts the trust data says.
    b.goto("/ui/sync").await?;
    b.click_nav("form[action='/ui/sync/all'] button").await?;
    assert!(b.flash().await?.contains("Sync all started"));
    let row = format!("//tr[@data-organisation='{org}']");
    b.wait_for(Locator::XPath(&format!("{row}/td[@data-field='state'][normalize-space()='Succeeded']"))).await?;
    let cell = |field: &'static str| {
        let xpath = format!("{row}/td[@data-field='{field}']");
        async move {
            b.client.find(Locator::XPath(&xpath)).await?.text().await?.parse::<usize>().map_err(anyhow::Error::from)
        }
    };
    let (created, updated) = (cell("created").await?, cell("updated").await?);
    let want = expected(trust, org).len();
    assert!(created > 0);
    assert_eq!(created + updated, want, "every expected person is created or adopted");
    let report = daemon.app().store().runs(None, 1).await?.remove(0);
    assert_eq!((report.applied.created, report.applied.updated), (created, updated));
    assert_eq!(cell("errors").await?, 0);
    b.screenshot("09-user-sync").await?;

    // A held run: every pupil leaves the students group at the source. The run is held with the reason and an
    // Approve button; approving lets the next run suspend them.
    sandbox.graph.update_group(&school.student_group_id, |g| g.members.clear())?;
    b.click_nav(&format!("form[action='/ui/sync/org/{org}'] button")).await?;
    let held = b.wait_for(Locator::Css(".held")).await?;
    let text = held.text().await?;
    assert!(text.contains(org) && text.contains("Nothing was applied"), "{text}");
    let pending = daemon.app().store().held_runs().await?;
    assert_eq!(pending.len(), 1);
    let suspensions = pending[0].plan.suspensions.len();
    assert!(suspensions > 0);
    b.screenshot("10-held-run").await?;
    b.click_nav(".held form button").await?;
    assert!(b.flash().await?.contains("Approved"), "{}", b.flash().await?);
    b.wait_for(Locator::XPath(&format!("{row}/td[@data-field='suspended'][normalize-space()='{suspensions}']")))
        .await?;
    assert!(daemon.app().store().held_runs().await?.is_empty());

    // Run details: what changed, and the held run's records with filters.
    b.click_nav(&format!("tr[data-organisation='{org}'] td a")).await?;
    assert!(b.path().await?.starts_with("/ui/runs/"));
    assert_eq!(b.find("td[data-field='suspended']").await?.text().await?, suspensions.to_string());
    b.screenshot("11-run-details").await?;
    b.goto(&format!("/ui/held/{}", pending[0].id)).await?;
    b.find("#r-op").await?.select_by_value("suspend").await?;
    b.click_nav("form.filters button").await?;
    let shown = b.find("main p.hint").await?.text().await?;
    assert!(shown.starts_with(&format!("Showing {suspensions} of")), "{shown}");
    b.fill("#r-q", "no-such-person").await?;
    b.click_nav("form.filters button").await?;
    assert!(b.find("main p.hint").await?.text().await?.starts_with("Showing 0 of"));

    // Doctor: the admin loses a directory role; the failing check is explained with its remedy; re-runnable.
    b.goto("/ui/doctor").await?;
    b.find("tr[data-check='microsoft.roles'][data-status='PASS']").await?;
    sandbox.graph.remove_directory_role(&trust.admin.directory_user_id, CLOUD_APPLICATION_ADMINISTRATOR)?;
    b.click_nav("form[action='/ui/doctor'] button").await?;
    let failing = b.find("tr[data-check='microsoft.roles'][data-status='FAIL']").await?.text().await?;
    assert!(failing.contains("Cloud Application Administrator") && failing.contains("To fix:"), "{failing}");
    assert!(b.find(".flash.bad").await?.text().await?.contains("failed"));
    b.screenshot("12-doctor").await?;

    // The connection list, then sign out: the pages are closed again.
    b.goto("/ui/connections").await?;
    b.find("tr[data-connection='trust']").await?;
    b.screenshot("13-connections").await?;
    b.click_nav("form[action='/ui/logout'] button").await?;
    b.goto("/ui/sync").await?;
    assert_eq!(b.path().await?, "/ui/login");
    Ok(())
}
