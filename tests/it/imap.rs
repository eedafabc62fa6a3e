//! The IMAP poller against a real Dovecot ([`crate::dovecot`]): a mailbox
//! filled with the whole inbound corpus (DSNs, feedback reports,
//! auto-replies, replies, unsubscribe requests, unrelated and broken mail),
//! polled with a handler that classifies each message and takes those that
//! name one of our sends or are of a recognised kind. Ours end in the
//! processed folder; the rest stay exactly as they were (same folder, same
//! flags, never `\Seen`); a second poll takes nothing twice. Servers without
//! `MOVE` or `UIDPLUS`, TLS and STARTTLS with an extra CA, a failing
//! handler, and the polling loop are covered too.

use crate::dovecot::{Dovecot, DovecotOptions};
use async_imap::types::{Fetch, Flag};
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tend::config::TlsMode;
use tend::domain::{EmailAddress, TokenKey};
use tend::inbound::imap::{
    HandlerError, ImapError, ImapMessage, MemorySeen, MessageHandler, PollReport, Verdict,
    poll_once, run,
};
use tend::inbound::{Context, Kind, classify};
use tokio::net::TcpStream;

/// The corpus's signing key and installation (`tests/fixtures/inbound/README.md`).
const SECRET: &[u8] = b"inbound-fixtures-secret-0123456789";
const INSTALLATION: &str = "5eed0fc0ffee";
/// `tend/processed` on Dovecot's Maildir++ (delimiter `.`).
const PROCESSED: &str = "tend.processed";

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    all.sort();
    all
}

fn fixture(name: &str) -> Vec<u8> {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

/// A fixture as IMAP serves it: CRLF line ends, and NUL bytes (which IMAP
/// text cannot carry) as 0x80, as Dovecot sends them.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, &byte) in raw.iter().enumerate() {
        if byte == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(if byte == 0 { 0x80 } else { byte });
    }
    out
}

/// What the handler saw: UID, label, verdict, the raw message.
type Seen = (u32, String, Verdict, Vec<u8>);

/// Classifies; `Own` for a message that names one of our sends or is of a
/// recognised kind.
#[derive(Default)]
struct Classifier {
    seen: Mutex<Vec<Seen>>,
    fail: bool,
}

impl MessageHandler for Classifier {
    async fn handle(&self, message: ImapMessage) -> Result<Verdict, HandlerError> {
        if self.fail {
            return Err(HandlerError("the store is unavailable".into()));
        }
        let key = TokenKey::new(SECRET).unwrap();
        let unsubscribe = EmailAddress::parse("unsubscribe@acme.example").unwrap();
        let ctx = Context::new(&key, INSTALLATION).with_unsubscribe_address(Some(&unsubscribe));
        let found = classify(&message.raw, &ctx);
        let ours = found.ident.names_a_send() || !matches!(found.kind, Kind::Unclassified(_));
        let verdict = if ours { Verdict::Own } else { Verdict::NotOurs };
        self.seen.lock().unwrap().push((
            message.uid,
            found.label().to_string(),
            verdict,
            message.raw,
        ));
        Ok(verdict)
    }
}

type Session = async_imap::Session<TcpStream>;

/// Every message of `folder`, by fixture name (matched by content), with
/// its flags (`\Recent` aside).
async fn contents(imap: &mut Session, folder: &str) -> BTreeMap<String, Vec<String>> {
    let mailbox = imap.select(folder).await.unwrap();
    if mailbox.exists == 0 {
        return BTreeMap::new();
    }
    let fetches: Vec<Fetch> = imap
        .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let corpus = fixtures();
    fetches
        .iter()
        .map(|f| {
            let mut flags: Vec<String> = f
                .flags()
                .filter(|flag| *flag != Flag::Recent)
                .map(|flag| format!("{flag:?}"))
                .collect();
            flags.sort();
            (name_of(&corpus, f.body().unwrap()), flags)
        })
        .collect()
}

