//! The classifier's order of questions and its limits. The corpus of
//! real-shaped messages is the table test in `tests/it/inbound.rs`.

use super::*;
use crate::inbound::verp;

const INST: &str = "0123456789ab";

fn key() -> TokenKey {
    TokenKey::new(b"0123456789abcdef-test-secret").unwrap()
}

fn run(raw: &str) -> Classification {
    let key = key();
    classify(raw.as_bytes(), &Context::new(&key, INST))
}

#[test]
fn a_bounce_marked_auto_submitted_is_a_bounce_not_an_auto_reply() {
    let to = verp::envelope_sender(&key(), 9, "b.acme.example");
    let raw = format!(
        "From: MAILER-DAEMON@mx.example.com\nTo: {to}\nAuto-Submitted: auto-replied\n\
         Subject: Undelivered Mail Returned to Sender\n\n\
         <gone@example.com>: host mx.example.com[198.51.100.1] said: 550 5.1.1 User unknown\n"
    );
    let got = run(&raw);
    assert_eq!(got.label(), "hard_bounce");
    assert_eq!(got.ident.token.map(|t| t.send_id), Some(9));
}

#[test]
fn an_auto_reply_to_one_of_ours_is_never_a_reply() {
    let raw = format!(
        "From: pat@example.com\nTo: ana@acme.example\nSubject: Re: offers\n\
         In-Reply-To: <tend.4.2.{INST}@acme.example>\nX-Autoreply: yes\n\nI am away.\n"
    );
    let got = run(&raw);
    assert_eq!((got.label(), got.effect()), ("auto_reply", Effect::None));
    assert_eq!(got.ident.message_id.map(|m| m.send_id), Some(4));
}

#[test]
fn a_reply_to_another_installation_is_not_ours() {
    let raw = "From: pat@example.com\nTo: ana@acme.example\nSubject: Re: offers\n\
         In-Reply-To: <tend.4.2.ffffffffffff@acme.example>\n\nSure!\n";
    assert_eq!(run(raw).label(), "unclassified");
}

#[test]
fn a_report_part_that_names_nobody_falls_back_to_the_text() {
    let raw = "From: MAILER-DAEMON@mx.example.com\nTo: x@acme.example\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
        --b\nContent-Type: text/plain\n\n<gone@example.com>: said: 550 5.1.1 no such user\n\
        --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n--b--\n";
    let got = run(raw);
    let Kind::DeliveryStatus(report) = &got.kind else {
        panic!("{got:?}");
    };
    assert_eq!(report.format, BounceFormat::Generic);
    assert_eq!(got.effect(), Effect::HardBounce);
}

#[test]
fn too_many_containers_are_refused_before_parsing() {
    let mut raw =
        String::from("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n");
    for _ in 0..=MAX_PARTS {
        raw.push_str("--b\nContent-Type: multipart/alternative; boundary=c\n\n");
    }
    assert_eq!(
        run(&raw).kind,
        Kind::Unclassified(Unclassified::TooManyParts { limit: MAX_PARTS })
    );
}

#[test]
fn deeply_nested_returned_messages_end_without_a_crash() {
    // Unencoded message/rfc822 nests without boundaries; the pre-count caps it.
    let mut raw = String::new();
    for _ in 0..(MAX_PARTS - 10) {
        raw.push_str("From: a@example.com\nContent-Type: message/rfc822\n\n");
    }
    raw.push_str("From: a@example.com\nSubject: bottom\n\nhello\n");
    assert_eq!(run(&raw).effect(), Effect::None);
    raw.insert_str(
        0,
        &"From: a@example.com\nContent-Type: message/rfc822\n\n".repeat(20),
    );
    assert_eq!(
        run(&raw).kind,
        Kind::Unclassified(Unclassified::TooManyParts { limit: MAX_PARTS })
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A fixed pseudo-random sequence: the same bytes on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: &[&[u8]] = &[
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n",
        b"--x\n",
        b"Content-Type: message/delivery-status\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Final-Recipient: rfc822; a@example.com\nStatus: 5.1.1\n",
        b"From: MAILER-DAEMON@example.com\n",
        b"\n",
        b"550 5.1.1 <a@",
        b"\xff\xfe\x00=?utf-8?q?=C3?=",
        b"--x--\n",
    ];
    for _ in 0..300 {
        let mut raw = Vec::new();
        for _ in 0..(next() % 40) {
            raw.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            if next() % 3 == 0 {
                raw.push((next() % 256) as u8);
            }
        }
        let got = classify(&raw, &Context::new(&key(), INST));
        // Whatever it is, a token or Message-ID was never invented.
        assert!(!got.ident.names_a_send(), "{got:?}");
    }
}

#[test]
fn the_unclassified_reasons_serialise_with_their_kind() {
    let json = serde_json::to_value(run("")).unwrap();
    assert_eq!(json["kind"]["kind"], "unclassified");
    assert_eq!(json["kind"]["reason"], "not_a_message");
}

#[test]
fn a_report_naming_thousands_of_addresses_reads_the_first_few() {
    let mut raw = String::from("From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n\n");
    for n in 0..50_000 {
        raw.push_str(&format!("<user{n}@example.com>: 550 5.1.1 unknown\n"));
    }
    // And one hostile line: reply-like codes all the way.
    raw.push_str(&"500 ".repeat(500_000));
    let got = run(&raw);
    let Kind::DeliveryStatus(report) = &got.kind else {
        panic!("not a report");
    };
    assert_eq!(report.recipients.len(), plain::MAX_RECIPIENTS);
    assert_eq!(got.effect(), Effect::HardBounce);
}
