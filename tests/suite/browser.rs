//! The demo application (`examples/demo`) in a real browser: headless Chromium driven through
//! ChromeDriver by a small WebDriver client (the W3C JSON protocol over `reqwest`), on both
//! session strategies. Cookies are a browser contract (HttpOnly, SameSite, Secure on
//! localhost, redirects after a form post, the back button after logout) that only a browser
//! proves.
//!
//! Needs Debian's `chromium` (`/usr/bin/chromium`) and `chromium-driver` (`chromedriver` on
//! `PATH`). Without them the tests print a `SKIP` notice and pass, unless
//! `SESSIONWARD_REQUIRE_BROWSER=1` (CI), which makes a missing browser a failure.
//!
//! The database-strategy run also takes the README's screenshots, and writes them to
//! `docs/screenshots/` when `SESSIONWARD_SCREENSHOTS=1` (CI sets it; a plain local run leaves
//! the committed images alone, since every run changes the clock shown in them).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::demo::{TempDir, demo_binary, wait_until_listening};
use reqwest::Method;
use serde_json::{Value, json};

/// Debian's Chromium (the `chromium` package).
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to show what a step expects.
const WAIT: Duration = Duration::from_secs(10);
/// How long the demo, ChromeDriver or a new browser may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a single WebDriver command may take (page loads are capped at `WAIT` inside).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The key of a W3C WebDriver element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// A laptop-sized window, for the screenshots.
const WINDOW: (u32, u32) = (1280, 800);
/// A JWT secret for the demo (test-only).
const JWT_SECRET: &str = "browser-test-secret-of-more-than-32-bytes-0123456789";
/// What only the dashboard shows (the login page also mentions `alice`, as a hint).
const DASHBOARD_CONTENT: &str = "Session expires";
/// The demo's freshness window (`FRESH_AGE_SECS`): `/account` asks for the password again
/// after it.
const FRESH_AGE_SECS: &str = "3";
/// alice's and the admin's credentials.
const ALICE: (&str, &str) = ("alice", "wonderland");
const ADMIN: (&str, &str) = ("admin", "admin-password");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_in_chromium_on_database_sessions() {
    let Some(chromedriver) = browser_tools() else {
        return;
    };
    let dir = TempDir::new("database");
    let demo = Demo::start(dir.path(), &[("FRESH_AGE_SECS", FRESH_AGE_SECS)]).await;
    walk_through(&chromedriver, &dir, &demo, Strategy::Database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_in_chromium_on_jwt_sessions() {
    let Some(chromedriver) = browser_tools() else {
        return;
    };
    let dir = TempDir::new("jwt");
    let env = [
        ("SESSION_STRATEGY", "jwt"),
        ("JWT_SECRET", JWT_SECRET),
        ("FRESH_AGE_SECS", FRESH_AGE_SECS),
    ];
    let demo = Demo::start(dir.path(), &env).await;
    assert!(demo.output().contains("JWT sessions"), "{}", demo.output());
    walk_through(&chromedriver, &dir, &demo, Strategy::Jwt).await;
}

/// How a form is sent: a click on its button, Enter in a field, or `requestSubmit()`.
#[derive(Clone, Copy, Debug)]
enum Submit {
    Click,
    Enter,
    Script,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Strategy {
    Database,
    Jwt,
}

/// The whole visit, as a person would make it, in one browser (plus a second device).
async fn walk_through(chromedriver: &Path, dir: &TempDir, demo: &Demo, strategy: Strategy) {
    let driver = ChromeDriver::start(chromedriver, dir.path()).await;
    let a = driver.open("profile-a").await;
    let write_to = (std::env::var("SESSIONWARD_SCREENSHOTS").as_deref() == Ok("1")).then(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("create docs/screenshots");
        dir
    });
    let shoot = async |browser: &Browser<'_>, name: &str| {
        if strategy == Strategy::Database {
            let png = browser.screenshot().await;
            assert_eq!(png_size(&png), WINDOW, "{name}: the screenshot's size");
            if let Some(dir) = &write_to {
                std::fs::write(dir.join(name), png).expect("write a screenshot");
            }
        }
    };

    // 1. Logged out, the dashboard sends the visitor to the login form.
    a.goto(&demo.url("/dashboard")).await;
    let shown = a
        .wait_for("the login form", |s| s.path() == "/login?next=/dashboard")
        .await;
    assert!(shown.text.contains("Log in"), "{}", shown.text);
    assert!(!shown.text.contains(DASHBOARD_CONTENT), "{}", shown.text);
    a.find("form[action=\"/login\"] input[name=\"next\"][value=\"/dashboard\"]")
        .await;
    shoot(&a, "login.png").await;

    // 2. Logging in through the form lands back on the dashboard (`next`).
    a.log_in(demo, ALICE, Submit::Click).await;
    let shown = a
        .wait_for("the dashboard", |s| s.path() == "/dashboard")
        .await;
    assert!(shown.text.contains(DASHBOARD_CONTENT), "{}", shown.text);
    assert!(shown.text.contains("alice"), "{}", shown.text);
    shoot(&a, "dashboard.png").await;

    // 3. The browser holds the session cookie with its attributes; page scripts cannot read it.
    let cookies = a.cookies().await;
    let cookie = cookies
        .iter()
        .find(|c| c["name"] == "session-id")
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["secure"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Lax", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    let token = cookie["value"].as_str().expect("a cookie value").to_owned();
    assert!(!token.is_empty());
    if strategy == Strategy::Jwt {
        assert_eq!(token.split('.').count(), 3, "the cookie holds a JWT");
    }
    let visible = a.execute("return document.cookie", json!([])).await;
    let visible = visible.as_str().expect("document.cookie is a string");
    assert!(
        !visible.contains("session-id") && !visible.contains(&token),
        "HttpOnly does not hold: document.cookie = {visible:?}"
    );

    // 4. A user opening the admin page gets the 403 page (with its status), not a login loop.
    a.goto(&demo.url("/admin")).await;
    let shown = a
        .wait_for("the 403 page", |s| s.text.contains("403 Forbidden"))
        .await;
    assert_eq!(shown.path(), "/admin");
    assert_eq!(a.response_status().await, 403);

    // 5. A second device: its session shows on the first one's sessions page, and revoking it
    // there logs the second device out. JWT sessions live in tokens, so `/sessions` lists only
    // the current browser's; there the step is only that the page says so.
    match strategy {
        Strategy::Database => {
            let b = driver.open("profile-b").await;
            b.goto(&demo.url("/login")).await;
            b.log_in(demo, ALICE, Submit::Enter).await;
            b.wait_for("the dashboard on the second device", |s| {
                s.path() == "/dashboard" && s.text.contains(DASHBOARD_CONTENT)
            })
            .await;

            a.goto(&demo.url("/sessions")).await;
            let shown = a
                .wait_for("the sessions page", |s| s.text.contains("Your sessions"))
                .await;
            assert!(shown.text.contains("this browser"), "{}", shown.text);
            let buttons = a.session_buttons().await;
            assert_eq!(buttons.len(), 2, "two sessions listed: {}", shown.text);
            shoot(&a, "sessions.png").await;
            let others: Vec<_> = buttons
                .iter()
                .filter(|(_, text)| text == "Revoke")
                .collect();
            assert_eq!(others.len(), 1, "one other session: {buttons:?}");
            a.click(&others[0].0).await;
            a.wait_for("the sessions page without the other session", |s| {
                s.path() == "/sessions"
                    && s.text.contains("this browser")
                    && !s.text.contains("Revoke")
            })
            .await;
            assert_eq!(a.session_buttons().await.len(), 1);

            b.goto(&demo.url("/dashboard")).await;
            let shown = b
                .wait_for("the login form on the revoked device", |s| {
                    s.path() == "/login?next=/dashboard"
                })
                .await;
            assert!(!shown.text.contains(DASHBOARD_CONTENT), "{}", shown.text);
            b.quit().await;
        }
        Strategy::Jwt => {
            a.goto(&demo.url("/sessions")).await;
            let shown = a
                .wait_for("the sessions page", |s| s.text.contains("Your sessions"))
                .await;
            assert!(shown.text.contains("JWT sessions"), "{}", shown.text);
            assert_eq!(a.session_buttons().await.len(), 1, "{}", shown.text);
        }
    }

    // 6. Logging out; going back does not show the dashboard from a cache, and reloading asks
    // for a login.
    a.goto(&demo.url("/dashboard")).await;
    a.wait_for("the dashboard", |s| s.text.contains(DASHBOARD_CONTENT))
        .await;
    let log_out = a.find("header form[action=\"/logout\"] button").await;
    a.click(&log_out).await;
    let shown = a.wait_for("the home page", |s| s.path() == "/").await;
    assert!(
        shown.text.contains("You are not logged in"),
        "{}",
        shown.text
    );
    assert!(
        a.cookies().await.iter().all(|c| c["name"] != "session-id"),
        "the cookie is gone"
    );
    a.back().await;
    let shown = a
        .wait_for("the page after going back", |s| s.path() != "/")
        .await;
    assert!(
        !shown.text.contains(DASHBOARD_CONTENT),
        "back after logout shows the dashboard ({}):\n{}",
        shown.url,
        shown.text
    );
    a.refresh().await;
    let shown = a
        .wait_for("the login form after reloading", |s| {
            s.path() == "/login?next=/dashboard"
        })
        .await;
    assert!(!shown.text.contains(DASHBOARD_CONTENT), "{}", shown.text);

    // 7. A page on another origin that auto-submits a form POST to `/logout` does not log
    // alice out. On `localhost:<other port>` it is same-site, so SameSite=Lax lets the cookie
    // go along and the session layer's origin check must refuse the POST (403); on
    // `127.0.0.1:<other port>` it is cross-site: the browser withholds the cookie, and the
    // check refuses the POST too.
    a.find("input[name=\"username\"]").await;
    a.log_in(demo, ALICE, Submit::Script).await;
    a.wait_for("the dashboard", |s| {
        s.path() == "/dashboard" && s.text.contains(DASHBOARD_CONTENT)
    })
    .await;
    let signed_in = Instant::now();
    let evil = OtherSite::start(&demo.url("/logout")).await;

    let log_before = demo.output().len();
    a.goto(&format!("http://localhost:{}/", evil.port)).await;
    let shown = a
        .wait_for("the forged logout from a same-site origin", |s| {
            s.url == demo.url("/logout")
        })
        .await;
    assert!(
        shown.text.contains("cross-origin request refused"),
        "{}",
        shown.text
    );
    assert_eq!(a.response_status().await, 403);
    let log = demo.output_since(log_before);
    assert!(
        log.contains("cross-origin request refused")
            && log.contains("method=POST path=/logout status=403"),
        "the POST came with the cookie and was refused:\n{log}"
    );
    a.goto(&demo.url("/dashboard")).await;
    let shown = a
        .wait_for("the dashboard after the forged logout", |s| {
            s.path() == "/dashboard"
        })
        .await;
    assert!(
        shown.text.contains(DASHBOARD_CONTENT) && shown.text.contains("alice"),
        "a same-site page logged alice out:\n{}",
        shown.text
    );

    let log_before = demo.output().len();
    a.goto(&format!("http://127.0.0.1:{}/", evil.port)).await;
    // The browser withholds the (Lax) cookie, and the POST is refused all the same: a
    // cross-site POST is refused with or without the cookie (a forged login is an attack too).
    let shown = a
        .wait_for("the forged logout from a cross-site origin", |s| {
            s.url == demo.url("/logout")
        })
        .await;
    assert!(
        shown.text.contains("cross-origin request refused"),
        "{}",
        shown.text
    );
    let log = demo.output_since(log_before);
    assert!(
        log.contains("cross-origin request refused")
            && log.contains("method=POST path=/logout status=403"),
        "the cross-site POST was not refused:
{log}"
    );
    a.goto(&demo.url("/dashboard")).await;
    let shown = a
        .wait_for("the dashboard after the cross-site logout", |s| {
            s.path() == "/dashboard"
        })
        .await;
    assert!(
        shown.text.contains(DASHBOARD_CONTENT) && shown.text.contains("alice"),
        "a cross-site page logged alice out:\n{}",
        shown.text
    );

    // 8. Step-up: once the sign-in is older than FRESH_AGE_SECS, the account page asks for the
    // password again, then opens.
    let window = Duration::from_secs(FRESH_AGE_SECS.parse().expect("seconds"));
    tokio::time::sleep((window + Duration::from_secs(1)).saturating_sub(signed_in.elapsed())).await;
    a.goto(&demo.url("/account")).await;
    let shown = a
        .wait_for("the re-authentication form", |s| {
            s.path() == "/reauth?next=/account"
        })
        .await;
    assert!(shown.text.contains("Confirm it is you"), "{}", shown.text);
    let pass = a
        .find("form[action=\"/reauth\"] input[name=\"password\"]")
        .await;
    a.send_keys(&pass, ALICE.1).await;
    let confirm = a
        .find("form[action=\"/reauth\"] button[type=\"submit\"]")
        .await;
    a.click(&confirm).await;
    let shown = a
        .wait_for("the account page", |s| s.path() == "/account")
        .await;
    assert!(
        shown.text.contains("Signed in or confirmed"),
        "{}",
        shown.text
    );

    // 9. The admin makes alice an admin with the admin page's form; alice's signed-in browser
    // opens the admin page on its next request.
    let admin = driver.open("profile-admin").await;
    admin.goto(&demo.url("/login")).await;
    admin.log_in(demo, ADMIN, Submit::Click).await;
    admin
        .wait_for("the admin's dashboard", |s| {
            s.path() == "/dashboard" && s.text.contains(DASHBOARD_CONTENT)
        })
        .await;
    admin.goto(&demo.url("/admin")).await;
    let shown = admin
        .wait_for("the admin page", |s| {
            s.text.contains("Recent session events")
        })
        .await;
    assert!(shown.text.contains("alice\tuser"), "{}", shown.text);
    let alice_form = "form[action=\"/admin/users/alice/role\"]";
    let option = admin
        .find(&format!("{alice_form} option[value=\"admin\"]"))
        .await;
    admin.click(&option).await;
    let set = admin.find(&format!("{alice_form} button")).await;
    admin.click(&set).await;
    admin
        .wait_for("the admin page with alice as an admin", |s| {
            s.path() == "/admin" && s.text.contains("alice\tadmin")
        })
        .await;
    if strategy == Strategy::Database {
        // The layer hands events to the hook from a queue, so the role change's event can
        // reach the log after the redirect's page was drawn: reload until it shows.
        admin
            .wait_for_reloading("the role change's data_updated event", |s| {
                s.path() == "/admin" && s.text.contains("data_updated")
            })
            .await;
    }
    admin.quit().await;
    a.goto(&demo.url("/admin")).await;
    let shown = a
        .wait_for("the admin page for alice", |s| {
            s.path() == "/admin" && s.text.contains("Recent session events")
        })
        .await;
    assert!(shown.text.contains("alice"), "{}", shown.text);
    assert_eq!(a.response_status().await, 200);

    a.quit().await;
}

// ---------------------------------------------------------------------------------------------
// Chromium and ChromeDriver

/// `chromedriver`'s path when both it and Chromium are installed; `None` (after a printed
/// notice) when either is missing, unless `SESSIONWARD_REQUIRE_BROWSER=1`.
fn browser_tools() -> Option<PathBuf> {
    let chromedriver = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|path| path.is_file())
    });
    match chromedriver {
        Some(chromedriver) if Path::new(CHROMIUM).is_file() => Some(chromedriver),
        _ => {
            assert!(
                std::env::var("SESSIONWARD_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "SESSIONWARD_REQUIRE_BROWSER=1 but {CHROMIUM} or chromedriver is missing \
                 (apt-get install chromium chromium-driver)"
            );
            println!(
                "SKIP: browser tests need chromium and chromedriver \
                 (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// A running ChromeDriver, killed on drop (with the browsers it started: they share its
/// process group).
struct ChromeDriver {
    child: Child,
    /// Where the browsers' profiles go: removed (by the test) after the driver is gone.
    dir: PathBuf,
    base: String,
    addr: SocketAddr,
    log: PathBuf,
    http: reqwest::Client,
}

impl ChromeDriver {
    async fn start(binary: &Path, dir: &Path) -> ChromeDriver {
        let port = free_port();
        let log = dir.join(format!("chromedriver-{port}.log"));
        let mut command = Command::new(binary);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut driver = ChromeDriver {
            child: command.spawn().expect("start chromedriver"),
            dir: dir.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            http: reqwest::Client::builder()
                .timeout(COMMAND_TIMEOUT)
                .build()
                .expect("HTTP client"),
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited with {status}:\n{}", driver.output());
            }
            let status = driver.http.get(format!("{}/status", driver.base)).send();
            if let Ok(reply) = status.await
                && let Ok(body) = reply.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return driver;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "chromedriver was not ready within {START_TIMEOUT:?}:\n{}",
                driver.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail = log.len().saturating_sub(8_000);
        log[log.ceil_char_boundary(tail)..].to_owned()
    }

    /// A new browser with its own empty profile, `name`: a separate device, as far as
    /// cookies go.
    async fn open(&self, name: &str) -> Browser<'_> {
        let profile = self.dir.join(name);
        std::fs::create_dir_all(&profile).expect("create a browser profile");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "pageLoadStrategy": "normal",
                    "timeouts": {
                        "pageLoad": WAIT.as_millis() as u64,
                        "script": WAIT.as_millis() as u64,
                        "implicit": 0,
                    },
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let reply = self
            .http
            .post(format!("{}/session", self.base))
            .timeout(START_TIMEOUT)
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers");
        let body = webdriver_value(reply)
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium: {e}\n{}", self.output()));
        let id = body["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {body}"))
            .to_owned();
        let browser = Browser {
            driver: self,
            id,
            quit: false,
        };
        browser.set_viewport(WINDOW).await;
        browser
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The process group this driver leads (see `start`): the driver and its browsers.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: one Chromium with its own profile. Ended on drop.
struct Browser<'d> {
    driver: &'d ChromeDriver,
    id: String,
    quit: bool,
}

/// What a browser shows: its URL and the page's visible text.
#[derive(Clone, Debug)]
struct Shown {
    url: String,
    text: String,
}

impl Shown {
    /// The path and query of the URL (the whole URL when it has no path).
    fn path(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        after_scheme
            .find('/')
            .map_or(self.url.as_str(), |i| &after_scheme[i..])
    }
}

impl Browser<'_> {
    /// Sends a WebDriver command for this session; an error answer fails the test.
    async fn command(&self, method: Method, path: &str, body: Value) -> Value {
        self.try_command(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn try_command(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.driver.base, self.id);
        let request = self.driver.http.request(method.clone(), url);
        let request = if method == Method::GET {
            request
        } else {
            request.json(&body)
        };
        let reply = request.send().await.map_err(|e| e.to_string())?;
        webdriver_value(reply).await
    }

    async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn back(&self) {
        self.command(Method::POST, "/back", json!({})).await;
    }

    async fn refresh(&self) {
        self.command(Method::POST, "/refresh", json!({})).await;
    }

    async fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// The URL and visible text, or an error while a navigation replaces the document.
    async fn shown(&self) -> Result<Shown, String> {
        let url = self.try_command(Method::GET, "/url", Value::Null).await?;
        let script = json!({
            "script": "return document.body ? document.body.innerText : ''",
            "args": [],
        });
        let text = self
            .try_command(Method::POST, "/execute/sync", script)
            .await?;
        Ok(Shown {
            url: url.as_str().unwrap_or_default().to_owned(),
            text: text.as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Polls until the browser shows what `ok` accepts; fails after [`WAIT`].
    async fn wait_for(&self, what: &str, ok: impl Fn(&Shown) -> bool) -> Shown {
        self.wait_until(what, ok, false).await
    }

    /// As [`wait_for`](Self::wait_for), reloading the page between looks: for what reaches
    /// the page only on a later request.
    async fn wait_for_reloading(&self, what: &str, ok: impl Fn(&Shown) -> bool) -> Shown {
        self.wait_until(what, ok, true).await
    }

    async fn wait_until(&self, what: &str, ok: impl Fn(&Shown) -> bool, reload: bool) -> Shown {
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = self.shown().await;
            if let Ok(shown) = &shown
                && ok(shown)
            {
                return Shown::clone(shown);
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not shown within {WAIT:?} (reloading: {reload}); the browser shows \
                 {shown:#?}"
            );
            if reload {
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.refresh().await;
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The HTTP status of the current page's response (Navigation Timing).
    async fn response_status(&self) -> u64 {
        let script = "return performance.getEntriesByType('navigation')[0].responseStatus";
        let status = self.execute(script, json!([])).await;
        status
            .as_u64()
            .unwrap_or_else(|| panic!("no response status: {status}"))
    }

    /// The first element that matches `css`; fails after [`WAIT`] without one.
    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .try_command(
                    Method::POST,
                    "/element",
                    json!({ "using": "css selector", "value": css }),
                )
                .await;
            match found {
                Ok(element) => return element_id(&element),
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "no element {css} within {WAIT:?} ({e}); the page:\n{}",
                    self.source().await
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .command(
                Method::POST,
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_array()
            .expect("a list of elements")
            .iter()
            .map(element_id)
            .collect()
    }

    async fn text(&self, element: &str) -> String {
        let text = self
            .command(
                Method::GET,
                &format!("/element/{element}/text"),
                Value::Null,
            )
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn send_keys(&self, element: &str, text: &str) {
        self.command(
            Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, element: &str) {
        self.command(
            Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    /// Submits the form `element` belongs to, as pressing Enter in a field would.
    async fn submit(&self, element: &str) {
        self.execute(
            "(arguments[0].form || arguments[0]).requestSubmit()",
            json!([{ ELEMENT: element }]),
        )
        .await;
    }

    async fn source(&self) -> String {
        let source = self.command(Method::GET, "/source", Value::Null).await;
        source.as_str().unwrap_or_default().to_owned()
    }

    /// Every cookie the browser holds for the current page, HttpOnly ones included.
    async fn cookies(&self) -> Vec<Value> {
        let cookies = self.command(Method::GET, "/cookie", Value::Null).await;
        cookies.as_array().cloned().unwrap_or_default()
    }

    /// Sets the window rect so that the viewport (what a screenshot shows) is `width` by
    /// `height`: the window rect includes whatever frame the browser draws around the page.
    async fn set_viewport(&self, (width, height): (u32, u32)) {
        let (mut outer_width, mut outer_height) = (width, height);
        for _ in 0..3 {
            let rect = json!({ "width": outer_width, "height": outer_height });
            self.command(Method::POST, "/window/rect", rect).await;
            let inner = self
                .execute("return [window.innerWidth, window.innerHeight]", json!([]))
                .await;
            let inner = |i: usize| inner[i].as_u64().expect("a size") as u32;
            if (inner(0), inner(1)) == (width, height) {
                return;
            }
            outer_width = outer_width + width - inner(0).min(width);
            outer_height = outer_height + height - inner(1).min(height);
        }
        panic!("cannot make the viewport {width}x{height}");
    }

    /// A PNG of the viewport.
    async fn screenshot(&self) -> Vec<u8> {
        let png = self.command(Method::GET, "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a base64 PNG")
    }

    /// Types `(username, password)` into the login form on the current page and sends it the
    /// way `how` says.
    async fn log_in(&self, demo: &Demo, (username, password): (&str, &str), how: Submit) {
        let shown = self.shown().await.expect("a page");
        assert!(
            shown.url.starts_with(&demo.url("/login")),
            "not on the login form: {shown:?}"
        );
        let user = self
            .find("form[action=\"/login\"] input[name=\"username\"]")
            .await;
        self.send_keys(&user, username).await;
        let pass = self
            .find("form[action=\"/login\"] input[name=\"password\"]")
            .await;
        match how {
            Submit::Click => {
                self.send_keys(&pass, password).await;
                let button = self
                    .find("form[action=\"/login\"] button[type=\"submit\"]")
                    .await;
                self.click(&button).await;
            }
            // WebDriver's key code for Enter.
            Submit::Enter => self.send_keys(&pass, &format!("{password}\u{E007}")).await,
            Submit::Script => {
                self.send_keys(&pass, password).await;
                self.submit(&pass).await;
            }
        }
    }

    /// The revoke buttons on the sessions page, with their labels (`Log out` for this browser's
    /// session, `Revoke` for the others).
    async fn session_buttons(&self) -> Vec<(String, String)> {
        let mut buttons = Vec::new();
        for button in self.find_all("main table form button").await {
            let text = self.text(&button).await;
            buttons.push((button, text));
        }
        buttons
    }

    async fn quit(mut self) {
        self.quit = true;
        let _ = self.try_command(Method::DELETE, "", Value::Null).await;
    }
}

impl Drop for Browser<'_> {
    /// Ends the WebDriver session (which closes Chromium) with a blocking request: drop cannot
    /// await, and a test that failed half-way must not leave a browser behind.
    fn drop(&mut self) {
        if self.quit {
            return;
        }
        let Ok(mut stream) = TcpStream::connect_timeout(&self.driver.addr, Duration::from_secs(2))
        else {
            return;
        };
        let _ = stream.set_read_timeout(Some(WAIT));
        let _ = stream.set_write_timeout(Some(WAIT));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Length: 0\r\n\r\n",
            self.id, self.driver.addr
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

/// The `value` of a WebDriver answer, or its error and message.
async fn webdriver_value(reply: reqwest::Response) -> Result<Value, String> {
    let status = reply.status();
    let body: Value = reply.json().await.map_err(|e| e.to_string())?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!("{status} {}: {}", value["error"], value["message"]))
    }
}

fn element_id(element: &Value) -> String {
    element[ELEMENT]
        .as_str()
        .unwrap_or_else(|| panic!("not an element: {element}"))
        .to_owned()
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}

// ---------------------------------------------------------------------------------------------
// The demo and the other site

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// The demo on its default SQLite store in a scratch directory, killed on drop. The browser
/// reaches it as `http://localhost:<port>`: a secure context, so the `Secure` cookie works
/// over plain http.
struct Demo {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Demo {
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Demo {
        let port = free_port();
        let log = dir.join(format!("demo-{port}.log"));
        let out = std::fs::File::create(&log).expect("create the demo log");
        let mut demo = Demo {
            child: Command::new(demo_binary())
                .current_dir(dir)
                .env("PORT", port.to_string())
                .env_remove("RUST_LOG")
                .env_remove("INSECURE_COOKIES")
                .env_remove("SESSION_STRATEGY")
                .env_remove("DATABASE_URL")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("clone the log handle"))
                .stderr(out)
                .spawn()
                .expect("start the demo"),
            port,
            log,
        };
        wait_until_listening(&mut demo.child, port, &demo.log).await;
        demo
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the demo logged after its log was `len` bytes long.
    fn output_since(&self, len: usize) -> String {
        self.output().get(len..).unwrap_or_default().to_owned()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Another site: one page that auto-submits a form POST to `target`. Stopped on drop.
struct OtherSite {
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl OtherSite {
    async fn start(target: &str) -> OtherSite {
        let page = format!(
            "<!doctype html><html><head><title>Another site</title></head><body>\
             <form method=\"post\" action=\"{target}\">\
             <input type=\"hidden\" name=\"free\" value=\"prize\"></form>\
             <script>document.forms[0].submit()</script></body></html>"
        );
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(page) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen for the other site");
        let port = listener.local_addr().expect("its address").port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OtherSite { port, server }
    }
}

impl Drop for OtherSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}
