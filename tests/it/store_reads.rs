//! Stories of the store's reading and bookkeeping side, run on both backends
//! by `stories!` in `store.rs`: imports merge and never erase, events are
//! stored once and have their effects, unsubscribing is idempotent, segments
//! count, list and explain alike, racing writers neither fail nor duplicate,
//! and pilot and outbox figures come out the same.

use crate::store::{claim_request, contact, now, queued};
use chrono::Duration;
use serde_json::json;
use tend::clicks::Automated;
use tend::domain::{
    Attributes, EmailAddress, ExitReason, Group, HoldReason, NewContact, NewEvent, NewSuppression,
    SendState, SentContent, SuppressionReason, SuppressionScope,
};
use tend::segment::{AttrType, Cond, Selection, Vocabulary};
use tend::store::prelude::*;
use tend::store::{
    Backend, EndedCount, ExitRule, FailureRecord, HeldCount, NewClick, OutboxCount, SendOutcome,
    StepFigures, Unsubscribe, UnsubscribeResult, UpsertCounts,
};

fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).unwrap()
}

fn attributes(value: serde_json::Value) -> Attributes {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn vocab() -> Vocabulary {
    let mut v = Vocabulary::default();
    v.attributes.insert("orders".into(), AttrType::Number);
    v.attributes.insert("plan".into(), AttrType::Text);
    v
}

fn select(text: &str) -> Selection {
    Selection {
        cond: tend::segment::compile(&vocab(), text, now()).unwrap(),
        zones: None,
    }
}

fn cond(text: &str) -> Cond {
    select(text).cond
}

fn event(address: &str, kind: &str, at: chrono::DateTime<chrono::Utc>, detail: &str) -> NewEvent {
    NewEvent {
        email: email(address),
        kind: kind.parse().unwrap(),
        at,
        detail: detail.into(),
        source: "import".into(),
    }
}

async fn id_of(store: &Backend, address: &str) -> i64 {
    store
        .contact_by_email(&email(address))
        .await
        .unwrap()
        .unwrap()
        .id
}

pub async fn importing_merges_contacts_and_blank_fields_never_erase(store: Backend) {
    let ana = NewContact {
        email: email("Ana@Example.com"),
        name: Some("Ana".into()),
        // Sub-second parts are dropped on both backends.
        created_at: Some(now() - Duration::days(10) + Duration::milliseconds(600)),
        last_activity_at: Some(now() - Duration::days(2)),
        timezone: Some(chrono_tz::Europe::Lisbon),
        tags: Some(vec!["trial".into()]),
        attributes: attributes(
            json!({"plan": "pro", "orders": 3, "renews_at": "2026-04-01", "gone": "x"}),
        ),
    };
    let counts = store
        .upsert_contacts(&[ana, contact(1, 5, None)], now())
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 2,
            updated: 0
        }
    );
    // A later, sparser export: blanks keep what is stored, attributes merge
    // (a null removes one), and an older activity does not undo a newer one.
    let sparse = NewContact {
        email: email("ana@example.com"),
        name: None,
        created_at: None,
        last_activity_at: Some(now() - Duration::days(5)),
        timezone: None,
        tags: None,
        attributes: attributes(
            json!({"orders": 4, "country": "DE", "renews_at": "soon", "gone": null}),
        ),
    };
    let counts = store.upsert_contacts(&[sparse], now()).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 0,
            updated: 1
        }
    );
    let got = store
        .contact_by_email(&email("ana@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.email, "ana@example.com");
    assert_eq!(got.name.as_deref(), Some("Ana"));
    assert_eq!(got.created_at, now() - Duration::days(10));
    assert_eq!(got.last_activity_at, Some(now() - Duration::days(2)));
    assert_eq!(got.timezone.as_deref(), Some("Europe/Lisbon"));
    assert_eq!(got.tags, ["trial"]);
    assert_eq!(
        serde_json::Value::Object(got.attributes.clone()),
        json!({"plan": "pro", "orders": 4, "country": "DE", "renews_at": "soon"})
    );
    assert_eq!(
        store.contact_by_id(got.id).await.unwrap(),
        Some(got.clone())
    );
    assert_eq!(store.contact_by_id(got.id + 1000).await.unwrap(), None);

    // The same contact twice in one file: the later row wins; newer activity moves forward.
    let twice = |name: &str, seen: i64| NewContact {
        name: Some(name.into()),
        last_activity_at: Some(now() - Duration::days(seen)),
        tags: Some(vec![]),
        attributes: Attributes::new(),
        ..contact(0, 1, None)
    };
    let ana_again = NewContact {
        email: email("ana@example.com"),
        name: None,
        created_at: None,
        last_activity_at: Some(now() - Duration::days(1)),
        timezone: None,
        tags: None,
        attributes: Attributes::new(),
    };
    let counts = store
        .upsert_contacts(&[twice("One", 3), ana_again, twice("Two", 4)], now())
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            updated: 2
        }
    );
    let c0 = store
        .contact_by_email(&email("c0@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c0.name.as_deref(), Some("Two"));
    assert_eq!(c0.last_activity_at, Some(now() - Duration::days(3)));
    assert!(
        c0.tags.is_empty(),
        "an empty tag list is a value, not a blank"
    );
    let ana = store.contact_by_id(got.id).await.unwrap().unwrap();
    assert_eq!(ana.last_activity_at, Some(now() - Duration::days(1)));

    // Types as imported: a date and then text make text; a number then text is mixed.
    let mixed = NewContact {
        attributes: attributes(json!({"orders": "many", "vip": true})),
        ..contact(2, 1, None)
    };
    store.upsert_contacts(&[mixed], now()).await.unwrap();
    assert_eq!(
        store.attribute_types().await.unwrap(),
        [
            ("country".to_string(), Some(AttrType::Text)),
            ("gone".to_string(), Some(AttrType::Text)),
            ("orders".to_string(), None),
            ("plan".to_string(), Some(AttrType::Text)),
            ("renews_at".to_string(), Some(AttrType::Text)),
            ("vip".to_string(), Some(AttrType::Boolean)),
        ]
    );
    assert_eq!(
        store.contact_zones().await.unwrap(),
        [Some("Europe/Lisbon".to_string()), None],
        "each zone once, in the order first seen"
    );
}

pub async fn events_are_stored_once_move_activity_forward_and_suppress(store: Backend) {
    let contacts: Vec<_> = (0..4).map(|i| contact(i, 100, Some(10))).collect();
    store.upsert_contacts(&contacts, now()).await.unwrap();
    let day_ago = now() - Duration::days(1);
    let batch = vec![
        event("zed@example.com", "purchase", day_ago, ""),
        event("c0@example.com", "purchase", day_ago, "order 1"),
        event("c0@example.com", "purchase", day_ago, "order 1"),
        event("c0@example.com", "login", now() - Duration::days(20), ""),
        event("c1@example.com", "bounce", day_ago, "soft: mailbox full"),
        event("c2@example.com", "bounce", day_ago, "550 no such user"),
        event("abe@example.com", "purchase", day_ago, ""),
        event("c3@example.com", "complaint", day_ago, "abuse report"),
    ];
    let counts = store.record_events(&batch, now()).await.unwrap();
    assert_eq!(
        (counts.stored, counts.duplicates, counts.suppressions_added),
        (5, 1, 2)
    );
    assert_eq!(
        counts.unknown_contacts,
        ["zed@example.com", "abe@example.com"],
        "unknown contacts in the file's order"
    );
    let again = store.record_events(&batch, now()).await.unwrap();
    assert_eq!(
        (again.stored, again.duplicates, again.suppressions_added),
        (0, 6, 0)
    );
    let c0 = id_of(&store, "c0@example.com").await;
    let seen = |store: Backend, id| async move {
        store
            .contact_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .last_activity_at
    };
    assert_eq!(seen(store.clone(), c0).await, Some(day_ago));
    // Within one second is the same event.
    let hour_ago = now() - Duration::hours(1);
    let close = [
        event(
            "c1@example.com",
            "visit",
            hour_ago + Duration::milliseconds(200),
            "x",
        ),
        event(
            "c1@example.com",
            "visit",
            hour_ago + Duration::milliseconds(700),
            "x",
        ),
    ];
    let counts = store.record_events(&close, now()).await.unwrap();
    assert_eq!((counts.stored, counts.duplicates), (1, 1));
    let c1 = id_of(&store, "c1@example.com").await;
    assert_eq!(seen(store.clone(), c1).await, Some(hour_ago));

    // Clicks: the same one again within the second is one; a scanner's moves no activity.
    let click = |at, automated| NewClick {
        contact_id: c0,
        send_id: None,
        at,
        detail: "c step 0: https://acme.example/".into(),
        method: "GET".into(),
        user_agent: "Mozilla/5.0".into(),
        automated,
    };
    let at = now() - Duration::minutes(30);
    store.record_click(&click(at, None)).await.unwrap();
    store
        .record_click(&click(at + Duration::milliseconds(300), None))
        .await
        .unwrap();
    store
        .record_click(&click(now(), Some(Automated::ScannerAgent)))
        .await
        .unwrap();
    store
        .record_click(&NewClick {
            contact_id: c0 + 1000,
            ..click(now(), None)
        })
        .await
        .unwrap();
    assert_eq!(seen(store.clone(), c0).await, Some(at));
    let clicks = store
        .evaluate(
            c0,
            &[
                cond("count(event 'click') = 2"),
                cond("event 'click' within 1h"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(clicks, [true, true]);

    // Suppressions by address or domain; listed in byte order.
    store
        .upsert_contacts(
            &[NewContact {
                email: email("x@blocked.example"),
                ..contact(9, 100, None)
            }],
            now(),
        )
        .await
        .unwrap();
    let everyone = select("email is present");
    assert_eq!(store.count_matching(&everyone, "c").await.unwrap().0, 3);
    let domain = NewSuppression {
        value: "blocked.example".into(),
        scope: SuppressionScope::Domain,
        reason: SuppressionReason::Manual,
        source: "cli".into(),
        detail: String::new(),
    };
    assert!(store.add_suppression(&domain, now()).await.unwrap());
    assert!(!store.add_suppression(&domain, now()).await.unwrap());
    assert_eq!(store.count_matching(&everyone, "c").await.unwrap().0, 2);
    for address in ["a_b@example.com", "a.b@example.com", "a-b@example.com"] {
        let s = NewSuppression::address(&email(address), SuppressionReason::Manual, "cli", "");
        store.add_suppression(&s, now()).await.unwrap();
    }
    let listed = store.list_suppressions().await.unwrap();
    let values: Vec<&str> = listed.iter().map(|s| s.value.as_str()).collect();
    assert_eq!(
        values,
        [
            "a-b@example.com",
            "a.b@example.com",
            "a_b@example.com",
            "blocked.example",
            "c2@example.com",
            "c3@example.com"
        ]
    );
    let c2 = &listed[4];
    assert_eq!(
        (c2.scope, c2.reason, c2.detail.as_str(), c2.created_at),
        (
            SuppressionScope::Address,
            SuppressionReason::Bounce,
            "550 no such user",
            day_ago
        )
    );
    assert_eq!(listed[3].scope, SuppressionScope::Domain);
    assert_eq!(listed[5].reason, SuppressionReason::Complaint);
    assert!(store.remove_suppression(" C3@Example.com ").await.unwrap());
    assert!(!store.remove_suppression("c3@example.com").await.unwrap());
    assert_eq!(store.count_matching(&everyone, "c").await.unwrap().0, 3);
}

/// A bounce's full SMTP transcript or a long link is kept as it came, and a
/// re-import still stores it once (PostgreSQL cannot index text this long
/// in a plain unique key).
pub async fn a_long_event_detail_is_stored_once(store: Backend) {
    queued_contacts(&store, 1).await;
    // Incompressible text: about 4 kB of a pseudo-random hex stream.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let detail: String = (0..500)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:08x}", x as u32)
        })
        .collect();
    let long = [event("c0@example.com", "bounce", now(), &detail)];
    let counts = store.record_events(&long, now()).await.unwrap();
    assert_eq!((counts.stored, counts.suppressions_added), (1, 1));
    let again = store.record_events(&long, now()).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
    assert_eq!(store.list_suppressions().await.unwrap()[0].detail, detail);
}

pub async fn unsubscribing_from_everything_or_one_campaign_is_idempotent(store: Backend) {
    queued_contacts(&store, 2).await;
    let everyone = select("email is present");
    for campaign in ["a", "b"] {
        assert_eq!(
            store
                .enroll(campaign, &everyone, None, now())
                .await
                .unwrap(),
            2
        );
    }
    let c0 = id_of(&store, "c0@example.com").await;
    let request = |campaign: Option<&str>, detail: &str| Unsubscribe {
        contact_id: c0,
        campaign: campaign.map(str::to_string),
        source: "link".into(),
        detail: detail.into(),
    };
    let from_a = request(Some("a"), "from a");
    assert_eq!(
        store.unsubscribe(&from_a, now()).await.unwrap(),
        UnsubscribeResult::Done
    );
    assert_eq!(
        store.unsubscribe(&from_a, now()).await.unwrap(),
        UnsubscribeResult::Already
    );
    let open = |store: Backend, campaign: &'static str| async move {
        let p = store.progress(campaign).await.unwrap();
        p.iter().map(|p| p.contact_id).collect::<Vec<_>>()
    };
    let c1 = id_of(&store, "c1@example.com").await;
    assert_eq!(open(store.clone(), "a").await, [c1]);
    assert_eq!(open(store.clone(), "b").await, [c0, c1]);
    assert_eq!(
        store.count_entrants("a", &everyone, None).await.unwrap(),
        0,
        "an ended passage still counts as having entered"
    );
    assert!(store.list_suppressions().await.unwrap().is_empty());

    let from_all = request(None, "from everything");
    assert_eq!(
        store.unsubscribe(&from_all, now()).await.unwrap(),
        UnsubscribeResult::Done
    );
    assert_eq!(
        store.unsubscribe(&from_all, now()).await.unwrap(),
        UnsubscribeResult::Already
    );
    let suppressions = store.list_suppressions().await.unwrap();
    assert_eq!(suppressions.len(), 1);
    assert_eq!(suppressions[0].reason, SuppressionReason::Unsubscribe);
    assert_eq!(suppressions[0].detail, "from everything");
    assert_eq!(
        store
            .unsubscribe(
                &Unsubscribe {
                    contact_id: c0 + 1000,
                    ..from_all
                },
                now()
            )
            .await
            .unwrap(),
        UnsubscribeResult::UnknownContact
    );
    let recorded = store
        .evaluate(c0, &[cond("count(event 'unsubscribe') = 2")])
        .await
        .unwrap();
    assert_eq!(recorded, [true], "one event per change, none for replays");
    assert_eq!(
        store.contact_status(c0, "a").await.unwrap(),
        (true, true),
        "suppressed, and entered once"
    );
    assert_eq!(store.contact_status(c1, "z").await.unwrap(), (false, false));
}

/// `n` contacts c0… created a day ago, no activity.
async fn queued_contacts(store: &Backend, n: usize) {
    let contacts: Vec<_> = (0..n).map(|i| contact(i, 1, None)).collect();
    store.upsert_contacts(&contacts, now()).await.unwrap();
}

pub async fn segments_count_list_explain_and_enroll_alike(store: Backend) {
    let with = |i, attrs: serde_json::Value, tags: &[&str]| NewContact {
        attributes: attributes(attrs),
        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        ..contact(i, 100, Some(5))
    };
    let contacts = vec![
        NewContact {
            timezone: Some(chrono_tz::Europe::Berlin),
            ..with(0, json!({"plan": "pro", "orders": 3}), &["vip"])
        },
        with(1, json!({"plan": "basic", "orders": 1}), &[]),
        with(2, json!({"plan": "pro", "orders": 5}), &["customer"]),
        with(3, json!({"plan": "Pro"}), &["vip", "customer"]),
    ];
    store.upsert_contacts(&contacts, now()).await.unwrap();
    store
        .record_events(
            &[event(
                "c2@example.com",
                "purchase",
                now() - Duration::days(3),
                "",
            )],
            now(),
        )
        .await
        .unwrap();
    let ids: Vec<i64> = ids_of(&store, 4).await;
    let pro = select("attributes.plan = 'pro'");
    assert_eq!(store.count_matching(&pro, "a").await.unwrap(), (2, 2));
    let stages = vec![
        ("buyer".to_string(), cond("event 'purchase' within 30d")),
        ("anyone".to_string(), Cond::Const(true)),
    ];
    let listed = store.list_matching(&pro, &stages, 10).await.unwrap();
    let listed: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|(c, stage)| (c.email.as_str(), stage.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            ("c0@example.com", Some("anyone")),
            ("c2@example.com", Some("buyer"))
        ]
    );
    assert_eq!(store.list_matching(&pro, &[], 1).await.unwrap().len(), 1);
    let text = select("attributes.plan >= 'a' or tags has 'customer'");
    let all: Vec<String> = store
        .list_matching(&text, &[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, stage)| {
            assert_eq!(stage, None);
            c.email
        })
        .collect();
    assert_eq!(
        all,
        [
            "c0@example.com",
            "c1@example.com",
            "c2@example.com",
            "c3@example.com"
        ],
        "`Pro` sorts before `a` by bytes; c3 is in by its tag"
    );
    let explained = store
        .evaluate(
            ids[1],
            &[
                cond("attributes.plan = 'pro'"),
                cond("attributes.orders >= 1"),
                cond("not tags has 'vip'"),
                cond("attributes.orders is missing"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(explained, [false, true, true, false]);
    assert_eq!(
        store.evaluate(ids[1], &[]).await.unwrap(),
        Vec::<bool>::new()
    );

    // Entry: counted, listed, enrolled once.
    assert_eq!(store.count_entrants("a", &pro, None).await.unwrap(), 2);
    assert_eq!(
        store.entrant_ids("a", &pro, None).await.unwrap(),
        [ids[0], ids[2]]
    );
    assert_eq!(store.enroll("a", &pro, None, now()).await.unwrap(), 2);
    assert_eq!(store.enroll("a", &pro, None, now()).await.unwrap(), 0);
    assert_eq!(store.count_matching(&pro, "a").await.unwrap(), (2, 0));
    assert_eq!(
        store.contact_status(ids[0], "a").await.unwrap(),
        (false, true)
    );
    assert_eq!(
        store.contact_status(ids[1], "a").await.unwrap(),
        (false, false)
    );
    let progress = store.progress("a").await.unwrap();
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0].contact_id, ids[0]);
    assert_eq!(progress[0].timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(progress[0].entered_at, now());
    assert!(progress[0].last_send.is_none());

    // Re-entry: blocked while the last passage ended after the cutoff.
    store
        .finish_enrollments(&[(progress[0].enrollment_id, ExitReason::Completed)], now())
        .await
        .unwrap();
    let earlier = Some(now() - Duration::hours(1));
    let later = Some(now() + Duration::hours(1));
    assert_eq!(store.enroll("a", &pro, earlier, now()).await.unwrap(), 0);
    assert_eq!(store.count_entrants("a", &pro, later).await.unwrap(), 1);
    assert_eq!(store.enroll("a", &pro, later, now()).await.unwrap(), 1);
    assert_eq!(store.enrolled_count("a").await.unwrap(), 3);

    // Exit rules: counted without applying, then applied.
    let after = now() + Duration::minutes(1);
    store
        .record_events(&[event("c0@example.com", "purchase", after, "")], after)
        .await
        .unwrap();
    let bought = ExitRule {
        event_kinds: vec!["purchase".into()],
        ..Default::default()
    };
    let counted = store
        .exit_enrollments("a", &bought, after, false)
        .await
        .unwrap();
    assert_eq!(counted.event, 1, "c2's purchase was before entry");
    assert_eq!(store.progress("a").await.unwrap().len(), 2);
    let applied = store
        .exit_enrollments("a", &bought, after, true)
        .await
        .unwrap();
    assert_eq!(applied.event, 1);
    let open: Vec<i64> = store
        .progress("a")
        .await
        .unwrap()
        .iter()
        .map(|p| p.contact_id)
        .collect();
    assert_eq!(open, [ids[2]]);
    let big = select("attributes.orders >= 5");
    let rule = ExitRule {
        outside: Some(big.clone()),
        matching: Some(big),
        ..Default::default()
    };
    let counts = store
        .exit_enrollments("a", &rule, after, true)
        .await
        .unwrap();
    assert_eq!((counts.left_segment, counts.exit_when), (0, 1));
    assert!(store.progress("a").await.unwrap().is_empty());

    // A pilot's sample: groups, duplicates skipped, only the treatment progresses.
    let sample = [
        (ids[0], Group::Treatment),
        (ids[1], Group::Holdout),
        (ids[0], Group::Treatment),
    ];
    assert_eq!(store.enroll_contacts("p", &sample, now()).await.unwrap(), 2);
    assert_eq!(store.enroll_contacts("p", &sample, now()).await.unwrap(), 0);
    assert_eq!(store.enroll_contacts("p", &[], now()).await.unwrap(), 0);
    assert_eq!(store.enrolled_count("p").await.unwrap(), 2);
    let treated: Vec<i64> = store
        .progress("p")
        .await
        .unwrap()
        .iter()
        .map(|p| p.contact_id)
        .collect();
    assert_eq!(treated, [ids[0]]);
    let sampled = |rows: Vec<tend::domain::Contact>| rows.iter().map(|c| c.id).collect::<Vec<_>>();
    let rows = store.sample_contacts("p", &pro, 10).await.unwrap();
    assert_eq!(sampled(rows), [ids[0], ids[1], ids[2]]);
    let c1 = NewSuppression::address(
        &email("c1@example.com"),
        SuppressionReason::Manual,
        "cli",
        "",
    );
    store.add_suppression(&c1, now()).await.unwrap();
    let rows = store.sample_contacts("p", &pro, 10).await.unwrap();
    assert_eq!(sampled(rows), [ids[0], ids[2]]);

    // Entry zone by zone.
    let in_berlin = Selection {
        zones: Some(vec![Some("Europe/Berlin".into())]),
        ..pro.clone()
    };
    let unknown_zone = Selection {
        zones: Some(vec![None]),
        ..pro
    };
    assert_eq!(
        store.count_entrants("z", &in_berlin, None).await.unwrap(),
        1
    );
    assert_eq!(
        store.entrant_ids("z", &unknown_zone, None).await.unwrap(),
        [ids[2]]
    );
}

/// The ids of contacts c0…c(n-1), in order.
async fn ids_of(store: &Backend, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(id_of(store, &format!("c{i}@example.com")).await);
    }
    ids
}

pub async fn racing_imports_and_enrollments_neither_fail_nor_duplicate(store: Backend) {
    let contacts: Vec<_> = (0..60).map(|i| contact(i, 1, None)).collect();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        let mut mine = contacts.clone();
        // Each writer in its own order: locks taken in file order would deadlock.
        mine.rotate_left(w * 15);
        if w % 2 == 1 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            store.upsert_contacts(&mine, now()).await.unwrap()
        }));
    }
    let mut total = UpsertCounts::default();
    for t in tasks {
        let c = t.await.unwrap();
        total.inserted += c.inserted;
        total.updated += c.updated;
    }
    assert_eq!(
        total,
        UpsertCounts {
            inserted: 60,
            updated: 180
        }
    );
    let everyone = select("email is present");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        let everyone = everyone.clone();
        tasks.push(tokio::spawn(async move {
            store.enroll("race", &everyone, None, now()).await.unwrap()
        }));
    }
    let mut enrolled = 0;
    for t in tasks {
        enrolled += t.await.unwrap();
    }
    assert_eq!(enrolled, 60, "every contact entered exactly once");
    assert_eq!(store.enrolled_count("race").await.unwrap(), 60);
    let events: Vec<_> = (0..60)
        .map(|i| event(&format!("c{i}@example.com"), "purchase", now(), ""))
        .collect();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        let mut mine = events.clone();
        mine.rotate_left(w * 15);
        tasks.push(tokio::spawn(async move {
            store.record_events(&mine, now()).await.unwrap()
        }));
    }
    let (mut stored, mut duplicates) = (0, 0);
    for t in tasks {
        let c = t.await.unwrap();
        stored += c.stored;
        duplicates += c.duplicates;
    }
    assert_eq!((stored, duplicates), (60, 180));
}

