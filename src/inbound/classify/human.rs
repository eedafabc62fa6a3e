//! Mail a person wrote: an unsubscribe request to the `List-Unsubscribe`
//! `mailto:` address, or an answer to one of our messages.
//!
//! Only read after the message was found to be neither a report nor
//! automatic. A reply must be tied to one of our sends: a `reply+TOKEN`
//! recipient, or our Message-ID in `In-Reply-To`/`References`. Human-looking
//! mail to the bounce address (`bounces+TOKEN`) is not a reply: an
//! unrecognised bounce format would otherwise end a campaign as "answered".

use super::fields::Fields;
use super::kinds::{ReplyMatch, UnsubscribeMatch};
use crate::domain::EmailAddress;
use crate::inbound::ident::OurMessageId;
use crate::inbound::verp::{Purpose, SendRef};

/// Words that ask to stop, as a whole subject word or a body's first lines.
#[rustfmt::skip]
const UNSUBSCRIBE_WORDS: &[&str] = &[
    "unsubscribe", "remove me", "opt out", "opt-out", "abmelden", "austragen",
    "désabonner", "desabonner", "désinscrire", "desinscrire", "darse de baja", "baja",
    "afmelden", "uitschrijven", "disiscrivi", "cancellami", "descadastrar", "cancelar inscrição",
];

/// How many leading body lines may hold the request.
const BODY_LINES: usize = 5;

/// Mail sent to a list (a newsletter, a notification) is never a person
/// asking us to stop, whatever its words: it carries list headers.
pub(crate) fn is_list_mail(header: &Fields) -> bool {
    header.has("list-id")
        || header.has("list-unsubscribe")
        || header.get("precedence").is_some_and(|p| {
            matches!(
                p.trim().to_ascii_lowercase().as_str(),
                "bulk" | "list" | "junk"
            )
        })
}

/// Whether the message went to the unsubscribe address, and what said so.
/// A `shared` address (the From or Reply-To mailbox) also receives replies,
/// personal mail and other people's newsletters (whose footers say
/// "unsubscribe"): there a request must say so in its subject, or in its
/// first lines when it `answers_ours`. List mail (`list_mail`) never asks,
/// unless it came to a tokened address.
#[allow(clippy::too_many_arguments)]
pub(crate) fn unsubscribe(
    recipients: &[String],
    unsubscribe_address: Option<&EmailAddress>,
    shared: bool,
    list_mail: bool,
    answers_ours: bool,
    token: Option<SendRef>,
    subject: Option<&str>,
    text: &str,
) -> Option<UnsubscribeMatch> {
    let to_address = unsubscribe_address.is_some_and(|ours| {
        recipients
            .iter()
            .filter_map(|r| crate::inbound::ident::first_address(r))
            .any(|r| same_mailbox(&r, ours))
    });
    let to_token = token.is_some_and(|t| t.purpose == Purpose::Unsubscribe);
    if !to_token && (!to_address || list_mail) {
        return None;
    }
    if subject.is_some_and(asks_to_stop) {
        return Some(UnsubscribeMatch::Subject);
    }
    let body_asks = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('>'))
        .take(BODY_LINES)
        .any(asks_to_stop);
    let dedicated = to_token || !shared;
    if body_asks && (dedicated || answers_ours) {
        Some(UnsubscribeMatch::Body)
    } else if dedicated {
        Some(UnsubscribeMatch::AddressOnly)
    } else {
        None
    }
}

