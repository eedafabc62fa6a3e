//! The shipped templates rendered for a fixed set of contacts, compared
//! with a snapshot written by the renderer before its speed work (one
//! SHA-256 per composed message in `tests/fixtures/render_golden.txt`):
//! faster rendering must not change a single byte of any message.
//! `TEND_BLESS=1` rewrites the snapshot (only on purpose, after a change
//! meant to alter messages).

use super::{Identity, Loaded, compose};
use crate::config::Settings;
use crate::domain::{Attributes, Contact, PastSend, TokenKey};
use crate::links::{Keys, Links};
use crate::render::PickMode;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::path::Path;

const NAMES: [&str; 16] = [
    "Ana María López",
    "",
    "Ben",
    "DR. JOHN SMITH",
    "info",
    "José Müller",
    "李雷",
    "o'brien, siobhan",
    "Chloé  Dubois-Martin",
    "Mr & Mrs Fox",
    "=?utf-8?q?x?=",
    "Émile Zola the Third With A Very Long Name Indeed For Headers",
    "test user",
    "Ñandú",
    "Sales <sales@acme.example>",
    "Zoë",
];

fn contacts(now: DateTime<Utc>) -> Vec<Contact> {
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "",
        "Nowhere/Bad",
    ];
    let locales = ["", "de", "es", "de-AT", "fr"];
    (0..48i64)
        .map(|i| {
            let mut attributes = Attributes::new();
            let locale = locales[i as usize % locales.len()];
            if !locale.is_empty() {
                attributes.insert("locale".into(), locale.into());
            }
            if i % 3 == 0 {
                attributes.insert(
                    "plan".into(),
                    ["pro", "enterprise", " "][i as usize % 9 / 3].into(),
                );
            }
            if i % 4 == 1 {
                attributes.insert("orders".into(), (i % 5).into());
            }
            let name = NAMES[i as usize % NAMES.len()];
            Contact {
                id: i + 1,
                email: format!("c{i}@example{}.com", i % 7),
                name: (i % 11 != 5).then(|| name.to_string()),
                created_at: now - chrono::Duration::days(1 + i * 37 % 700),
                last_activity_at: (i % 6 != 2)
                    .then(|| now - chrono::Duration::days(3 + i * 53 % 500)),
                timezone: Some(zones[i as usize % zones.len()].to_string())
                    .filter(|z| !z.is_empty()),
                tags: vec!["customer".into()],
                attributes,
            }
        })
        .collect()
}

fn setup() -> (Loaded, Identity, DateTime<Utc>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::load(&dir.path().join("none.toml"), false).unwrap();
    settings.paths.campaigns = root.join("campaigns");
    settings.paths.templates = root.join("templates");
    settings.sending.from = Some("Ana <ana@acme.example>".into());
    settings.sending.reply_to = Some("Ana Support <help@acme.example>".into());
    settings.sending.postal_address = Some("Acme GmbH, Hauptstr. 1, 10115 Berlin".into());
    let (loaded, diagnostics) =
        crate::daemon::reload::load(&settings, &root.join("config/tend.toml"), &[]);
    let loaded = loaded.unwrap_or_else(|| panic!("the shipped catalog loads: {diagnostics:?}"));
    let keys = Keys::fixed(TokenKey::new(b"golden-snapshot-secret-0123456789").unwrap());
    let identity = Identity::new(&settings, Links::new(keys, &settings), "inst0golden".into())
        .expect("an identity");
    (loaded, identity, "2026-03-10T10:00:00Z".parse().unwrap())
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One line per composed message and per proofreading render.
fn snapshot() -> String {
    let (loaded, identity, now) = setup();
    let mut out = String::new();
    // Each contact goes through both campaigns in order, the way the
    // sender would: what they received shapes the next message.
    let plan = [
        ("welcome", 0, 0),
        ("welcome", 1, 3),
        ("win-back", 0, 40),
        ("win-back", 1, 46),
        ("win-back", 0, 200),
        ("win-back", 0, 201),
    ];
    for contact in contacts(now) {
        let mut history: Vec<PastSend> = Vec::new();
        for (n, (campaign_id, step, day)) in plan.iter().enumerate() {
            let campaign = &loaded.catalog.campaigns[*campaign_id];
            let at = now + chrono::Duration::days(*day) + chrono::Duration::hours(contact.id % 24);
            let send_id = contact.id * 10 + n as i64;
            // Every other contact also gets a preview (no send row yet).
            let send = (contact.id % 2 == 0 || n != 0).then_some((send_id, contact.id * 10));
            let composed = compose(
                &loaded, &identity, campaign, *step, &contact, send, at, &history,
            )
            .unwrap_or_else(|e| panic!("{} {campaign_id} {step}: {e}", contact.email));
            let mut record = composed.message.as_bytes().to_vec();
            record.extend_from_slice(
                format!(
                    "\n{}\n{}\n{}\n{:?}\n{}\n{}",
                    composed.envelope_from,
                    composed.subject,
                    composed.message_id,
                    composed.content.choices,
                    composed.content.opener,
                    composed.content.text
                )
                .as_bytes(),
            );
            let _ = writeln!(
                out,
                "{} {campaign_id} {} #{n} {} {}",
                contact.email,
                step + 1,
                digest(&record),
                composed.subject
            );
            history.push(PastSend {
                send_id,
                campaign: campaign_id.to_string(),
                step: *step as u32,
                subject: composed.subject.clone(),
                choices: composed.content.choices.clone(),
                sent_at: at,
            });
        }
        // What `tend check` renders: the first option, then option N.
        for mode in [PickMode::First, PickMode::Nth(1), PickMode::Nth(3)] {
            for (campaign_id, step, _) in &plan[..4] {
                let campaign = &loaded.catalog.campaigns[*campaign_id];
                let rendered = loaded
                    .renderer
                    .render_with(campaign, *step, &contact, now, &[], mode)
                    .unwrap();
                let _ = writeln!(
                    out,
                    "{} {campaign_id} {} {mode:?} {}",
                    contact.email,
                    step + 1,
                    digest(format!("{rendered:?}").as_bytes())
                );
            }
        }
    }
    out
}

#[test]
fn render_golden_shipped_templates_compose_the_same_bytes_as_before() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render_golden.txt");
    let now = snapshot();
    if std::env::var_os("TEND_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&path).expect("the snapshot (TEND_BLESS=1 writes it)");
    let lines = now.lines().count();
    assert!(lines > 800, "{lines} lines");
    for (n, (a, b)) in before.lines().zip(now.lines()).enumerate() {
        assert_eq!(a, b, "line {} of the snapshot differs", n + 1);
    }
    assert_eq!(before.lines().count(), lines);
}
