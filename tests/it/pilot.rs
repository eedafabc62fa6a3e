//! Pilots end to end: a reproducible sample with a holdout that is never
//! emailed (checked at the real SMTP server), a report whose numbers match
//! the imported events exactly, the HTML report rendered by headless
//! Chromium, and promotion to a full rollout.

use crate::helpers::{NOW, TestApp, days_from_now, repo};
use std::collections::BTreeSet;
use std::process::Command;

const PILOT: &str = r#"
description = "Wake up sleeping clients: pilot"
segment = { stage = "sleeping" }
pilot = { sample = 0.5, holdout = 0.5, seed = "tend-test-pilot", respond_within = "21d", respond_on = ["purchase", "reply"] }

[[steps]]
after = "0d"
template = "win-back/checking-in"

[[steps]]
after = "6d"
template = "win-back/something-new"
"#;

fn setup(contacts: usize) -> TestApp {
    setup_with(contacts, "winback-pilot", PILOT)
}

/// `contacts` sleeping contacts and one campaign, the only one.
fn setup_with(contacts: usize, campaign: &str, toml: &str) -> TestApp {
    let app = TestApp::with_smtp(&[]);
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    app.write(&format!("campaigns/{campaign}.toml"), toml);
    let mut csv = String::from("email,name,created_at,last_activity_at\n");
    for i in 0..contacts {
        csv += &format!(
            "s{i}@example.com,Sam {i},{},{}\n",
            days_from_now(-400),
            days_from_now(-120)
        );
    }
    app.import_contacts(&csv);
    app
}

/// (email, group) of every enrollment, read straight from the SQLite file.
fn enrollments(app: &TestApp) -> Vec<(String, String)> {
    let url = format!("sqlite://{}", app.path("tend.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.email, e.grp FROM enrollments e JOIN contacts c ON c.id = e.contact_id ORDER BY c.email",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    })
}

fn report(app: &TestApp, at: &str) -> serde_json::Value {
    report_of(app, "winback-pilot", at)
}

fn report_of(app: &TestApp, campaign: &str, at: &str) -> serde_json::Value {
    let out = app
        .tend(&["report", campaign, "--format", "json", "--now", at])
        .ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn group<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == name)
        .unwrap()
}