fn asks_to_stop(text: &str) -> bool {
    let lower = text.to_lowercase();
    UNSUBSCRIBE_WORDS.iter().any(|w| {
        lower.match_indices(w).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            let after = lower[at + w.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

/// `list@x` also receives `list+anything@x` (sub-addressing).
fn same_mailbox(address: &EmailAddress, ours: &EmailAddress) -> bool {
    if address == ours {
        return true;
    }
    let (Some((local, domain)), Some((our_local, our_domain))) = (
        address.as_str().rsplit_once('@'),
        ours.as_str().rsplit_once('@'),
    ) else {
        return false;
    };
    domain == our_domain && local.split('+').next() == Some(our_local)
}

/// How the message answers one of ours, if it does.
pub(crate) fn reply(
    token: Option<SendRef>,
    header: &Fields,
    installation: &str,
) -> Option<(ReplyMatch, Option<OurMessageId>)> {
    if token.is_some_and(|t| t.purpose == Purpose::Reply) {
        return Some((ReplyMatch::Token, None));
    }
    let in_reply_to = header
        .all("in-reply-to")
        .find_map(|v| OurMessageId::find(v, installation));
    if let Some(id) = in_reply_to {
        return Some((ReplyMatch::InReplyTo, Some(id)));
    }
    header
        .all("references")
        .find_map(|v| OurMessageId::find(v, installation))
        .map(|id| (ReplyMatch::References, Some(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    #[test]
    fn an_unsubscribe_request_is_read_from_subject_body_or_address() {
        let ours = address("unsubscribe@acme.example");
        let to = vec!["Acme <unsubscribe@acme.example>".to_string()];
        let ask = |subject: Option<&str>, text: &str| {
            unsubscribe(&to, Some(&ours), false, false, false, None, subject, text)
        };
        assert_eq!(
            ask(Some("unsubscribe"), ""),
            Some(UnsubscribeMatch::Subject)
        );
        assert_eq!(
            ask(Some("Fwd: Abmelden bitte"), ""),
            Some(UnsubscribeMatch::Subject)
        );
        assert_eq!(
            ask(None, "\n\nPlease unsubscribe me.\n"),
            Some(UnsubscribeMatch::Body)
        );
        assert_eq!(
            ask(Some("hello"), "who are you?"),
            Some(UnsubscribeMatch::AddressOnly)
        );
        let sub = vec!["unsubscribe+x@acme.example".to_string()];
        assert!(unsubscribe(&sub, Some(&ours), false, false, false, None, None, "").is_some());
        let elsewhere = vec!["ana@acme.example".to_string()];
        assert_eq!(
            unsubscribe(
                &elsewhere,
                Some(&ours),
                false,
                false,
                false,
                None,
                Some("unsubscribe"),
                ""
            ),
            None
        );
    }

    #[test]
    fn list_mail_never_asks_to_stop_unless_it_came_to_a_token() {
        let ours = address("unsubscribe@acme.example");
        let to = vec!["unsubscribe@acme.example".to_string()];
        // A newsletter forwarded or subscribed to the dedicated address.
        assert_eq!(
            unsubscribe(
                &to,
                Some(&ours),
                false,
                true,
                false,
                None,
                Some("unsubscribe"),
                ""
            ),
            None
        );
        let header = Fields::header("List-Id: <weekly.news.example.com>\n");
        assert!(is_list_mail(&header));
        assert!(is_list_mail(&Fields::header("Precedence: bulk\n")));
        assert!(!is_list_mail(&Fields::header("Subject: hi\n")));
    }

    #[test]
    fn mail_to_a_shared_mailbox_asks_to_stop_only_in_words() {
        let ours = address("ana@acme.example");
        let to = vec!["Ana <ana@acme.example>".to_string()];
        let ask = |answers_ours: bool, subject: Option<&str>, text: &str| {
            unsubscribe(
                &to,
                Some(&ours),
                true,
                false,
                answers_ours,
                None,
                subject,
                text,
            )
        };
        assert_eq!(ask(false, Some("Lunch on Friday?"), "Are you free?"), None);
        assert_eq!(
            ask(true, Some("Re: Spring offers"), "Thanks, looks good."),
            None
        );
        assert_eq!(
            ask(false, Some("unsubscribe"), ""),
            Some(UnsubscribeMatch::Subject)
        );
        assert_eq!(
            ask(true, Some("Re: Spring offers"), "Please unsubscribe me.\n"),
            Some(UnsubscribeMatch::Body)
        );
        // Someone else's newsletter, its footer saying "Unsubscribe".
        assert_eq!(
            ask(
                false,
                Some("10 tips for spring"),
                "Not interested? Unsubscribe."
            ),
            None
        );
        // A signed unsubscribe token needs no words, shared mailbox or not.
        let token = SendRef {
            send_id: 9,
            purpose: Purpose::Unsubscribe,
        };
        let tokened = vec!["unsubscribe+9-x@acme.example".to_string()];
        assert_eq!(
            unsubscribe(
                &tokened,
                Some(&ours),
                true,
                true,
                false,
                Some(token),
                None,
                ""
            ),
            Some(UnsubscribeMatch::AddressOnly)
        );
    }

    #[test]
    fn words_inside_other_words_do_not_ask_to_stop() {
        assert!(!asks_to_stop("Bajando precios"));
        assert!(asks_to_stop("Baja, por favor"));
        assert!(!asks_to_stop("I want to subscribe"));
    }

    #[test]
    fn a_reply_is_matched_by_token_in_reply_to_or_references() {
        let token = SendRef {
            send_id: 3,
            purpose: Purpose::Reply,
        };
        let none = Fields::default();
        assert_eq!(
            reply(Some(token), &none, "abc"),
            Some((ReplyMatch::Token, None))
        );
        let bounce = SendRef {
            purpose: Purpose::Bounce,
            ..token
        };
        assert_eq!(reply(Some(bounce), &none, "abc"), None);
        let header = Fields::header(
            "In-Reply-To: <x@y.example>\nReferences: <x@y.example> <tend.3.2.abc@acme.example>\n",
        );
        let (how, id) = reply(None, &header, "abc").unwrap();
        assert_eq!(
            (how, id.map(|i| i.send_id)),
            (ReplyMatch::References, Some(3))
        );
    }
}
