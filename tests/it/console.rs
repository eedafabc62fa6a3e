//! The web console against the real daemon: `tend run` serving `/console/`
//! on its HTTP listener, a real SQLite file filled by the real binary
//! (import, a tick with a real SMTP server, an inbound bounce), and real
//! HTTP requests. Every page and action: without a session (to sign-in),
//! with a wrong CSRF token (403), as a viewer (403 on actions), as an
//! operator (done and audited); hostile text shown as text everywhere;
//! sign-in limits; the trusted single-sign-on header; and the whole
//! console in a real headless Chromium (`tests/support/console_browser.py`).

use crate::helpers::{Daemon, NOW, TestApp, days_from_now, hours_from_now, repo};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

const OPERATOR_PASSWORD: &str = "correct horse battery staple";
const VIEWER_PASSWORD: &str = "viewer's own password";
const HOSTILE_NAME: &str = "<script>alert('name')</script> Eve";
const HOSTILE_DESCRIPTION: &str = "<script>alert('campaign')</script> Wake-up pilot";
/// The corpus's signing key (`tests/fixtures/inbound/README.md`).
const FIXTURE_SECRET: &str = "inbound-fixtures-secret-0123456789";

const PILOT: &str = r#"
description = "DESCRIPTION"
segment = { stage = "sleeping" }
timezone = "Europe/Berlin"
send_window = { days = "mon-fri", hours = "09:00-17:00" }
pilot = { sample = 0.6, holdout = 0.4, seed = "console-test", respond_within = "21d", respond_on = ["purchase", "reply"] }

[[steps]]
after = "0d"
template = "win-back/checking-in"

[[steps]]
after = "6d"
template = "win-back/something-new"
"#;

fn hash(app: &TestApp, password: &str) -> String {
    let mut child = app
        .command(&["console", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

/// The shipped campaigns plus a pilot with a hostile description; new and
/// sleeping contacts (one with a hostile name); a tick that sent step 1
/// to a real SMTP server; one row in doubt; one bounce taken.
fn setup(sso_proxy: &str) -> TestApp {
    setup_on(TestApp::with_smtp(&[]), sso_proxy)
}

fn setup_on(app: TestApp, sso_proxy: &str) -> TestApp {
    app.write(
        "campaigns/winback-pilot.toml",
        &PILOT.replace("DESCRIPTION", HOSTILE_DESCRIPTION),
    );
    let operator = hash(&app, OPERATOR_PASSWORD);
    let viewer = hash(&app, VIEWER_PASSWORD);
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &format!(
            "{config}\n[console]\nenabled = true\nsso_header = \"X-Forwarded-User\"\nsso_proxies = [\"{sso_proxy}\"]\ntimezone = \"Europe/Berlin\"\nlogin_attempts = 3\n\n[[console.users]]\nname = \"olga\"\npassword_hash = \"{operator}\"\nrole = \"operator\"\n\n[[console.users]]\nname = \"vic\"\npassword_hash = \"{viewer}\"\nrole = \"viewer\"\n"
        ),
    );
    let mut csv = String::from("email,name,created_at,last_activity_at,timezone\n");
    csv += &format!(
        "ana@example.com,Ana Lopez,{},{},Europe/Madrid\n",
        days_from_now(-2),
        days_from_now(-1)
    );
    csv += &format!(
        "evil@example.com,\"{HOSTILE_NAME}\",{},{},America/New_York\n",
        days_from_now(-3),
        days_from_now(-1)
    );
    csv += &format!(
        "gone@example.com,Gone,{},{},\n",
        days_from_now(-1),
        days_from_now(-1)
    );
    for i in 0..30 {
        csv += &format!(
            "s{i}@example.com,Sam {i},{},{},\n",
            days_from_now(-400),
            days_from_now(-120)
        );
    }
    app.import_contacts(&csv);
    app.run_once(NOW);
    // One send whose sender stopped after handing it over: in doubt.
    sql(
        &app,
        "UPDATE sends SET state = 'in_doubt', message_id = '<doubt@acme.example>', wire_at = sent_at
         WHERE id = (SELECT min(s.id) FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'ana@example.com')",
    );
    app.tend_with(
        &[
            "inbound",
            &repo()
                .join("tests/fixtures/inbound/postfix-dsn-hard-5.1.1.eml")
                .display()
                .to_string(),
            "--now",
            NOW,
        ],
        &[("TEND__HTTP__SECRET", FIXTURE_SECRET)],
    )
    .ok();
    app
}

/// One statement on the app's database (SQLite file or PostgreSQL).
fn sql(app: &TestApp, statement: &str) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let done = match &app.database {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let done = sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
                done.rows_affected()
            }
            None => {
                let url = format!("sqlite://{}", app.path("tend.db").display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                let done = sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
                done.rows_affected()
            }
        };
        assert_eq!(done, 1, "{statement}");
    });
}

