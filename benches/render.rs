//! Rendering alone: the shipped templates composed into complete messages
//! (personalised text, variants, footer, headers, Message-ID), one core,
//! no database or network. `cargo bench --bench render`; bench/run.sh
//! reads the items/s column (median).

use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use tend::config::Settings;
use tend::domain::{Attributes, Contact};
use tend::send::{Loaded, compose};

// The same allocator as the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

struct Fixture {
    loaded: Arc<Loaded>,
    identity: tend::send::Identity,
    contacts: Vec<Contact>,
    now: DateTime<Utc>,
}

const CONTACTS: usize = 1000;

fn fixture() -> Fixture {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut settings =
        Settings::load(&dir.path().join("none.toml"), false).expect("default settings");
    settings.paths.campaigns = root.join("campaigns");
    settings.paths.templates = root.join("templates");
    settings.sending.from = Some("Ana <ana@acme.example>".into());
    settings.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let now: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().expect("a time");
    let (loaded, diagnostics) =
        tend::daemon::reload::load(&settings, &root.join("config/tend.toml"), &[]);
    let loaded = loaded.unwrap_or_else(|| panic!("the shipped catalog loads: {diagnostics:?}"));
    let identity = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let store = tend::store::SqliteStore::open(&settings.database.url)
                .await
                .expect("a store");
            tend::send::identity(&store, &settings, now)
                .await
                .expect("an identity")
        });
    let contacts = (0..CONTACTS as i64)
        .map(|i| Contact {
            id: i + 1,
            email: format!("c{i}@example{}.com", i % 50),
            name: (i % 7 != 0).then(|| format!("Contact{i} Person")),
            created_at: now - chrono::Duration::days(1 + i % 400),
            last_activity_at: (i % 5 != 0).then(|| now - chrono::Duration::days(30 + i % 300)),
            timezone: Some(["Europe/Berlin", "America/New_York"][i as usize % 2].into()),
            tags: vec!["customer".into()],
            attributes: Attributes::new(),
        })
        .collect();
    Fixture {
        loaded: Arc::new(loaded),
        identity,
        contacts,
        now,
    }
}

fn render_campaign(bencher: divan::Bencher, campaign: &str) {
    let f = fixture();
    let campaign = f.loaded.catalog.campaigns.get(campaign).expect("shipped");
    bencher
        .counter(divan::counter::ItemsCount::new(CONTACTS))
        .bench(|| {
            for (i, contact) in f.contacts.iter().enumerate() {
                let composed = compose(
                    &f.loaded,
                    &f.identity,
                    campaign,
                    0,
                    contact,
                    Some((i as i64 + 1, i as i64 + 1)),
                    f.now,
                    &[],
                )
                .expect("composes");
                divan::black_box(composed);
            }
        });
}

/// `welcome/hello`: the first message of the shipped welcome campaign.
#[divan::bench(sample_count = 10)]
fn welcome(bencher: divan::Bencher) {
    render_campaign(bencher, "welcome");
}

/// `win-back/checking-in`: variants, dates in the contact's zone.
#[divan::bench(sample_count = 10)]
fn win_back(bencher: divan::Bencher) {
    render_campaign(bencher, "win-back");
}
