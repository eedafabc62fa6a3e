//! Replies seen from major receivers and MTAs, and the parser's edge cases.

use super::*;
use Phase::{Auth, Data, EndOfData, Greeting, MailFrom, RcptTo};

const BOUNCE: Verdict = HardBounce;
const SOFT: Verdict = SoftBounce;
const LATER: Verdict = Deferred;

/// (phase, lines as on the wire, expected verdict).
#[rustfmt::skip]
const CASES: &[(Phase, &[&str], Verdict)] = &[
    // ---- Gmail
    (RcptTo, &[
        "550-5.1.1 The email account that you tried to reach does not exist. Please try",
        "550-5.1.1 double-checking the recipient's email address for typos or",
        "550-5.1.1 unnecessary spaces. For more information, go to",
        "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
    ], BOUNCE),
    (RcptTo, &[
        "550-5.2.1 The email account that you tried to reach is disabled. Learn more at",
        "550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si123 - gsmtp",
    ], BOUNCE),
    (RcptTo, &[
        "552-5.2.2 The recipient's inbox is out of storage space and inactive. Please",
        "552-5.2.2 direct the recipient to",
        "552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm a1si123 - gsmtp",
    ], SOFT),
    (RcptTo, &[
        "452-4.2.2 The recipient's inbox is out of storage space. Please direct the",
        "452-4.2.2 recipient to",
        "452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1si123 - gsmtp",
    ], SOFT),
    (RcptTo, &[
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that",
        "450-4.2.1 prevents additional messages from being delivered. Please resend your",
        "450-4.2.1 message at a later time. If the user is able to receive mail at that",
        "450 4.2.1 time, your message will be delivered. https://support.google.com/mail/?p=ReceivingRate",
    ], SOFT),
    (RcptTo, &[
        "553-5.1.2 We weren't able to find the recipient domain. Please check for any",
        "553 5.1.2 spelling errors, and make sure you didn't enter any spaces. - gsmtp",
    ], BOUNCE),
    (RcptTo, &[
        "550-5.7.1 [192.0.2.1] Our system has detected an unusual rate of",
        "550-5.7.1 unsolicited mail originating from your IP address. To protect our",
        "550-5.7.1 users from spam, mail sent from your IP address has been blocked.",
        "550 5.7.1 Please visit https://support.google.com/mail/?p=UnsolicitedIPError - gsmtp",
    ], Refused(Reputation)),
    (EndOfData, &[
        "550-5.7.1 [192.0.2.1      12] Our system has detected that this message is",
        "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,",
        "550-5.7.1 this message has been blocked. For more information, go to",
        "550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp",
    ], Refused(Content)),
    (EndOfData, &[
        "550-5.7.26 This mail is unauthenticated, which poses a security risk to the",
        "550-5.7.26 sender and Gmail users, and has been blocked. The sender must",
        "550-5.7.26 authenticate with at least one of SPF or DKIM. For this message,",
        "550-5.7.26 DKIM checks did not pass and SPF check for [example.com] did not",
        "550 5.7.26 pass with ip: [192.0.2.1]. https://support.google.com/mail/answer/81126 - gsmtp",
    ], Refused(Authentication)),
    (EndOfData, &[
        "550-5.7.26 Unauthenticated email from example.com is not accepted due to",
        "550 5.7.26 domain's DMARC policy. - gsmtp",
    ], Refused(Authentication)),
    (RcptTo, &[
        "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a",
        "550 5.7.25 PTR record setup, or the corresponding forward DNS entry does not point to the sending IP.",
    ], Refused(Authentication)),
    (RcptTo, &[
        "421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of",
        "421-4.7.0 unsolicited mail originating from your IP address. To protect our",
        "421 4.7.0 users from spam, mail sent from your IP address has been temporarily rate limited.",
    ], LATER),
    (EndOfData, &[
        "421-4.7.28 [192.0.2.1] Our system has detected an unusual rate of",
        "421 4.7.28 unsolicited mail originating from your IP address. - gsmtp",
    ], LATER),
    (EndOfData, &[
        "552-5.3.4 Your message exceeded Google's message size limits.",
        "552 5.3.4 https://support.google.com/mail/?p=MaxSizeError",
    ], Refused(Size)),
    (RcptTo, &[
        "451-4.3.0 Multiple destination domains per transaction is unsupported.",
        "451 4.3.0 Please try again.",
    ], LATER),
    (Auth, &[
        "535-5.7.8 Username and Password not accepted. Learn more at",
        "535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
    ], Refused(Authentication)),
    (MailFrom, &["530 5.7.0 Must issue a STARTTLS command first."], Refused(Authentication)),
    (Auth, &["454 4.7.0 Too many login attempts, please try again later."], LATER),
    // ---- Outlook / Office 365
    (RcptTo, &["550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)."], SOFT),
    (RcptTo, &[
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM12FT012.eop-nam12.prod.protection.outlook.com]",
    ], BOUNCE),
    (RcptTo, &[
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient someone@contoso.com not found by SMTP address lookup",
    ], BOUNCE),
    (RcptTo, &[
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.",
    ], Refused(Reputation)),
    (RcptTo, &[
        "550 5.7.511 Access denied, banned sender[192.0.2.1]. To request removal from this list please forward this message to delist@messaging.microsoft.com.",
    ], Refused(Reputation)),
    (RcptTo, &[
        "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714) [Name=Protocol Filter Agent]",
    ], LATER),
    (RcptTo, &[
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. AS(7230)",
    ], Refused(Reputation)),
    (RcptTo, &[
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
    ], Refused(Reputation)),
    (RcptTo, &["550 5.7.64 TenantAttribution; Relay Access Denied"], Refused(Relay)),
    (EndOfData, &[
        "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
    ], Refused(Authentication)),
    (EndOfData, &["554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException"], SOFT),
    (RcptTo, &[
        "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel",
    ], LATER),
    (RcptTo, &["452 4.5.3 Too many recipients"], LATER),
    (MailFrom, &["530 5.7.57 Client not authenticated to send mail."], Refused(Authentication)),
    // ---- Yahoo / AOL
    (RcptTo, &[
        "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1004.mail.gq1.yahoo.com",
    ], BOUNCE),
    (Greeting, &[
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ], LATER),
    (RcptTo, &[
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
    ], Refused(Reputation)),
    (EndOfData, &[
        "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
    ], Refused(Policy)),
    (RcptTo, &[
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    ], Refused(Reputation)),
    (EndOfData, &["554 5.7.5 Permanent Error evaluating DMARC policy"], Refused(Authentication)),
    (RcptTo, &["552 1 Requested mail action aborted, mailbox not found"], BOUNCE),
    // ---- Apple iCloud
    (RcptTo, &["550 5.1.1 unknown or illegal alias: someone@icloud.com"], BOUNCE),
    (RcptTo, &["550 5.1.1 <someone@icloud.com>: inbox does not exist"], BOUNCE),
    (EndOfData, &[
        "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
    ], Refused(Content)),
    (Greeting, &["550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"], Refused(Reputation)),
    (RcptTo, &["552 5.2.2 <someone@icloud.com>: user is over quota"], SOFT),
    // ---- Postfix
    (RcptTo, &[
        "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in local recipient table",
    ], BOUNCE),
    (RcptTo, &[
        "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
    ], BOUNCE),
    (RcptTo, &["554 5.7.1 <someone@example.com>: Relay access denied"], Refused(Relay)),
    (RcptTo, &["450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]"], LATER),
    (RcptTo, &["550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]"], Refused(Reputation)),
    (EndOfData, &["552 5.3.4 Message size exceeds fixed limit"], Refused(Size)),
    (RcptTo, &[
        "450 4.2.0 <someone@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html",
    ], LATER),
    (RcptTo, &[
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
    ], Refused(Reputation)),
    (RcptTo, &["550 5.7.1 <someone@example.com>: Recipient address rejected: Access denied"], Refused(Policy)),
    (RcptTo, &["554 5.7.1 <drip@tend.test>: Sender address rejected: Access denied"], Refused(Sender)),
    (RcptTo, &["450 4.1.8 <drip@tend.test>: Sender address rejected: Domain not found"], LATER),
    (RcptTo, &[
        "550 5.1.0 <drip@tend.test>: Sender address rejected: User unknown in local recipient table",
    ], Refused(Sender)),
    (RcptTo, &[
        "450 4.1.1 <someone@example.com>: Recipient address rejected: unverified address: host mx.example.com said: 450 try later",
    ], SOFT),
    (RcptTo, &["452 4.3.1 Insufficient system storage"], LATER),
    (Data, &["554 5.5.1 Error: no valid recipients"], Refused(Protocol)),
    (RcptTo, &["504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"], Refused(Protocol)),
    // ---- Exim
    (RcptTo, &["550 Unrouteable address"], BOUNCE),
    (RcptTo, &["550 relay not permitted"], Refused(Relay)),
    (RcptTo, &[
        "550-Verification failed for <drip@tend.test>",
        "550-Unrouteable address",
        "550 Sender verify failed",
    ], Refused(Sender)),
    (RcptTo, &["550 Rejected because 192.0.2.1 is in a black list at zen.spamhaus.org"], Refused(Reputation)),
    (RcptTo, &["550 Administrative prohibition"], Refused(Policy)),
    (RcptTo, &["550 Mailbox quota exceeded"], SOFT),
    (RcptTo, &["451 Temporary local problem - please try later"], LATER),
    (RcptTo, &["550 No Such User Here"], BOUNCE),
    // ---- qmail and old Exchange
    (RcptTo, &["553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"], Refused(Relay)),
    (RcptTo, &["550 sorry, no mailbox here by that name. (#5.1.1)"], BOUNCE),
    (EndOfData, &["552 sorry, that message size exceeds my databytes limit (#5.3.4)"], Refused(Size)),
    (MailFrom, &["553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)"], Refused(Sender)),
    (RcptTo, &["451 qq temporary problem (#4.3.0)"], LATER),
    (RcptTo, &["550 #5.1.0 Address rejected someone@example.com"], BOUNCE),
    // ---- Sendmail
    (RcptTo, &["550 5.1.1 <someone@example.com>... User unknown"], BOUNCE),
    (RcptTo, &["451 4.7.1 Please try again later"], LATER),
    // ---- GMX / web.de, Mimecast, Barracuda, Proofpoint, Spamcop
    (RcptTo, &["550 Requested action not taken: mailbox unavailable"], BOUNCE),
    (Greeting, &[
        "554-gmx.net (mxgmx017) Nemesis ESMTP Service not available",
        "554-No SMTP service",
        "554 IP address is block listed.",
    ], Refused(Reputation)),
    (RcptTo, &["550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [abc.us199]"], BOUNCE),
    (RcptTo, &[
        "550 Administrative prohibition - envelope blocked - https://community.mimecast.com/docs/DOC-1369#550",
    ], Refused(Policy)),
    (EndOfData, &[
        "554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554",
    ], Refused(Policy)),
    (RcptTo, &[
        "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451",
    ], LATER),
    (RcptTo, &[
        "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1",
    ], Refused(Reputation)),
    (RcptTo, &["550 No such user (someone@example.com)"], BOUNCE),
    (Greeting, &["554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"], Refused(Reputation)),
    (RcptTo, &["554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net"], Refused(Reputation)),
    // ---- the issue's own: a relay refusing us, never the recipients
    (RcptTo, &["554 5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org"], Refused(Reputation)),
    (RcptTo, &["550 5.7.1 Relaying denied"], Refused(Relay)),
    (EndOfData, &["552 5.3.4 Message size exceeds fixed maximum message size"], Refused(Size)),
    (EndOfData, &["552 Message size exceeds maximum permitted"], Refused(Size)),
    (EndOfData, &["554 5.6.0 Message content rejected"], Refused(Content)),
    (EndOfData, &["554 Message rejected: spam content"], Refused(Content)),
    (RcptTo, &["421 4.7.0 Try again later, closing connection."], LATER),
    (RcptTo, &["421"], LATER),
    (RcptTo, &["554 Transaction failed"], Refused(Policy)),
    (EndOfData, &["554"], Refused(Policy)),
    (MailFrom, &["552 Error: message size exceeds fixed maximum message size"], Refused(Size)),
    (MailFrom, &["550 5.1.1 <drip@tend.test>: unknown user"], Refused(Sender)),
    (Greeting, &["554 mx.example.com ESMTP not accepting messages"], Refused(System)),
    (RcptTo, &["550"], BOUNCE),
    (RcptTo, &["552 Requested mail action aborted: exceeded storage allocation"], SOFT),
    (EndOfData, &["550 Requested action not taken"], Refused(Policy)),
    // ---- the test server's own defaults (tests/support/smtp_server.py)
    (RcptTo, &["450 4.2.0 try again later"], LATER),
    (RcptTo, &["452 4.2.2 insufficient storage"], SOFT),
    (RcptTo, &["550 5.1.1 mailbox unavailable"], BOUNCE),
    (RcptTo, &["553 5.1.3 mailbox name not allowed"], BOUNCE),
    (RcptTo, &["554 5.7.1 transaction failed"], Refused(Policy)),
];

