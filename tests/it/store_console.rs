//! Stories of the audit log (`AuditStore`) and the console's store
//! (`ConsoleStore`), run on both backends by `stories!` in `store.rs`:
//! entries come back newest first and filtered; a session is found by its
//! token hash until it expires or is signed out; failed sign-ins are
//! counted per key within a window and forgotten on success; contacts are
//! found by address or name; a contact's timeline has its passages, sends
//! with subjects, events and what came back.

use crate::store::{contact, now, queued};
use chrono::Duration;
use tend::domain::{EmailAddress, NewEvent};
use tend::store::prelude::*;
use tend::store::{AuditFilter, Backend, ConsoleSession};

pub(crate) async fn the_audit_log_lists_newest_first_and_filters(store: Backend) {
    let at = |m: i64| now() + Duration::minutes(m);
    let a = store
        .record_audit(
            "console:alice",
            "suppress",
            "a@example.com",
            "manual",
            at(0),
        )
        .await
        .unwrap();
    let b = store
        .record_audit("cli:root", "settle", "outbox #7", "as sent", at(1))
        .await
        .unwrap();
    store
        .record_audit("console:alice", "promote", "winback", "", at(2))
        .await
        .unwrap();
    assert!(b > a, "ids grow");
    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["promote", "settle", "suppress"]);
    assert_eq!(all[2].actor, "console:alice");
    assert_eq!(all[2].subject, "a@example.com");
    assert_eq!(all[2].detail, "manual");
    assert_eq!(all[2].at, at(0));
    let alice = store
        .list_audit(&AuditFilter {
            actor: Some("console:alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alice.len(), 2);
    let settle = store
        .list_audit(&AuditFilter {
            action: Some("settle".into()),
            subject: Some("#7".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(settle.len(), 1);
    assert_eq!(settle[0].actor, "cli:root");
    let limited = store
        .list_audit(&AuditFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited[0].action, "promote");
    assert_eq!(limited.len(), 1);
}

pub(crate) async fn a_session_lives_until_it_expires_or_signs_out(store: Backend) {
    let session = ConsoleSession {
        token_hash: "hash-1".into(),
        user: "alice".into(),
        role: "operator".into(),
        csrf: "csrf-1".into(),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store.session("hash-1", now()).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.session("hash-2", now()).await.unwrap(), None);
    assert_eq!(
        store
            .session("hash-1", now() + Duration::hours(2))
            .await
            .unwrap(),
        None,
        "expired"
    );
    store.delete_session("hash-1", now()).await.unwrap();
    assert_eq!(
        store.session("hash-1", now()).await.unwrap(),
        None,
        "signed out"
    );
}

pub(crate) async fn failed_sign_ins_count_per_key_within_the_window(store: Backend) {
    for m in [0, 5, 10] {
        store
            .record_login_failure("user:alice", now() + Duration::minutes(m))
            .await
            .unwrap();
    }
    store
        .record_login_failure("addr:127.0.0.1", now())
        .await
        .unwrap();
    let since = |m: i64| now() + Duration::minutes(m);
    assert_eq!(
        store.login_failures("user:alice", since(0)).await.unwrap(),
        3
    );
    assert_eq!(
        store.login_failures("user:alice", since(5)).await.unwrap(),
        2
    );
    assert_eq!(store.login_failures("user:bob", since(0)).await.unwrap(), 0);
    store.clear_login_failures("user:alice").await.unwrap();
    assert_eq!(
        store.login_failures("user:alice", since(0)).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .login_failures("addr:127.0.0.1", since(0))
            .await
            .unwrap(),
        1
    );
}

pub(crate) async fn contacts_are_found_and_their_timeline_is_complete(store: Backend) {
    let sends = queued(&store, 3).await;
    let mut odd = contact(9, 1, None);
    odd.name = Some("Zoë <b>Ortiz</b>".into());
    store.upsert_contacts(&[odd], now()).await.unwrap();
    let by_name: Vec<String> = store
        .search_contacts("ORTIZ", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect();
    assert_eq!(by_name, ["c9@example.com"]);
    let by_address = store.search_contacts("c1@", 10).await.unwrap();
    assert_eq!(by_address.len(), 1);
    assert_eq!(
        store.search_contacts("example.com", 2).await.unwrap().len(),
        2,
        "limit"
    );

    let id = sends[0].contact_id;
    let email = EmailAddress::parse("c0@example.com").unwrap();
    store
        .record_events(
            &[NewEvent {
                email: email.clone(),
                kind: "purchase".parse().unwrap(),
                at: now() + Duration::hours(1),
                detail: "order 42".into(),
                source: "csv".into(),
            }],
            now(),
        )
        .await
        .unwrap();
    let t = store.contact_timeline(id).await.unwrap();
    assert_eq!(t.enrollments.len(), 1);
    assert_eq!(t.enrollments[0].campaign, "c");
    assert_eq!(t.enrollments[0].group, "treatment");
    assert_eq!(t.sends.len(), 1);
    assert_eq!(t.sends[0].state, tend::domain::SendState::Queued);
    assert_eq!(t.sends[0].step, 0);
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].kind, "purchase");
    assert_eq!(t.events[0].detail, "order 42");
    assert!(t.inbound.is_empty());
    let other = store.contact_timeline(sends[1].contact_id).await.unwrap();
    assert!(other.events.is_empty(), "only the contact's own");
}
