//! The shipped campaigns as recipients read them: every step rendered for
//! awkward names, missing data, zones far apart and both languages, sent
//! through the real SMTP server, decoded by Python's email package, and
//! proofread for the slips that give a machine away. The HTML part is
//! checked as a document by Python's html.parser; two recipients' copies of
//! each step must read differently (`tend variation`, names masked).

use crate::helpers::{NOW, TestApp, days_from_now, repo};
use crate::smtp::Received;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use tend::catalog::Locale;
use tend::render::proofread::{proofread, visible_text};

/// Names as imports deliver them.
const NAMES: &[&str] = &[
    "Dr. Jane Smith",
    "Smith, Jane",
    "J. R. Smith",
    "JANE SMITH",
    "jane smith",
    "Madonna",
    "",
    "jane.doe@example.org",
    "Mr Li",
    "Prof. Dr. Hans Müller",
    "Ms. Chloé Martin",
    "o'brien",
    "Robert \"Bob\" Smith",
    "N/A",
    "Acme GmbH",
    "Søren Kierkegaard",
    "王伟",
    "jean-pierre dupont",
    "Smith, J.",
    "Ana María López",
    "DeShawn Jones",
    "Dr.",
    "Customer 123",
    "Ørsted, Mette",
    "Jane Smith, PhD",
];
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "",
];
const LOCALES: &[&str] = &["en", "de", "de-AT", "Deutsch", "es", "fr", "", "EN-gb"];
/// Plans that trip a naive "a": an hourly, an unlimited, an enterprise.
const PLANS: &[&str] = &[
    "pro",
    "enterprise",
    "Enterprise",
    "hourly",
    "unlimited",
    "",
    "European",
];

/// A tiny seeded generator (xorshift): reproducible, no crate.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[derive(Debug, Clone)]
struct Row {
    email: String,
    name: String,
    /// The language the message is in: German for German contacts (the
    /// shipped templates have German versions), English for everyone else.
    locale: Locale,
}

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `count` contacts, every other one new (welcome) or sleeping (win-back),
/// some sleeping ones with no activity at all (only a creation date).
fn contacts(count: usize, seed: u64, locales: &[&str]) -> (String, Vec<Row>) {
    let mut rng = Seeded(seed);
    let mut csv = String::from("email,name,created_at,last_activity_at,timezone,plan,locale\n");
    let mut rows = Vec::new();
    for i in 0..count {
        let name = NAMES[(i + rng.next(3)) % NAMES.len()];
        let locale = locales[rng.next(locales.len())];
        let (created, last) = if i % 2 == 0 {
            let created = days_from_now(-(rng.next(20) as i64));
            let last = if rng.next(2) == 0 {
                String::new()
            } else {
                days_from_now(-(rng.next(3) as i64))
            };
            (created, last)
        } else if i % 7 == 1 {
            (days_from_now(-(120 + rng.next(200) as i64)), String::new())
        } else {
            (
                days_from_now(-(400 + rng.next(900) as i64)),
                days_from_now(-(91 + rng.next(270) as i64)),
            )
        };
        let email = format!("v{i:03}@example.com");
        csv.push_str(&format!(
            "{email},{},{created},{last},{},{},{locale}\n",
            csv_field(name),
            ZONES[rng.next(ZONES.len())],
            PLANS[rng.next(PLANS.len())],
        ));
        rows.push(Row {
            email,
            name: name.to_string(),
            locale: match Locale::parse(locale) {
                Some(Locale::De) => Locale::De,
                _ => Locale::En,
            },
        });
    }
    (csv, rows)
}