struct Console {
    _daemon: Daemon,
    addr: SocketAddr,
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn start(app: &TestApp) -> Console {
    // Quiet hours for the calendar to shade (only the daemon: the first
    // tick at NOW sent to every zone).
    let daemon = app.spawn_daemon_at(
        &hours_from_now(1),
        &[("TEND__SENDING__QUIET_HOURS", "21:00-07:00")],
    );
    let addr = daemon.http_addr();
    Console {
        _daemon: daemon,
        addr,
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Console {
    fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        extra: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(cookie) = cookie {
            request += &format!("Cookie: {cookie}\r\n");
        }
        for (name, value) in extra {
            request += &format!("{name}: {value}\r\n");
        }
        if method == "POST" {
            request += "Content-Type: application/x-www-form-urlencoded\r\n";
        }
        request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        Reply {
            status: head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    fn get(&self, path: &str, cookie: &str) -> Reply {
        self.request("GET", path, Some(cookie), &[], "")
    }

    fn post(&self, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Reply {
        self.request("POST", path, Some(cookie), &[], &form(pairs))
    }

    /// Posts the sign-in form as a browser would: the page first (its
    /// form token in the form and in a cookie), then the form.
    fn login(&self, user: &str, password: &str) -> Reply {
        let page = self.request("GET", "/console/login", None, &[], "");
        let token = csrf_of(&page.body);
        let cookie = page.header("set-cookie").expect("the form's cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        let cookie = cookie.split(';').next().unwrap().to_string();
        self.request(
            "POST",
            "/console/login",
            Some(&cookie),
            &[],
            &form(&[
                ("user", user),
                ("password", password),
                ("next", "/console/"),
                ("csrf", &token),
            ]),
        )
    }

    /// Signs in with the form; returns the session cookie.
    fn sign_in(&self, user: &str, password: &str) -> String {
        let reply = self.login(user, password);
        assert_eq!(reply.status, 303, "{}\n{}", reply.head, reply.body);
        let cookie = reply.header("set-cookie").expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        cookie.split(';').next().unwrap().to_string()
    }
}

/// Step 1's sent count from the report CSV.
fn csv_sent(csv: &str) -> u64 {
    csv.lines()
        .find(|l| l.contains(",step,1,"))
        .and_then(|l| l.split(',').nth(4))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Every page, as (path, something it must say).
fn pages(contact: i64) -> Vec<(String, &'static str)> {
    vec![
        ("/console/".into(), "Outbox by state"),
        ("/console/campaigns".into(), "winback-pilot"),
        ("/console/campaigns/winback-pilot".into(), "Segment now"),
        (
            "/console/preview?campaign=welcome&q=eve".into(),
            "Contacts found",
        ),
        (
            format!("/console/preview?campaign=welcome&contact={contact}"),
            "Step 2: welcome",
        ),
        (
            "/console/calendar".into(),
            "Sends per hour, Europe&#x2F;Berlin",
        ),
        ("/console/contacts?q=example".into(), "ana@example.com"),
        (format!("/console/contacts/{contact}"), "Timeline"),
        ("/console/reports".into(), "winback-pilot"),
        ("/console/reports/winback-pilot".into(), "Pilot verdict"),
        (
            "/console/reports/winback-pilot/csv".into(),
            "campaign,row,name",
        ),
        ("/console/suppressions".into(), "gone@example.com"),
        ("/console/inbound".into(), "hard_bounce"),
        ("/console/audit".into(), "Audit log"),
    ]
}

/// The id of a contact, from the contacts search page.
fn contact_id(console: &Console, cookie: &str, query: &str) -> i64 {
    let page = console.get(&format!("/console/contacts?q={query}"), cookie);
    let at = page.body.find("/console/contacts/").unwrap();
    let rest = &page.body[at + "/console/contacts/".len()..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

const ACTIONS: &[&str] = &[
    "/console/actions/suppress",
    "/console/actions/unsuppress",
    "/console/actions/promote",
    "/console/actions/settle",
    "/console/actions/undo-inbound",
];

#[test]
fn every_page_and_action_checks_who_asks_and_operators_actions_are_audited() {
    routes_story(setup("10.9.9.9"));
}

#[test]
fn every_page_and_action_on_postgres() {
    let Some(db) = crate::pg::PgDb::create() else {
        return;
    };
    let url = db.url.clone();
    let app = TestApp {
        pg: Some(db),
        ..TestApp::with_smtp(&[]).on_database(&url)
    };
    routes_story(setup_on(app, "10.9.9.9"));
}

fn routes_story(app: TestApp) {
    let console = start(&app);

    // Without a session: every page and action goes to sign-in.
    for (path, _) in pages(1) {
        let reply = console.request("GET", &path, None, &[], "");
        assert_eq!(reply.status, 303, "{path}");
        let to = reply.header("location").unwrap();
        assert!(to.starts_with("/console/login?next="), "{path}: {to}");
    }
    for path in ACTIONS {
        let reply = console.request("POST", path, None, &[], "csrf=x&value=a%40b.example");
        assert_eq!(reply.status, 303, "{path}");
    }
    // The SSO header from an untrusted address is ignored.
    let reply = console.request(
        "GET",
        "/console/",
        None,
        &[("X-Forwarded-User", "olga")],
        "",
    );
    assert_eq!(reply.status, 303);

    // Wrong password: 401, no session.
    let reply = console.login("olga", "nope");
    assert_eq!(reply.status, 401);
    assert!(
        !reply
            .header("set-cookie")
            .unwrap_or_default()
            .starts_with("tend_console=")
    );
    // The sign-in form without its token (another site posting it): 403.
    let reply = console.request(
        "POST",
        "/console/login",
        None,
        &[],
        &form(&[
            ("user", "olga"),
            ("password", OPERATOR_PASSWORD),
            ("csrf", "guess"),
        ]),
    );
    assert_eq!(reply.status, 403);
    assert!(reply.header("set-cookie").is_none());

    let viewer = console.sign_in("vic", VIEWER_PASSWORD);
    let ana = contact_id(&console, &viewer, "ana%40example.com");
    let eve = contact_id(&console, &viewer, "eve");
    for (path, says) in pages(ana) {
        let reply = console.get(&path, &viewer);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert!(
            reply.body.contains(says),
            "{path} says {says}:\n{}",
            reply.body
        );
        if !path.ends_with("/csv") {
            let csp = reply.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        }
        // Hostile text is never markup, on any page.
        assert!(
            !reply.body.contains("<script>alert("),
            "{path} lets a script through"
        );
    }
    // The hostile name and description are shown, as text.
    for path in [
        "/console/contacts?q=eve".to_string(),
        format!("/console/contacts/{eve}"),
        format!("/console/preview?campaign=welcome&contact={eve}"),
    ] {
        let body = console.get(&path, &viewer).body;
        assert!(body.contains("&lt;script&gt;alert("), "{path}:\n{body}");
    }
    for path in [
        "/console/campaigns",
        "/console/reports",
        "/console/reports/winback-pilot",
    ] {
        let body = console.get(path, &viewer).body;
        assert!(
            body.contains(
                "&lt;script&gt;alert(&#x27;campaign&#x27;)&lt;&#x2F;script&gt; Wake-up pilot"
            ),
            "{path}:\n{body}"
        );
    }
    // The preview is what is sent: headers, text part, HTML in a sandboxed frame.
    let preview = console
        .get(
            &format!("/console/preview?campaign=welcome&contact={ana}"),
            &viewer,
        )
        .body;
    assert!(
        preview.contains("Message-ID: ") && preview.contains("List-Unsubscribe"),
        "{preview}"
    );
    assert!(preview.contains("sandbox srcdoc=\""), "{preview}");
    assert!(!preview.contains("allow-scripts"));
    let cli = app
        .tend(&[
            "preview",
            "welcome",
            "--contact",
            "ana@example.com",
            "--now",
            NOW,
        ])
        .ok()
        .stdout;
    let subject = cli
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert!(
        preview.contains(subject),
        "the CLI's subject {subject} is the console's"
    );
    // The calendar shades quiet hours and the campaign's window, and
    // counts the pilot's second step where the planner will send it.
    let calendar = console
        .get(
            "/console/calendar?zone=Europe%2FBerlin&campaign=winback-pilot",
            &viewer,
        )
        .body;
    assert!(
        calendar.contains("class=\"h quiet") && calendar.contains("class=\"h closed"),
        "{calendar}"
    );
    let sent_first: u64 = csv_sent(
        &console
            .get("/console/reports/winback-pilot/csv", &viewer)
            .body,
    );
    assert!(sent_first > 0);
    assert!(
        calendar.contains(&format!("<strong id=\"total\">{sent_first}</strong>")),
        "every treatment contact's step 2 is forecast:\n{calendar}"
    );
    assert!(
        calendar.contains("title=\"Mon 16 Mar 11:00"),
        "six days after the first, 11:00 Berlin"
    );
    // The CSV is a download.
    let csv = console.get("/console/reports/winback-pilot/csv", &viewer);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.body.contains("winback-pilot,group,treatment,"),
        "{}",
        csv.body
    );

    // A viewer may not act, even with the right token.
    let token = csrf_of(&console.get("/console/", &viewer).body);
    for path in ACTIONS {
        let reply = console.post(
            path,
            &viewer,
            &[("csrf", &token), ("value", "x@example.com")],
        );
        assert_eq!(reply.status, 403, "viewer on {path}");
    }

    // An operator with a wrong token: 403, and nothing changed.
    let operator = console.sign_in("olga", OPERATOR_PASSWORD);
    let token = csrf_of(&console.get("/console/", &operator).body);
    assert_ne!(token, csrf_of(&console.get("/console/", &viewer).body));
    for path in ACTIONS {
        let reply = console.post(
            path,
            &operator,
            &[("csrf", "not-the-token"), ("value", "x@example.com")],
        );
        assert_eq!(reply.status, 403, "wrong CSRF on {path}");
    }
    let reply = console.post(
        "/console/actions/suppress",
        &operator,
        &[("value", "x@example.com")],
    );
    assert_eq!(reply.status, 403, "no CSRF token at all");
    assert!(
        !console
            .get("/console/suppressions", &operator)
            .body
            .contains("x@example.com")
    );

    // Operator actions work and are recorded.
    let act = |path: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("csrf", token.as_str()), ("back", "/console/audit")];
        all.extend_from_slice(pairs);
        let reply = console.post(path, &operator, &all);
        assert_eq!(reply.status, 303, "{path}: {}", reply.body);
        reply.header("location").unwrap()
    };
    act(
        "/console/actions/suppress",
        &[("value", "blocked.example"), ("note", "<b>bad</b> domain")],
    );
    assert!(
        console
            .get("/console/suppressions", &operator)
            .body
            .contains("blocked.example")
    );
    act(
        "/console/actions/unsuppress",
        &[("value", "blocked.example")],
    );
    assert!(
        !console
            .get("/console/suppressions", &operator)
            .body
            .contains("blocked.example")
    );

    let doubt: serde_json::Value = serde_json::from_str(
        &app.tend(&["--json", "outbox", "--state", "in_doubt"])
            .ok()
            .stdout,
    )
    .unwrap();
    let row = doubt[0]["id"].as_i64().unwrap().to_string();
    act("/console/actions/settle", &[("id", &row), ("how", "sent")]);
    let doubt: serde_json::Value = serde_json::from_str(
        &app.tend(&["--json", "outbox", "--state", "in_doubt"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(doubt.as_array().unwrap().len(), 0, "settled");

    let inbound: serde_json::Value =
        serde_json::from_str(&app.tend(&["--json", "inbound", "list"]).ok().stdout).unwrap();
    let bounce = inbound[0]["id"].as_i64().unwrap().to_string();
    assert!(
        console
            .get("/console/suppressions", &operator)
            .body
            .contains("gone@example.com")
    );
    act("/console/actions/undo-inbound", &[("id", &bounce)]);
    assert!(
        !console
            .get("/console/suppressions", &operator)
            .body
            .contains("gone@example.com"),
        "undoing the bounce lifts its suppression"
    );

    let location = act("/console/actions/promote", &[("campaign", "winback-pilot")]);
    assert!(location.starts_with("/console/audit?done="), "{location}");
    let report = console
        .get("/console/reports/winback-pilot", &operator)
        .body;
    assert!(report.contains("Promoted to a full rollout"), "{report}");

    let audit = console.get("/console/audit", &viewer).body;
    for (action, subject) in [
        ("suppress", "blocked.example"),
        ("unsuppress", "blocked.example"),
        ("settle", &format!("outbox #{row}")),
        ("undo_inbound", &format!("inbound #{bounce}")),
        ("promote", "winback-pilot"),
    ] {
        assert!(
            audit.contains(&format!(
                "<td>console:olga</td><td>{action}</td><td>{subject}</td>"
            )),
            "{action} {subject} audited:\n{audit}"
        );
    }
    assert!(
        audit.contains("&lt;b&gt;bad&lt;&#x2F;b&gt; domain"),
        "notes are text"
    );
    assert!(
        !audit.contains("console:vic"),
        "the viewer's attempts changed nothing"
    );
    let only = console.get("/console/audit?action=settle", &viewer).body;
    assert!(only.contains("<td>settle</td>") && !only.contains("<td>promote</td>"));

    // A rejected reload: the overview names each error as file:line:col,
    // linked to its campaign, whose page shows the problem from disk.
    app.write(
        "campaigns/welcome.toml",
        "description = \"Welcome\"\nsegment = { stage = \"new\" }\n\n[[steps]]\nafter = \"3 parsecs\"\ntemplate = \"welcome/hello\"\n",
    );
    Command::new("kill")
        .args(["-HUP", &console._daemon.child.id().to_string()])
        .status()
        .unwrap();
    console
        ._daemon
        .logs
        .wait_for("reload failed", std::time::Duration::from_secs(30));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let overview = loop {
        let body = console.get("/console/", &viewer).body;
        if body.contains("id=\"reload-errors\"") || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::yield_now();
    };
    assert!(overview.contains("<strong>rejected</strong>"), "{overview}");
    assert!(
        overview.contains(
            "<a href=\"/console/campaigns/welcome\"><code>campaigns&#x2F;welcome.toml:5:"
        ),
        "{overview}"
    );
    let page = console.get("/console/campaigns/welcome", &viewer).body;
    assert!(
        page.contains("class=\"diag error\"") && page.contains("3 parsecs"),
        "{page}"
    );

    // Sign-out ends the session in the store: the old cookie no longer works.
    let reply = console.post("/console/logout", &operator, &[("csrf", &token)]);
    assert_eq!(reply.status, 303);
    assert_eq!(console.get("/console/", &operator).status, 303);
    assert_eq!(console.get("/console/", &viewer).status, 200);
}

#[test]
fn sign_in_is_limited_per_address_and_user_and_the_proxy_header_is_trusted_from_its_proxy() {
    let app = setup("127.0.0.1");
    let console = start(&app);
    // Through the trusted proxy, the header signs in (roles from the user list).
    let reply = console.request(
        "GET",
        "/console/audit",
        None,
        &[("X-Forwarded-User", "olga")],
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("olga (operator)"));
    let reply = console.request(
        "GET",
        "/console/",
        None,
        &[("X-Forwarded-User", "someone")],
        "",
    );
    assert!(reply.body.contains("someone (viewer)"));
    assert!(!reply.body.contains("Sign out"), "no session to end");
    // An operator through the proxy acts with the token of its pages, and only with it.
    let token = csrf_of(
        &console
            .request(
                "GET",
                "/console/",
                None,
                &[("X-Forwarded-User", "olga")],
                "",
            )
            .body,
    );
    let suppress = |token: &str| {
        console.request(
            "POST",
            "/console/actions/suppress",
            None,
            &[("X-Forwarded-User", "olga")],
            &form(&[
                ("csrf", token),
                ("value", "sso.example"),
                ("back", "/console/suppressions"),
            ]),
        )
    };
    assert_eq!(suppress("forged").status, 403);
    assert_eq!(suppress(&token).status, 303);
    let audit = console.request(
        "GET",
        "/console/audit",
        None,
        &[("X-Forwarded-User", "someone")],
        "",
    );
    assert!(
        audit
            .body
            .contains("<td>console:olga</td><td>suppress</td><td>sso.example</td>")
    );

    // Three failures for a user: the right password is refused too, for a while.
    for _ in 0..3 {
        assert_eq!(console.login("vic", "wrong").status, 401);
    }
    let reply = console.login("vic", VIEWER_PASSWORD);
    assert_eq!(reply.status, 429, "{}", reply.body);
    // The count is in the store: a restarted daemon still refuses.
    drop(console);
    let console = start(&app);
    let reply = console.login("olga", OPERATOR_PASSWORD);
    assert_eq!(reply.status, 429, "the address is limited too");
}

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
            panic!("Chromium is required here (TEND_REQUIRE_TOOLS): apt-get install chromium");
        }
        eprintln!("SKIPPED: install Debian's chromium to drive the console in a browser");
    }
    found
}

#[test]
fn the_console_in_a_real_browser_signs_in_shows_every_page_accessibly_and_the_preview_frame() {
    let Some(chromium) = chromium() else {
        return;
    };
    let app = setup("10.9.9.9");
    // Some responses for the pilot report's chart.
    let mut events = String::from("email,kind,at,detail\n");
    events += &format!(
        "evil@example.com,login,{},<i>portal</i> visit\n",
        hours_from_now(-2)
    );
    for i in (0..30).step_by(3) {
        events += &format!("s{i}@example.com,purchase,{},\n", days_from_now(2));
    }
    app.write("events.csv", &events);
    app.tend(&["events", "import", "events.csv"]).ok();
    let console = start(&app);
    let cookie = console.sign_in("olga", OPERATOR_PASSWORD);
    let ana = contact_id(&console, &cookie, "ana%40example.com");
    let eve = contact_id(&console, &cookie, "eve");
    let shots = repo().join("target/console-screenshots");
    let list = serde_json::json!([
        { "name": "overview", "path": "/console/" },
        { "name": "campaigns", "path": "/console/campaigns" },
        { "name": "preview", "path": format!("/console/preview?campaign=welcome&contact={ana}") },
        { "name": "preview-hostile", "path": format!("/console/preview?campaign=welcome&contact={eve}"), "shot": false },
        { "name": "calendar", "path": "/console/calendar?zone=Europe%2FBerlin&campaign=winback-pilot" },
        { "name": "calendar-all", "path": "/console/calendar?zone=America%2FNew_York", "shot": false },
        { "name": "timeline", "path": format!("/console/contacts/{eve}") },
        { "name": "pilot-report", "path": "/console/reports/winback-pilot" },
        { "name": "suppressions", "path": "/console/suppressions", "shot": false,
          "fill": { "s-value": "spam-trap.example", "s-note": "a known trap" },
          "submit": "form[action='/console/actions/suppress']" },
        { "name": "inbound", "path": "/console/inbound", "shot": false },
        { "name": "audit", "path": "/console/audit" },
    ]);
    let out = Command::new("python3")
        .arg(repo().join("tests/support/console_browser.py"))
        .args([
            chromium,
            &format!("http://{}", console.addr),
            "olga",
            OPERATOR_PASSWORD,
            &shots.display().to_string(),
            &list.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        result["login_url"]
            .as_str()
            .unwrap()
            .contains("/console/login"),
        "not signed in: the sign-in page first"
    );
    for (name, page) in result["pages"].as_object().unwrap() {
        assert_eq!(page["lang"], "en", "{name}: lang");
        assert!(!page["title"].as_str().unwrap().is_empty(), "{name}: title");
        assert_eq!(
            page["unlabelled"],
            serde_json::json!([]),
            "{name}: inputs without labels"
        );
        assert_eq!(
            page["low_contrast"],
            serde_json::json!([]),
            "{name}: contrast"
        );
        assert_eq!(
            page["console_errors"],
            serde_json::json!([]),
            "{name}: console errors"
        );
        if name != "login" {
            assert!(
                page["url"].as_str().unwrap().contains("/console/")
                    && !page["url"].as_str().unwrap().contains("/login"),
                "{name}: signed in"
            );
        }
    }
    let pages = &result["pages"];
    // The preview's sandboxed frame shows the rendered message.
    let frames = pages["preview"]["frames"].as_array().unwrap();
    // Step 1 has an HTML part; step 2 of the shipped campaign is text only.
    assert_eq!(frames.len(), 1, "one frame per HTML part: {frames:?}");
    assert!(
        frames[0].as_str().unwrap().contains("Ana"),
        "the rendered HTML greets the contact: {frames:?}"
    );
    // The hostile name is text in the page and in the message.
    let hostile = &pages["preview-hostile"];
    assert!(
        hostile["text"]
            .as_str()
            .unwrap()
            .contains("<script>alert('name')</script>")
    );
    assert!(
        pages["timeline"]["text"]
            .as_str()
            .unwrap()
            .contains("<script>alert('name')</script> Eve")
    );
    assert!(
        pages["campaigns"]["text"]
            .as_str()
            .unwrap()
            .contains(HOSTILE_DESCRIPTION)
    );
    assert!(
        pages["pilot-report"]["text"]
            .as_str()
            .unwrap()
            .contains("95% interval")
    );
    for shot in [
        "overview",
        "overview-phone",
        "campaigns",
        "preview",
        "calendar",
        "timeline",
        "pilot-report",
        "audit",
    ] {
        let path = shots.join(format!("{shot}.png"));
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{}",
            path.display()
        );
    }
}
