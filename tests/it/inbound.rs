//! The inbound corpus (`tests/fixtures/inbound/*.eml`): every fixture, what
//! the classifier makes of it, and what identifies its send or contact.
//!
//! The fixtures are shaped like the real thing (Postfix, Exim, qmail,
//! Sendmail, Gmail, Exchange, Yahoo reports; Yahoo, AOL and Outlook.com
//! feedback loops; auto-replies in seven languages; replies; unsubscribe
//! requests; unrelated and broken mail). Their return-path tokens are signed
//! with [`SECRET`] and their Message-IDs carry installation [`INSTALLATION`];
//! see `tests/fixtures/inbound/README.md`.

use std::path::PathBuf;
use tend::domain::{EmailAddress, TokenKey};
use tend::inbound::classify::MAX_DEPTH;
use tend::inbound::{
    AutoSignal, BounceFormat, Classification, Context, Effect, Kind, MAX_MESSAGE_BYTES, Purpose,
    ReplyMatch, Unclassified, UnsubscribeMatch, classify,
};
use tend::send::reply::{Refusal, Verdict};

const SECRET: &[u8] = b"inbound-fixtures-secret-0123456789";
const INSTALLATION: &str = "5eed0fc0ffee";

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inbound")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(raw: &[u8], envelope: &[String]) -> Classification {
    let key = TokenKey::new(SECRET).unwrap();
    let unsubscribe = EmailAddress::parse("unsubscribe@acme.example").unwrap();
    let ctx = Context::new(&key, INSTALLATION)
        .with_unsubscribe_address(Some(&unsubscribe))
        .with_envelope_recipients(envelope);
    classify(raw, &ctx)
}

/// One row: the fixture, its label and effect, the token (send, purpose),
/// our Message-ID's send, and the contact's address.
struct Row {
    file: &'static str,
    label: &'static str,
    effect: Effect,
    token: Option<(i64, Purpose)>,
    message_id: Option<i64>,
    address: Option<&'static str>,
}

const B: Purpose = Purpose::Bounce;
const R: Purpose = Purpose::Reply;

#[rustfmt::skip]
const fn row(file: &'static str, label: &'static str, effect: Effect, token: Option<(i64, Purpose)>,
             message_id: Option<i64>, address: Option<&'static str>) -> Row {
    Row { file, label, effect, token, message_id, address }
}

