//! What comes back, end to end through the real `tend run` daemon:
//!
//! - a real Postfix bounces the daemon's own mail (no such mailbox: hard;
//!   a full mailbox: soft) and hands its DSNs to the daemon's receiver by
//!   the VERP address; the hard-bounced contact ends suppressed, the soft
//!   one counted and still mailable, the delivered one untouched;
//! - a real Dovecot mailbox the daemon polls holds, for messages the
//!   daemon really sent: a DSN, an ARF complaint, a German out-of-office, a
//!   human reply and a `mailto:` unsubscribe, mixed with unrelated mail.
//!   Each is classified and applied; the unrelated mail stays in the inbox
//!   with its flags; the auto-reply changes nothing; the reply ends the
//!   campaign for its sender, so the next step reaches only those it should.

use crate::dovecot::{Dovecot, DovecotOptions, PASSWORD, USER};
use crate::helpers::{Daemon, TestApp, days_from_now};
use crate::postfix::{DOMAIN, Postfix, PostfixOptions, Relay};
use crate::smtp::Received;
use crate::tools;
use futures_util::TryStreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Mail round trips through Postfix take a second or two; generous for CI.
const WAIT: Duration = Duration::from_secs(90);

fn json(out: &crate::helpers::Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

/// What came back so far, as `tend inbound list --json` says.
fn inbound(app: &TestApp) -> Vec<Value> {
    json(&app.tend(&["inbound", "list", "--json"]).ok())
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `tend inbound list` (the daemon writes, the CLI reads the same
/// database) until `count` messages are kept.
fn wait_for_inbound(app: &TestApp, daemon: &Daemon, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = inbound(app);
        if rows.len() >= count {
            return rows;
        }
        if Instant::now() > deadline {
            panic!(
                "{} of {count} inbound messages kept; daemon log:\n{}",
                rows.len(),
                daemon.logs.so_far()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Suppressed values and their reasons.
fn suppressions(app: &TestApp) -> BTreeMap<String, String> {
    json(&app.tend(&["suppress", "list", "--json"]).ok())
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["value"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Kind per contact address, from the inbound list.
fn kinds_by_email(rows: &[Value]) -> BTreeMap<String, String> {
    rows.iter()
        .map(|r| {
            (
                r["email"].as_str().unwrap_or("(none)").to_string(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn postfix_bounces_of_the_daemons_own_mail_suppress_the_hard_one_and_count_the_soft_one() {
    let inbound_port = tools::free_port();
    let Some(postfix) = Postfix::start(PostfixOptions {
        relay_domain: "bounce.acme.example".into(),
        relay_port: inbound_port,
        relay: Relay::Lmtp,
        mailboxes: vec!["ana".into()],
        full_mailboxes: vec!["full".into()],
    }) else {
        return;
    };
    let app = TestApp::without_smtp();
    let created = days_from_now(-1);
    app.import_contacts(&format!(
        "email,name,created_at\nghost@{DOMAIN},Gus,{created}\nfull@{DOMAIN},Flo,{created}\nana@{DOMAIN},Ana,{created}\n"
    ));
    let port = postfix.smtp_port.to_string();
    let listen = format!("127.0.0.1:{inbound_port}");
    let daemon = app.spawn_daemon(&[
        ("TEND__SMTP__PORT", port.as_str()),
        ("TEND__INBOUND__LISTEN", listen.as_str()),
        ("TEND__INBOUND__BOUNCE_DOMAIN", "bounce.acme.example"),
    ]);
    daemon.logs.wait_for("inbound: listening on smtp://", WAIT);

    let rows = wait_for_inbound(&app, &daemon, 2);
    let code = daemon.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(rows.len(), 2, "one DSN per bounced recipient: {rows:#?}");
    let kinds = kinds_by_email(&rows);
    assert_eq!(
        kinds.get(&format!("ghost@{DOMAIN}")).map(String::as_str),
        Some("hard_bounce"),
        "{rows:#?}\n{}",
        postfix.maillog()
    );
    assert_eq!(
        kinds.get(&format!("full@{DOMAIN}")).map(String::as_str),
        Some("soft_bounce"),
        "{rows:#?}"
    );
    for row in &rows {
        assert_eq!(row["source"], "lmtp", "Postfix hands DSNs over by LMTP");
        assert_eq!(row["campaign"], "welcome", "the VERP token names the send");
    }
    // Only the hard bounce suppresses; the soft one waits for the rule.
    let suppressed = suppressions(&app);
    assert_eq!(
        suppressed,
        BTreeMap::from([(format!("ghost@{DOMAIN}"), "bounce".to_string())]),
    );
    // Ana's message was delivered into her mailbox, and nothing came back for her.
    let delivered = std::fs::read_dir(postfix.mail_dir().join("ana/new"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(delivered, 1, "{}", postfix.maillog());

    // The report and status say what came back.
    let report = app.tend(&["report", "welcome"]).ok();
    assert!(
        report.stdout.contains("what came back") && report.stdout.contains("hard_bounce"),
        "{}",
        report.stdout
    );
    let status = json(&app.tend(&["status", "--json"]).ok());
    assert_eq!(status["inbound"]["hard_bounce"], 1);
    assert_eq!(status["inbound"]["soft_bounce"], 1);

    // A wrong classification can be undone: the address is mailable again.
    let hard = rows.iter().find(|r| r["kind"] == "hard_bounce").unwrap();
    let id = hard["id"].as_i64().unwrap().to_string();
    app.tend(&["inbound", "undo", &id, "--note", "the mailbox exists now"])
        .ok();
    assert!(suppressions(&app).is_empty());
}

/// Builds what comes back for `sent` (a message the daemon really sent).
struct Reply<'a> {
    sent: &'a Received,
}

impl Reply<'_> {
    fn to(&self) -> String {
        self.sent.rcpt_tos[0].clone()
    }

    fn message_id(&self) -> String {
        self.sent.header("Message-ID").expect("a Message-ID")
    }

    fn headers_block(&self) -> String {
        let data = self.sent.data.replace("\r\n", "\n");
        data.split("\n\n").next().unwrap().to_string()
    }

    /// Postfix-style DSN to the VERP return path: the mailbox is gone.
    fn hard_bounce(&self) -> String {
        format!(
            "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n\
             To: {return_path}\n\
             Subject: Undelivered Mail Returned to Sender\n\
             Date: Tue, 10 Mar 2026 10:05:00 +0000\n\
             Message-ID: <dsn.1@mx.example.net>\n\
             Auto-Submitted: auto-replied\n\
             MIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n\n\
             --B1\nContent-Type: text/plain\n\nThe mail system: <{to}>: host mx.example.net said: 550 5.1.1 user unknown\n\n\
             --B1\nContent-Type: message/delivery-status\n\n\
             Reporting-MTA: dns; mx.example.net\n\n\
             Final-Recipient: rfc822; {to}\nOriginal-Recipient: rfc822;{to}\nAction: failed\nStatus: 5.1.1\n\
             Diagnostic-Code: smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown\n\n\
             --B1\nContent-Type: text/rfc822-headers\n\n{headers}\n\n--B1--\n",
            return_path = self.sent.mail_from,
            to = self.to(),
            headers = self.headers_block(),
        )
    }

    /// An ARF report from a mailbox provider's feedback loop.
    fn complaint(&self) -> String {
        format!(
            "From: staff@fbl.example.net\nTo: fbl@acme.example\nSubject: FW: spam report\n\
             Date: Tue, 10 Mar 2026 11:00:00 +0000\nMessage-ID: <arf.1@fbl.example.net>\nMIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=feedback-report; boundary=\"F1\"\n\n\
             --F1\nContent-Type: text/plain\n\nThis is an email abuse report.\n\n\
             --F1\nContent-Type: message/feedback-report\n\n\
             Feedback-Type: abuse\nUser-Agent: ExampleFBL/1.0\nVersion: 1\nOriginal-Rcpt-To: {to}\n\n\
             --F1\nContent-Type: message/rfc822\n\n{headers}\n\nHello\n\n--F1--\n",
            to = self.to(),
            headers = self.headers_block(),
        )
    }

    /// A German out-of-office, answering our message.
    fn out_of_office(&self) -> String {
        format!(
            "From: {to}\nTo: {reply_to}\nSubject: Abwesenheitsnotiz: {subject}\n\
             Date: Tue, 10 Mar 2026 10:06:00 +0000\nMessage-ID: <ooo.1@example.com>\n\
             In-Reply-To: {id}\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\n\
             Ich bin bis zum 20. März nicht im Büro und habe keinen Zugriff auf meine E-Mails.\n",
            to = self.to(),
            reply_to = self.sent.header("Reply-To").unwrap(),
            subject = self.sent.header("Subject").unwrap(),
            id = self.message_id(),
        )
    }

    /// A person answering, to the tokened Reply-To.
    fn human_reply(&self) -> String {
        format!(
            "From: {to}\nTo: {reply_to}\nSubject: Re: {subject}\n\
             Date: Tue, 10 Mar 2026 12:00:00 +0000\nMessage-ID: <re.1@example.com>\n\
             In-Reply-To: {id}\nReferences: {id}\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\n\
             Thanks! Could someone call me about the bigger plan?\n\n> quoted text\n",
            to = self.to(),
            reply_to = self.sent.header("Reply-To").unwrap(),
            subject = self.sent.header("Subject").unwrap(),
            id = self.message_id(),
        )
    }

    /// What a mail client sends for the `mailto:` of `List-Unsubscribe`.
    fn mailto_unsubscribe(&self) -> String {
        let header = self.sent.header("List-Unsubscribe").unwrap();
        let mailto = header
            .split(['<', '>'])
            .find_map(|part| part.strip_prefix("mailto:"))
            .expect("a mailto: in List-Unsubscribe");
        let (address, subject) = mailto
            .split_once("?subject=")
            .unwrap_or((mailto, "unsubscribe"));
        format!(
            "From: {to}\nTo: {address}\nSubject: {subject}\n\
             Date: Tue, 10 Mar 2026 12:30:00 +0000\nMessage-ID: <unsub.1@example.com>\n\
             MIME-Version: 1.0\nContent-Type: text/plain\n\nunsubscribe\n",
            to = self.to(),
        )
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        crate::helpers::repo()
            .join("tests/fixtures/inbound")
            .join(name),
    )
    .unwrap()
}

type Session = async_imap::Session<tokio::net::TcpStream>;

/// Subjects and flags of a folder's messages.
async fn folder(imap: &mut Session, name: &str) -> BTreeMap<String, Vec<String>> {
    let mailbox = imap.select(name).await.unwrap();
    if mailbox.exists == 0 {
        return BTreeMap::new();
    }
    let fetches: Vec<async_imap::types::Fetch> = imap
        .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    fetches
        .iter()
        .map(|f| {
            let subject = String::from_utf8_lossy(f.header().unwrap_or_default())
                .trim()
                .trim_start_matches("Subject:")
                .trim()
                .to_string();
            let mut flags: Vec<String> = f
                .flags()
                .filter(|flag| *flag != async_imap::types::Flag::Recent)
                .map(|flag| format!("{flag:?}"))
                .collect();
            flags.sort();
            (subject, flags)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_polled_mailbox_of_bounces_complaints_auto_replies_replies_and_unsubscribes_is_applied_and_unrelated_mail_is_left_alone()
 {
    let Some(dovecot) = Dovecot::start(DovecotOptions::default()) else {
        return;
    };
    let app = TestApp::with_smtp(&[]);
    // The reply ends the welcome sequence; the rest of it is as shipped.
    let welcome = std::fs::read_to_string(app.path("campaigns/welcome.toml")).unwrap();
    app.write(
        "campaigns/welcome.toml",
        &welcome.replacen(
            "segment = ",
            "exit_on = [\"reply\", \"unsubscribe\"]\nsegment = ",
            1,
        ),
    );
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &format!(
            "{config}\n[inbound]\nbounce_domain = \"bounce.acme.example\"\nreply_tokens = true\n\n\
             [inbound.imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nuser = \"{USER}\"\n\
             folder = \"INBOX\"\nprocessed_folder = \"tend/processed\"\ninterval = \"1s\"\n",
            port = dovecot.port
        ),
    );
    let created = days_from_now(-1);
    let people = ["bounce", "complain", "away", "reply", "unsub"];
    let mut csv = "email,name,created_at\n".to_string();
    for p in people {
        csv += &format!("{p}@example.com,{p},{created}\n");
    }
    app.import_contacts(&csv);
    let daemon = app.spawn_daemon(&[
        ("TEND__INBOUND__IMAP__PASSWORD", PASSWORD),
        ("TEND__HTTP__SECRET", "a-fixed-secret-for-tend-tests"),
    ]);
    let sent = app.smtp().wait_for(people.len(), WAIT);
    let to = |who: &str| {
        sent.iter()
            .find(|m| m.rcpt_tos[0] == format!("{who}@example.com"))
            .unwrap_or_else(|| panic!("nothing was sent to {who}"))
    };
    for m in &sent {
        assert!(
            m.mail_from.starts_with("bounces+") && m.mail_from.ends_with("@bounce.acme.example"),
            "a VERP return path: {}",
            m.mail_from
        );
        let reply_to = m.header("Reply-To").unwrap();
        assert!(reply_to.contains("reply+"), "{reply_to}");
    }

    let mut imap = dovecot.session().await;
    let ours = [
        Reply { sent: to("bounce") }.hard_bounce(),
        Reply {
            sent: to("complain"),
        }
        .complaint(),
        Reply { sent: to("away") }.out_of_office(),
        Reply { sent: to("reply") }.human_reply(),
        Reply { sent: to("unsub") }.mailto_unsubscribe(),
    ];
    for raw in &ours {
        imap.append("INBOX", None, None, raw.replace('\n', "\r\n").as_bytes())
            .await
            .unwrap();
    }
    let unrelated = [
        ("unrelated-newsletter.eml", None),
        ("unrelated-personal.eml", Some("(\\Flagged)")),
    ];
    for (name, flags) in unrelated {
        imap.append(
            "INBOX",
            flags,
            None,
            fixture(name).replace('\n', "\r\n").as_bytes(),
        )
        .await
        .unwrap();
    }
    let before = folder(&mut imap, "INBOX").await;

    let rows = wait_for_inbound(&app, &daemon, ours.len());
    // The poller moves a message after keeping it: wait until the inbox is
    // down to what is not ours.
    let deadline = Instant::now() + WAIT;
    let left = loop {
        let left = folder(&mut imap, "INBOX").await;
        if left.len() == unrelated.len() || Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(daemon.terminate(), Some(0));

    let kinds = kinds_by_email(&rows);
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("bounce@example.com".into(), "hard_bounce".into()),
            ("complain@example.com".into(), "complaint".into()),
            ("away@example.com".into(), "auto_reply".into()),
            ("reply@example.com".into(), "reply".into()),
            ("unsub@example.com".into(), "unsubscribe".into()),
        ]),
        "{rows:#?}"
    );
    for row in &rows {
        assert_eq!(row["source"], "imap");
        assert_eq!(row["campaign"], "welcome", "tied to its send: {row}");
    }
    // Unrelated mail is exactly as it was: same messages, same flags.
    let unrelated_before: BTreeMap<_, _> = before
        .into_iter()
        .filter(|(subject, _)| left.contains_key(subject))
        .collect();
    assert_eq!(left.len(), 2, "{left:#?}");
    assert_eq!(left, unrelated_before);
    // Dovecot's Maildir hierarchy delimiter is `.`: `tend/processed` is `tend.processed`.
    assert_eq!(folder(&mut imap, "tend.processed").await.len(), ours.len());

    // Effects: suppressed for the bounce, the complaint and the unsubscribe;
    // the out-of-office and the reply suppress nothing.
    assert_eq!(
        suppressions(&app),
        BTreeMap::from([
            ("bounce@example.com".into(), "bounce".into()),
            ("complain@example.com".into(), "complaint".into()),
            ("unsub@example.com".into(), "unsubscribe".into()),
        ])
    );
    // Three days on, the second step reaches only the out-of-office sender:
    // the reply ended the sequence for its author.
    app.run_once(&days_from_now(4));
    let later: Vec<String> = app.smtp().received()[people.len()..]
        .iter()
        .map(|m| m.rcpt_tos[0].clone())
        .collect();
    assert_eq!(later, vec!["away@example.com".to_string()]);
}

/// Speaks SMTP to the daemon's receiver, as the site's MTA would.
async fn hand_over(port: u16, rcpt: &str, raw: &str) -> Result<u16, String> {
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
        .with_no_client_auth();
    let config = tend::send::smtp::ClientConfig {
        host: "127.0.0.1".into(),
        port,
        tls: tend::config::TlsMode::None,
        tls_config: std::sync::Arc::new(tls),
        credentials: None,
        hello: "mx.acme.example".into(),
        timeout: Duration::from_secs(20),
    };
    let mut conn = tend::send::smtp::Connection::open(&config).await.unwrap();
    let reply = conn
        .send(
            "ana@example.com",
            rcpt,
            raw.replace('\n', "\r\n").as_bytes(),
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await;
    conn.quit().await;
    reply.map(|r| r.code).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_handed_to_the_receiver_is_kept_once_and_passed_on_to_a_person() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&format!(
        "email,name,created_at\nana@example.com,Ana,{}\n",
        days_from_now(-1)
    ));
    let inbound_port = tools::free_port();
    let listen = format!("127.0.0.1:{inbound_port}");
    let daemon = app.spawn_daemon(&[
        ("TEND__INBOUND__LISTEN", listen.as_str()),
        ("TEND__INBOUND__REPLY_TOKENS", "true"),
        ("TEND__INBOUND__FORWARD_REPLIES_TO", "team@acme.example"),
    ]);
    let sent = app.smtp().wait_for(1, WAIT);
    let reply = Reply { sent: &sent[0] }.human_reply();
    let reply_to = sent[0].header("Reply-To").unwrap();
    let rcpt = reply_to
        .trim_start_matches(|c| c != '<')
        .trim_matches(['<', '>']);
    assert!(
        rcpt.starts_with("reply+") && rcpt.ends_with("@acme.example"),
        "{rcpt}"
    );
    // The MTA hands it over; a retry after a lost 250 hands it over again.
    assert_eq!(hand_over(inbound_port, rcpt, &reply).await, Ok(250));
    assert_eq!(hand_over(inbound_port, rcpt, &reply).await, Ok(250));
    // Mail for other domains is not the receiver's to take.
    let refused = hand_over(inbound_port, "x@other.example", &reply).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("550")),
        "an address outside the bounce domain is refused: {refused:?}"
    );

    let forwarded = app.smtp().wait_for(2, WAIT);
    let rows = inbound(&app);
    assert_eq!(daemon.terminate(), Some(0));
    assert_eq!(rows.len(), 1, "the same reply is kept once: {rows:#?}");
    assert_eq!(rows[0]["kind"], "reply");
    assert_eq!(rows[0]["source"], "smtp");
    assert_eq!(forwarded.len(), 2);
    let passed_on = &forwarded[1];
    assert_eq!(passed_on.rcpt_tos, vec!["team@acme.example".to_string()]);
    assert!(
        passed_on
            .data
            .contains("Could someone call me about the bigger plan?"),
        "{}",
        passed_on.data
    );
    assert_eq!(
        app.smtp().received().len(),
        2,
        "passed on once, not once per delivery"
    );
}
