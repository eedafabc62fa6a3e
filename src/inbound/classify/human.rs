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
    header.has("List-Id")
        || header.has("List-Unsubscribe")
        || header.get("Precedence").is_some_and(|p| {
            matches!(
                p.trim().to_ascii_lowercase().as_str(),
                "bulk" | "list" | "junk"
            )
        })
}

/// Whether the message went to the unsubscribe address, and what said so.
/// To a shared address (also a person's mailbox), only a message whose
/// subject or first lines ask to stop counts; list mail never counts
/// unless it came to a tokened address.
pub(crate) fn unsubscribe(
    recipients: &[String],
    unsubscribe_address: Option<&EmailAddress>,
    shared: bool,
    list_mail: bool,
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
    if body_asks {
        Some(UnsubscribeMatch::Body)
    } else if to_token || !shared {
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
            unsubscribe(&to, Some(&ours), false, false, None, subject, text)
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
        assert!(unsubscribe(&sub, Some(&ours), false, false, None, None, "").is_some());
        let elsewhere = vec!["ana@acme.example".to_string()];
        assert_eq!(
            unsubscribe(
                &elsewhere,
                Some(&ours),
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
    fn a_shared_address_needs_the_words_and_list_mail_never_asks() {
        // The From mailbox doubles as the unsubscribe address: a person's
        // ordinary mail to it is not a request to stop.
        let ours = address("ana@acme.example");
        let to = vec!["ana@acme.example".to_string()];
        let shared = |list: bool, subject: &str, text: &str| {
            unsubscribe(&to, Some(&ours), true, list, None, Some(subject), text)
        };
        assert_eq!(shared(false, "lunch on friday?", "see you"), None);
        assert_eq!(
            shared(false, "unsubscribe", ""),
            Some(UnsubscribeMatch::Subject)
        );
        // A newsletter that offers its own unsubscribe link is not asking us.
        assert_eq!(shared(true, "Unsubscribe anytime", "unsubscribe"), None);
        let dedicated = unsubscribe(&to, Some(&ours), false, true, None, Some("x"), "");
        assert_eq!(dedicated, None, "list mail, even to a dedicated address");
        // A tokened address is ours alone: list headers do not matter.
        let token = SendRef {
            purpose: Purpose::Unsubscribe,
            send_id: 7,
        };
        let tokened = vec!["unsubscribe+abc@acme.example".to_string()];
        assert_eq!(
            unsubscribe(&tokened, None, true, true, Some(token), None, ""),
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