#[rustfmt::skip]
const CORPUS: &[Row] = &[
    // Bounces with an RFC 3464 part.
    row("postfix-dsn-hard-5.1.1.eml", "hard_bounce", Effect::HardBounce, Some((101, B)), Some(101), Some("gone@example.com")),
    row("postfix-dsn-soft-4.2.2.eml", "soft_bounce", Effect::SoftBounce, Some((102, B)), Some(102), Some("full@example.net")),
    row("gmail-dsn.eml", "hard_bounce", Effect::HardBounce, Some((105, B)), Some(105), Some("doesnotexist@example.com")),
    row("outlook-ndr-dsn.eml", "hard_bounce", Effect::HardBounce, Some((107, B)), Some(107), Some("ghost@example.org")),
    // 5.7.1 is about us (a blocklist), never the recipient.
    row("dsn-policy-5.7.1.eml", "delivery_status", Effect::None, Some((111, B)), Some(111), Some("valid.person@example.com")),
    row("dsn-delayed.eml", "delayed", Effect::None, Some((112, B)), Some(112), Some("slow@example.org")),
    // A forged token identifies nothing; the returned Message-ID still does.
    row("postfix-dsn-forged-token.eml", "hard_bounce", Effect::HardBounce, None, Some(131), Some("someone@example.com")),
    // Plain-text bounces.
    row("exim-plain.eml", "hard_bounce", Effect::HardBounce, Some((103, B)), Some(103), Some("nobody@example.org")),
    row("qmail.eml", "hard_bounce", Effect::HardBounce, Some((104, B)), Some(104), Some("missing@example.net")),
    row("gmail-text-only.eml", "hard_bounce", Effect::HardBounce, Some((106, B)), None, Some("old.address@example.com")),
    row("exchange-ndr-html-only.eml", "hard_bounce", Effect::HardBounce, Some((108, B)), Some(108), Some("retired@example.org")),
    row("yahoo.eml", "hard_bounce", Effect::HardBounce, Some((109, B)), Some(109), Some("closed@yahoo.example.com")),
    row("sendmail-mailer-daemon.eml", "hard_bounce", Effect::HardBounce, Some((110, B)), Some(110), Some("left.company@example.net")),
    // Feedback loops.
    row("arf-yahoo.eml", "complaint", Effect::Complaint, Some((113, B)), Some(113), None),
    row("arf-aol.eml", "complaint", Effect::Complaint, Some((114, B)), Some(114), Some("annoyed@example.net")),
    row("arf-outlook.eml", "complaint", Effect::Complaint, Some((115, B)), Some(115), Some("unhappy@example.org")),
    // Auto-replies: recorded, no effect.
    row("auto-en-exchange.eml", "auto_reply", Effect::None, Some((116, R)), Some(116), Some("pat@example.com")),
    row("auto-de-subject-only.eml", "auto_reply", Effect::None, Some((117, R)), None, Some("jonas@example.de.example.com")),
    row("auto-fr-subject-only.eml", "auto_reply", Effect::None, Some((118, B)), None, Some("camille@example.fr.example.com")),
    row("auto-es-auto-submitted-only.eml", "auto_reply", Effect::None, Some((119, B)), None, Some("lucia@example.es.example.com")),
    row("auto-nl-x-autoreply.eml", "auto_reply", Effect::None, Some((120, R)), None, Some("sanne@example.nl.example.com")),
    row("auto-it-precedence.eml", "auto_reply", Effect::None, Some((121, R)), None, Some("giulia@example.it.example.com")),
    row("auto-pt-subject-only.eml", "auto_reply", Effect::None, Some((122, R)), None, Some("joao@example.pt.example.com")),
    row("auto-en-vacation-auto-submitted.eml", "auto_reply", Effect::None, Some((123, B)), None, Some("sam@example.org")),
    // People.
    row("reply-in-reply-to.eml", "reply", Effect::Reply, None, Some(124), Some("ana.lopez@example.com")),
    row("reply-token.eml", "reply", Effect::Reply, Some((125, R)), None, Some("bruno@example.net")),
    row("unsubscribe-subject.eml", "unsubscribe", Effect::Unsubscribe, None, None, Some("carla@example.org")),
    // Forwarded from another mailbox: the attached original names the send.
    row("unsubscribe-body-forwarded.eml", "unsubscribe", Effect::Unsubscribe, Some((127, B)), Some(127), Some("dario.home@example.org")),
    // Nothing of ours, or nothing readable: no effect.
    row("unrelated-newsletter.eml", "unclassified", Effect::None, None, None, None),
    row("unrelated-personal.eml", "unclassified", Effect::None, None, None, None),
    row("human-to-bounce-address.eml", "unclassified", Effect::None, Some((130, B)), None, None),
    row("malformed-mime.eml", "unclassified", Effect::None, None, None, None),
    row("nested-200-multiparts.eml", "unclassified", Effect::None, None, None, None),
];

