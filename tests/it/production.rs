//! `tend check --production`: a configuration fit for real mail passes, and
//! each mistake that costs deliverability or breaks the law is reported at
//! its line with a hint. The daemon logs the same findings when it starts.

use crate::helpers::{NOW, TestApp, days_from_now, hours_from_now};
use std::time::Duration;

/// A configuration fit for production, with `{…}` slots the tests change.
fn config(sending: &str, http: &str, dkim: &str) -> String {
    format!(
        r#"[database]
url = "sqlite://tend.db"

[smtp]
transport = "smtp"
host = "127.0.0.1"
port = 1
tls = "none"

[sending]
from = "Ana at Acme <ana@acme.example>"
rate = "5/s"
per_domain = {{ default = "600/min" }}
warmup = [300, 600, 1200]
{sending}
[http]
listen = "127.0.0.1:0"
{http}
{dkim}
"#
    )
}

const SENDING: &str = "return_path = \"bounces@mail.acme.example\"\npostal_address = \"Acme Ltd, 1 Main Street, Springfield\"\n";
const HTTP: &str = "public_url = \"https://mail.acme.com\"\n";
const DKIM: &str = "[dkim]\nselector = \"tend2026\"\ndomain = \"acme.example\"\nkey_file = \"dkim.key\"\nalgorithm = \"ed25519\"\n";

fn app(config_text: &str) -> TestApp {
    let app = TestApp::without_smtp();
    // An Ed25519 seed: 32 bytes, base64.
    app.write("dkim.key", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n");
    app.write("config/tend.toml", config_text);
    app
}

/// `tend check --production`: (exit code, stdout).
fn check(app: &TestApp) -> (i32, String) {
    let out = app.tend(&["check", "--production"]);
    (out.code, out.stdout)
}

/// The line of `config` holding `needle`, 1-based.
fn line_of(config: &str, needle: &str) -> usize {
    config
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in {config}"))
        + 1
}

#[test]
fn a_configuration_fit_for_real_mail_passes() {
    let app = app(&config(SENDING, HTTP, DKIM));
    let (code, out) = check(&app);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("error"), "{out}");
}

#[test]
fn plain_http_or_an_unreachable_public_url_is_an_error_at_its_line() {
    for (url, why) in [
        ("http://mail.acme.com", "must be https"),
        ("https://127.0.0.1:8025", "a loopback address"),
        ("https://192.168.1.20", "a private network address"),
        ("https://tend.internal", "an internal name"),
        ("https://mailhost", "a name without a domain"),
    ] {
        let text = config(SENDING, &format!("public_url = \"{url}\"\n"), DKIM);
        let (code, out) = check(&app(&text));
        assert_eq!(code, 1, "{url}: {out}");
        let at = format!(
            "config/tend.toml:{}:14: error:",
            line_of(&text, "public_url")
        );
        let line = out
            .lines()
            .find(|l| l.starts_with(&at))
            .unwrap_or_else(|| panic!("{url}: {out}"));
        assert!(line.contains(why), "{url}: {line}");
        assert!(out.contains("hint: set it to the https address"), "{out}");
    }
}

#[test]
fn no_dkim_or_a_key_that_does_not_load_is_an_error() {
    let (code, out) = check(&app(&config(SENDING, HTTP, "")));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: no `[dkim]` section"), "{out}");
    let app = app(&config(SENDING, HTTP, DKIM));
    app.write("dkim.key", "not a key\n");
    let (code, out) = check(&app);
    assert_eq!(code, 1, "{out}");
    let text = config(SENDING, HTTP, DKIM);
    assert!(
        out.contains(&format!(
            "config/tend.toml:{}:12: error: not an Ed25519 key",
            line_of(&text, "key_file")
        )),
        "{out}"
    );
}

#[test]
fn a_from_domain_not_aligned_with_dkim_is_an_error_in_the_file_that_sets_it() {
    let text = config(
        SENDING,
        HTTP,
        &DKIM.replace("acme.example", "acme-mail.com"),
    );
    let app = app(&text);
    let campaign = std::fs::read_to_string(app.path("campaigns/welcome.toml")).unwrap();
    app.write(
        "campaigns/welcome.toml",
        &format!("from = \"Ana <ana@news.acme-mail.com>\"\n{campaign}"),
    );
    app.write(
        "campaigns/win-back.toml",
        &format!(
            "from = \"Ana <ana@other.example>\"\n{}",
            std::fs::read_to_string(app.path("campaigns/win-back.toml")).unwrap()
        ),
    );
    let (code, out) = check(&app);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "config/tend.toml:{}:8: error: From domain `acme.example` is not aligned with the DKIM domain `acme-mail.com`",
            line_of(&text, "from = ")
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "campaigns/win-back.toml:1:8: error: campaign `win-back`: From domain `other.example`"
        ),
        "{out}"
    );
    // news.acme-mail.com is under the DKIM domain: relaxed alignment holds.
    assert!(!out.contains("campaigns/welcome.toml"), "{out}");
}

#[test]
fn a_template_that_hides_the_unsubscribe_footer_is_an_error_at_its_html_part() {
    let app = app(&config(SENDING, HTTP, DKIM));
    let path = "templates/welcome/hello.tera";
    let template = std::fs::read_to_string(app.path(path)).unwrap();
    let html_line = template.lines().position(|l| l == "--- html ---").unwrap() + 2;
    // A block left open at the end of the HTML part swallows the footer.
    app.write(
        path,
        &format!("{template}<div style=\"display:none\">tracking pixel\n"),
    );
    let (code, out) = check(&app);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{path}:{html_line}:1: error: the unsubscribe link tend appends to the HTML part is not visible: <div> hides it: display:none"
        )),
        "{out}"
    );
    // The German version is checked too.
    let de = "templates/welcome/hello.de.tera";
    let german = std::fs::read_to_string(app.path(de)).unwrap();
    app.write(path, &template);
    app.write(de, &format!("{german}<!-- end\n"));
    let (code, out) = check(&app);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{de}:")) && out.contains("comment"),
        "{out}"
    );
}

