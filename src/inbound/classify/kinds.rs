//! What an inbound message is: the typed result of the classifier and of the
//! provider webhooks, and the one effect each kind may have.

use crate::domain::EmailAddress;
use crate::inbound::ident::Identification;
use crate::send::reply::{EnhancedCode, Verdict};
use serde::{Serialize, Serializer};

/// What tend made of one inbound message (or one webhook event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub kind: Kind,
    pub ident: Identification,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A delivery report (RFC 3464, or an MTA's own plain-text format).
    DeliveryStatus(DeliveryReport),
    /// A feedback-loop complaint (RFC 5965 ARF, or a provider's event).
    Complaint(Complaint),
    /// An out-of-office or other automatic answer (RFC 3834): recorded, never
    /// a bounce and never a reply.
    AutoReply(AutoReply),
    /// A person answered one of our messages.
    Reply(HumanReply),
    /// A mail to the `List-Unsubscribe` `mailto:` address.
    UnsubscribeRequest(UnsubscribeRequest),
    /// Anything else: kept, changes nothing.
    Unclassified(Unclassified),
}

/// The one thing a classification may do to a contact; the store side
/// decides how (suppress, count, fire exits, unsubscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    None,
    /// Counts; suppresses only after enough within a span.
    SoftBounce,
    /// Suppresses.
    HardBounce,
    /// Suppresses.
    Complaint,
    /// Fires the campaign exits that name `reply`.
    Reply,
    /// Unsubscribes.
    Unsubscribe,
}

impl Classification {
    pub fn new(kind: Kind, ident: Identification) -> Self {
        Self { kind, ident }
    }

    /// The effect of the whole message: for a delivery report, the strongest
    /// of its recipients' (hard over soft over none).
    pub fn effect(&self) -> Effect {
        match &self.kind {
            Kind::DeliveryStatus(report) => report
                .recipients
                .iter()
                .map(|r| r.effect)
                .max()
                .unwrap_or(Effect::None),
            Kind::Complaint(c) if c.feedback_type.is_complaint() => Effect::Complaint,
            Kind::Reply(_) => Effect::Reply,
            Kind::UnsubscribeRequest(_) => Effect::Unsubscribe,
            Kind::Complaint(_) | Kind::AutoReply(_) | Kind::Unclassified(_) => Effect::None,
        }
    }

    /// A short name for logs and listings: `hard_bounce`, `auto_reply`, ….
    pub fn label(&self) -> &'static str {
        match (&self.kind, self.effect()) {
            (Kind::DeliveryStatus(_), Effect::HardBounce) => "hard_bounce",
            (Kind::DeliveryStatus(_), Effect::SoftBounce) => "soft_bounce",
            (Kind::DeliveryStatus(r), _) if r.is_delay() => "delayed",
            (Kind::DeliveryStatus(_), _) => "delivery_status",
            (Kind::Complaint(_), _) => "complaint",
            (Kind::AutoReply(_), _) => "auto_reply",
            (Kind::Reply(_), _) => "reply",
            (Kind::UnsubscribeRequest(_), _) => "unsubscribe",
            (Kind::Unclassified(_), _) => "unclassified",
        }
    }
}

/// How a delivery report was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceFormat {
    /// A `message/delivery-status` part (RFC 3464 / RFC 6533).
    Rfc3464,
    Postfix,
    Exim,
    Qmail,
    Sendmail,
    Exchange,
    Gmail,
    Yahoo,
    /// A plain-text report from a mailer daemon in no format we know by name.
    Generic,
    Ses,
    SendGrid,
    Postmark,
    Mailgun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub format: BounceFormat,
    /// The MTA that wrote the report (`Reporting-MTA`), when stated.
    pub reporting_mta: Option<String>,
    pub recipients: Vec<RecipientStatus>,
}

impl DeliveryReport {
    /// Every recipient's action is `delayed`: a warning, the MTA still tries.
    pub fn is_delay(&self) -> bool {
        !self.recipients.is_empty() && self.recipients.iter().all(|r| r.action == Action::Delayed)
    }
}

/// RFC 3464 `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    Relayed,
    Expanded,
}