#[test]
fn every_fixture_is_classified_and_identified() {
    let mut failures = Vec::new();
    for row in CORPUS {
        let got = run(&read(row.file), &[]);
        let token = got.ident.token.map(|t| (t.send_id, t.purpose));
        let message_id = got.ident.message_id.as_ref().map(|m| m.send_id);
        let address = got.ident.address.as_ref().map(|a| a.as_str());
        let actual = (got.label(), got.effect(), token, message_id, address);
        let expected = (
            row.label,
            row.effect,
            row.token,
            row.message_id,
            row.address,
        );
        if actual != expected {
            failures.push(format!(
                "{}:\n  expected {expected:?}\n  got      {actual:?}\n  {:?}",
                row.file, got.kind
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_has_every_fixture_in_the_table() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|r| r.file.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

fn report_format(file: &str) -> BounceFormat {
    match run(&read(file), &[]).kind {
        Kind::DeliveryStatus(report) => report.format,
        other => panic!("{file}: {other:?}"),
    }
}

#[test]
fn plain_text_bounces_are_recognised_by_their_mta() {
    for (file, format) in [
        ("postfix-dsn-hard-5.1.1.eml", BounceFormat::Rfc3464),
        ("exim-plain.eml", BounceFormat::Exim),
        ("qmail.eml", BounceFormat::Qmail),
        ("gmail-text-only.eml", BounceFormat::Gmail),
        ("exchange-ndr-html-only.eml", BounceFormat::Exchange),
        ("yahoo.eml", BounceFormat::Yahoo),
        ("sendmail-mailer-daemon.eml", BounceFormat::Sendmail),
    ] {
        assert_eq!(report_format(file), format, "{file}");
    }
}

#[test]
fn a_policy_refusal_in_a_report_is_read_like_the_same_reply_at_rcpt() {
    let Kind::DeliveryStatus(report) = run(&read("dsn-policy-5.7.1.eml"), &[]).kind else {
        panic!("not a report");
    };
    let recipient = &report.recipients[0];
    assert_eq!(
        recipient.verdict,
        Some(Verdict::Refused(Refusal::Reputation))
    );
    assert_eq!(recipient.effect, Effect::None);
}

#[test]
fn auto_replies_say_what_marked_them() {
    let signals = |file: &str| match run(&read(file), &[]).kind {
        Kind::AutoReply(auto) => auto.signals,
        other => panic!("{file}: {other:?}"),
    };
    assert_eq!(
        signals("auto-de-subject-only.eml"),
        vec![AutoSignal::Subject("de")]
    );
    assert_eq!(
        signals("auto-fr-subject-only.eml"),
        vec![AutoSignal::Subject("fr")]
    );
    assert_eq!(
        signals("auto-pt-subject-only.eml"),
        vec![AutoSignal::Subject("pt")]
    );
    assert_eq!(
        signals("auto-es-auto-submitted-only.eml"),
        vec![AutoSignal::AutoSubmitted("auto-replied".into())]
    );
    assert!(signals("auto-nl-x-autoreply.eml").contains(&AutoSignal::XAutoreply));
    assert!(
        signals("auto-it-precedence.eml").contains(&AutoSignal::Precedence("auto_reply".into()))
    );
    assert!(signals("auto-en-exchange.eml").contains(&AutoSignal::AutoResponseSuppress));
}

#[test]
fn replies_and_unsubscribes_say_how_they_were_matched() {
    let reply = |file: &str| match run(&read(file), &[]).kind {
        Kind::Reply(reply) => reply.matched_by,
        other => panic!("{file}: {other:?}"),
    };
    assert_eq!(reply("reply-in-reply-to.eml"), ReplyMatch::InReplyTo);
    assert_eq!(reply("reply-token.eml"), ReplyMatch::Token);
    let unsubscribe = |file: &str| match run(&read(file), &[]).kind {
        Kind::UnsubscribeRequest(request) => request.matched_by,
        other => panic!("{file}: {other:?}"),
    };
    assert_eq!(
        unsubscribe("unsubscribe-subject.eml"),
        UnsubscribeMatch::Subject
    );
    assert_eq!(
        unsubscribe("unsubscribe-body-forwarded.eml"),
        UnsubscribeMatch::Body
    );
}

#[test]
fn broken_and_hostile_messages_are_unclassified_with_a_reason() {
    let reason = |raw: &[u8]| match run(raw, &[]).kind {
        Kind::Unclassified(reason) => reason,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        reason(&read("malformed-mime.eml")),
        Unclassified::Malformed { .. }
    ));
    assert_eq!(
        reason(&read("nested-200-multiparts.eml")),
        Unclassified::TooDeep { limit: MAX_DEPTH }
    );
    assert_eq!(reason(b""), Unclassified::NotAMessage);
    assert_eq!(reason(b"\r\n\r\njust a body"), Unclassified::NotAMessage);
}

#[test]
fn a_twelve_megabyte_message_is_kept_unparsed_but_its_envelope_still_identifies_it() {
    // Generated rather than committed: a real-shaped bounce with a 12 MB attachment.
    let key = TokenKey::new(SECRET).unwrap();
    let verp = tend::inbound::verp::envelope_sender(&key, 140, "bounce.acme.example");
    let mut raw = format!(
        "From: MAILER-DAEMON@mx.example.com\r\nTo: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while raw.len() < 12 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--big--\r\n");
    let got = run(&raw, std::slice::from_ref(&verp));
    assert_eq!(
        got.kind,
        Kind::Unclassified(Unclassified::TooLarge {
            size: raw.len(),
            limit: MAX_MESSAGE_BYTES
        })
    );
    assert_eq!(got.effect(), Effect::None);
    assert_eq!(got.ident.token.map(|t| t.send_id), Some(140));
}

#[test]
fn the_envelope_recipient_identifies_a_bounce_whose_headers_lost_the_token() {
    let key = TokenKey::new(SECRET).unwrap();
    let verp = tend::inbound::verp::envelope_sender(&key, 150, "bounce.acme.example");
    let raw = b"From: MAILER-DAEMON@mx.example.com\nTo: bounce-box@acme.example\n\
        Subject: failure notice\n\n<x@example.com>:\nRemote host said: 550 5.1.1 User unknown\n";
    let got = run(raw, &[verp.to_uppercase()]);
    assert_eq!(got.effect(), Effect::HardBounce);
    assert_eq!(got.ident.token.map(|t| t.send_id), Some(150));
}

#[test]
fn a_classification_serialises_to_json_for_keeping() {
    let got = run(&read("postfix-dsn-hard-5.1.1.eml"), &[]);
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["kind"]["kind"], "delivery_status");
    assert_eq!(json["kind"]["recipients"][0]["status"], "5.1.1");
    assert_eq!(json["kind"]["recipients"][0]["effect"], "hard_bounce");
    assert_eq!(json["ident"]["token"]["send_id"], 101);
    let too_deep = serde_json::to_value(run(&read("nested-200-multiparts.eml"), &[])).unwrap();
    assert_eq!(too_deep["kind"]["reason"], "too_deep");
}