#[test]
fn missing_bounce_and_postal_addresses_are_errors_and_a_foreign_bounce_domain_a_warning() {
    let text = config("", HTTP, DKIM);
    let (code, out) = check(&app(&text));
    assert_eq!(code, 1, "{out}");
    let section = format!("config/tend.toml:{}:1: error:", line_of(&text, "[sending]"));
    assert!(
        out.contains(&format!("{section} `sending.return_path` is not set")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{section} `sending.postal_address` is not set")),
        "{out}"
    );
    let text = config(
        &SENDING.replace("bounces@mail.acme.example", "bounces@esp.example"),
        HTTP,
        DKIM,
    );
    let (code, out) = check(&app(&text));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: the bounce domain `esp.example` is not aligned"),
        "{out}"
    );
}

#[test]
fn a_new_sender_without_warmup_at_a_high_rate_gets_a_warning() {
    let text = config(SENDING, HTTP, DKIM)
        .replace("rate = \"5/s\"", "rate = \"50/s\"")
        .replace("warmup = [300, 600, 1200]\n", "");
    let (code, out) = check(&app(&text));
    assert_eq!(code, 0, "warnings only: {out}");
    assert!(
        out.contains(&format!(
            "config/tend.toml:{}:8: warning: no `sending.warmup` and a rate of 50 per second",
            line_of(&text, "rate = ")
        )),
        "{out}"
    );
    let text = config(SENDING, HTTP, DKIM).replace("[300, 600, 1200]", "[20000]");
    assert!(
        check(&app(&text))
            .1
            .contains("first warm-up day allows 20000")
    );
}

#[test]
fn an_empty_listen_address_is_an_error_one_click_needs_the_daemon() {
    let text = config(SENDING, HTTP, DKIM).replace("listen = \"127.0.0.1:0\"", "listen = \"\"");
    let (code, out) = check(&app(&text));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: `http.listen` is empty"), "{out}");
}

#[test]
fn the_daemon_warns_at_start_when_production_checks_fail() {
    let app = app(&config(
        "",
        "public_url = \"http://127.0.0.1:8025\"\n",
        DKIM,
    ));
    let daemon = app.spawn_daemon(&[]);
    // In the order the checks run, each at its line.
    for needle in [
        "`sending.return_path` is not set",
        "`sending.postal_address` is not set",
        "`http.public_url` is `http://127.0.0.1:8025`",
    ] {
        let line = daemon.logs.wait_for(needle, Duration::from_secs(30));
        assert!(
            line.contains("WARN") && line.contains("production check: config/tend.toml:"),
            "{line}"
        );
    }
    daemon.terminate();
}

#[test]
fn the_report_shows_each_campaigns_complaint_rate_against_the_providers_limits() {
    let app = TestApp::with_smtp(&[]);
    let mut csv = String::from("email,name,created_at,last_activity_at\n");
    for i in 0..10 {
        csv += &format!("new{i}@example.com,New {i},{},\n", days_from_now(-1));
    }
    for i in 0..4 {
        csv += &format!(
            "old{i}@example.com,Old {i},{},{}\n",
            days_from_now(-400),
            days_from_now(-120)
        );
    }
    app.import_contacts(&csv);
    app.run_once(NOW);
    assert_eq!(app.smtp().received().len(), 14);
    // One welcome recipient complains after the message; a complaint from
    // someone tend never mailed counts against nobody.
    app.import_contacts(&format!(
        "{csv}stranger@example.com,Stranger,{},\n",
        days_from_now(-1)
    ));
    app.write(
        "events.csv",
        &format!(
            "email,kind,at,detail\nnew3@example.com,complaint,{},fbl\nstranger@example.com,complaint,{},fbl\n",
            hours_from_now(2),
            hours_from_now(2)
        ),
    );
    app.tend(&["events", "import", "events.csv"]).ok();

    let text = app
        .tend(&["report", "welcome", "--now", &hours_from_now(3)])
        .ok()
        .stdout;
    assert!(
        text.contains(
            "complaint rate: 1 complaint(s) for 10 message(s): 10.00 %, at or above 0.3 %"
        ),
        "{text}"
    );
    let json = app
        .tend(&[
            "report",
            "welcome",
            "--format",
            "json",
            "--now",
            &hours_from_now(3),
        ])
        .ok()
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["complaints"]["complaints"], 1, "{json}");
    assert_eq!(v["complaints"]["sent"], 10, "{json}");
    assert_eq!(v["complaints"]["level"], "over_limit", "{json}");
    let html = app
        .tend(&[
            "report",
            "welcome",
            "--format",
            "html",
            "--now",
            &hours_from_now(3),
        ])
        .ok()
        .stdout;
    assert!(
        html.contains("<p class=\"warning\" data-test=\"complaint-rate\">Complaint rate: 1 complaint(s) for 10 message(s)"),
        "{html}"
    );
    let quiet = app
        .tend(&["report", "win-back", "--now", &hours_from_now(3)])
        .ok()
        .stdout;
    assert!(
        quiet.contains("complaint rate: 0 complaint(s) for 4 message(s): 0.00 %, under the 0.1 %"),
        "{quiet}"
    );
}