#[test]
fn a_simulated_month_of_a_pilot_reports_exactly_what_the_events_say() {
    let app = setup(200);
    app.run_once(NOW);
    let groups = enrollments(&app);
    let treatment: Vec<&String> = groups
        .iter()
        .filter(|(_, g)| g == "treatment")
        .map(|(e, _)| e)
        .collect();
    let holdout: Vec<&String> = groups
        .iter()
        .filter(|(_, g)| g == "holdout")
        .map(|(e, _)| e)
        .collect();
    assert!(
        (70..=130).contains(&groups.len()),
        "about half of 200 sampled: {}",
        groups.len()
    );
    assert!(!treatment.is_empty() && !holdout.is_empty());

    // Responses: every 3rd treatment contact buys on day 3, every 4th holdout
    // contact replies on day 4; late (day 25) and irrelevant (login) events do not count.
    let mut events = String::from("email,kind,at,detail\n");
    let treated: Vec<&&String> = treatment.iter().step_by(3).collect();
    let held: Vec<&&String> = holdout.iter().step_by(4).collect();
    for e in &treated {
        events += &format!("{e},purchase,{},\n", days_from_now(3));
    }
    for e in &held {
        events += &format!("{e},reply,{},\n", days_from_now(4));
    }
    events += &format!("{},purchase,{},late\n", treatment[1], days_from_now(25));
    events += &format!("{},login,{},\n", holdout[1], days_from_now(2));
    app.write("events.csv", &events);
    app.tend(&["events", "import", "events.csv"]).ok();

    for day in [1, 6, 7, 14, 30] {
        app.run_once(&days_from_now(day));
    }
    assert_eq!(
        enrollments(&app),
        groups,
        "re-running never reshuffles the sample"
    );

    // The holdout was never emailed; the treatment got both steps.
    let received = app.smtp().received();
    let emailed: BTreeSet<String> = received.iter().map(|r| r.rcpt_tos[0].clone()).collect();
    assert!(
        holdout.iter().all(|e| !emailed.contains(*e)),
        "a holdout contact got mail"
    );
    assert_eq!(received.len(), treatment.len() * 2);

    let r = report(&app, &days_from_now(30));
    let t = group(&r, "treatment");
    let h = group(&r, "holdout");
    assert_eq!(t["enrolled"], treatment.len() as u64);
    assert_eq!(h["enrolled"], holdout.len() as u64);
    assert_eq!(t["sent"], (treatment.len() * 2) as u64);
    assert_eq!(h["sent"], 0);
    assert_eq!(t["responders"], treated.len() as u64);
    assert_eq!(h["responders"], held.len() as u64);
    let t_rate = treated.len() as f64 / treatment.len() as f64;
    let h_rate = held.len() as f64 / holdout.len() as f64;
    assert!((t["response"]["rate"].as_f64().unwrap() - t_rate).abs() < 1e-12);
    let diff = &r["difference"];
    assert!((diff["estimate"].as_f64().unwrap() - (t_rate - h_rate)).abs() < 1e-12);
    assert!(
        diff["low"].as_f64().unwrap() < t_rate - h_rate
            && diff["high"].as_f64().unwrap() > t_rate - h_rate
    );
    let verdict = r["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with(&format!(
            "treatment responded {:.0}% vs {:.0}% holdout",
            t_rate * 100.0,
            h_rate * 100.0
        )),
        "{verdict}"
    );
    // Step 1 went out on day 0, the purchases came on day 3: all after step 1, none after step 2 (day 6).
    assert_eq!(r["steps"][0]["responders_after"], treated.len() as u64);
    assert_eq!(r["steps"][1]["responders_after"], 0);

    let text = app
        .tend(&["report", "winback-pilot", "--now", &days_from_now(30)])
        .ok()
        .stdout;
    assert!(
        text.contains("difference (treatment − holdout)")
            && text.contains("verdict: treatment responded"),
        "{text}"
    );
    html_renders_in_chromium(&app, &r);
}

/// The HTML report opens in headless Chromium with its numbers and both
/// charts; a screenshot is kept under target/ as an artifact.
fn html_renders_in_chromium(app: &TestApp, r: &serde_json::Value) {
    app.tend(&[
        "report",
        "winback-pilot",
        "--format",
        "html",
        "--out",
        "report.html",
        "--now",
        &days_from_now(30),
    ])
    .ok();
    let html = std::fs::read_to_string(app.path("report.html")).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
            panic!("Chromium is required here (TEND_REQUIRE_TOOLS): apt-get install chromium");
        }
        eprintln!("SKIPPED the Chromium part: install Debian's chromium to render the HTML report");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let url = format!("file://{}", app.path("report.html").display());
    let dom = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let responders = group(r, "treatment")["responders"].as_u64().unwrap();
    assert!(
        dom.contains(&format!("data-test=\"treatment-responders\">{responders}<")),
        "{dom}"
    );
    assert!(
        dom.contains(
            "data-test=\"response-definition\">A response is a <code>purchase</code> or <code>reply</code> event"
        ) && dom.contains("data-test=\"treatment-clicks\">0<"),
        "what counted, and clicks apart: {dom}"
    );
    assert!(
        dom.contains("id=\"rate-chart\"") && dom.contains("class=\"bar\""),
        "the rate chart renders"
    );
    assert!(
        dom.contains("id=\"timeline-chart\"") && dom.contains("class=\"line\""),
        "the timeline renders"
    );
    let shot = repo().join("target/pilot-report.png");
    let status = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1100,1300", &url])
        .output()
        .unwrap();
    assert!(
        status.status.success() && shot.exists(),
        "screenshot written to {}",
        shot.display()
    );
}