/// The fixture whose content IMAP served as `raw`.
fn name_of(corpus: &[(String, Vec<u8>)], raw: &[u8]) -> String {
    corpus
        .iter()
        .find(|(_, r)| crlf(r) == raw)
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| format!("<not a fixture: {}>", String::from_utf8_lossy(raw)))
}

async fn append(imap: &mut Session, raw: &[u8], flags: &str) {
    let flags = (!flags.is_empty()).then(|| format!("({flags})"));
    imap.append("INBOX", flags.as_deref(), None, raw)
        .await
        .unwrap();
}

/// The flags each untouched fixture is put in the mailbox with.
const FLAGS: &[(&str, &str)] = &[
    ("unrelated-personal.eml", "\\Flagged"),
    ("malformed-mime.eml", "\\Answered $Important"),
    ("auto-de-subject-only.eml", "\\Flagged"),
];

fn flags_for(name: &str) -> &'static str {
    FLAGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or("")
}

#[tokio::test]
async fn the_poller_takes_ours_to_the_processed_folder_and_leaves_the_rest_untouched() {
    let Some(dovecot) = Dovecot::start(DovecotOptions::default()) else {
        return;
    };
    let mut imap = dovecot.session().await;
    let corpus = fixtures();
    for (name, raw) in &corpus {
        append(&mut imap, raw, flags_for(name)).await;
    }
    let before = contents(&mut imap, "INBOX").await;
    assert_eq!(before.len(), corpus.len(), "{}", dovecot.log());

    let options = dovecot.imap_options();
    let handler = Classifier::default();
    let state = MemorySeen::default();
    let report = poll_once(&options, &handler, &state).await.unwrap();

    // Which fixtures the handler saw as ours, by content.
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), corpus.len());
    let mut verdicts = BTreeMap::new();
    for (_, label, verdict, raw) in &seen {
        verdicts.insert(name_of(&corpus, raw), (label.clone(), *verdict));
    }
    assert_eq!(
        verdicts.len(),
        corpus.len(),
        "each handed over whole: {verdicts:#?}"
    );
    let not_ours: Vec<&str> = verdicts
        .iter()
        .filter(|(_, (_, v))| *v == Verdict::NotOurs)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        not_ours,
        [
            "malformed-mime.eml",
            "nested-200-multiparts.eml",
            "unrelated-newsletter.eml",
            "unrelated-personal.eml"
        ],
        "{verdicts:#?}"
    );
    // A few kinds, as the classifier reads them through IMAP.
    for (name, label) in [
        ("postfix-dsn-hard-5.1.1.eml", "hard_bounce"),
        ("postfix-dsn-soft-4.2.2.eml", "soft_bounce"),
        ("arf-yahoo.eml", "complaint"),
        ("auto-fr-subject-only.eml", "auto_reply"),
        ("reply-token.eml", "reply"),
        ("unsubscribe-subject.eml", "unsubscribe"),
        ("human-to-bounce-address.eml", "unclassified"),
    ] {
        assert_eq!(verdicts[name], (label.to_string(), Verdict::Own), "{name}");
    }
    let own = corpus.len() - not_ours.len();
    assert_eq!(
        report,
        PollReport {
            listed: corpus.len(),
            handled: corpus.len(),
            own,
            not_ours: not_ours.len(),
            moved: own,
            left_deleted: 0,
        }
    );

    // What is not ours is where it was, with exactly its flags, not \Seen.
    let inbox = contents(&mut imap, "INBOX").await;
    let expected: BTreeMap<String, Vec<String>> = before
        .iter()
        .filter(|(name, _)| not_ours.contains(&name.as_str()))
        .map(|(name, flags)| (name.clone(), flags.clone()))
        .collect();
    assert_eq!(inbox, expected);
    assert!(inbox.values().flatten().all(|f| f != "Seen"));
    assert!(
        inbox
            .values()
            .any(|flags| flags.contains(&"Flagged".to_string()))
    );
    // Ours are in the processed folder, whole, flags kept, not \Seen.
    let processed = contents(&mut imap, PROCESSED).await;
    assert_eq!(processed.len(), own);
    for (name, flags) in &processed {
        assert_eq!(
            Some(flags),
            before.get(name),
            "{name}: flags kept on the move"
        );
    }
    assert!(processed.values().flatten().all(|f| f != "Seen"));

    // Nothing is taken twice: the second poll hands nothing over.
    let again = poll_once(&options, &handler, &state).await.unwrap();
    assert_eq!(
        again,
        PollReport {
            listed: not_ours.len(),
            ..PollReport::default()
        }
    );
    assert_eq!(handler.seen.lock().unwrap().len(), corpus.len());
    assert_eq!(contents(&mut imap, "INBOX").await, expected);
    assert_eq!(contents(&mut imap, PROCESSED).await.len(), own);
    let _ = imap.logout().await;
}