#[test]
fn real_world_replies_get_their_verdict() {
    assert!(CASES.len() >= 50);
    let mut wrong = Vec::new();
    for (phase, lines, expected) in CASES {
        let reply = Reply::parse(lines).unwrap_or_else(|e| panic!("{lines:?}: {e}"));
        let got = classify(*phase, &reply);
        assert!(!got.reason.is_empty());
        if got.verdict != *expected {
            wrong.push(format!(
                "{phase:?} {reply}\n    expected {expected:?}, got {:?} ({})",
                got.verdict, got.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "misread replies:\n{}", wrong.join("\n"));
}

#[test]
fn no_table_row_breaks_the_guards_in_any_phase() {
    use Phase::*;
    let phases = [
        Connect, Greeting, Ehlo, StartTls, Auth, MailFrom, RcptTo, Data, EndOfData,
    ];
    for (_, lines, _) in CASES {
        let reply = Reply::parse(lines).unwrap();
        for phase in phases {
            let verdict = classify(phase, &reply).verdict;
            if reply.class() == 4 {
                assert!(
                    matches!(verdict, SoftBounce | Deferred),
                    "{phase:?} {reply}: {verdict:?}"
                );
            }
            if !matches!(phase, RcptTo | Data | EndOfData) {
                assert!(
                    !matches!(verdict, HardBounce | SoftBounce),
                    "{phase:?} {reply}: {verdict:?}"
                );
            }
        }
    }
}

#[test]
fn reasons_say_what_happened() {
    let reason = |phase, line: &str| classify(phase, &Reply::parse(&[line]).unwrap()).reason;
    assert_eq!(reason(RcptTo, "550 5.1.1 nope"), "mailbox does not exist");
    assert_eq!(
        reason(RcptTo, "554 5.7.1 blocked using zen.spamhaus.org"),
        "sending IP on a blocklist"
    );
    assert_eq!(reason(RcptTo, "552 5.2.2 over quota"), "mailbox full");
    assert_eq!(
        reason(MailFrom, "550 5.1.1 unknown"),
        "our sender address was refused"
    );
    assert_eq!(
        reason(RcptTo, "554 5.7.1 go away"),
        "refused by the receiver's policy"
    );
}

#[test]
fn a_positive_reply_is_never_about_the_recipient() {
    let reply = Reply::parse(&["250 2.1.5 Ok"]).unwrap();
    assert!(reply.is_positive());
    assert_eq!(classify(RcptTo, &reply).verdict, Refused(Protocol));
    assert!(
        Reply::parse(&["354 End data with <CR><LF>.<CR><LF>"])
            .unwrap()
            .is_positive()
    );
    assert!(!Reply::parse(&["421"]).unwrap().is_positive());
}

// ---- tables -----------------------------------------------------------------

#[test]
fn needles_are_written_as_normalized_words() {
    let all = OVERRIDES
        .iter()
        .chain(BY_STATUS)
        .flat_map(|r| r.needles)
        .chain(BY_TEXT.iter().flat_map(|r| r.needles));
    for needle in all {
        let bare = needle.trim_matches(' ');
        assert_eq!(
            words(bare).trim(),
            bare,
            "needle {needle:?} can never match"
        );
        assert!(
            !needle.contains("  ") && !bare.is_empty(),
            "needle {needle:?}"
        );
    }
}

#[test]
fn status_and_code_patterns_are_well_formed() {
    for row in OVERRIDES.iter().chain(BY_STATUS) {
        let ok = row.status.is_empty()
            || (row.status.split('.').count() == 3
                && row
                    .status
                    .split('.')
                    .all(|p| p == "*" || p.parse::<u16>().is_ok()));
        assert!(ok, "status pattern {:?}", row.status);
    }
    for code in BY_CODE.iter().flat_map(|r| r.codes) {
        assert!(
            code.len() == 3 && code.bytes().all(|b| b == b'x' || b.is_ascii_digit()),
            "{code}"
        );
    }
    let code = |s: &str| EnhancedCode::parse(s);
    assert!(status_matches("*.1.1", code("4.1.1")));
    assert!(status_matches("5.4.1", code("5.4.1")));
    assert!(!status_matches("5.4.1", code("4.4.1")));
    assert!(!status_matches("*.1.1", code("5.1.10")));
    assert!(!status_matches("*.1.1", None));
    assert!(status_matches("", None));
    assert!(code_matches("5xx", 554) && code_matches("552", 552) && !code_matches("4xx", 554));
}

#[test]
fn words_are_lowercase_and_apostrophes_vanish() {
    assert_eq!(
        words("This user doesn't have a Yahoo.com account"),
        " this user doesnt have a yahoo com account "
    );
    assert_eq!(words("ip=192.0.2.1"), " ip 192 0 2 1 ");
    assert_eq!(words(""), " ");
}

// ---- parser -----------------------------------------------------------------

fn code(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
    Some(EnhancedCode {
        class,
        subject,
        detail,
    })
}

#[test]
fn parses_a_multi_line_reply_with_repeated_enhanced_codes() {
    let reply = Reply::parse(&[
        "550-5.1.1 The email account that you tried to reach does not exist.\r\n",
        "550-5.1.1 Please try double-checking\r\n",
        "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser - gsmtp\r\n",
    ])
    .unwrap();
    assert_eq!(reply.code, 550);
    assert_eq!(reply.enhanced, code(5, 1, 1));
    assert_eq!(
        reply.text,
        "The email account that you tried to reach does not exist. Please try double-checking https://support.google.com/mail/?p=NoSuchUser - gsmtp"
    );
    assert_eq!(reply.to_string(), format!("550 5.1.1 {}", reply.text));
}

#[test]
fn parses_replies_without_or_with_odd_enhanced_codes() {
    let one = |line: &str| Reply::parse(&[line]).unwrap();

    let plain = one("550 Unrouteable address");
    assert_eq!(
        (plain.code, plain.enhanced, plain.text.as_str()),
        (550, None, "Unrouteable address")
    );

    let hashed = one("550 #5.1.0 Address rejected");
    assert_eq!(
        (hashed.enhanced, hashed.text.as_str()),
        (code(5, 1, 0), "Address rejected")
    );

    let qmail = one("553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)");
    assert_eq!(qmail.enhanced, code(5, 7, 1));
    assert_eq!(
        qmail.text,
        "sorry, that domain isn't in my list of allowed rcpthosts"
    );

    let bare = one("421");
    assert_eq!(
        (bare.code, bare.enhanced, bare.text.as_str()),
        (421, None, "")
    );
    assert_eq!(bare.to_string(), "421");

    let three_digits = one("550 5.7.606 Access denied");
    assert_eq!(three_digits.enhanced, code(5, 7, 606));
    assert_eq!(three_digits.enhanced.unwrap().to_string(), "5.7.606");

    let no_text = one("554 5.7.1");
    assert_eq!(
        (no_text.enhanced, no_text.text.as_str()),
        (code(5, 7, 1), "")
    );

    // Not an enhanced code: a version number glued to text, a bad class, too many parts.
    assert_eq!(one("550 5.1.1: nope").enhanced, None);
    assert_eq!(one("550 3.1.1 nope").enhanced, None);
    assert_eq!(one("550 5.1.1.1 nope").enhanced, None);
    assert_eq!(one("550 5.1.1234 nope").enhanced, None);
}

#[test]
fn an_enhanced_code_of_another_class_is_ignored() {
    // RFC 3463: the class must match the reply's first digit.
    let reply = Reply::parse(&["550 4.1.1 temporary, says the code"]).unwrap();
    assert_eq!(reply.enhanced, None);
    assert_eq!(reply.text, "temporary, says the code");
    let reply = Reply::parse(&["421 5.7.1 closing"]).unwrap();
    assert_eq!(reply.enhanced, None);
    assert_eq!(classify(RcptTo, &reply).verdict, Deferred);
    // Only the first line may carry it.
    let reply = Reply::parse(&["550-no code here", "550 5.1.1 but here"]).unwrap();
    assert_eq!(reply.enhanced, None);
    assert_eq!(reply.text, "no code here but here");
}

#[test]
fn rejects_garbage() {
    use ReplyParseError::*;
    assert_eq!(Reply::parse(&[]), Err(Empty));
    assert_eq!(Reply::parse(&[""]), Err(NoCode { line: 1 }));
    assert_eq!(Reply::parse(&["hello there"]), Err(NoCode { line: 1 }));
    assert_eq!(Reply::parse(&["55"]), Err(NoCode { line: 1 }));
    assert_eq!(Reply::parse(&["550x nope"]), Err(NoCode { line: 1 }));
    assert_eq!(Reply::parse(&["550-ok", "oops"]), Err(NoCode { line: 2 }));
    assert_eq!(
        Reply::parse(&["550-a", "551 b"]),
        Err(MixedCodes {
            first: 550,
            other: 551
        })
    );
    assert_eq!(Reply::parse(&["999 what"]), Err(BadCode { code: 999 }));
    assert_eq!(Reply::parse(&["170 early"]), Err(BadCode { code: 170 }));
    assert_eq!(
        Reply::parse(&["580 bad middle digit"]),
        Err(BadCode { code: 580 })
    );
    // The error never quotes the line: it may hold an address.
    let shown = Reply::parse(&["ada@example.com"]).unwrap_err().to_string();
    assert!(!shown.contains("ada"), "{shown}");
}

#[test]
fn a_hand_built_reply_with_an_impossible_code_does_not_panic() {
    let reply = Reply {
        code: 650,
        enhanced: None,
        text: String::new(),
    };
    assert_eq!(classify(RcptTo, &reply).verdict, Refused(Protocol));
}
