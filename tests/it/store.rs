//! The store's guarantees, exercised directly on real SQLite files: claims
//! are exclusive, queueing is idempotent, leases expire into `in_doubt`,
//! and SQL stage selection agrees with the Rust definition.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use tend::config::LifecycleSettings;
use tend::domain::{EmailAddress, Stage};
use tend::segment::{Segment, Vocabulary, stage_of};
use tend::store::{ClaimRequest, NewContact, NewSend, SendOutcome, SendState, SqliteStore, Store};

fn now() -> DateTime<Utc> {
    crate::helpers::NOW.parse().unwrap()
}

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tend.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    (dir, store)
}

fn contact(i: usize, created_days_ago: i64, seen_days_ago: Option<i64>) -> NewContact {
    NewContact {
        email: EmailAddress::parse(&format!("c{i}@example.com")).unwrap(),
        name: Some(format!("Contact {i}")),
        created_at: Some(now() - Duration::days(created_days_ago)),
        last_activity_at: seen_days_ago.map(|d| now() - Duration::days(d)),
        timezone: None,
        tags: None,
        attributes: Default::default(),
    }
}

/// `n` new contacts enrolled in campaign `c`, one queued send each.
async fn queued(store: &SqliteStore, n: usize) -> Vec<NewSend> {
    let contacts: Vec<_> = (0..n).map(|i| contact(i, 1, None)).collect();
    store.upsert_contacts(&contacts, now()).await.unwrap();
    let selection = Segment {
        stages: vec![Stage::New.to_string()],
        filter: None,
    }
    .select(&Vocabulary::default(), now());
    assert_eq!(
        store.enroll("c", &selection, None, now()).await.unwrap(),
        n as u64
    );
    let sends: Vec<NewSend> = store
        .progress("c")
        .await
        .unwrap()
        .into_iter()
        .map(|p| NewSend {
            enrollment_id: p.enrollment_id,
            contact_id: p.contact_id,
            campaign: "c".into(),
            step: 0,
            template: "t".into(),
            due_at: now(),
        })
        .collect();
    assert_eq!(store.create_sends(&sends, now()).await.unwrap(), n as u64);
    sends
}

fn claim_request(worker: &str, limit: u32) -> ClaimRequest {
    ClaimRequest {
        now: now(),
        limit,
        lease_until: now() + Duration::minutes(10),
        worker: worker.into(),
    }
}

#[tokio::test]
async fn queueing_the_same_step_twice_creates_nothing_twice() {
    let (_dir, store) = open().await;
    let sends = queued(&store, 5).await;
    assert_eq!(store.create_sends(&sends, now()).await.unwrap(), 0);
    let selection = Segment {
        stages: vec![Stage::New.to_string()],
        filter: None,
    }
    .select(&Vocabulary::default(), now());
    assert_eq!(
        store.enroll("c", &selection, None, now()).await.unwrap(),
        0,
        "nobody enters twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_hand_out_the_same_row() {
    let (_dir, store) = open().await;
    queued(&store, 200).await;
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claim = store
                    .claim(&claim_request(&format!("w{w}"), 7))
                    .await
                    .unwrap();
                if claim.sends.is_empty() {
                    return mine;
                }
                mine.extend(claim.sends.into_iter().map(|s| s.id));
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "every row claimed");
    assert_eq!(unique.len(), 200, "no row claimed twice");
}

#[tokio::test]
async fn an_expired_lease_becomes_in_doubt_and_is_never_reclaimed() {
    let (_dir, store) = open().await;
    queued(&store, 1).await;
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    assert_eq!(claim.sends.len(), 1);
    assert_eq!(
        store
            .expire_leases(now() + Duration::minutes(5))
            .await
            .unwrap(),
        0,
        "lease still valid"
    );
    assert_eq!(
        store
            .expire_leases(now() + Duration::minutes(11))
            .await
            .unwrap(),
        1
    );
    let later = ClaimRequest {
        now: now() + Duration::days(1),
        ..claim_request("w2", 10)
    };
    assert!(store.claim(&later).await.unwrap().sends.is_empty());
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].state, counts[0].count), (SendState::InDoubt, 1));
}

#[tokio::test]
async fn a_released_row_goes_back_to_the_queue_unchanged() {
    let (_dir, store) = open().await;
    queued(&store, 1).await;
    let send = store
        .claim(&claim_request("w", 10))
        .await
        .unwrap()
        .sends
        .remove(0);
    assert_eq!(send.attempts, 1);
    store
        .record(send.id, &SendOutcome::Released, now())
        .await
        .unwrap();
    let again = store.claim(&claim_request("w", 10)).await.unwrap().sends;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id, again[0].attempts),
        (send.id, 1),
        "the release did not count as an attempt"
    );
}