impl Action {
    pub fn parse(text: &str) -> Option<Action> {
        let word = text.split_whitespace().next()?.to_ascii_lowercase();
        Some(match word.as_str() {
            "failed" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

/// One recipient of a delivery report, judged by the same reply table as
/// outgoing SMTP ([`crate::send::reply::classify`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientStatus {
    /// `Final-Recipient` (or the address the report names).
    pub recipient: Option<EmailAddress>,
    /// `Original-Recipient`, when the MTA rewrote the address.
    pub original_recipient: Option<EmailAddress>,
    pub action: Action,
    #[serde(serialize_with = "code_text")]
    pub status: Option<EnhancedCode>,
    /// The remote server's words (`Diagnostic-Code`), unredacted: store it,
    /// redact it before logging ([`crate::domain::redact_addresses`]).
    pub diagnostic: Option<String>,
    /// What the reply table says, for a failed or delayed recipient.
    pub verdict: Option<Verdict>,
    pub reason: &'static str,
    pub effect: Effect,
}

fn code_text<S: Serializer>(code: &Option<EnhancedCode>, s: S) -> Result<S::Ok, S::Error> {
    match code {
        Some(code) => s.collect_str(code),
        None => s.serialize_none(),
    }
}

impl RecipientStatus {
    /// Only a failure about the recipient touches the contact: a `delayed`
    /// report is a warning (the MTA still tries), and a failure the table
    /// reads as about us (policy, reputation, content: `Refused`) or passing
    /// (`Deferred`) never suppresses anyone.
    pub fn effect_of(action: Action, verdict: Option<Verdict>) -> Effect {
        match (action, verdict) {
            (Action::Failed, Some(Verdict::HardBounce)) => Effect::HardBounce,
            (Action::Failed, Some(Verdict::SoftBounce)) => Effect::SoftBounce,
            _ => Effect::None,
        }
    }
}

/// RFC 5965 `Feedback-Type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackType {
    Abuse,
    Fraud,
    Virus,
    Other,
    /// The reporter says it is *not* spam (Yahoo, SES): no effect.
    NotSpam,
    /// A DMARC/SPF/DKIM failure report: about our authentication, not the contact.
    AuthFailure,
    Unknown(String),
}

impl FeedbackType {
    pub fn parse(text: &str) -> FeedbackType {
        let word = text
            .split(|c: char| c.is_whitespace() || c == ';')
            .find(|w| !w.is_empty())
            .unwrap_or("")
            .to_ascii_lowercase();
        match word.as_str() {
            "abuse" | "complaint" => FeedbackType::Abuse,
            "fraud" => FeedbackType::Fraud,
            "virus" => FeedbackType::Virus,
            "other" => FeedbackType::Other,
            "not-spam" => FeedbackType::NotSpam,
            "auth-failure" => FeedbackType::AuthFailure,
            _ => FeedbackType::Unknown(word),
        }
    }

    /// A person (or their provider for them) said they did not want this mail.
    /// An unknown type is read as a complaint: every FBL report is one unless
    /// it says otherwise.
    pub fn is_complaint(&self) -> bool {
        !matches!(self, FeedbackType::NotSpam | FeedbackType::AuthFailure)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaint {
    pub feedback_type: FeedbackType,
    /// Who reported (`User-Agent`: `Yahoo!-Mail-Feedback/2.0`, a provider name).
    pub reporter: Option<String>,
    /// `Original-Rcpt-To`, often redacted by the mailbox provider.
    pub original_rcpt_to: Option<EmailAddress>,
    /// `Original-Mail-From`: our envelope sender, usually with its token.
    pub original_mail_from: Option<String>,
}

/// What marked a message as automatic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signal", content = "value", rename_all = "snake_case")]
pub enum AutoSignal {
    /// `Auto-Submitted` other than `no` (RFC 3834).
    AutoSubmitted(String),
    XAutoreply,
    XAutorespond,
    /// `Precedence: auto_reply`, or `bulk`/`junk`/`list` on a message that answers one of ours.
    Precedence(String),
    /// `X-Auto-Response-Suppress` on a message that answers one of ours (Exchange).
    AutoResponseSuppress,
    /// Another vendor header (`X-POST-MessageClass: Autoresponder`, `X-Vacation`, …).
    Vendor(String),
    /// An out-of-office subject, by language (`en`, `de`, …).
    Subject(&'static str),
    /// A provider's webhook said so (Postmark `AutoResponder`).
    Provider,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoReply {
    pub signals: Vec<AutoSignal>,
    pub subject: Option<String>,
}

/// How a reply was matched to one of our messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyMatch {
    /// A `reply+TOKEN` address among the recipients.
    Token,
    InReplyTo,
    References,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HumanReply {
    pub matched_by: ReplyMatch,
    pub subject: Option<String>,
}

/// What said "unsubscribe".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeMatch {
    Subject,
    Body,
    /// Mail to the unsubscribe address saying neither: the address exists for
    /// nothing else (and some clients drop the `?subject=`).
    AddressOnly,
    /// A provider's webhook (SendGrid, Postmark, Mailgun).
    Provider,
}

/// The contact is `ident.address` (the `From`), unless a token or Message-ID
/// names the send: a request forwarded from another mailbox still counts
/// for the send it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsubscribeRequest {
    pub matched_by: UnsubscribeMatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unclassified {
    /// Not a message: no header block.
    NotAMessage,
    /// Over the size the classifier reads.
    TooLarge { size: usize, limit: usize },
    /// MIME nested deeper than the classifier follows.
    TooDeep { limit: usize },
    /// More MIME parts than the classifier follows.
    TooManyParts { limit: usize },
    /// The MIME structure is broken and nothing in it was recognised.
    Malformed { detail: String },
    /// The MIME parser failed; the message is kept as it is.
    ParserFailed,
    /// A well-formed message that is none of the kinds above.
    Unrecognised { detail: String },
    /// A webhook event that carries nothing for tend (`open`, `processed`, …).
    IgnoredEvent { event: String },
}

/// Why, in words, for the line an operator reads.
impl std::fmt::Display for Unclassified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unclassified::NotAMessage => write!(f, "not a message (no header block)"),
            Unclassified::TooLarge { size, limit } => {
                write!(
                    f,
                    "too large to read ({size} bytes; at most {limit} are read)"
                )
            }
            Unclassified::TooDeep { limit } => {
                write!(f, "MIME parts nested deeper than {limit} levels")
            }
            Unclassified::TooManyParts { limit } => write!(f, "more than {limit} MIME parts"),
            Unclassified::Malformed { detail } => write!(f, "broken MIME: {detail}"),
            Unclassified::ParserFailed => write!(f, "the MIME parser gave up"),
            Unclassified::Unrecognised { detail } => write!(f, "{detail}"),
            Unclassified::IgnoredEvent { event } => {
                write!(f, "a provider event tend does not act on ({event})")
            }
        }
    }
}