#[test]
fn promotion_rolls_out_to_the_rest_and_keeps_the_holdout_dark() {
    let app = setup(60);
    let plan: serde_json::Value =
        serde_json::from_str(&app.tend(&["plan", "--json", "--now", NOW]).ok().stdout).unwrap();
    app.run_once(NOW);
    let pilot = enrollments(&app);
    // The dry run predicted exactly the draw the tick made.
    let planned = &plan["campaigns"][0];
    assert_eq!(planned["entering"], pilot.len() as u64);
    let held = pilot.iter().filter(|(_, g)| g == "holdout").count() as u64;
    assert_eq!(planned["holdout_entering"], held);
    assert_eq!(planned["steps"][0]["due_now"], pilot.len() as u64 - held);
    let holdout: BTreeSet<String> = pilot
        .iter()
        .filter(|(_, g)| g == "holdout")
        .map(|(e, _)| e.clone())
        .collect();
    app.tend(&[
        "pilot",
        "promote",
        "winback-pilot",
        "--now",
        &days_from_now(1),
    ])
    .ok();
    app.run_once(&days_from_now(1));
    let after = enrollments(&app);
    assert_eq!(
        after.len(),
        60,
        "everyone in the segment is enrolled after promotion"
    );
    assert!(
        pilot.iter().all(|p| after.contains(p)),
        "the pilot's groups are kept"
    );
    let emailed: BTreeSet<String> = app
        .smtp()
        .received()
        .iter()
        .map(|r| r.rcpt_tos[0].clone())
        .collect();
    assert_eq!(emailed.len(), 60 - holdout.len());
    assert!(emailed.is_disjoint(&holdout));
    let text = app
        .tend(&["report", "winback-pilot", "--now", &days_from_now(1)])
        .ok()
        .stdout;
    assert!(text.contains("promoted to a full rollout"), "{text}");
}

const CLICKS_PILOT: &str = r#"
description = "Clicks are a figure of their own"
segment = { stage = "sleeping" }
pilot = { sample = 1.0, holdout = 0.5, seed = "tend-test-clicks", respond_within = "21d" }

[[steps]]
after = "0d"
template = "clicks/news"
"#;

const NEWS: &str = "+++\nsubject = \"What is new at Acme\"\n+++\nHi {{ contact.first_name }},\n\n\
What is new: https://acme.example/new\nOur prices: https://acme.example/pricing\n\nAna\n";

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The tracked links of each received message: recipient -> (target, path).
fn tracked_links(
    received: &[crate::smtp::Received],
) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    use base64::Engine;
    let base = "https://mail.acme.example";
    let mut links = std::collections::BTreeMap::new();
    for message in received {
        // Undo quoted-printable soft line breaks; tokens are base64url, never escaped.
        let body = message.body().replace("=\r\n", "");
        let mut found: Vec<(String, String)> = Vec::new();
        for (at, _) in body.match_indices(&format!("{base}/c/")) {
            let token: String = body[at + base.len() + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap();
            let target = String::from_utf8(payload)
                .unwrap()
                .rsplit('\u{1f}')
                .next()
                .unwrap()
                .to_string();
            let path = format!("/c/{token}");
            if !found.iter().any(|(_, p)| *p == path) {
                found.push((target, path));
            }
        }
        links.insert(message.rcpt_tos[0].clone(), found);
    }
    links
}