/// Each message decoded by Python's email package, its HTML part checked
/// by html.parser (tests/support/mime_parts.py).
fn decode(received: &[Received]) -> Vec<serde_json::Value> {
    let raw: Vec<&str> = received.iter().map(|r| r.data.as_str()).collect();
    let python = std::env::var("TEND_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(python)
        .arg(repo().join("tests/support/mime_parts.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&raw).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mime_parts.py failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The last `prop:#rrggbb` in a chain of inline styles (innermost last).
fn last_color(styles: &[serde_json::Value], prop: &str) -> Option<[f64; 3]> {
    styles.iter().rev().find_map(|s| {
        let s = s.as_str()?;
        let at = s
            .split(';')
            .filter_map(|d| d.split_once(':'))
            .rfind(|(k, _)| k.trim() == prop)?
            .1
            .trim();
        let hex = at.strip_prefix('#').filter(|h| h.len() == 6)?;
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok().map(f64::from);
        Some([channel(0)?, channel(2)?, channel(4)?])
    })
}

/// WCAG 2.x contrast ratio of two sRGB colours.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let luminance = |c: [f64; 3]| {
        let lin = |v: f64| {
            let v = v / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn every_shipped_step_reads_like_a_person_wrote_it_for_awkward_contacts_in_both_languages() {
    let app = TestApp::with_smtp(&[]);
    let (csv, rows) = contacts(120, 16, LOCALES);
    app.import_contacts(&csv);
    // Different hours of the day: morning, afternoon and evening greetings.
    for at in [
        NOW.to_string(),
        days_from_now(3).replace("T10:", "T17:"),
        days_from_now(6).replace("T10:", "T23:"),
        days_from_now(7),
    ] {
        app.run_once(&at);
    }
    let received = app.smtp().received();
    assert_eq!(received.len(), 240, "two steps for each of 120 contacts");
    let by_email: HashMap<&str, &Row> = rows.iter().map(|r| (r.email.as_str(), r)).collect();
    let brands = vec!["Acme".to_string()];
    let mut problems = Vec::new();
    let mut german = 0;
    let mut html_parts = 0;
    for (message, decoded) in received.iter().zip(decode(&received)) {
        let row = by_email[message.rcpt_tos[0].as_str()];
        let subject = decoded["subject"].as_str().unwrap();
        let text = decoded["text"].as_str().unwrap();
        let who = format!("{} ({:?}, {})", row.email, row.name, row.locale);
        let mut parts = vec![("subject", subject.to_string()), ("text", text.to_string())];
        if let Some(html) = decoded["html"].as_str() {
            parts.push(("html", visible_text(html)));
        }
        for (part, content) in &parts {
            for slip in proofread(content, row.locale, &brands) {
                problems.push(format!("{who} {part}: {}: «{}»", slip.what, slip.excerpt));
            }
        }
        // A usable name is used; an unusable one never shows.
        let greeting = text.lines().next().unwrap_or_default();
        match tend::render::first_name(Some(&row.name)) {
            Some(first) => {
                if !greeting.contains(&first) {
                    problems.push(format!("{who}: greeting {greeting:?} lacks {first:?}"));
                }
            }
            None => {
                if greeting.split_whitespace().count() > 2 || !greeting.ends_with(',') {
                    problems.push(format!("{who}: nameless greeting {greeting:?}"));
                }
            }
        }
        let footer = match row.locale {
            Locale::De => "Wenn Sie diese E-Mails nicht mehr erhalten möchten: http",
            _ => "To stop receiving these emails: http",
        };
        if !text.contains(footer) {
            problems.push(format!("{who}: footer in the wrong language"));
        }
        german += usize::from(row.locale == Locale::De);
        if let Some(doc) = decoded["document"].as_object() {
            html_parts += 1;
            let doctype = doc["doctype"].as_str().unwrap_or_default().to_lowercase();
            let ok = doctype == "doctype html"
                && doc["lang"] == row.locale.code()
                && doc["charset"] == true
                && doc["viewport"] == true
                && doc["title"] == subject
                && doc["has_head"] == true
                && doc["has_body"] == true
                && doc["html_elements"] == 1
                && doc["unclosed"].as_array().is_some_and(Vec::is_empty)
                && doc["errors"].as_array().is_some_and(Vec::is_empty);
            if !ok {
                problems.push(format!("{who}: not a complete document: {doc:?}"));
            }
            let unsubscribe = doc["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["href"].as_str().unwrap_or_default().contains("/u/"))
                .expect("an unsubscribe link in the HTML part");
            let styles = unsubscribe["styles"].as_array().unwrap();
            let fg = last_color(styles, "color").expect("the link has a colour");
            let bg = last_color(styles, "background-color").expect("a background under it");
            let ratio = contrast(fg, bg);
            if ratio < 4.5 {
                problems.push(format!(
                    "{who}: footer contrast {ratio:.2}:1 is below WCAG AA"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(german > 40, "German contacts got German messages: {german}");
    assert!(html_parts >= 60, "{html_parts} HTML parts checked");
}

#[test]
fn two_recipients_of_every_shipped_step_get_clearly_different_messages() {
    let app = TestApp::with_smtp(&[]);
    // English only: two languages would make any copy look varied.
    let (csv, _) = contacts(80, 7, &["en"]);
    app.import_contacts(&csv);
    for at in [NOW.to_string(), days_from_now(3), days_from_now(6)] {
        app.run_once(&at);
    }
    for campaign in ["welcome", "win-back"] {
        let out = app.tend(&["variation", campaign, "--json"]).ok();
        println!("{}", app.tend(&["variation", campaign]).ok().stdout);
        let metric: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let steps = metric["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2, "{metric}");
        for step in steps {
            assert_eq!(step["recipients"], 40, "{step}");
            let mean = step["mean_similarity"].as_f64().unwrap();
            assert!(mean < 0.6, "{campaign} step {}: {mean:.3}", step["step"]);
        }
    }
}

#[test]
fn with_dkim_preview_equals_send_byte_for_byte_signature_included() {
    let app = TestApp::with_smtp(&[]);
    app.write("dkim.key", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n");
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &format!("{config}\n[dkim]\nselector = \"s1\"\ndomain = \"acme.example\"\nkey_file = \"dkim.key\"\nalgorithm = \"ed25519\"\n"),
    );
    let (csv, rows) = contacts(6, 3, LOCALES);
    app.import_contacts(&csv);
    app.run_once(NOW);
    let received = app.smtp().received();
    assert_eq!(received.len(), 6);
    for message in &received {
        let to = &message.rcpt_tos[0];
        let row = rows.iter().position(|r| &r.email == to).unwrap();
        let campaign = if row % 2 == 0 { "welcome" } else { "win-back" };
        let preview = app
            .tend(&["preview", campaign, "--contact", to, "--now", NOW])
            .ok()
            .stdout;
        assert!(
            preview.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"),
            "{preview}"
        );
        assert_eq!(
            preview.replace("\r\n", "\n").trim_end(),
            message.data.replace("\r\n", "\n").trim_end(),
            "{to}"
        );
    }
}