#[tokio::test]
async fn sql_stage_selection_agrees_with_the_rust_definition() {
    let (_dir, store) = open().await;
    let lifecycle = LifecycleSettings::default();
    let mut contacts = Vec::new();
    let mut i = 0;
    for created in [0, 1, 29, 30, 31, 89, 90, 91, 364, 365, 366, 1000] {
        for seen in [
            None,
            Some(0),
            Some(30),
            Some(89),
            Some(90),
            Some(91),
            Some(364),
            Some(365),
            Some(400),
        ] {
            contacts.push(contact(i, created, seen));
            i += 1;
        }
    }
    store.upsert_contacts(&contacts, now()).await.unwrap();
    for stage in Stage::ALL {
        let campaign = format!("only-{stage}");
        let selection = Segment {
            stages: vec![stage.to_string()],
            filter: None,
        }
        .select(
            &Vocabulary {
                lifecycle,
                ..Default::default()
            },
            now(),
        );
        let enrolled = store
            .enroll(&campaign, &selection, None, now())
            .await
            .unwrap();
        let expected = contacts
            .iter()
            .filter(|c| {
                stage_of(c.created_at.unwrap(), c.last_activity_at, &lifecycle, now())
                    == Some(stage)
            })
            .count();
        assert_eq!(enrolled as usize, expected, "stage {stage}");
        assert!(expected > 0, "the fixture covers stage {stage}");
    }
}

#[tokio::test]
async fn history_is_what_was_sent_before_in_recording_order() {
    use tend::store::{Choice, SentContent};
    let (_dir, store) = open().await;
    store
        .upsert_contacts(&[contact(0, 1, None)], now())
        .await
        .unwrap();
    let selection = Segment {
        stages: vec![Stage::New.to_string()],
        filter: None,
    }
    .select(&Vocabulary::default(), now());
    for campaign in ["a", "b", "c"] {
        store
            .enroll(campaign, &selection, None, now())
            .await
            .unwrap();
        let p = &store.progress(campaign).await.unwrap()[0];
        let send = NewSend {
            enrollment_id: p.enrollment_id,
            contact_id: p.contact_id,
            campaign: campaign.into(),
            step: 0,
            template: "t".into(),
            due_at: now(),
        };
        store.create_sends(&[send], now()).await.unwrap();
    }
    let claim = store
        .claim(&ClaimRequest {
            now: now(),
            limit: 10,
            lease_until: now() + Duration::minutes(5),
            worker: "w".into(),
        })
        .await
        .unwrap();
    let id = |campaign: &str| {
        claim
            .sends
            .iter()
            .find(|s| s.campaign == campaign)
            .unwrap()
            .id
    };
    // Recorded b, a, c within the same second: the recording order decides.
    for campaign in ["b", "a"] {
        let outcome = SendOutcome::Sent {
            message_id: format!("<{campaign}@x>"),
            subject: format!("subject {campaign}"),
            response: "250 ok".into(),
            content: SentContent {
                choices: vec![Choice {
                    slot: "opener".into(),
                    n: 2,
                    of: 3,
                    text: format!("Hello from {campaign}"),
                    part: "text".into(),
                }],
                opener: "Hello".into(),
                text: "Hello there".into(),
            },
        };
        store.record(id(campaign), &outcome, now()).await.unwrap();
    }
    let contact_id = claim.sends[0].contact.id;
    let all = store.history(contact_id, None).await.unwrap();
    let order: Vec<&str> = all.iter().map(|p| p.campaign.as_str()).collect();
    assert_eq!(order, ["b", "a"], "only sent messages, in recording order");
    assert_eq!(all[1].choices[0].text, "Hello from a");
    assert_eq!(all[1].subject, "subject a");
    let before_a = store.history(contact_id, Some(id("a"))).await.unwrap();
    assert_eq!(before_a.len(), 1, "what a's sender saw: b only");
    assert_eq!(before_a[0].campaign, "b");
    let before_c = store.history(contact_id, Some(id("c"))).await.unwrap();
    assert_eq!(
        before_c.len(),
        2,
        "c is not sent yet: everything sent so far"
    );
    let messages = store.sent_messages("a").await.unwrap();
    assert_eq!(messages.len(), 2, "all sent messages of a's contacts");
    assert_eq!(messages[0].opener, "Hello");
}