#[tokio::test]
async fn without_move_ours_is_copied_and_only_its_uid_expunged() {
    let Some(dovecot) = Dovecot::start(DovecotOptions {
        capabilities: Some("IMAP4rev1 LITERAL+ UIDPLUS".into()),
        ..DovecotOptions::default()
    }) else {
        return;
    };
    let mut imap = dovecot.session().await;
    append(&mut imap, &fixture("postfix-dsn-hard-5.1.1.eml"), "").await;
    // Someone else marked this for deletion: a plain EXPUNGE would remove it.
    append(&mut imap, &fixture("unrelated-newsletter.eml"), "\\Deleted").await;
    append(&mut imap, &fixture("unrelated-personal.eml"), "").await;
    let handler = Classifier::default();
    let state = MemorySeen::default();
    let report = poll_once(&dovecot.imap_options(), &handler, &state)
        .await
        .unwrap();
    assert_eq!((report.own, report.not_ours, report.moved), (1, 1, 1));
    assert_eq!(
        handler.seen.lock().unwrap().len(),
        2,
        "a \\Deleted message is not read"
    );
    let inbox = contents(&mut imap, "INBOX").await;
    assert_eq!(inbox.len(), 2, "the other \\Deleted message is still there");
    assert_eq!(
        inbox.get("unrelated-newsletter.eml"),
        Some(&vec!["Deleted".to_string()])
    );
    let processed = contents(&mut imap, PROCESSED).await;
    assert_eq!(processed.len(), 1);
    assert!(processed.contains_key("postfix-dsn-hard-5.1.1.eml"));
}

#[tokio::test]
async fn without_move_or_uidplus_ours_is_copied_and_left_flagged_never_expunged() {
    let Some(dovecot) = Dovecot::start(DovecotOptions {
        capabilities: Some("IMAP4rev1 LITERAL+".into()),
        ..DovecotOptions::default()
    }) else {
        return;
    };
    let mut imap = dovecot.session().await;
    append(&mut imap, &fixture("arf-aol.eml"), "").await;
    append(&mut imap, &fixture("unrelated-newsletter.eml"), "\\Deleted").await;
    let options = dovecot.imap_options();
    let handler = Classifier::default();
    let state = MemorySeen::default();
    let report = poll_once(&options, &handler, &state).await.unwrap();
    assert_eq!((report.own, report.moved, report.left_deleted), (1, 0, 1));
    let inbox = contents(&mut imap, "INBOX").await;
    assert_eq!(inbox.len(), 2, "nothing expunged");
    assert!(inbox.values().all(|flags| flags == &["Deleted"]));
    assert_eq!(contents(&mut imap, PROCESSED).await.len(), 1);
    // The next poll copies nothing again.
    let again = poll_once(&options, &handler, &state).await.unwrap();
    assert_eq!((again.handled, again.moved, again.left_deleted), (0, 0, 0));
    assert_eq!(contents(&mut imap, PROCESSED).await.len(), 1);
}

