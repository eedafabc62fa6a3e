//! Stories of a person's data in the store (`PrivacyStore`), run on both
//! backends by `stories!` in `store.rs`: an erasure leaves nothing of the
//! person but a keyed hash on the erasure list, and every count the same;
//! retention forgets only what is older than its cutoff, and says so.

use crate::store::{claim_request, now, queued};
use chrono::{DateTime, Duration, Utc};
use tend::domain::{EmailAddress, NewEvent, NewSuppression, SentContent, SuppressionReason};
use tend::store::prelude::*;
use tend::store::{Backend, RetentionCutoffs, SendOutcome};

/// Two contacts (c0, c1) sent their message in campaign `c` at `sent_at`
/// (c0) and `now` (c1); returns their contact ids.
async fn sent(store: &Backend, c0_sent_at: DateTime<Utc>) -> (i64, i64) {
    queued(store, 2).await;
    let claim = store.claim(&claim_request("w", 10)).await.unwrap();
    let mut ids = (0, 0);
    for send in &claim.sends {
        let name = send.contact.name.clone().unwrap();
        let outcome = SendOutcome::Sent {
            message_id: format!("<{}@x>", send.id),
            subject: format!("A note for {name}"),
            response: "250 ok".into(),
            content: SentContent {
                choices: Vec::new(),
                opener: format!("Dear {name}"),
                text: format!("Dear {name}, thank you for your order."),
            },
        };
        let at = if send.contact.email.as_str() == "c0@example.com" {
            ids.0 = send.contact.id;
            c0_sent_at
        } else {
            ids.1 = send.contact.id;
            now()
        };
        store.record(send.id, &outcome, at).await.unwrap();
    }
    ids
}

async fn purchase(store: &Backend, email: &str, at: DateTime<Utc>) {
    let event = NewEvent {
        email: EmailAddress::parse(email).unwrap(),
        kind: "purchase".parse().unwrap(),
        at,
        detail: format!("order 4711 by {email}"),
        source: "import".into(),
    };
    store.record_events(&[event], at).await.unwrap();
}

pub async fn an_erasure_leaves_a_hash_and_keeps_every_count(store: Backend) {
    let (c0, c1) = sent(&store, now()).await;
    purchase(&store, "c0@example.com", now()).await;
    let c0_address = EmailAddress::parse("c0@example.com").unwrap();
    store
        .add_suppression(
            &NewSuppression::address(&c0_address, SuppressionReason::Unsubscribe, "web", "link"),
            now(),
        )
        .await
        .unwrap();
    let counts_before = store.outbox_counts().await.unwrap();
    let neighbour_before = store.personal_data(c1).await.unwrap().unwrap();

    let erased = store.erase_contact(c0, "hash-of-c0", now()).await.unwrap();
    assert_eq!(erased.messages_cleared, 1, "{erased:?}");
    assert!(erased.events_cleared >= 1, "{erased:?}");
    assert_eq!(erased.suppressions_replaced, 1, "{erased:?}");

    // Nothing of the person is left under their id.
    let left = store.personal_data(c0).await.unwrap().unwrap();
    let text = serde_json::to_string(&left).unwrap();
    for trace in ["c0@example.com", "Contact 0", "order 4711", "A note for"] {
        assert!(!text.contains(trace), "`{trace}` is still held: {text}");
    }
    // The placeholder address sits on a suppressed domain, nothing else.
    assert!(
        left.suppressions
            .iter()
            .all(|s| s.value == "erased.invalid"),
        "{:?}",
        left.suppressions
    );
    assert!(store.contact_by_email(&c0_address).await.unwrap().is_none());
    // Only the hash stays, with the reason to keep stopping them.
    assert_eq!(
        store.erasures().await.unwrap(),
        vec![("hash-of-c0".to_string(), SuppressionReason::Unsubscribe)]
    );
    assert!(
        store
            .list_suppressions()
            .await
            .unwrap()
            .iter()
            .all(|s| s.value != "c0@example.com")
    );
    // Reports count what happened; the neighbour keeps everything.
    assert_eq!(store.outbox_counts().await.unwrap(), counts_before);
    assert_eq!(
        store.personal_data(c1).await.unwrap().unwrap(),
        neighbour_before
    );
    // Erasing again finds nothing more to remove.
    let again = store.erase_contact(c0, "hash-of-c0", now()).await.unwrap();
    assert_eq!(
        again.messages_cleared + again.events_cleared,
        0,
        "{again:?}"
    );
    assert_eq!(store.erasures().await.unwrap().len(), 1);
}

pub async fn retention_forgets_only_what_is_older_than_its_cutoff(store: Backend) {
    let old = now() - Duration::days(40);
    let (c0, c1) = sent(&store, old).await;
    purchase(&store, "c0@example.com", old).await;
    purchase(&store, "c1@example.com", now()).await;
    assert_eq!(store.last_retention().await.unwrap(), None);
    let cutoffs = RetentionCutoffs {
        message_bodies: Some(now() - Duration::days(30)),
        events: Some(now() - Duration::days(30)),
        inbound_raw: None,
    };
    let run = store.apply_retention(&cutoffs, now()).await.unwrap();
    assert_eq!((run.message_bodies, run.events), (1, 1), "{run:?}");
    let old_one = store.personal_data(c0).await.unwrap().unwrap();
    assert_eq!(old_one.sends[0].body_text, None);
    assert_eq!(old_one.sends[0].state, "sent", "the send itself stays");
    assert!(old_one.events.iter().all(|e| e.kind != "purchase"));
    let recent = store.personal_data(c1).await.unwrap().unwrap();
    assert!(
        recent.sends[0]
            .body_text
            .as_deref()
            .is_some_and(|b| b.contains("thank you"))
    );
    assert!(recent.events.iter().any(|e| e.kind == "purchase"));
    assert_eq!(store.last_retention().await.unwrap(), Some(run));
    // A second run the same day has nothing left to do.
    let second = store.apply_retention(&cutoffs, now()).await.unwrap();
    assert_eq!((second.message_bodies, second.events), (0, 0));
    // Without cutoffs nothing is forgotten.
    let none = store
        .apply_retention(&RetentionCutoffs::default(), now())
        .await
        .unwrap();
    assert_eq!(
        (none.message_bodies, none.events, none.inbound_raw),
        (0, 0, 0)
    );
}