/// `tend run` logs `tick queued=N` once its first tick is done.
fn queued(logs: &crate::helpers::LogLines) -> usize {
    let line = logs.wait_for("queued=", std::time::Duration::from_secs(30));
    let n = line.split("queued=").nth(1).unwrap();
    n.trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn clicks_are_their_own_figure_and_never_a_response() {
    let app = setup_with(40, "clicks-pilot", CLICKS_PILOT);
    app.write("templates/clicks/news.tera", NEWS);
    let env = [
        ("TEND__HTTP__PUBLIC_URL", "https://mail.acme.example"),
        ("TEND__HTTP__EVENTS_TOKEN", "events-token-for-tests"),
    ];

    // Day 0: the daemon sends step 1 to the treatment; a security gateway at
    // the receiving end follows two links right after delivery.
    let daemon = app.spawn_daemon(&env);
    let addr = daemon.http_addr();
    let treated = queued(&daemon.logs);
    app.smtp()
        .wait_for(treated, std::time::Duration::from_secs(60));
    let mut recorded = 0;
    while recorded < treated {
        let line = daemon
            .logs
            .wait_for("round done: sent ", std::time::Duration::from_secs(60));
        recorded += line
            .split("sent ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap();
    }
    let groups = enrollments(&app);
    let of = |group: &str| -> Vec<String> {
        groups
            .iter()
            .filter(|(_, g)| g == group)
            .map(|(e, _)| e.clone())
            .collect()
    };
    let (t, h) = (of("treatment"), of("holdout"));
    assert_eq!(t.len(), treated);
    assert!(
        t.len() >= 9 && h.len() >= 5,
        "{} treatment, {} holdout",
        t.len(),
        h.len()
    );
    let links = tracked_links(&app.smtp().received());
    let link = |who: &String, target: &str| -> String {
        links[who]
            .iter()
            .find(|(t, _)| t == &format!("https://acme.example/{target}"))
            .unwrap_or_else(|| panic!("no {target} link for {who}: {:?}", links[who]))
            .1
            .clone()
    };
    let click = |addr, method: &str, path: &str, agent: Option<&str>| {
        let response = crate::helpers::http_raw(addr, method, path, agent);
        assert!(response.starts_with("HTTP/1.1 302"), "{response}");
        response
    };
    for who in [&t[0], &t[1]] {
        click(addr, "GET", &link(who, "new"), Some(FIREFOX));
    }
    assert_eq!(daemon.terminate(), Some(0));

    // The client's own systems: purchases and logins, and one click their
    // shop tracked itself (a click is no response under the default).
    let mut events = String::from("email,kind,at,detail\n");
    events += &format!("{},purchase,{},\n", t[2], days_from_now(2));
    events += &format!("{},purchase,{},\n", t[7], days_from_now(3));
    events += &format!("{},purchase,{},too late\n", t[8], days_from_now(25));
    events += &format!("{},purchase,{},\n", h[0], days_from_now(3));
    events += &format!("{},purchase,{},\n", h[1], days_from_now(5));
    events += &format!("{},click,{},shop banner\n", h[4], days_from_now(2));
    app.write("events.csv", &events);
    app.tend(&["events", "import", "events.csv"]).ok();

    // Day 1: readers, link checkers and scanners click; the shop posts events.
    let daemon = app.spawn_daemon_at(&days_from_now(1), &env);
    let addr = daemon.http_addr();
    for (who, target, method, agent) in [
        (&t[2], "new", "GET", Some(FIREFOX)),
        (&t[2], "pricing", "GET", Some(FIREFOX)),
        (&t[3], "new", "GET", Some(FIREFOX)),
        (&t[4], "new", "HEAD", Some(FIREFOX)),
        (&t[0], "pricing", "HEAD", Some(FIREFOX)),
        (
            &t[5],
            "new",
            "GET",
            Some("Mozilla/5.0 (compatible; BingPreview/1.0b)"),
        ),
        (&t[6], "new", "GET", None),
        (&t[3], "pricing", "GET", Some("python-requests/2.32.3")),
        (&t[1], "pricing", "GET", Some("Barracuda Sentinel (EE)")),
    ] {
        let response = click(addr, method, &link(who, target), agent);
        assert!(
            response
                .to_lowercase()
                .contains(&format!("location: https://acme.example/{target}")),
            "{response}"
        );
        if method == "HEAD" {
            assert!(
                response.ends_with("\r\n\r\n"),
                "HEAD gets no body: {response}"
            );
        }
    }
    let body = format!(
        r#"[{{"email": "{}", "kind": "purchase"}}, {{"email": "{}", "kind": "login"}}]"#,
        h[2], h[3]
    );
    let (status, answer) = crate::helpers::http_request_with(
        addr,
        "POST",
        "/events",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer events-token-for-tests"),
        ],
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(daemon.terminate(), Some(0));

    let r = report_of(&app, "clicks-pilot", &days_from_now(30));
    let (tr, ho) = (group(&r, "treatment"), group(&r, "holdout"));
    // Only the client's own events count: t2 and t7 bought; h0..h3 bought or logged in.
    assert_eq!(tr["responders"], 2, "{tr}");
    assert_eq!(ho["responders"], 4, "{ho}");
    assert!((tr["response"]["rate"].as_f64().unwrap() - 2.0 / t.len() as f64).abs() < 1e-12);
    assert!((ho["response"]["rate"].as_f64().unwrap() - 4.0 / h.len() as f64).abs() < 1e-12);
    assert_eq!(
        tr["clicks"],
        serde_json::json!({
            "clicks": 11,
            "clickers": 7,
            "automated": 8,
            "automated_by_reason": { "head": 2, "scanner-agent": 4, "too-soon": 2 },
            "human_clickers": 2,
        })
    );
    assert_eq!(ho["clicks"]["clicks"], 0, "the holdout got no links");
    assert_eq!(r["clicks_counted"], false);
    let definition = r["response_definition"].as_str().unwrap();
    assert_eq!(
        definition,
        "A response is any activity from your own systems (purchase, login, …, imported or posted \
         to /events) within 21 days of entry; clicks on tend's links are not counted: only the \
         treatment can click (only it gets tend's links); replies to tend's messages are not \
         counted: only the treatment can answer a message (only it gets one)."
    );

    let text = app
        .tend(&["report", "clicks-pilot", "--now", &days_from_now(30)])
        .ok()
        .stdout;
    assert!(text.contains(&format!("\n{definition}\n")), "{text}");
    assert!(
        text.contains(
            "treatment: 11 clicks by 7 contacts, of which 8 look automated (link scanners: \
             2 HEAD requests, 4 scanner user agents, 2 within 10 seconds of sending); \
             2 contacts clicked like readers"
        ) && text.contains("no clicks (the holdout gets no mail)"),
        "{text}"
    );
    app.tend(&[
        "report",
        "clicks-pilot",
        "--format",
        "html",
        "--out",
        "clicks.html",
        "--now",
        &days_from_now(30),
    ])
    .ok();
    let html = std::fs::read_to_string(app.path("clicks.html")).unwrap();
    for expected in [
        "data-test=\"treatment-clicks\">11<",
        "data-test=\"treatment-automated\">8<",
        "data-test=\"holdout-clicks\">0<",
        "clicks on tend's links are not counted",
    ] {
        assert!(html.contains(expected), "{expected} in\n{html}");
    }

    // Naming `click` counts clicks (any source), scanners included: biased,
    // and `tend check` says so.
    app.write(
        "campaigns/clicks-pilot.toml",
        &CLICKS_PILOT.replace(
            "respond_within = \"21d\"",
            "respond_within = \"21d\", respond_on = [\"purchase\", \"click\"]",
        ),
    );
    let check = app.tend(&["check"]).ok().stdout;
    assert!(
        check.contains("warning: `click` in `respond_on`"),
        "{check}"
    );
    let r = report_of(&app, "clicks-pilot", &days_from_now(30));
    // t0..t6 clicked on day 1, t7 bought; h0..h2 bought, h4's shop click counts now.
    assert_eq!(group(&r, "treatment")["responders"], 8);
    assert_eq!(group(&r, "holdout")["responders"], 4);
    assert_eq!(r["clicks_counted"], true);
    assert!(
        r["response_definition"]
            .as_str()
            .unwrap()
            .contains("clicks on tend's links count as asked, but only the treatment can click"),
        "{r}"
    );
}