#[tokio::test]
async fn a_failing_handler_leaves_the_message_for_the_next_poll() {
    let Some(dovecot) = Dovecot::start(DovecotOptions::default()) else {
        return;
    };
    let mut imap = dovecot.session().await;
    append(&mut imap, &fixture("gmail-dsn.eml"), "").await;
    let options = dovecot.imap_options();
    let state = MemorySeen::default();
    let failing = Classifier {
        fail: true,
        ..Classifier::default()
    };
    let err = poll_once(&options, &failing, &state).await.unwrap_err();
    assert!(matches!(err, ImapError::Handler(_)), "{err}");
    assert!(state.all().is_empty(), "nothing recorded");
    let inbox = contents(&mut imap, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    assert!(inbox.values().all(|flags| flags.is_empty()), "not \\Seen");
    let working = Classifier::default();
    let report = poll_once(&options, &working, &state).await.unwrap();
    assert_eq!((report.own, report.moved), (1, 1));
    assert_eq!(state.all().len(), 1);
    assert!(contents(&mut imap, "INBOX").await.is_empty());
}

#[tokio::test]
async fn tls_and_starttls_are_verified_against_the_configured_ca() {
    let Some(dovecot) = Dovecot::start(DovecotOptions {
        tls: true,
        ..DovecotOptions::default()
    }) else {
        return;
    };
    let mut imap = dovecot.session().await;
    append(&mut imap, &fixture("qmail.eml"), "").await;
    append(&mut imap, &fixture("exim-plain.eml"), "").await;
    let state = MemorySeen::default();
    let handler = Classifier::default();

    let mut tls = dovecot.imap_options();
    tls.tls = TlsMode::Tls;
    tls.port = dovecot.tls_port.unwrap();
    tls.host = "localhost".into();
    // Without the CA the server's certificate is not trusted.
    let refused = poll_once(&tls, &handler, &state).await.unwrap_err();
    assert!(
        matches!(refused, ImapError::Io("the TLS handshake", _)),
        "{refused}"
    );
    tls.ca_file = dovecot.ca_file.clone();
    let report = poll_once(&tls, &handler, &state).await.unwrap();
    assert_eq!(report.moved, 2);

    append(&mut imap, &fixture("yahoo.eml"), "").await;
    let mut starttls = tls.clone();
    starttls.tls = TlsMode::Starttls;
    starttls.port = dovecot.port;
    let report = poll_once(&starttls, &handler, &state).await.unwrap();
    assert_eq!((report.handled, report.moved), (1, 1));
}

#[tokio::test]
async fn the_loop_polls_until_shutdown() {
    let Some(dovecot) = Dovecot::start(DovecotOptions::default()) else {
        return;
    };
    let mut options = dovecot.imap_options();
    options.poll_interval = Duration::from_millis(100);
    let (found_tx, mut found_rx) = tokio::sync::mpsc::unbounded_channel();
    struct Notify(tokio::sync::mpsc::UnboundedSender<u32>);
    impl MessageHandler for Notify {
        async fn handle(&self, message: ImapMessage) -> Result<Verdict, HandlerError> {
            let _ = self.0.send(message.uid);
            Ok(Verdict::Own)
        }
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let looping = tokio::spawn(run(
        options,
        Notify(found_tx),
        MemorySeen::default(),
        async {
            let _ = stopped.await;
        },
    ));
    // Mail arriving while the loop runs is picked up by a later poll.
    let mut imap = dovecot.session().await;
    append(&mut imap, &fixture("reply-token.eml"), "").await;
    let uid = tokio::time::timeout(Duration::from_secs(30), found_rx.recv())
        .await
        .expect("the loop polls again")
        .unwrap();
    assert_eq!(uid, 1);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), looping)
        .await
        .expect("the loop stops on shutdown")
        .unwrap();
}
