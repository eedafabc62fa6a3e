//! Stories of what comes back, kept by the store (`InboundStore`), run on
//! both backends by `stories!` in `store.rs`: a message is kept once and
//! its effect applied once however often it arrives; undo reverses exactly
//! what a message did (and no suppression that stands for another reason);
//! a reply is an event exit rules see until it is undone; a soft bounce
//! counts until undone; counts leave undone messages out; raw text is
//! forgotten only before the cutoff; an IMAP poll's decisions are kept per
//! mailbox and UIDVALIDITY.

use crate::store::{claim_request, contact, now, queued};
use chrono::Duration;
use serde_json::json;
use tend::domain::{EmailAddress, NewSuppression, SuppressionReason};
use tend::store::prelude::*;
use tend::store::{
    Backend, ClaimRequest, ExitRule, ImapMailbox, InboundEffect, InboundFilter, NewInbound,
};

/// A message of `kind` with `effect`, tied to `contact` (and `campaign`).
fn message(
    digest: &str,
    kind: &str,
    effect: InboundEffect,
    contact: Option<i64>,
    campaign: Option<&str>,
) -> NewInbound {
    NewInbound {
        source: "file".into(),
        digest: digest.into(),
        raw: Some(format!("Subject: {digest}\r\n\r\nbody of {digest}\r\n").into_bytes()),
        kind: kind.into(),
        effect,
        classification: json!({ "kind": { "kind": kind }, "digest": digest }),
        summary: format!("{kind} from c***@example.com"),
        send_id: None,
        contact_id: contact,
        campaign: campaign.map(str::to_string),
        detail: format!("{kind} (test)"),
    }
}

async fn contacts(store: &Backend, n: usize) -> Vec<i64> {
    let new: Vec<_> = (0..n).map(|i| contact(i, 1, None)).collect();
    store.upsert_contacts(&new, now()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let email = EmailAddress::parse(&format!("c{i}@example.com")).unwrap();
        ids.push(store.contact_by_email(&email).await.unwrap().unwrap().id);
    }
    ids
}

async fn suppressed(store: &Backend, contact: i64) -> bool {
    store.contact_status(contact, "c").await.unwrap().0
}

/// The suppressions as (value, reason, source).
async fn suppressions(store: &Backend) -> Vec<(String, SuppressionReason, String)> {
    let mut all: Vec<_> = store
        .list_suppressions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.value, s.reason, s.source))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

