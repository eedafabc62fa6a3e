//! The store's guarantees, exercised directly on real SQLite files: claims
//! are exclusive, queueing is idempotent, a dead sender's claimed rows go
//! back to the queue while only its row on the wire is in doubt, and SQL
//! stage selection agrees with the Rust definition.

use crate::pg::PgDb;
use crate::store_console::*;
use crate::store_inbound::*;
use crate::store_privacy::*;
use crate::store_reads::*;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use tend::config::LifecycleSettings;
use tend::domain::{EmailAddress, Group, Stage};
use tend::domain::{NewContact, NewSuppression, SendState, SuppressionReason};
use tend::segment::{Segment, Vocabulary, stage_of};
use tend::store::prelude::*;
use tend::store::{Backend, Kind};
use tend::store::{
    ClaimRequest, MarkResult, NewSend, OutboxFilter, SendOutcome, Settle, WorkerInfo,
};

pub(crate) fn now() -> DateTime<Utc> {
    crate::helpers::NOW.parse().unwrap()
}

/// What keeps a throwaway database alive (until it is dropped).
#[allow(dead_code)]
pub enum Holder {
    Dir(tempfile::TempDir),
    Pg(PgDb),
}

/// A fresh store of the given backend, or `None` where no PostgreSQL answers.
pub async fn open(kind: Kind) -> Option<(Holder, Backend)> {
    let (holder, url) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("tend.db").display());
            (Holder::Dir(dir), url)
        }
        Kind::Postgres => {
            let db = PgDb::create()?;
            let url = db.url.clone();
            (Holder::Pg(db), url)
        }
    };
    let store = tend::store::open(&url).await.unwrap();
    Some((holder, store))
}

/// Each behaviour of the store below, run unchanged on SQLite and on
/// PostgreSQL: `store::NAME::sqlite` and `store::NAME::postgres`.
macro_rules! stories {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (_db, store) = open(Kind::Sqlite).await.unwrap();
                super::$name(store).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some((_db, store)) = open(Kind::Postgres).await else {
                    return;
                };
                super::$name(store).await
            }
        }
    )*};
}