fn sent(id: i64) -> SendOutcome {
    SendOutcome::Sent {
        message_id: format!("<{id}@x>"),
        subject: "Hello".into(),
        response: "250 ok".into(),
        content: SentContent::default(),
    }
}

pub async fn pilot_figures_count_responses_and_clicks_by_group(store: Backend) {
    queued_contacts(&store, 4).await;
    let ids = ids_of(&store, 4).await;
    let sample = [
        (ids[0], Group::Treatment),
        (ids[1], Group::Treatment),
        (ids[2], Group::Holdout),
        (ids[3], Group::Holdout),
    ];
    store.enroll_contacts("p", &sample, now()).await.unwrap();
    let sends: Vec<_> = store
        .progress("p")
        .await
        .unwrap()
        .into_iter()
        .map(|p| tend::store::NewSend {
            enrollment_id: p.enrollment_id,
            contact_id: p.contact_id,
            campaign: "p".into(),
            step: 0,
            template: "t".into(),
            due_at: now(),
        })
        .collect();
    assert_eq!(sends.len(), 2, "only the treatment is emailed");
    store.create_sends(&sends, now()).await.unwrap();
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    let mut send_of = std::collections::HashMap::new();
    for s in &claim.sends {
        store.record(s.id, &sent(s.id), now()).await.unwrap();
        send_of.insert(s.contact.id, s.id);
    }
    let day = |n: i64| now() + Duration::days(n);
    store
        .record_events(
            &[
                event("c0@example.com", "purchase", day(1), ""),
                event("c1@example.com", "login", day(3), ""),
                event("c1@example.com", "bounce", day(4), "550 gone"),
                event("c2@example.com", "purchase", day(1), ""),
                event("c2@example.com", "unsubscribe", day(2), ""),
                event("c3@example.com", "purchase", day(40), ""),
                // A click imported from elsewhere is still a click: treatment only.
                event("c3@example.com", "click", day(1), ""),
            ],
            now(),
        )
        .await
        .unwrap();
    let click = |contact: usize, minutes: i64, automated| NewClick {
        contact_id: ids[contact],
        send_id: Some(send_of[&ids[contact]]),
        at: now() + Duration::minutes(minutes),
        detail: "p step 0: https://acme.example/".into(),
        method: "GET".into(),
        user_agent: "Mozilla/5.0".into(),
        automated,
    };
    for c in [
        click(0, 1, Some(Automated::ScannerAgent)),
        click(0, 120, None),
        click(1, 2, Some(Automated::Head)),
        click(1, 300, None),
        click(1, 301, None),
    ] {
        store.record_click(&c).await.unwrap();
    }
    // What came back about step 0's messages: a DSN for c1's, a complaint
    // about c0's (recorded without effects, so the group figures stay).
    for (contact, kind) in [(1, "hard_bounce"), (0, "complaint")] {
        let came_back = tend::store::NewInbound {
            source: "file".into(),
            digest: format!("{kind}-{contact}"),
            raw: None,
            kind: kind.into(),
            effect: tend::store::InboundEffect::None,
            classification: serde_json::json!({ "kind": kind }),
            summary: kind.into(),
            send_id: Some(send_of[&ids[contact]]),
            contact_id: Some(ids[contact]),
            campaign: Some("p".into()),
            detail: kind.into(),
        };
        store.record_inbound(&came_back, now()).await.unwrap();
    }
    let within = tend::domain::Duration::from_days(30);
    let (groups, steps) = store
        .pilot_figures("p", &["activity".into()], within)
        .await
        .unwrap();
    let by = |g: Group| {
        groups
            .iter()
            .find(|(group, _)| *group == g)
            .unwrap()
            .1
            .clone()
    };
    let treatment = by(Group::Treatment);
    assert_eq!(
        (
            treatment.enrolled,
            treatment.sent,
            treatment.failed,
            treatment.bounced,
            treatment.unsubscribed
        ),
        (2, 2, 0, 1, 0)
    );
    assert_eq!(treatment.responders, 2);
    assert_eq!(treatment.response_days, [1, 3], "clicks are no activity");
    let clicks = &treatment.clicks;
    assert_eq!(
        (
            clicks.clicks,
            clicks.clickers,
            clicks.automated,
            clicks.human_clickers
        ),
        (5, 2, 2, 2)
    );
    assert_eq!(
        clicks.automated_by_reason,
        [("head".to_string(), 1), ("scanner-agent".to_string(), 1)].into()
    );
    let holdout = by(Group::Holdout);
    assert_eq!(
        (
            holdout.enrolled,
            holdout.sent,
            holdout.unsubscribed,
            holdout.responders
        ),
        (2, 0, 1, 1)
    );
    assert_eq!(holdout.response_days, [1], "c3 bought after the window");
    assert_eq!(holdout.clicks.clicks, 0);
    assert_eq!(
        steps,
        [StepFigures {
            step: 0,
            sent: 2,
            responders_after: 2,
            failed: 0,
            bounced: 1,
            complaints: 1,
            clicks: 5,
            human_clickers: 2,
        }]
    );
    // Clicks as the response, on purpose: from any source, the holdout's imported one too.
    let (groups, _) = store
        .pilot_figures("p", &["click".into()], within)
        .await
        .unwrap();
    let responders: Vec<(Group, u64, Vec<i64>)> = groups
        .iter()
        .map(|(g, f)| (*g, f.responders, f.response_days.clone()))
        .collect();
    assert_eq!(
        responders,
        [
            (Group::Treatment, 2, vec![0, 0]),
            (Group::Holdout, 1, vec![1])
        ]
    );
    let (groups, _) = store
        .pilot_figures(
            "p",
            &["purchase".into()],
            tend::domain::Duration::from_days(60),
        )
        .await
        .unwrap();
    let days: Vec<Vec<i64>> = groups
        .iter()
        .map(|(_, f)| f.response_days.clone())
        .collect();
    assert_eq!(days, [vec![1], vec![1, 40]]);
}