pub async fn an_inbound_message_is_kept_once_and_its_effect_applied_once(store: Backend) {
    let ids = contacts(&store, 1).await;
    let bounce = message(
        "d-1",
        "hard_bounce",
        InboundEffect::HardBounce,
        Some(ids[0]),
        Some("c"),
    );
    let first = store.record_inbound(&bounce, now()).await.unwrap();
    assert!(!first.duplicate);
    assert!(first.suppressed);
    // The same digest again, even claiming another effect: nothing changes.
    let again = NewInbound {
        kind: "complaint".into(),
        effect: InboundEffect::Complaint,
        ..bounce.clone()
    };
    let second = store
        .record_inbound(&again, now() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        (second.id, second.duplicate, second.suppressed),
        (first.id, true, false)
    );
    assert_eq!(
        suppressions(&store).await,
        [(
            "c0@example.com".to_string(),
            SuppressionReason::Bounce,
            format!("inbound #{}", first.id)
        )]
    );
    let rows = store.inbound_rows(&InboundFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].effect.as_str()),
        ("hard_bounce", "hard_bounce")
    );
    assert_eq!(rows[0].suppressed.as_deref(), Some("c0@example.com"));
    // One event was recorded: undoing removes exactly one.
    let undone = store.undo_inbound(first.id, "test", now()).await.unwrap();
    assert_eq!(undone.events_removed, 1);

    // Racing deliveries of one message: one is kept, the rest are duplicates.
    let mut racers = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        let complaint = message(
            "d-race",
            "complaint",
            InboundEffect::Complaint,
            Some(ids[0]),
            None,
        );
        racers.push(tokio::spawn(async move {
            store.record_inbound(&complaint, now()).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for r in racers {
        outcomes.push(r.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.duplicate).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| o.suppressed).count(), 1);
    assert!(outcomes.windows(2).all(|w| w[0].id == w[1].id));
    assert_eq!(suppressions(&store).await.len(), 1);
    assert_eq!(
        store
            .inbound_rows(&InboundFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn a_message_of_nobody_we_know_is_kept_and_changes_nothing(store: Backend) {
    contacts(&store, 1).await;
    let stray = message(
        "d-stray",
        "hard_bounce",
        InboundEffect::HardBounce,
        None,
        None,
    );
    let kept = store.record_inbound(&stray, now()).await.unwrap();
    assert!(!kept.duplicate && !kept.suppressed);
    // A contact id that names nobody (deleted since) is no different.
    let gone = message(
        "d-gone",
        "complaint",
        InboundEffect::Complaint,
        Some(999_999),
        None,
    );
    assert!(!store.record_inbound(&gone, now()).await.unwrap().suppressed);
    assert!(store.list_suppressions().await.unwrap().is_empty());
    let rows = store.inbound_rows(&InboundFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.email.is_none() && r.suppressed.is_none())
    );
    let undone = store
        .undo_inbound(kept.id, "nothing to undo", now())
        .await
        .unwrap();
    assert!(undone.found && !undone.already);
    assert_eq!(
        (
            undone.lifted,
            undone.events_removed,
            undone.soft_bounces_removed
        ),
        (None, 0, 0)
    );
}

pub async fn undo_lifts_exactly_the_suppression_its_message_added(store: Backend) {
    let ids = contacts(&store, 3).await;
    // c1 was suppressed before, by hand, for its own reason.
    let c1 = EmailAddress::parse("c1@example.com").unwrap();
    store
        .add_suppression(
            &NewSuppression::address(&c1, SuppressionReason::Manual, "cli", "asked by phone"),
            now() - Duration::days(3),
        )
        .await
        .unwrap();
    let bounce = store
        .record_inbound(
            &message(
                "d-bounce",
                "hard_bounce",
                InboundEffect::HardBounce,
                Some(ids[0]),
                None,
            ),
            now(),
        )
        .await
        .unwrap();
    let complaint = store
        .record_inbound(
            &message(
                "d-complaint",
                "complaint",
                InboundEffect::Complaint,
                Some(ids[1]),
                None,
            ),
            now(),
        )
        .await
        .unwrap();
    let unsubscribe = store
        .record_inbound(
            &message(
                "d-unsub",
                "unsubscribe",
                InboundEffect::Unsubscribe,
                Some(ids[2]),
                None,
            ),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            bounce.suppressed,
            complaint.suppressed,
            unsubscribe.suppressed
        ),
        (true, false, true),
        "c1 was suppressed already: the complaint added nothing"
    );
    let sources: Vec<_> = suppressions(&store).await;
    assert_eq!(
        sources,
        [
            (
                "c0@example.com".to_string(),
                SuppressionReason::Bounce,
                format!("inbound #{}", bounce.id)
            ),
            (
                "c1@example.com".to_string(),
                SuppressionReason::Manual,
                "cli".to_string()
            ),
            (
                "c2@example.com".to_string(),
                SuppressionReason::Unsubscribe,
                format!("inbound #{}", unsubscribe.id)
            ),
        ]
    );

    let later = now() + Duration::hours(1);
    let undone = store
        .undo_inbound(bounce.id, "a full mailbox, not gone", later)
        .await
        .unwrap();
    assert!(undone.found && !undone.already);
    assert_eq!(undone.lifted.as_deref(), Some("c0@example.com"));
    assert_eq!(undone.events_removed, 1);
    assert!(!suppressed(&store, ids[0]).await, "c0 may be mailed again");

    let undone = store
        .undo_inbound(complaint.id, "not a complaint", later)
        .await
        .unwrap();
    assert_eq!(
        undone.lifted, None,
        "the manual suppression is not its to lift"
    );
    assert_eq!(undone.events_removed, 1);
    assert!(suppressed(&store, ids[1]).await);

    let undone = store
        .undo_inbound(
            unsubscribe.id,
            "a reply that said unsubscribe in passing",
            later,
        )
        .await
        .unwrap();
    assert_eq!(undone.lifted.as_deref(), Some("c2@example.com"));
    assert!(!suppressed(&store, ids[2]).await);
    assert_eq!(
        suppressions(&store).await,
        [(
            "c1@example.com".to_string(),
            SuppressionReason::Manual,
            "cli".to_string()
        )]
    );

    // Twice: reported, nothing changes.
    let twice = store
        .undo_inbound(bounce.id, "again", later + Duration::hours(1))
        .await
        .unwrap();
    assert!(twice.found && twice.already);
    assert_eq!((twice.lifted, twice.events_removed), (None, 0));
    let missing = store.undo_inbound(987_654, "none", later).await.unwrap();
    assert!(!missing.found);

    let row = store.inbound_detail(bounce.id).await.unwrap().unwrap().row;
    assert_eq!(row.undone_at, Some(later), "the first undo's time stays");
    assert_eq!(row.undo_note.as_deref(), Some("a full mailbox, not gone"));
    assert_eq!(row.suppressed.as_deref(), Some("c0@example.com"));
}

pub async fn undoing_one_of_two_messages_that_stop_an_address_leaves_it_stopped(store: Backend) {
    let ids = contacts(&store, 1).await;
    let bounce = store
        .record_inbound(
            &message(
                "d-1",
                "hard_bounce",
                InboundEffect::HardBounce,
                Some(ids[0]),
                None,
            ),
            now(),
        )
        .await
        .unwrap();
    let complaint = store
        .record_inbound(
            &message(
                "d-2",
                "complaint",
                InboundEffect::Complaint,
                Some(ids[0]),
                None,
            ),
            now() + Duration::minutes(1),
        )
        .await
        .unwrap();
    assert!(bounce.suppressed && !complaint.suppressed);
    // The bounce was a mistake; the complaint was not.
    let undone = store.undo_inbound(bounce.id, "wrong", now()).await.unwrap();
    assert_eq!((undone.lifted, undone.kept_by), (None, Some(complaint.id)));
    assert!(
        suppressed(&store, ids[0]).await,
        "the complaint still stands"
    );
    assert_eq!(
        suppressions(&store).await,
        [(
            "c0@example.com".to_string(),
            SuppressionReason::Complaint,
            format!("inbound #{}", complaint.id)
        )]
    );
    // The suppression is now the complaint's, to lift with it.
    let undone = store
        .undo_inbound(complaint.id, "also wrong", now())
        .await
        .unwrap();
    assert_eq!(undone.lifted.as_deref(), Some("c0@example.com"));
    assert_eq!(undone.kept_by, None);
    assert!(!suppressed(&store, ids[0]).await);
}

pub async fn a_reply_is_an_event_exit_rules_see_until_it_is_undone(store: Backend) {
    queued(&store, 2).await;
    let ids = [
        store
            .contact_by_email(&EmailAddress::parse("c0@example.com").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        store
            .contact_by_email(&EmailAddress::parse("c1@example.com").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
    ];
    let at = now() + Duration::minutes(1);
    let mut kept = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        kept.push(
            store
                .record_inbound(
                    &message(
                        &format!("reply-{i}"),
                        "reply",
                        InboundEffect::Reply,
                        Some(*id),
                        Some("c"),
                    ),
                    at,
                )
                .await
                .unwrap(),
        );
    }
    assert!(
        kept.iter().all(|k| !k.suppressed),
        "a reply suppresses nobody"
    );
    let c0 = store.contact_by_id(ids[0]).await.unwrap().unwrap();
    assert_eq!(c0.last_activity_at, Some(at), "a reply is activity");
    // c1's reply was the auto-reply of a shared mailbox, say.
    let undone = store.undo_inbound(kept[1].id, "auto", at).await.unwrap();
    assert_eq!((undone.lifted, undone.events_removed), (None, 1));

    let request = ClaimRequest {
        now: now() + Duration::minutes(2),
        exits: vec![(
            "c".to_string(),
            ExitRule {
                event_kinds: vec!["reply".into()],
                ..Default::default()
            },
        )],
        ..claim_request("w", 10)
    };
    let claim = store.claim(&request).await.unwrap();
    assert_eq!(claim.cancelled, 1, "c0's reply ends its passage");
    let claimed: Vec<&str> = claim
        .sends
        .iter()
        .map(|s| s.contact.email.as_str())
        .collect();
    assert_eq!(
        claimed,
        ["c1@example.com"],
        "c1's undone reply ends nothing"
    );
}

pub async fn a_soft_bounce_counts_until_it_is_undone(store: Backend) {
    let ids = contacts(&store, 1).await;
    let soft = store
        .record_inbound(
            &message(
                "d-soft",
                "soft_bounce",
                InboundEffect::SoftBounce,
                Some(ids[0]),
                Some("c"),
            ),
            now(),
        )
        .await
        .unwrap();
    assert!(!soft.suppressed);
    assert!(!suppressed(&store, ids[0]).await);
    assert_eq!(store.soft_bounces(ids[0], None).await.unwrap(), [now()]);
    let undone = store
        .undo_inbound(soft.id, "greylisted", now())
        .await
        .unwrap();
    assert_eq!(
        (
            undone.soft_bounces_removed,
            undone.events_removed,
            undone.lifted
        ),
        (1, 0, None)
    );
    assert!(store.soft_bounces(ids[0], None).await.unwrap().is_empty());
}

/// Mail bounces after the relay accepted it: each later message's own
/// acceptance must not wipe the count, or a mailbox full for weeks is
/// never suppressed. Only a message no bounce came back for resets it.
pub async fn soft_bounces_by_mail_add_up_across_messages_until_one_gets_through(store: Backend) {
    use tend::domain::SentContent;
    use tend::store::SendOutcome;
    let ids = contacts(&store, 1).await;
    let selection = tend::segment::Segment {
        stages: vec![tend::domain::Stage::New.to_string()],
        filter: None,
    }
    .select(&tend::segment::Vocabulary::default(), now());
    let mut sends = Vec::new();
    for campaign in ["a", "b", "c"] {
        store
            .enroll(campaign, &selection, None, now())
            .await
            .unwrap();
        let p = &store.progress(campaign).await.unwrap()[0];
        store
            .create_sends(
                &[tend::store::NewSend {
                    enrollment_id: p.enrollment_id,
                    contact_id: p.contact_id,
                    campaign: campaign.into(),
                    step: 0,
                    template: "t".into(),
                    due_at: now(),
                }],
                now(),
            )
            .await
            .unwrap();
    }
    let claimed = store.claim(&claim_request("w", 10)).await.unwrap();
    for campaign in ["a", "b", "c"] {
        sends.push(
            claimed
                .sends
                .iter()
                .find(|s| s.campaign == campaign)
                .unwrap()
                .id,
        );
    }
    let sent = |n: i64| SendOutcome::Sent {
        message_id: format!("<{n}@x>"),
        subject: "Hello".into(),
        response: "250 ok".into(),
        content: SentContent::default(),
    };
    let soft = |digest: &str, send: i64| NewInbound {
        send_id: Some(send),
        ..message(
            digest,
            "soft_bounce",
            InboundEffect::SoftBounce,
            Some(ids[0]),
            Some("a"),
        )
    };
    let day = Duration::days(1);
    store.record(sends[0], &sent(0), now()).await.unwrap();
    store
        .record_inbound(&soft("dsn-a", sends[0]), now() + Duration::hours(1))
        .await
        .unwrap();
    store.record(sends[1], &sent(1), now() + day).await.unwrap();
    // b's bounce is being read: a's bounce still counts.
    assert_eq!(
        store.soft_bounces(ids[0], Some(sends[1])).await.unwrap(),
        [now() + Duration::hours(1)]
    );
    store
        .record_inbound(&soft("dsn-b", sends[1]), now() + day * 2)
        .await
        .unwrap();
    assert_eq!(
        store.soft_bounces(ids[0], None).await.unwrap().len(),
        2,
        "both bounced messages count"
    );
    // c went out and nothing came back: the mailbox takes mail again.
    store
        .record(sends[2], &sent(2), now() + day * 3)
        .await
        .unwrap();
    assert!(store.soft_bounces(ids[0], None).await.unwrap().is_empty());
}

pub async fn kept_messages_are_listed_newest_first_and_counted_without_the_undone(store: Backend) {
    let ids = contacts(&store, 2).await;
    let plan = [
        (
            "m-1",
            "hard_bounce",
            InboundEffect::HardBounce,
            Some(ids[0]),
            Some("welcome"),
        ),
        (
            "m-2",
            "auto_reply",
            InboundEffect::None,
            Some(ids[1]),
            Some("welcome"),
        ),
        (
            "m-3",
            "auto_reply",
            InboundEffect::None,
            Some(ids[1]),
            Some("welcome"),
        ),
        (
            "m-4",
            "reply",
            InboundEffect::Reply,
            Some(ids[1]),
            Some("win-back"),
        ),
        ("m-5", "unclassified", InboundEffect::None, None, None),
        (
            "m-6",
            "complaint",
            InboundEffect::Complaint,
            Some(ids[1]),
            Some("win-back"),
        ),
    ];
    let mut kept = Vec::new();
    for (i, (digest, kind, effect, contact, campaign)) in plan.into_iter().enumerate() {
        let at = now() + Duration::minutes(i as i64);
        kept.push(
            store
                .record_inbound(&message(digest, kind, effect, contact, campaign), at)
                .await
                .unwrap()
                .id,
        );
    }
    store
        .undo_inbound(kept[2], "a duplicate auto-reply", now())
        .await
        .unwrap();

    let all = store.inbound_rows(&InboundFilter::default()).await.unwrap();
    let order: Vec<i64> = all.iter().map(|r| r.id).collect();
    let mut newest_first = kept.clone();
    newest_first.reverse();
    assert_eq!(order, newest_first);
    assert_eq!(all[0].email.as_deref(), Some("c1@example.com"));
    assert_eq!(all[0].received_at, now() + Duration::minutes(5));
    assert_eq!(all[1].email, None);
    let only = |kind: Option<&str>, campaign: Option<&str>, limit: Option<u64>| {
        let store = store.clone();
        let filter = InboundFilter {
            kind: kind.map(str::to_string),
            campaign: campaign.map(str::to_string),
            limit,
        };
        async move {
            store
                .inbound_rows(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        only(Some("auto_reply"), None, None).await,
        [kept[2], kept[1]]
    );
    assert_eq!(only(None, Some("win-back"), None).await, [kept[5], kept[3]]);
    assert_eq!(
        only(Some("auto_reply"), Some("win-back"), None).await,
        Vec::<i64>::new()
    );
    assert_eq!(only(None, None, Some(2)).await, [kept[5], kept[4]]);

    let detail = store.inbound_detail(kept[0]).await.unwrap().unwrap();
    assert_eq!(
        detail.classification,
        json!({ "kind": { "kind": "hard_bounce" }, "digest": "m-1" })
    );
    assert!(detail.raw_kept);
    assert_eq!(
        detail.raw.as_deref(),
        Some(&b"Subject: m-1\r\n\r\nbody of m-1\r\n"[..])
    );
    assert_eq!(detail.row.source, "file");
    assert!(store.inbound_detail(987_654).await.unwrap().is_none());

    let count = |c: &str, k: &str, n: u64| (c.to_string(), k.to_string(), n);
    assert_eq!(
        store.inbound_counts(None).await.unwrap(),
        [
            count("", "unclassified", 1),
            count("welcome", "auto_reply", 1),
            count("welcome", "hard_bounce", 1),
            count("win-back", "complaint", 1),
            count("win-back", "reply", 1),
        ]
    );
    assert_eq!(
        store.inbound_counts(Some("welcome")).await.unwrap(),
        [
            count("welcome", "auto_reply", 1),
            count("welcome", "hard_bounce", 1)
        ]
    );
    assert!(store.inbound_counts(Some("nope")).await.unwrap().is_empty());
}

pub async fn raw_text_is_forgotten_only_before_the_cutoff(store: Backend) {
    let old = now() - Duration::days(40);
    let recent = now() - Duration::days(10);
    let old_id = store
        .record_inbound(
            &message("old", "auto_reply", InboundEffect::None, None, None),
            old,
        )
        .await
        .unwrap()
        .id;
    let recent_id = store
        .record_inbound(
            &message("recent", "auto_reply", InboundEffect::None, None, None),
            recent,
        )
        .await
        .unwrap()
        .id;
    let webhook = NewInbound {
        raw: None,
        ..message("webhook", "complaint", InboundEffect::None, None, None)
    };
    let webhook_id = store.record_inbound(&webhook, old).await.unwrap().id;

    // The cutoff itself is not before it.
    assert_eq!(store.purge_inbound_raw(old).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_inbound_raw(now() - Duration::days(30))
            .await
            .unwrap(),
        1
    );
    let forgotten = store.inbound_detail(old_id).await.unwrap().unwrap();
    assert!(!forgotten.raw_kept && forgotten.raw.is_none());
    assert_eq!(
        forgotten.classification["digest"], "old",
        "what tend made of it stays"
    );
    assert_eq!(forgotten.row.kind, "auto_reply");
    let kept = store.inbound_detail(recent_id).await.unwrap().unwrap();
    assert!(kept.raw_kept);
    assert!(kept.raw.unwrap().starts_with(b"Subject: recent"));
    assert!(
        !store
            .inbound_detail(webhook_id)
            .await
            .unwrap()
            .unwrap()
            .raw_kept
    );
    assert_eq!(
        store
            .purge_inbound_raw(now() - Duration::days(30))
            .await
            .unwrap(),
        0,
        "nothing twice"
    );
}

pub async fn an_imap_polls_decisions_are_kept_per_account_folder_and_uid_validity(store: Backend) {
    let mailbox = |account: &str, folder: &str, uid_validity: u32| ImapMailbox {
        account: account.into(),
        folder: folder.into(),
        uid_validity,
    };
    let inbox = mailbox("bounces@acme.example", "INBOX", 1_700_000_000);
    store.imap_record(&inbox, 1, true, now()).await.unwrap();
    store.imap_record(&inbox, 2, false, now()).await.unwrap();
    store
        .imap_record(&inbox, 40_000, true, now())
        .await
        .unwrap();
    let decided = |m: ImapMailbox, uids: Vec<u32>| {
        let store = store.clone();
        async move {
            let mut got = store.imap_decided(&m, &uids).await.unwrap();
            got.sort();
            got
        }
    };
    assert_eq!(
        decided(inbox.clone(), vec![1, 2, 3, 40_000]).await,
        [(1, true), (2, false), (40_000, true)]
    );
    assert!(decided(inbox.clone(), vec![]).await.is_empty());
    // Another UIDVALIDITY is another mailbox: the old UIDs mean nothing.
    assert!(
        decided(
            mailbox("bounces@acme.example", "INBOX", 1_700_000_001),
            vec![1, 2]
        )
        .await
        .is_empty()
    );
    assert!(
        decided(
            mailbox("bounces@acme.example", "Junk", 1_700_000_000),
            vec![1, 2]
        )
        .await
        .is_empty()
    );
    assert!(
        decided(
            mailbox("other@acme.example", "INBOX", 1_700_000_000),
            vec![1, 2]
        )
        .await
        .is_empty()
    );
    // A decision taken again replaces the first.
    store
        .imap_record(&inbox, 2, true, now() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(decided(inbox.clone(), vec![2]).await, [(2, true)]);
    // The largest UID there is.
    store
        .imap_record(&inbox, u32::MAX, false, now())
        .await
        .unwrap();
    assert_eq!(decided(inbox, vec![u32::MAX]).await, [(u32::MAX, false)]);
}