pub(crate) fn contact(i: usize, created_days_ago: i64, seen_days_ago: Option<i64>) -> NewContact {
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
pub(crate) async fn queued(store: &Backend, n: usize) -> Vec<NewSend> {
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

pub(crate) fn claim_request(worker: &str, limit: u32) -> ClaimRequest {
    ClaimRequest {
        now: now(),
        limit,
        lease_until: now() + Duration::minutes(10),
        worker: worker.into(),
        exits: Vec::new(),
        history_since: None,
        daily_cap: None,
    }
}

async fn queueing_the_same_step_twice_creates_nothing_twice(store: Backend) {
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

async fn concurrent_claims_never_hand_out_the_same_row(store: Backend) {
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

fn worker(id: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        host: "elsewhere".into(),
        boot_id: "b".into(),
        pid: 1,
        started_at: 1,
        heartbeat_at: now(),
    }
}

async fn a_dead_senders_claimed_rows_go_back_and_only_its_row_on_the_wire_is_in_doubt(
    store: Backend,
) {
    queued(&store, 3).await;
    store.heartbeat(&worker("w"), now()).await.unwrap();
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    assert_eq!(claim.sends.len(), 3);
    let on_wire = claim.sends[0].id;
    assert_eq!(
        store
            .mark_sending(on_wire, "w", "<m@x>", now())
            .await
            .unwrap(),
        MarkResult::Go
    );
    // Nobody else may mark a row that is not theirs.
    assert_eq!(
        store
            .mark_sending(claim.sends[1].id, "intruder", "<m@x>", now())
            .await
            .unwrap(),
        MarkResult::Lost
    );
    let recovered = store.recover(&["w".to_string()], now()).await.unwrap();
    assert_eq!((recovered.released, recovered.in_doubt), (2, 1));
    assert!(
        store.workers().await.unwrap().is_empty(),
        "the dead sender is forgotten"
    );
    let again = store.claim(&claim_request("w2", 10)).await.unwrap();
    let ids: HashSet<i64> = again.sends.iter().map(|s| s.id).collect();
    assert_eq!(
        ids.len(),
        2,
        "the claimed-but-unsent rows are sendable again"
    );
    assert!(
        !ids.contains(&on_wire),
        "the in-doubt row is never handed out again"
    );
    assert!(
        again.sends.iter().all(|s| s.attempts == 1),
        "a crash costs no attempt"
    );
    let rows = store
        .outbox_rows(&OutboxFilter {
            states: vec![SendState::InDoubt],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id.as_deref(), Some("<m@x>"));
    assert!(rows[0].wire_at.is_some());
}

async fn rows_of_an_unknown_owner_return_only_after_their_lease(store: Backend) {
    queued(&store, 1).await;
    store.claim(&claim_request("ghost", 10)).await.unwrap();
    let early = store
        .recover(&[], now() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(early.released, 0, "lease still valid");
    let late = store
        .recover(&[], now() + Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(late.released, 1);
}

async fn settling_in_doubt_rows_by_id_or_time_keeps_a_note(store: Backend) {
    queued(&store, 2).await;
    store.heartbeat(&worker("w"), now()).await.unwrap();
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    for send in &claim.sends {
        store
            .mark_sending(send.id, "w", &format!("<{}@x>", send.id), now())
            .await
            .unwrap();
    }
    store.recover(&["w".to_string()], now()).await.unwrap();
    let by_id = OutboxFilter {
        ids: vec![claim.sends[0].id],
        ..Default::default()
    };
    let n = store
        .settle(&by_id, Settle::Sent, "found in the relay log", now())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let in_range = OutboxFilter {
        from: Some(now() - Duration::minutes(1)),
        to: Some(now() + Duration::minutes(1)),
        ..Default::default()
    };
    let n = store
        .settle(&in_range, Settle::Requeue, "not in the relay log", now())
        .await
        .unwrap();
    assert_eq!(
        n, 1,
        "only in-doubt rows are settled; the sent one stays sent"
    );
    let rows = store.outbox_rows(&OutboxFilter::default()).await.unwrap();
    let sent = rows.iter().find(|r| r.id == claim.sends[0].id).unwrap();
    assert_eq!(sent.state, SendState::Sent);
    assert!(
        sent.note
            .as_deref()
            .unwrap()
            .contains("found in the relay log")
    );
    let requeued = rows.iter().find(|r| r.id == claim.sends[1].id).unwrap();
    assert_eq!(requeued.state, SendState::Queued);
    assert!(requeued.note.as_deref().unwrap().contains("requeued"));
}

async fn a_suppression_between_claim_and_wire_stops_the_message(store: Backend) {
    queued(&store, 1).await;
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    let send = &claim.sends[0];
    let email = EmailAddress::parse(&send.contact.email).unwrap();
    store
        .add_suppression(
            &NewSuppression::address(&email, SuppressionReason::Unsubscribe, "test", ""),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .mark_sending(send.id, "w", "<m@x>", now())
            .await
            .unwrap(),
        MarkResult::Suppressed
    );
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts[0].state, counts[0].count),
        (SendState::Suppressed, 1)
    );
}

async fn a_released_row_goes_back_to_the_queue_unchanged(store: Backend) {
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

async fn sql_stage_selection_agrees_with_the_rust_definition(store: Backend) {
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

async fn history_is_what_was_sent_before_in_recording_order(store: Backend) {
    use tend::domain::{Choice, SentContent};
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
            exits: Vec::new(),
            history_since: None,
            daily_cap: None,
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
    assert!(
        claim.sends.iter().all(|s| s.past.is_empty()),
        "nothing was sent when they were claimed"
    );
    // Claimed again, c carries the same history its sender would read.
    store
        .record(id("c"), &SendOutcome::Released, now())
        .await
        .unwrap();
    let again = store.claim(&claim_request("w", 10)).await.unwrap();
    assert_eq!(again.sends.len(), 1);
    assert_eq!(again.sends[0].id, id("c"));
    assert_eq!(
        again.sends[0].past, before_c,
        "the claim reads the history in one go"
    );
    let messages = store.sent_messages("a").await.unwrap();
    assert_eq!(messages.len(), 2, "all sent messages of a's contacts");
    assert_eq!(messages[0].opener, "Hello");
}

async fn a_purchase_after_queueing_ends_the_passage_in_the_claim_itself(store: Backend) {
    queued(&store, 2).await;
    // c0 buys something after entering, after the row was queued.
    let purchase = tend::domain::NewEvent {
        email: EmailAddress::parse("c0@example.com").unwrap(),
        kind: "purchase".parse().unwrap(),
        at: now() + Duration::minutes(1),
        detail: String::new(),
        source: "import".into(),
    };
    store
        .record_events(&[purchase], now() + Duration::minutes(1))
        .await
        .unwrap();
    let request = ClaimRequest {
        now: now() + Duration::minutes(2),
        exits: vec![(
            "c".to_string(),
            tend::store::ExitRule {
                event_kinds: vec!["activity".into()],
                ..Default::default()
            },
        )],
        ..claim_request("w", 10)
    };
    let claim = store.claim(&request).await.unwrap();
    assert_eq!(claim.sends.len(), 1, "only the contact who did not buy");
    assert_eq!(claim.sends[0].contact.email, "c1@example.com");
    assert_eq!(claim.cancelled, 1);
    let cancelled = store
        .outbox_rows(&OutboxFilter {
            states: vec![SendState::Cancelled],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        cancelled[0].last_error.as_deref(),
        Some("passage ended before sending: event")
    );
}

async fn leaving_the_segment_or_matching_exit_when_after_queueing_ends_the_passage_in_the_claim(
    store: Backend,
) {
    queued(&store, 4).await;
    let selection = |text: &str| {
        let text = text.to_string();
        Segment {
            stages: vec![Stage::New.to_string()],
            filter: Some(tend::segment::Filter {
                expr: tend::segment::filter::parse(&text).unwrap(),
                text,
            }),
        }
        .select(&Vocabulary::default(), now())
    };
    // c0 is outside what the campaign now selects; c1 matches its exit_when.
    let request = ClaimRequest {
        now: now() + Duration::minutes(2),
        exits: vec![(
            "c".to_string(),
            tend::store::ExitRule {
                outside: Some(selection("email != 'c0@example.com'")),
                matching: Some(selection("email = 'c1@example.com'")),
                ..Default::default()
            },
        )],
        ..claim_request("w", 10)
    };
    let claim = store.claim(&request).await.unwrap();
    let mut claimed: Vec<&str> = claim
        .sends
        .iter()
        .map(|s| s.contact.email.as_str())
        .collect();
    claimed.sort();
    assert_eq!(claimed, ["c2@example.com", "c3@example.com"]);
    assert_eq!(claim.cancelled, 2);
    let mut reasons: Vec<String> = store
        .outbox_rows(&OutboxFilter {
            states: vec![SendState::Cancelled],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.last_error)
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "passage ended before sending: exit_when",
            "passage ended before sending: left_segment"
        ]
    );
}

async fn contacts_enter_on_events_anniversaries_and_by_id(store: Backend) {
    use tend::segment::{Cond, Selection};
    use tend::store::EventTrigger;
    let contacts = vec![
        contact(0, 365, None),
        contact(1, 10, None),
        contact(2, 10, None),
    ];
    store.upsert_contacts(&contacts, now()).await.unwrap();
    let event = |i: usize, kind: &str, hours_ago: i64| tend::domain::NewEvent {
        email: EmailAddress::parse(&format!("c{i}@example.com")).unwrap(),
        kind: kind.parse().unwrap(),
        at: now() - Duration::hours(hours_ago),
        detail: String::new(),
        source: "import".into(),
    };
    store
        .record_events(
            &[
                event(0, "purchase", 2),
                event(1, "login", 2),
                event(2, "purchase", 30),
            ],
            now(),
        )
        .await
        .unwrap();
    let everyone = Selection {
        cond: Cond::Const(true),
        zones: None,
    };
    let trigger = EventTrigger {
        kinds: vec!["purchase".into()],
        delay: Duration::hours(1),
        after: now() - Duration::days(1),
        until: now(),
    };
    let count = |apply| {
        let (store, everyone, trigger) = (store.clone(), everyone.clone(), trigger.clone());
        async move {
            store
                .enroll_on_events("thanks", &everyone, &trigger, None, now(), apply)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count(false).await,
        1,
        "c0 bought 2h ago (+1h delay, in the window); c2's is too old"
    );
    assert_eq!(count(true).await, 1);
    assert_eq!(count(true).await, 0, "an open passage is not entered twice");
    let born: Vec<i64> = store
        .anniversary_candidates(&everyone, &[now().format("%m-%d").to_string()])
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(born.len(), 1, "c0 was created a year ago today: {born:?}");
    let ids: Vec<i64> = store
        .progress("thanks")
        .await
        .unwrap()
        .iter()
        .map(|p| p.contact_id)
        .chain(born)
        .collect();
    assert_eq!(
        store
            .enroll_ids("yearly", &ids, None, now(), false)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enroll_ids("yearly", &ids, None, now(), true)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enroll_ids("yearly", &ids, None, now(), true)
            .await
            .unwrap(),
        0
    );
}

async fn enrollments_are_read_page_by_page_each_once_in_order(store: Backend) {
    queued(&store, 25).await;
    let all: Vec<i64> = store
        .progress("c")
        .await
        .unwrap()
        .iter()
        .map(|p| p.enrollment_id)
        .collect();
    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut after = 0;
    loop {
        let page = store.progress_page("c", after, i64::MAX, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.enrollment_id;
        sizes.push(page.len());
        paged.extend(page.iter().map(|p| p.enrollment_id));
    }
    assert_eq!(sizes, [7, 7, 7, 4]);
    assert_eq!(paged, all, "every open enrollment once, in id order");
    assert!(paged.windows(2).all(|w| w[0] < w[1]));
    let through = all[9];
    let bounded: Vec<i64> = store
        .progress_page("c", all[2], through, 100)
        .await
        .unwrap()
        .iter()
        .map(|p| p.enrollment_id)
        .collect();
    assert_eq!(bounded, all[3..10], "a page stops at `through`");
}

async fn marks_and_records_of_many_senders_at_once_each_land_on_their_own_row(store: Backend) {
    queued(&store, 40).await;
    store.heartbeat(&worker("w"), now()).await.unwrap();
    let claim = store.claim(&claim_request("w", 40)).await.unwrap();
    assert_eq!(claim.sends.len(), 40);
    let mut tasks = Vec::new();
    for (i, send) in claim.sends.iter().enumerate() {
        let store = store.clone();
        let id = send.id;
        tasks.push(tokio::spawn(async move {
            // Every fifth caller is not the owner: its mark must be refused
            // without spoiling the writes committed alongside it.
            let who = if i % 5 == 0 { "intruder" } else { "w" };
            let marked = store
                .mark_sending(id, who, &format!("<{id}@x>"), now())
                .await
                .unwrap();
            if marked == MarkResult::Go {
                store
                    .record(
                        id,
                        &SendOutcome::Sent {
                            message_id: format!("<{id}@x>"),
                            subject: format!("subject {id}"),
                            response: "250 ok".into(),
                            content: Default::default(),
                        },
                        now(),
                    )
                    .await
                    .unwrap();
            }
            (id, who, marked)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let rows = store.outbox_rows(&OutboxFilter::default()).await.unwrap();
    for (id, who, marked) in results {
        let row = rows.iter().find(|r| r.id == id).unwrap();
        if who == "w" {
            assert_eq!(marked, MarkResult::Go);
            assert_eq!(row.state, SendState::Sent, "row {id}");
        } else {
            assert_eq!(marked, MarkResult::Lost);
            assert_eq!(row.state, SendState::Claimed, "row {id} untouched");
        }
    }
}

/// The planner's set-based path: a tick's entrants (above the id read before
/// enrolling, entered at its instant, treated) get their first step queued
/// in one statement; older passages, a pilot's holdout and rows already
/// queued are left alone.
async fn entrants_first_step_is_queued_in_one_statement_for_this_ticks_treated_only(
    store: Backend,
) {
    assert_eq!(store.last_enrollment_id().await.unwrap(), 0);
    // Two older passages, one of them already queued.
    let older = queued(&store, 2).await;
    let before = store.last_enrollment_id().await.unwrap();
    assert_eq!(before, older[1].enrollment_id);
    let entering: Vec<_> = (10..16).map(|i| contact(i, 1, None)).collect();
    store.upsert_contacts(&entering, now()).await.unwrap();
    let ids = store.entrant_ids("c", &new_stage(), None).await.unwrap();
    assert_eq!(ids.len(), 6);
    let later = now() + Duration::seconds(1);
    let groups: Vec<(i64, Group)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                *id,
                if i % 3 == 0 {
                    Group::Holdout
                } else {
                    Group::Treatment
                },
            )
        })
        .collect();
    assert_eq!(store.enroll_contacts("c", &groups, later).await.unwrap(), 6);
    let mut sends = tend::store::EntrantSends {
        campaign: "c".into(),
        after_enrollment: before,
        entered_at: later,
        step: 0,
        template: "welcome/hello".into(),
        due_at: later + Duration::minutes(5),
    };
    assert_eq!(store.queue_entrants(&sends, later).await.unwrap(), 4);
    assert_eq!(
        store.queue_entrants(&sends, later).await.unwrap(),
        0,
        "the (enrollment, step) key holds"
    );
    // Another instant or campaign matches nobody.
    sends.entered_at = now();
    assert_eq!(store.queue_entrants(&sends, later).await.unwrap(), 0);
    sends.entered_at = later;
    sends.campaign = "other".into();
    assert_eq!(store.queue_entrants(&sends, later).await.unwrap(), 0);
    let treated: HashSet<i64> = groups
        .iter()
        .filter(|(_, g)| *g == Group::Treatment)
        .map(|(id, _)| *id)
        .collect();
    let progress = store.progress("c").await.unwrap();
    assert_eq!(
        progress.len(),
        2 + 4,
        "holdout passages are not the planner's"
    );
    for p in &progress {
        let last = p.last_send.expect("every treated passage has its send");
        assert_eq!(last.step, 0);
        assert_eq!(last.state, SendState::Queued);
        if p.enrollment_id > before {
            assert!(treated.contains(&p.contact_id));
            assert_eq!(p.entered_at, later);
        }
    }
    assert!(store.last_enrollment_id().await.unwrap() > before);
}

fn new_stage() -> tend::segment::Selection {
    Segment {
        stages: vec![Stage::New.to_string()],
        filter: None,
    }
    .select(&Vocabulary::default(), now())
}

stories!(
    entrants_first_step_is_queued_in_one_statement_for_this_ticks_treated_only,
    enrollments_are_read_page_by_page_each_once_in_order,
    marks_and_records_of_many_senders_at_once_each_land_on_their_own_row,
    contacts_enter_on_events_anniversaries_and_by_id,
    queueing_the_same_step_twice_creates_nothing_twice,
    concurrent_claims_never_hand_out_the_same_row,
    a_dead_senders_claimed_rows_go_back_and_only_its_row_on_the_wire_is_in_doubt,
    rows_of_an_unknown_owner_return_only_after_their_lease,
    settling_in_doubt_rows_by_id_or_time_keeps_a_note,
    a_suppression_between_claim_and_wire_stops_the_message,
    a_released_row_goes_back_to_the_queue_unchanged,
    sql_stage_selection_agrees_with_the_rust_definition,
    a_purchase_after_queueing_ends_the_passage_in_the_claim_itself,
    leaving_the_segment_or_matching_exit_when_after_queueing_ends_the_passage_in_the_claim,
    history_is_what_was_sent_before_in_recording_order,
    importing_merges_contacts_and_blank_fields_never_erase,
    events_are_stored_once_move_activity_forward_and_suppress,
    a_long_event_detail_is_stored_once,
    unsubscribing_from_everything_or_one_campaign_is_idempotent,
    segments_count_list_explain_and_enroll_alike,
    racing_imports_and_enrollments_neither_fail_nor_duplicate,
    pilot_figures_count_responses_and_clicks_by_group,
    outbox_held_and_ended_counts_say_what_happened,
    an_inbound_message_is_kept_once_and_its_effect_applied_once,
    a_message_of_nobody_we_know_is_kept_and_changes_nothing,
    undo_lifts_exactly_the_suppression_its_message_added,
    undoing_one_of_two_messages_that_stop_an_address_leaves_it_stopped,
    a_reply_is_an_event_exit_rules_see_until_it_is_undone,
    a_soft_bounce_counts_until_it_is_undone,
    soft_bounces_by_mail_add_up_across_messages_until_one_gets_through,
    kept_messages_are_listed_newest_first_and_counted_without_the_undone,
    raw_text_is_forgotten_only_before_the_cutoff,
    an_imap_polls_decisions_are_kept_per_account_folder_and_uid_validity,
    an_erasure_leaves_a_hash_and_keeps_every_count,
    retention_forgets_only_what_is_older_than_its_cutoff,
    the_audit_log_lists_newest_first_and_filters,
    a_session_lives_until_it_expires_or_signs_out,
    failed_sign_ins_count_per_key_within_the_window,
    contacts_are_found_and_their_timeline_is_complete,
);

/// PostgreSQL keeps no per-row foreign keys on the planner's inserts
/// (migration 0010); what they guarded, rows of the ledger's parents
/// deleted from under it, is refused by the tables themselves.
#[tokio::test]
async fn postgres_refuses_to_delete_contacts_or_passages_the_ledger_refers_to() {
    use sqlx::Connection;
    let Some((holder, store)) = open(Kind::Postgres).await else {
        return;
    };
    let Holder::Pg(db) = &holder else {
        unreachable!()
    };
    let sends = queued(&store, 3).await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    for sql in [
        format!("DELETE FROM contacts WHERE id = {}", sends[0].contact_id),
        format!(
            "DELETE FROM enrollments WHERE id = {}",
            sends[0].enrollment_id
        ),
        "TRUNCATE contacts CASCADE".to_string(),
        "TRUNCATE enrollments CASCADE".to_string(),
    ] {
        let error = sqlx::query(&sql).execute(&mut conn).await.unwrap_err();
        assert!(
            error.to_string().contains("tend never deletes from"),
            "{sql}: {error}"
        );
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sends s JOIN enrollments e ON e.id = s.enrollment_id JOIN contacts c ON c.id = e.contact_id")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 3, "every send still reaches its passage and contact");
}