pub async fn outbox_held_and_ended_counts_say_what_happened(store: Backend) {
    let queued = queued(&store, 4).await;
    assert_eq!(queued.len(), 4);
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    let ids: Vec<i64> = claim.sends.iter().map(|s| s.id).collect();
    let until = now() + Duration::hours(1);
    let outcomes = [
        sent(ids[0]),
        SendOutcome::Failed {
            error: "550 user unknown".into(),
            failure: Some(FailureRecord {
                phase: "rcpt".into(),
                verdict: "hard".into(),
                reason: "no such user".into(),
                reply: "550 user unknown".into(),
            }),
        },
        SendOutcome::Cancelled {
            reason: "campaign removed".into(),
        },
        SendOutcome::Held {
            until,
            reason: HoldReason::Window,
        },
    ];
    for (id, outcome) in ids.iter().zip(&outcomes) {
        store.record(*id, outcome, now()).await.unwrap();
    }
    let count = |state, count| OutboxCount {
        campaign: "c".into(),
        state,
        count,
    };
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        [
            count(SendState::Cancelled, 1),
            count(SendState::Failed, 1),
            count(SendState::Queued, 1),
            count(SendState::Sent, 1)
        ]
    );
    assert_eq!(
        store.held_counts().await.unwrap(),
        [HeldCount {
            campaign: "c".into(),
            reason: HoldReason::Window,
            count: 1,
            next_at: until
        }]
    );
    let ended = |state, reason: &str| EndedCount {
        campaign: "c".into(),
        state,
        reason: reason.into(),
        count: 1,
    };
    assert_eq!(
        store.ended_counts(None).await.unwrap(),
        [
            ended(SendState::Cancelled, "campaign removed"),
            ended(SendState::Failed, "hard: no such user")
        ]
    );
    assert_eq!(store.ended_counts(Some("c")).await.unwrap().len(), 2);
    assert!(store.ended_counts(Some("other")).await.unwrap().is_empty());
}
